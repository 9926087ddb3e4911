import torch
import torch.nn as nn


class GatedConvNet(nn.Module):
    def __init__(self, vocab=500, dim=16, num_classes=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, 2 * dim, kernel_size=3, padding=1)
        self.out = nn.Linear(dim, num_classes)

    def forward(self, tokens):
        x = self.emb(tokens).transpose(1, 2)
        a, b = self.conv(x).chunk(2, dim=1)
        x = a * torch.sigmoid(b)
        x = x.mean(dim=2)
        return self.out(x)
