import torch.nn as nn
import torch.nn.functional as F


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x):
        residual = x
        out = F.relu(self.in1(self.conv1(F.pad(x, (1, 1, 1, 1), mode="reflect"))))
        out = self.in2(self.conv2(F.pad(out, (1, 1, 1, 1), mode="reflect")))
        return out + residual


class StyleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 8, kernel_size=5)
        self.res1 = ResidualBlock(8)
        self.res2 = ResidualBlock(8)
        self.tail = nn.Conv2d(8, 3, kernel_size=5)

    def forward(self, x):
        x = F.relu(self.head(F.pad(x, [2, 2, 2, 2], mode="reflect")))
        x = self.res2(self.res1(x))
        x = self.tail(F.pad(x, [2, 2, 2, 2], mode="reflect"))
        return x.tanh()
