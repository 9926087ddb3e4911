import torch
import torch.nn as nn
import torch.nn.functional as F


class DoubleConv(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


class TinyUNet(nn.Module):
    def __init__(self, in_channels=3, n_classes=2):
        super().__init__()
        self.down1 = DoubleConv(in_channels, 8)
        self.down2 = DoubleConv(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.up = DoubleConv(16 + 8, 8)
        self.out = nn.Conv2d(8, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.down1(x)
        x2 = self.down2(self.pool(x1))
        x2 = F.interpolate(x2, scale_factor=2, mode="nearest")
        x = torch.cat([x2, x1], dim=1)
        return self.out(self.up(x))
