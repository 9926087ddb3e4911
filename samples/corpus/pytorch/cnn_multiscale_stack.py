import torch
import torch.nn as nn


class MultiScaleNet(nn.Module):
    def __init__(self, num_classes=3):
        super().__init__()
        self.branch3 = nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.branch5 = nn.Conv2d(3, 8, kernel_size=5, padding=2)
        self.branch7 = nn.Conv2d(3, 8, kernel_size=7, padding=3)
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.fc = nn.Linear(8 * 4 * 4, num_classes)

    def forward(self, x):
        feats = torch.stack([self.branch3(x), self.branch5(x), self.branch7(x)], dim=1)
        fused = feats.sum(dim=1)
        fused = self.pool(torch.relu(fused))
        return self.fc(fused.reshape(fused.shape[0], -1))
