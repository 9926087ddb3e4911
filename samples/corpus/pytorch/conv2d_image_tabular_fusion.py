import torch
import torch.nn as nn


class FusionNet(nn.Module):
    def __init__(self, n_tabular=7, n_classes=2):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
        )
        self.mlp = nn.Sequential(nn.Linear(n_tabular, 16), nn.ReLU())
        self.classifier = nn.Linear(32, n_classes)

    def forward(self, image, tabular):
        combined = torch.cat((self.cnn(image), self.mlp(tabular)), dim=1)
        return self.classifier(combined)
