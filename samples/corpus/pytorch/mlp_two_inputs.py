import torch
import torch.nn as nn
import torch.nn.functional as F


class WideAndDeep(nn.Module):
    def __init__(self, wide_dim=6, deep_dim=10):
        super().__init__()
        self.deep1 = nn.Linear(deep_dim, 32)
        self.deep2 = nn.Linear(32, 16)
        self.out = nn.Linear(wide_dim + 16, 1)

    def forward(self, wide, deep):
        d = F.relu(self.deep1(deep))
        d = F.relu(self.deep2(d))
        x = torch.cat([wide, d], dim=1)
        return torch.sigmoid(self.out(x))
