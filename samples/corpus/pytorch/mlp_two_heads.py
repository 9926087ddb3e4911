import torch
import torch.nn as nn


class MultiTaskNet(nn.Module):
    """Shared trunk with a classification head and a regression head."""

    def __init__(self, in_dim=14, n_classes=3):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Linear(in_dim, 32),
            nn.ReLU(),
            nn.Linear(32, 32),
            nn.ReLU(),
        )
        self.cls_head = nn.Linear(32, n_classes)
        self.reg_head = nn.Linear(32, 1)

    def forward(self, x):
        shared = self.trunk(x)
        logits = self.cls_head(shared)
        value = self.reg_head(shared)
        return logits, value
