"""Tabular regressor written for a GPU box: device plumbing, profiler ranges and tensor-method arithmetic."""
import argparse

import torch
import torch.nn as nn
from torch.autograd.profiler import record_function

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class GatedResidual(nn.Module):
    def __init__(self, width, dropout=0.1):
        super().__init__()
        self.value = nn.Linear(width, width)
        self.gate = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        gate = torch.sigmoid(self.gate(x))
        update = self.drop(self.value(x)).mul(gate)
        return x.add(update).div(2.0)


class TabularNet(nn.Module):
    def __init__(self, features=10, width=32, depth=2, scale=0.5):
        super().__init__()
        self.inp = nn.Linear(features, width)
        self.blocks = nn.ModuleList([GatedResidual(width) for _ in range(depth)])
        self.out = nn.Linear(width, 1)
        self.scale = scale

    def forward(self, x):
        if isinstance(x, (list, tuple)):
            x = torch.cat(x, dim=1)
        x = x.to(DEVICE).float()
        with record_function("stem"):
            h = torch.relu(self.inp(x))
        for block in self.blocks:
            h = block(h)
        if not torch.jit.is_scripting():
            h = h.sub(h.mean(dim=1, keepdim=True))
        centred = torch.neg(h).mul(self.scale) + (-h)
        return self.out(centred).to(torch.float32).cpu()


def train(model, loader, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(DEVICE), yb.to(DEVICE)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    data = torch.utils.data.TensorDataset(torch.randn(64, 10), torch.randn(64, 1))
    model = TabularNet().to(DEVICE)
    train(model, torch.utils.data.DataLoader(data, batch_size=16), args.epochs)
