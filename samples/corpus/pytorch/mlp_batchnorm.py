import torch.nn as nn


class BNClassifier(nn.Module):
    def __init__(self, n_features=30, n_classes=2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, 64, bias=False),
            nn.BatchNorm1d(64),
            nn.ReLU(inplace=True),
            nn.Linear(64, 32, bias=False),
            nn.BatchNorm1d(32, momentum=0.01, eps=1e-3),
            nn.ReLU(inplace=True),
            nn.Linear(32, n_classes),
        )

    def forward(self, x):
        return self.net(x)
