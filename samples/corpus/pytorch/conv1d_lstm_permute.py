import torch
import torch.nn as nn


class CNNLSTM(nn.Module):
    """Sensor sequences (N, T, F): a Conv1d front end, then an LSTM."""

    def __init__(self, n_features=6, hidden=24, n_classes=4):
        super().__init__()
        self.conv = nn.Conv1d(n_features, 16, kernel_size=3, padding=1)
        self.lstm = nn.LSTM(batch_first=True, hidden_size=hidden, input_size=16)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x):
        x = x.permute(0, 2, 1)
        x = torch.relu(self.conv(x))
        x = x.permute(0, 2, 1)
        out, (h_n, c_n) = self.lstm(x)
        return self.fc(out[:, -1, :])
