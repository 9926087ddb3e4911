from torch import nn

net = nn.Sequential(
    nn.Conv3d(3, 8, kernel_size=(3, 3, 3), stride=1, padding=1),
    nn.ReLU(),
    nn.AvgPool3d(kernel_size=2),
    nn.Conv3d(8, 8, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.Flatten(),
    nn.Linear(8 * 2 * 4 * 4, 16),
    nn.ReLU(),
    nn.Linear(16, 2),
)
