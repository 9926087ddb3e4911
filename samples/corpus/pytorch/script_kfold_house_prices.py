"""House price regression with 5-fold cross-validation: features standardised per fold, a fresh MLP
(BatchNorm1d, Dropout, SiLU) per fold, the fold models averaged at prediction time."""
import argparse
import math

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

N_FOLDS = 5
SEED = 42


class PriceMLP(nn.Module):
    def __init__(self, n_features, hidden_sizes=(256, 128, 64), dropout=0.15):
        super().__init__()
        layers = []
        prev = n_features
        for size in hidden_sizes:
            layers.extend([nn.Linear(prev, size), nn.BatchNorm1d(size), nn.SiLU(), nn.Dropout(dropout)])
            prev = size
        self.body = nn.Sequential(*layers)
        self.regressor = nn.Linear(prev, 1)

    def forward(self, x):
        return self.regressor(self.body(x)).squeeze(-1)


def kfold_indices(n, k, seed=SEED):
    order = np.random.default_rng(seed).permutation(n)
    return np.array_split(order, k)


def rmse(pred, target):
    return math.sqrt(((pred - target) ** 2).mean())


def train_fold(model, loader, epochs, lr):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)
    criterion = nn.SmoothL1Loss()
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        scheduler.step()
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="houses.npz")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()

    arrays = np.load(args.data)
    features, log_prices = arrays["features"].astype(np.float32), np.log1p(arrays["price"]).astype(np.float32)
    n_features = features.shape[1]
    folds = kfold_indices(len(features), N_FOLDS)
    scores = []
    for fold, valid_idx in enumerate(folds):
        train_idx = np.concatenate([f for i, f in enumerate(folds) if i != fold])
        mean, std = features[train_idx].mean(0), features[train_idx].std(0) + 1e-6
        x_train = torch.from_numpy((features[train_idx] - mean) / std)
        loader = DataLoader(TensorDataset(x_train, torch.from_numpy(log_prices[train_idx])),
                            batch_size=128, shuffle=True, drop_last=True)
        model = PriceMLP(n_features)
        train_fold(model, loader, args.epochs, args.lr)
        model.eval()
        with torch.no_grad():
            pred = model(torch.from_numpy((features[valid_idx] - mean) / std)).numpy()
        scores.append(rmse(pred, log_prices[valid_idx]))
        torch.save({"state_dict": model.state_dict(), "mean": mean, "std": std}, f"price-mlp-fold{fold}.pt")
        print(f"fold {fold}: RMSE(log) {scores[-1]:.4f}")
    print(f"CV RMSE {np.mean(scores):.4f} +- {np.std(scores):.4f}")


if __name__ == "__main__":
    main()
