"""Tabular classifier trained from a CSV file."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_HIDDEN = 64


class ResidualMLPBlock(nn.Module):
    def __init__(self, width, dropout=0.1):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        h = self.dropout(self.fc2(h))
        return self.norm(x + h)


class TabularNet(nn.Module):
    def __init__(self, in_features, num_classes, hidden=DEFAULT_HIDDEN, blocks=2, dropout=0.1):
        super().__init__()
        self.stem = nn.Linear(in_features, hidden)
        self.blocks = nn.Sequential(*[ResidualMLPBlock(hidden, dropout) for _ in range(blocks)])
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.head(self.blocks(F.relu(self.stem(x))))


class FocalLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, target):
        logp = F.log_softmax(logits, dim=-1)
        p = logp.exp()
        picked = logp.gather(1, target[:, None]).squeeze(1)
        return (-(1 - p.gather(1, target[:, None]).squeeze(1)) ** self.gamma * picked).mean()


def load_table(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1].astype(np.float32), data[:, -1].astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", help="CSV with features and a label column")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    features, labels = load_table(args.data)
    num_classes = len(np.unique(labels))
    model = TabularNet(features.shape[1], num_classes, hidden=args.hidden, blocks=args.blocks)
    criterion = FocalLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    x, y = torch.from_numpy(features), torch.from_numpy(labels)
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.4f}")
    torch.save(model.state_dict(), "tabular.pt")


if __name__ == "__main__":
    main()
