# The only input is scaled by a learned parameter: no layer says what shape it has.
import torch
import torch.nn as nn


class LearnedScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x * self.scale
