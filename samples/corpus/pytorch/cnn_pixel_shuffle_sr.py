import torch
import torch.nn as nn


class ESPCN(nn.Module):
    """Efficient sub-pixel convolution network for x2 super-resolution."""

    def __init__(self, upscale_factor=2, channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(8, channels * upscale_factor ** 2, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        x = self.pixel_shuffle(self.conv3(x))
        return x
