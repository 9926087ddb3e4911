import torch
import torch.nn as nn

CONFIG = [8, "M", 16, "M", 32, 32, "M"]


class SmallVGG(nn.Module):
    def __init__(self, num_classes=10, batch_norm=True):
        super().__init__()
        layers = []
        in_channels = 3
        for v in CONFIG:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                conv = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
                if batch_norm:
                    layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                else:
                    layers += [conv, nn.ReLU(inplace=True)]
                in_channels = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, start_dim=1)
        return self.classifier(x)
