import torch
import torch.nn as nn


class ClipClassifier(nn.Module):
    """Short video clips (N, C, T, H, W): Conv3d features per frame, then a GRU over time."""

    def __init__(self, hidden=32, num_classes=5):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.gru = nn.GRU(8 * 4 * 4, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, clip):
        x = torch.relu(self.conv(clip))          # (N, 8, T, 4, 4)
        x = x.permute(0, 2, 1, 3, 4)             # (N, T, 8, 4, 4)
        x = x.reshape(x.size(0), x.size(1), -1)  # (N, T, 128)
        _, h = self.gru(x)
        return self.fc(h[-1])
