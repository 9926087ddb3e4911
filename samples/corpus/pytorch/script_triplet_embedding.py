"""Metric learning on 28x28 sketches: an embedding CNN wrapped in a triplet network (one set of weights for
anchor, positive and negative), trained with a margin loss on online triplets."""
import argparse
import random
from collections import defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


class EmbeddingNet(nn.Module):
    def __init__(self, embedding_dim=64):
        super().__init__()
        self.convnet = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2),
            nn.Conv2d(32, 64, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2),
        )
        self.fc = nn.Sequential(
            nn.Linear(64 * 4 * 4, 256), nn.PReLU(),
            nn.Linear(256, embedding_dim),
        )

    def forward(self, x):
        out = self.convnet(x)
        out = out.view(out.size(0), -1)
        return F.normalize(self.fc(out), p=2, dim=1)


class TripletNet(nn.Module):
    def __init__(self, embedding_dim=32):
        super().__init__()
        self.embedding_net = EmbeddingNet(embedding_dim)

    def forward(self, anchor, positive, negative):
        return self.embedding_net(anchor), self.embedding_net(positive), self.embedding_net(negative)


class TripletSketches(Dataset):
    """Samples (anchor, positive, negative) triplets from a labelled tensor file."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels
        self.by_label = defaultdict(list)
        for index, label in enumerate(labels.tolist()):
            self.by_label[label].append(index)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        label = self.labels[index].item()
        positive = random.choice(self.by_label[label])
        negative_label = random.choice([k for k in self.by_label if k != label])
        negative = random.choice(self.by_label[negative_label])
        return self.images[index], self.images[positive], self.images[negative]


def triplet_loss(a, p, n, margin):
    return F.relu((a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + margin).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="sketches.pt")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--margin", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    images, labels = torch.load(args.data)
    loader = DataLoader(TripletSketches(images, labels), batch_size=128, shuffle=True)
    model = TripletNet(args.embedding_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 8, gamma=0.1)
    for epoch in range(args.epochs):
        model.train()
        running = 0.0
        for anchor, positive, negative in loader:
            optimizer.zero_grad()
            loss = triplet_loss(*model(anchor, positive, negative), args.margin)
            loss.backward()
            optimizer.step()
            running += loss.item()
        scheduler.step()
        print(f"epoch {epoch + 1}: loss {running / len(loader):.4f}")
    torch.save(model.embedding_net.state_dict(), "embedding_net.pt")


if __name__ == "__main__":
    main()
