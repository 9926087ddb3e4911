from torch import nn

num_classes = 1000

alexnet = nn.Sequential(
    nn.Conv2d(3, 64, 11, 4, 2),
    nn.ReLU(),
    nn.MaxPool2d(3, 2),
    nn.Conv2d(64, 192, 5, padding=2),
    nn.ReLU(),
    nn.MaxPool2d(3, 2),
    nn.Conv2d(192, 384, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(384, 256, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(256, 256, 3, padding=1),
    nn.ReLU(),
    nn.MaxPool2d(3, 2),
    nn.AdaptiveAvgPool2d(6),
    nn.Flatten(),
    nn.Dropout(0.5),
    nn.Linear(9216, 4096),
    nn.ReLU(),
    nn.Dropout(0.5),
    nn.Linear(4096, 4096),
    nn.ReLU(),
    nn.Linear(4096, num_classes),
)
