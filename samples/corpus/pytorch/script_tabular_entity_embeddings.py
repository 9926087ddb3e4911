"""Tabular classifier with entity embeddings: categorical columns through one embedding each, continuous columns
through BatchNorm, then an MLP of Linear/BatchNorm1d/ReLU/Dropout layers."""
import argparse
import csv

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

CATEGORICAL = ["workclass", "education", "occupation"]
# cardinalities fixed by the preprocessing step that wrote the CSV (index 0 = unknown)
CARDINALITIES = [9, 17, 15]
TARGET = "income"


def embedding_size(cardinality):
    return min(16, (cardinality + 1) // 2)


def linear_bn_drop(n_in, n_out, p):
    return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(inplace=True), nn.Dropout(p)]


class EntityEmbeddingNet(nn.Module):
    def __init__(self, cardinalities, n_continuous, hidden=(128, 64), dropout=0.2, n_classes=2):
        super().__init__()
        self.embeddings = nn.ModuleList([nn.Embedding(c, embedding_size(c)) for c in cardinalities])
        self.embedding_dropout = nn.Dropout(0.05)
        self.bn_continuous = nn.BatchNorm1d(n_continuous)
        n_in = sum(embedding_size(c) for c in cardinalities) + n_continuous
        layers = []
        for width in hidden:
            layers += linear_bn_drop(n_in, width, dropout)
            n_in = width
        self.mlp = nn.Sequential(*layers)
        self.out = nn.Linear(n_in, n_classes)

    def forward(self, x_cat, x_cont):
        embedded = [emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings)]
        x = torch.cat(embedded, dim=1)
        x = self.embedding_dropout(x)
        x = torch.cat([x, self.bn_continuous(x_cont)], dim=1)
        return self.out(self.mlp(x))


def read_table(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    continuous = [k for k in rows[0] if k not in CATEGORICAL and k != TARGET]
    x_cat = torch.tensor([[int(r[c]) for c in CATEGORICAL] for r in rows], dtype=torch.long)
    x_cont = torch.tensor([[float(r[c]) for c in continuous] for r in rows], dtype=torch.float32)
    y = torch.tensor([int(r[TARGET]) for r in rows])
    return x_cat, x_cont, y, continuous


def accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x_cat, x_cont, y in loader:
            correct += (model(x_cat, x_cont).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default="adult_train.csv")
    parser.add_argument("--valid", default="adult_valid.csv")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()

    x_cat, x_cont, y, continuous = read_table(args.train)
    train_loader = DataLoader(TensorDataset(x_cat, x_cont, y), batch_size=256, shuffle=True)
    valid_loader = DataLoader(TensorDataset(*read_table(args.valid)[:3]), batch_size=1024)

    n_continuous = len(continuous)
    model = EntityEmbeddingNet(CARDINALITIES, n_continuous)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                    steps_per_epoch=len(train_loader))
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for xc, xn, target in train_loader:
            optimizer.zero_grad()
            criterion(model(xc, xn), target).backward()
            optimizer.step()
            scheduler.step()
        print(f"epoch {epoch}: valid accuracy {accuracy(model, valid_loader):.3f}")
    torch.save(model.state_dict(), "entity-embeddings.pt")


if __name__ == "__main__":
    main()
