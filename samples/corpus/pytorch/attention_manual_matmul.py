import torch
import torch.nn as nn


class SelfAttentionPool(nn.Module):
    def __init__(self, in_dim=12, dim=16, num_classes=2):
        super().__init__()
        self.query = nn.Linear(in_dim, dim)
        self.key = nn.Linear(in_dim, dim)
        self.value = nn.Linear(in_dim, dim)
        self.out = nn.Linear(dim, num_classes)

    def forward(self, x):
        q = self.query(x)
        k = self.key(x)
        v = self.value(x)
        scores = torch.matmul(q, k.transpose(-2, -1)) / 4.0
        weights = torch.softmax(scores, dim=-1)
        context = weights @ v
        return self.out(context.sum(dim=1))
