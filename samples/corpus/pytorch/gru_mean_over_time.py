import torch.nn as nn


class GRUMeanPool(nn.Module):
    def __init__(self, n_features=8, hidden=16, n_classes=3):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, x):
        outputs, _ = self.gru(x)
        pooled = outputs.mean(dim=1)
        return self.classifier(self.norm(pooled))
