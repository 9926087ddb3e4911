import torch.nn as nn


class ResidualMLPBlock(nn.Module):
    def __init__(self, dim, expansion=2, dropout=0.1):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * expansion)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(dim * expansion, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        y = self.fc2(self.act(self.fc1(self.norm(x))))
        return x + self.drop(y)


class ResMLP(nn.Module):
    def __init__(self, in_dim=24, dim=32, num_classes=6):
        super().__init__()
        self.embed = nn.Linear(in_dim, dim)
        self.block1 = ResidualMLPBlock(dim)
        self.block2 = ResidualMLPBlock(dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.embed(x)
        x = self.block1(x)
        x = self.block2(x)
        return self.head(self.norm(x))
