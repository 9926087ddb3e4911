import torch.nn as nn
import torch.nn.functional as F


class CausalBlock(nn.Module):
    def __init__(self, channels, dilation, kernel_size=3):
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.act = nn.ReLU()

    def forward(self, x):
        y = self.conv(F.pad(x, (self.left_pad, 0)))
        return self.act(y) + x


class TCN(nn.Module):
    def __init__(self, in_channels=3, channels=16, out_dim=1):
        super().__init__()
        self.input_proj = nn.Conv1d(in_channels, channels, kernel_size=1)
        self.blocks = nn.ModuleList([CausalBlock(channels, d) for d in (1, 2, 4)])
        self.head = nn.Linear(channels, out_dim)

    def forward(self, x):
        x = self.input_proj(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x[:, :, -1])
