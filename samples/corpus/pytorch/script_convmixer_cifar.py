"""ConvMixer on CIFAR-sized images: a patch embedding, depth-wise mixing in a residual wrapper, point-wise
mixing, built by a function from a hyper-parameter dict; trained with label smoothing and a cosine schedule."""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

HPARAMS = {"dim": 64, "depth": 4, "kernel_size": 5, "patch_size": 2, "n_classes": 10}


class Residual(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


def ConvMixer(dim, depth, kernel_size=9, patch_size=7, n_classes=1000):
    return nn.Sequential(
        nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size),
        nn.GELU(),
        nn.BatchNorm2d(dim),
        *[nn.Sequential(
            Residual(nn.Sequential(
                nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"),
                nn.GELU(),
                nn.BatchNorm2d(dim),
            )),
            nn.Conv2d(dim, dim, kernel_size=1),
            nn.GELU(),
            nn.BatchNorm2d(dim),
        ) for _ in range(depth)],
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(dim, n_classes),
    )


def normalize(images, mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616)):
    mean = torch.tensor(mean).view(1, 3, 1, 1)
    std = torch.tensor(std).view(1, 3, 1, 1)
    return (images - mean) / std


def random_crop_flip(images, padding=4):
    padded = F.pad(images, (padding,) * 4, mode="reflect")
    i, j = torch.randint(0, 2 * padding + 1, (2,)).tolist()
    out = padded[:, :, i:i + images.shape[2], j:j + images.shape[3]]
    return out.flip(3) if torch.rand(()) < 0.5 else out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr-max", type=float, default=0.01)
    parser.add_argument("--clip-norm", action="store_true")
    args = parser.parse_args()

    images, labels = torch.rand(2048, 3, 32, 32), torch.randint(0, 10, (2048,))
    loader = DataLoader(TensorDataset(normalize(images), labels), batch_size=args.batch_size, shuffle=True)
    model = ConvMixer(**HPARAMS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr_max, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(loader))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    for epoch in range(args.epochs):
        start, correct, seen = time.time(), 0, 0
        model.train()
        for x, y in loader:
            logits = model(random_crop_flip(x))
            loss = criterion(logits, y)
            optimizer.zero_grad()
            loss.backward()
            if args.clip_norm:
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        print(f"epoch {epoch}: train acc {correct / seen:.3f} ({time.time() - start:.1f}s)")
    torch.save(model.state_dict(), "convmixer.pt")


if __name__ == "__main__":
    main()
