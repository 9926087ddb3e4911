import torch
from torch import nn


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({
            "input": nn.Linear(8, 24),
            "hidden": nn.Linear(24, 24),
            "output": nn.Linear(24, 5),
        })
        self.activations = nn.ModuleDict({"relu": nn.ReLU(), "sigmoid": nn.Sigmoid()})

    def forward(self, x):
        x = self.activations["relu"](self.blocks["input"](x))
        x = self.activations["relu"](self.blocks["hidden"](x))
        return self.activations["sigmoid"](self.blocks["output"](x))
