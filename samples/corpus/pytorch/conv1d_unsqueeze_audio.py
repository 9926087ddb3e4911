from torch import nn


class RawAudioNet(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 8, kernel_size=9, stride=2, padding=4)
        self.conv2 = nn.Conv1d(8, 16, kernel_size=9, stride=2, padding=4)
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.fc = nn.Linear(16, num_classes)
        self.relu = nn.ReLU()

    def forward(self, waveform):
        x = waveform.unsqueeze(1)           # (N, L) -> (N, 1, L)
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.pool(x).squeeze(2)
        return self.fc(x)
