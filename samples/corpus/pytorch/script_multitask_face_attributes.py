"""Multi-task face attributes: one convolutional backbone, an age regression head and a gender head; the loss
is a weighted sum of L1 and cross-entropy, weights read from a JSON-like config dict."""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

CONFIG = {
    "image_size": 64,
    "widths": [16, 32, 64, 96],
    "dropout": 0.3,
    "loss_weights": {"age": 0.1, "gender": 1.0},
    "lr": 5e-4,
}


def make_backbone(widths):
    layers, in_ch = [], 3
    for w in widths:
        layers += [nn.Conv2d(in_ch, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        in_ch = w
    return nn.Sequential(*layers)


class FaceAttributeNet(nn.Module):
    def __init__(self, widths=(16, 32, 64), image_size=64, dropout=0.5):
        super().__init__()
        self.backbone = make_backbone(widths)
        feature_size = image_size // 2 ** len(widths)
        flat = widths[-1] * feature_size * feature_size
        self.shared = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, 128), nn.ReLU())
        self.age_head = nn.Linear(128, 1)
        self.gender_head = nn.Linear(128, 2)

    def forward(self, images):
        features = self.shared(self.backbone(images))
        age = F.softplus(self.age_head(features)).squeeze(1)   # ages are positive
        return age, self.gender_head(features)


class FaceFolder(Dataset):
    """Files named <age>_<gender>_<id>.pt holding (3, S, S) tensors in [0, 1]."""

    def __init__(self, root):
        self.paths = sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".pt"))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        age, gender, _ = os.path.basename(self.paths[i]).split("_", 2)
        image = torch.load(self.paths[i])
        return (image - 0.5) / 0.5, torch.tensor(float(age)), torch.tensor(int(gender))


def multitask_loss(outputs, age, gender, weights):
    age_pred, gender_logits = outputs
    return weights["age"] * F.l1_loss(age_pred, age) + weights["gender"] * F.cross_entropy(gender_logits, gender)


def evaluate(model, loader):
    model.eval()
    mae, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for images, age, gender in loader:
            age_pred, gender_logits = model(images)
            mae += (age_pred - age).abs().sum().item()
            correct += (gender_logits.argmax(1) == gender).sum().item()
            n += len(age)
    return mae / n, correct / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default="faces/train")
    parser.add_argument("--valid", default="faces/valid")
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()

    model = FaceAttributeNet(CONFIG["widths"], CONFIG["image_size"], CONFIG["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG["lr"])
    train_loader = DataLoader(FaceFolder(args.train), batch_size=32, shuffle=True)
    valid_loader = DataLoader(FaceFolder(args.valid), batch_size=64)
    for epoch in range(args.epochs):
        model.train()
        for images, age, gender in train_loader:
            loss = multitask_loss(model(images), age, gender, CONFIG["loss_weights"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        mae, acc = evaluate(model, valid_loader)
        print(f"epoch {epoch}: age MAE {mae:.2f}, gender accuracy {acc:.3f}")
        torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
                   f"face-attributes-{epoch:02d}.pt")


if __name__ == "__main__":
    main()
