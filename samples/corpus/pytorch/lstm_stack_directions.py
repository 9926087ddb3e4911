import torch
import torch.nn as nn


class DualLSTM(nn.Module):
    def __init__(self, n_in=6, hidden=12):
        super().__init__()
        self.short = nn.LSTM(n_in, hidden, batch_first=True)
        self.long = nn.LSTM(n_in, hidden, batch_first=True, num_layers=2)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        a, _ = self.short(x)
        b, _ = self.long(x)
        both = torch.stack([a[:, -1, :], b[:, -1, :]], dim=1)   # (N, 2, H)
        return self.fc(both.max(dim=1).values)
