# Constructs the PyTorch importer refuses, one per line of forward; the rest still migrates.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Refused(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.Softshrink()
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        x = self.fc(x)
        y = torch.cumsum(x, dim=1)
        z = self.act(x)
        if x.size(0) > 1:
            x = x * 2
        w = x ** 2
        return self.out(x)
