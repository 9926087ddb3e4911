import torch.nn as nn
import torch.nn.functional as F


class EmbeddingNet(nn.Module):
    """Maps feature vectors onto the unit sphere (metric learning)."""

    def __init__(self, in_dim=32, embed_dim=16):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, 64)
        self.fc2 = nn.Linear(64, embed_dim)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.normalize(x, p=2, dim=1)
