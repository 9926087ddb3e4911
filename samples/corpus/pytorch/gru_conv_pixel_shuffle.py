import torch
import torch.nn as nn


class FrameUpsampler(nn.Module):
    """Summarises a feature sequence with a GRU and decodes it to a small image."""

    def __init__(self, n_features=8, hidden=32):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.to_map = nn.Linear(hidden, 4 * 4 * 4)
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, seq):
        out, _ = self.gru(seq)
        x = self.to_map(out[:, -1])
        x = x.reshape(-1, 4, 4, 4)
        x = torch.relu(self.conv(x))
        return self.shuffle(x)
