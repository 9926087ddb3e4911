import torch
from torch import nn


class SegHead(nn.Module):
    def __init__(self, in_ch=3, n_classes=4):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(in_ch, 16, 3, stride=2, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, stride=2, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
        )
        self.up = nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False)
        self.classifier = nn.Conv2d(16, n_classes, kernel_size=1)

    def forward(self, x):
        x = self.enc(x)
        x = self.up(x)
        return torch.softmax(self.classifier(x), dim=1)
