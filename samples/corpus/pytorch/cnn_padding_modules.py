"""Image-to-image net in the fast-style-transfer manner: padding as modules, one per border rule."""
import torch
import torch.nn as nn


class ConvLayer(nn.Module):
    """Reflection-padded convolution: borders copy the image instead of darkening it."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv(self.pad(x))


class EdgeBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReplicationPad2d((1, 1, 1, 1)),
            nn.Conv2d(channels, channels, 3),
            nn.ReLU(inplace=True),
            nn.ZeroPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=False),
        )

    def forward(self, x):
        return x + self.body(x)


class PaddedNet(nn.Module):
    def __init__(self, channels=8, blocks=2):
        super().__init__()
        self.stem = ConvLayer(3, channels, kernel_size=5)
        self.blocks = nn.Sequential(*[EdgeBlock(channels) for _ in range(blocks)])
        self.border = nn.ConstantPad2d((1, 0, 1, 0), 0.25)
        self.wrap = nn.CircularPad2d(1)
        self.head = nn.Conv2d(channels, 3, kernel_size=3)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = self.blocks(x)
        x = self.border(x)
        return self.head(self.wrap(x))


def train_step(model, images, targets, optimizer):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(model(images)[:, :, 1:, 1:], targets)
    loss.backward()
    optimizer.step()
    return loss.item()


if __name__ == "__main__":
    net = PaddedNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for step in range(3):
        batch = torch.rand(4, 3, 32, 32)
        print(step, train_step(net, batch, batch, opt))
