import torch.nn as nn

ndf = 8

discriminator = nn.Sequential(
    nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2, inplace=True),
    ),
    nn.Sequential(
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
    ),
    nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
    nn.Flatten(),
    nn.Sigmoid(),
)
