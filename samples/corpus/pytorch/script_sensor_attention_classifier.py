"""Human activity recognition from accelerometer windows: a linear projection of each time step, two pre-norm
self-attention blocks and attention pooling over time."""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

ACTIVITIES = ["walking", "upstairs", "downstairs", "sitting", "standing", "lying"]
CHANNELS = 6   # body acc xyz + gyro xyz


class SensorWindows(Dataset):
    def __init__(self, root, split="train"):
        arrays = np.load(Path(root) / f"{split}.npz")
        self.x = torch.from_numpy(arrays["x"]).float()           # (N, T, CHANNELS)
        self.y = torch.from_numpy(arrays["y"]).long()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return jitter(self.x[i]), self.y[i]


def jitter(window, sigma=0.01):
    return window + sigma * torch.randn_like(window)


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=2.0, dropout=0.1):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Dropout(dropout), nn.Linear(int(dim * mlp_ratio), dim),
        )

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class AttentionPooling(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, x):
        weights = F.softmax(self.score(x), dim=1)      # (B, T, 1)
        return (weights * x).sum(dim=1)


class ActivityTransformer(nn.Module):
    def __init__(self, in_channels=CHANNELS, dim=64, heads=4, num_classes=len(ACTIVITIES)):
        super().__init__()
        self.project = nn.Linear(in_channels, dim)
        self.block1 = TransformerBlock(dim, heads)
        self.block2 = TransformerBlock(dim, heads)
        self.pool = AttentionPooling(dim)
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.project(x)
        x = self.block2(self.block1(x))
        return self.classifier(self.pool(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="har")
    parser.add_argument("--dim", type=int, default=48)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    args = parser.parse_args()

    train_loader = DataLoader(SensorWindows(args.root), batch_size=64, shuffle=True, num_workers=2)
    test_loader = DataLoader(SensorWindows(args.root, "test"), batch_size=256)
    model = ActivityTransformer(dim=args.dim, heads=args.heads)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    history = []
    for epoch in range(args.epochs):
        model.train()
        for x, y in train_loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x).argmax(-1) == y).sum().item() for x, y in test_loader)
        history.append({"epoch": epoch, "accuracy": correct / len(test_loader.dataset)})
    Path("history.json").write_text(json.dumps(history, indent=2))
    torch.save(model.state_dict(), "activity-transformer.pt")


if __name__ == "__main__":
    main()
