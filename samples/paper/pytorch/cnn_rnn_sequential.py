import torch
import torch.nn as nn


class Transpose(nn.Module):
    def __init__(self, dim0, dim1):
        super().__init__()
        self.dim0 = dim0
        self.dim1 = dim1

    def forward(self, x):
        return x.transpose(self.dim0, self.dim1)


class ParallelBranches(nn.Module):
    """Runs every branch on the same input and concatenates the results on the time axis."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=2)


class LastHidden(nn.Module):
    def forward(self, x):
        _, h_n = x
        return h_n[-1]


model = nn.Sequential(
    nn.Embedding(5000, 50),
    Transpose(1, 2),
    ParallelBranches(
        nn.Sequential(nn.Conv1d(50, 200, 4), nn.ReLU(), nn.MaxPool1d(2)),
        nn.Sequential(nn.Conv1d(50, 200, 5), nn.ReLU(), nn.MaxPool1d(2)),
    ),
    Transpose(1, 2),
    nn.GRU(200, 100, batch_first=True),
    LastHidden(),
    nn.Linear(100, 400),
    nn.ReLU(),
    nn.Linear(400, 1),
    nn.Sigmoid(),
)
