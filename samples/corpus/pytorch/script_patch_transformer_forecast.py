"""Patch transformer for univariate forecasting: the look-back window is cut into patches by a strided
Conv1d, a learned position table (nn.Parameter) is added, a stack of nn.TransformerEncoder layers runs,
and a linear head reads the flattened patch tokens."""
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

LOOKBACK = 96
PATCH = 16
HORIZON = 24


class Windows(Dataset):
    def __init__(self, series):
        self.series = torch.tensor(series, dtype=torch.float32)

    def __len__(self):
        return len(self.series) - LOOKBACK - HORIZON

    def __getitem__(self, i):
        past = self.series[i:i + LOOKBACK].unsqueeze(0)            # (1, LOOKBACK)
        return past, self.series[i + LOOKBACK:i + LOOKBACK + HORIZON]


class PatchTransformer(nn.Module):
    def __init__(self, lookback=LOOKBACK, patch=PATCH, horizon=HORIZON, d_model=32, heads=4, layers=2):
        super().__init__()
        n_patches = lookback // patch
        self.patchify = nn.Conv1d(1, d_model, kernel_size=patch, stride=patch)
        self.position = nn.Parameter(torch.zeros(1, n_patches, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=2 * d_model, dropout=0.1,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(n_patches * d_model, horizon)

    def forward(self, past):
        tokens = self.patchify(past).transpose(1, 2)              # (B, n_patches, d_model)
        tokens = self.encoder(tokens + self.position)
        return self.head(self.norm(tokens).flatten(1))


def instance_normalize(past, target):
    mean = past.mean(dim=-1, keepdim=True)
    std = past.std(dim=-1, keepdim=True) + 1e-5
    return (past - mean) / std, (target - mean.squeeze(1)) / std.squeeze(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", default="traffic.npy")
    parser.add_argument("--d-model", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    series = np.load(args.series)
    split = int(0.8 * len(series))
    train_loader = DataLoader(Windows(series[:split]), batch_size=64, shuffle=True)
    test_loader = DataLoader(Windows(series[split:]), batch_size=256)
    model = PatchTransformer(d_model=args.d_model)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / args.warmup))
    criterion = nn.MSELoss()
    for epoch in range(args.epochs):
        model.train()
        for past, future in train_loader:
            past, future = instance_normalize(past, future)
            loss = criterion(model(past), future)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            mse = np.mean([criterion(model(p), f).item() for p, f in (instance_normalize(*b) for b in test_loader)])
        print(f"epoch {epoch}: test MSE {mse:.4f}")
    torch.save(model.state_dict(), "patch-transformer.pt")


if __name__ == "__main__":
    main()
