"""Train a small CNN on CIFAR-style arrays; hyper-parameters in a dataclass, overridable from the command line."""
import argparse
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class TrainConfig:
    channels: int = 16
    num_classes: int = 10
    dropout: float = 0.25
    epochs: int = 5
    batch_size: int = 64
    milestones: list = field(default_factory=lambda: [3, 4])


def conv_bn(in_channels, out_channels, stride=1):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallConvNet(nn.Module):
    def __init__(self, channels=8, num_classes=10, dropout=0.0):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, channels),
            conv_bn(channels, channels * 2, stride=2),
            conv_bn(channels * 2, channels * 4, stride=2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels * 4, num_classes)

    def forward(self, images):
        x = self.pool(self.features(images)).flatten(1)
        return self.classifier(self.dropout(x))


def load_arrays(path):
    archive = np.load(path)
    return archive["images"].astype(np.float32) / 255.0, archive["labels"].astype(np.int64)


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / max(total, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="cifar_small.npz")
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()

    cfg = TrainConfig(channels=args.channels)
    images, labels = load_arrays(args.data)
    loader = DataLoader(TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)),
                        batch_size=cfg.batch_size, shuffle=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SmallConvNet(cfg.channels, num_classes=cfg.num_classes, dropout=cfg.dropout).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=cfg.milestones)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(cfg.epochs):
        model.train()
        for batch, target in loader:
            optimizer.zero_grad()
            loss = criterion(model(batch.to(device)), target.to(device))
            loss.backward()
            optimizer.step()
        scheduler.step()
        print(f"epoch {epoch}: accuracy {evaluate(model, loader):.3f}")


if __name__ == "__main__":
    main()
