"""MobileNetV2-style blocks that recompute their expansion in the backward pass to save memory."""
import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio, memory_efficient=True):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        self.memory_efficient = memory_efficient
        self.conv = nn.Sequential(
            nn.Conv2d(inp, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        )

    def _body(self, x):
        if self.memory_efficient:
            return checkpoint(self.conv, x, use_reentrant=False)
        return self.conv(x)

    def forward(self, x):
        if self.use_res_connect:
            return x + self._body(x)
        else:
            return self._body(x)


class TinyMobileNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(inplace=True))
        self.blocks = nn.Sequential(
            InvertedResidual(16, 24, 2, 6),
            InvertedResidual(24, 24, 1, 6),
            InvertedResidual(24, 32, 2, 6),
        )
        self.head = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(x.mean([2, 3]))
