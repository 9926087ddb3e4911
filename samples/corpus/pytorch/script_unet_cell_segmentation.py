"""Cell segmentation: a small U-Net (double-conv helper, an encoder and a decoder module) trained with
BCE + Dice on image/mask pairs; the best checkpoint by validation Dice is kept."""
import argparse
import os
from glob import glob

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset


def double_conv(in_channels, out_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Encoder(nn.Module):
    def __init__(self, in_channels, widths):
        super().__init__()
        self.stem = double_conv(in_channels, widths[0])
        self.down1 = double_conv(widths[0], widths[1])
        self.down2 = double_conv(widths[1], widths[2])
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        s1 = self.stem(x)
        s2 = self.down1(self.pool(s1))
        bottom = self.down2(self.pool(s2))
        return s1, s2, bottom


class Decoder(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.up2 = nn.ConvTranspose2d(widths[2], widths[1], 2, stride=2)
        self.conv2 = double_conv(widths[1] * 2, widths[1])
        self.up1 = nn.ConvTranspose2d(widths[1], widths[0], 2, stride=2)
        self.conv1 = double_conv(widths[0] * 2, widths[0])

    def forward(self, s1, s2, bottom):
        x = self.conv2(torch.cat([self.up2(bottom), s2], dim=1))
        return self.conv1(torch.cat([self.up1(x), s1], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=1, widths=(16, 32, 64)):
        super().__init__()
        self.encoder = Encoder(in_channels, widths)
        self.decoder = Decoder(widths)
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    def forward(self, x):
        s1, s2, bottom = self.encoder(x)
        return self.head(self.decoder(s1, s2, bottom))


class DiceBCELoss(nn.Module):
    def __init__(self, smooth=1.0):
        super().__init__()
        self.smooth = smooth

    def forward(self, logits, target):
        probs = torch.sigmoid(logits)
        intersection = (probs * target).sum(dim=(2, 3))
        union = probs.sum(dim=(2, 3)) + target.sum(dim=(2, 3))
        dice = (2 * intersection + self.smooth) / (union + self.smooth)
        return F.binary_cross_entropy_with_logits(logits, target) + (1 - dice.mean())


def random_flip(image, mask):
    if np.random.rand() < 0.5:
        image, mask = image[:, :, ::-1], mask[:, :, ::-1]
    if np.random.rand() < 0.5:
        image, mask = image[:, ::-1, :], mask[:, ::-1, :]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


class CellDataset(Dataset):
    def __init__(self, root, transform=None):
        self.images = sorted(glob(os.path.join(root, "images", "*.npy")))
        self.masks = [p.replace("images", "masks") for p in self.images]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = np.load(self.images[i]).astype(np.float32)[None] / 255.0
        mask = (np.load(self.masks[i]) > 0).astype(np.float32)[None]
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return torch.from_numpy(image), torch.from_numpy(mask)


@torch.no_grad()
def dice_score(model, loader, threshold=0.5):
    model.eval()
    scores = []
    for image, mask in loader:
        pred = (torch.sigmoid(model(image)) > threshold).float()
        inter = (pred * mask).sum(dim=(1, 2, 3))
        scores.append(((2 * inter + 1) / (pred.sum(dim=(1, 2, 3)) + mask.sum(dim=(1, 2, 3)) + 1)).mean().item())
    return sum(scores) / max(len(scores), 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/cells")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--checkpoint", default="unet-best.pt")
    args = parser.parse_args()

    train_loader = DataLoader(CellDataset(os.path.join(args.data, "train"), transform=random_flip),
                              batch_size=args.batch_size, shuffle=True)
    valid_loader = DataLoader(CellDataset(os.path.join(args.data, "valid")), batch_size=args.batch_size)
    model = UNet(in_channels=1, num_classes=1)
    criterion = DiceBCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=15, gamma=0.3)
    best = 0.0
    for epoch in range(args.epochs):
        model.train()
        for image, mask in train_loader:
            loss = criterion(model(image), mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        score = dice_score(model, valid_loader)
        if score > best:
            best = score
            torch.save({"epoch": epoch, "model_state_dict": model.state_dict(), "dice": score}, args.checkpoint)
        print(f"epoch {epoch + 1}/{args.epochs} dice {score:.4f} (best {best:.4f})")


if __name__ == "__main__":
    main()
