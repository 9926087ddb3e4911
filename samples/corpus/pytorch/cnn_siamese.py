import torch
import torch.nn as nn
import torch.nn.functional as F


class SiameseNet(nn.Module):
    def __init__(self, embedding_size=16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3),
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Linear(16, embedding_size),
        )

    def embed(self, x):
        return F.normalize(self.encoder(x), dim=1)

    def forward(self, left, right):
        a = self.embed(left)
        b = self.embed(right)
        similarity = (a * b).sum(dim=1, keepdim=True)
        return similarity
