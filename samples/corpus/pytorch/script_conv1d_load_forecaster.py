"""Electricity load forecasting: sliding windows over a multivariate CSV, a dilated 1-D CNN predicting the next
HORIZON steps of the target column; early stopping on the validation split."""
import argparse
import copy

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

HORIZON = 6
TARGET_COLUMN = 0


def standardize(array, mean=None, std=None):
    mean = array.mean(axis=0) if mean is None else mean
    std = array.std(axis=0) + 1e-6 if std is None else std
    return (array - mean) / std, mean, std


class WindowDataset(Dataset):
    def __init__(self, series, window, horizon=HORIZON):
        self.series = torch.as_tensor(series, dtype=torch.float32)
        self.window, self.horizon = window, horizon

    def __len__(self):
        return len(self.series) - self.window - self.horizon + 1

    def __getitem__(self, i):
        x = self.series[i:i + self.window].T                       # (features, window): channels first
        y = self.series[i + self.window:i + self.window + self.horizon, TARGET_COLUMN]
        return x, y


def conv_block(in_ch, out_ch, dilation):
    return nn.Sequential(
        nn.Conv1d(in_ch, out_ch, kernel_size=3, padding=dilation, dilation=dilation),
        nn.BatchNorm1d(out_ch),
        nn.ReLU(),
    )


class LoadForecaster(nn.Module):
    def __init__(self, n_features, channels=32, levels=3, horizon=HORIZON, dropout=0.1):
        super().__init__()
        layers, in_ch = [], n_features
        for level in range(levels):
            layers.append(conv_block(in_ch, channels, 2 ** level))
            in_ch = channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, horizon))

    def forward(self, x):
        h = self.features(x)
        return self.head(self.pool(h).squeeze(-1))


def run_epoch(model, loader, criterion, optimizer=None):
    training = optimizer is not None
    model.train(training)
    total = 0.0
    with torch.set_grad_enabled(training):
        for x, y in loader:
            loss = criterion(model(x), y)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += loss.item() * len(x)
    return total / len(loader.dataset)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--window", type=int, default=48)
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    args = parser.parse_args()

    data = np.loadtxt(args.csv, delimiter=",", skiprows=1, dtype=np.float32)
    split = int(len(data) * 0.8)
    train, mean, std = standardize(data[:split])
    valid, _, _ = standardize(data[split:], mean, std)
    train_loader = DataLoader(WindowDataset(train, args.window), batch_size=64, shuffle=True)
    valid_loader = DataLoader(WindowDataset(valid, args.window), batch_size=256)

    n_features = data.shape[1]
    model = LoadForecaster(n_features, channels=args.channels, levels=args.levels)
    criterion = nn.MSELoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    best_loss, best_state, waited = float("inf"), None, 0
    for epoch in range(args.epochs):
        train_loss = run_epoch(model, train_loader, criterion, optimizer)
        valid_loss = run_epoch(model, valid_loader, criterion)
        scheduler.step(valid_loss)
        print(f"{epoch:3d} train {train_loss:.4f} valid {valid_loss:.4f}")
        if valid_loss < best_loss:
            best_loss, best_state, waited = valid_loss, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
            if waited >= args.patience:
                break
    torch.save({"model": best_state, "mean": mean, "std": std}, "forecaster.pt")


if __name__ == "__main__":
    main()
