"""Anomaly detection on machine telemetry: an LSTM encoder compresses a window to its last hidden state, which is
repeated over the window and decoded by a second LSTM; windows whose reconstruction error exceeds a threshold
fitted on normal data are anomalies."""
import argparse
import json

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

WINDOW = 30


def make_windows(series, window=WINDOW, stride=5):
    starts = range(0, len(series) - window + 1, stride)
    return np.stack([series[s:s + window] for s in starts]).astype(np.float32)


class Encoder(nn.Module):
    def __init__(self, n_features, hidden, latent):
        super().__init__()
        self.lstm1 = nn.LSTM(n_features, hidden, batch_first=True)
        self.lstm2 = nn.LSTM(hidden, latent, batch_first=True)

    def forward(self, x):
        x, _ = self.lstm1(x)
        _, (h, _) = self.lstm2(x)
        return h[-1]


class Decoder(nn.Module):
    def __init__(self, latent, hidden, n_features):
        super().__init__()
        self.lstm = nn.LSTM(latent, hidden, batch_first=True)
        self.output = nn.Linear(hidden, n_features)

    def forward(self, z, steps):
        repeated = z.unsqueeze(1).repeat(1, steps, 1)
        out, _ = self.lstm(repeated)
        return self.output(out)


class LSTMAutoencoder(nn.Module):
    def __init__(self, n_features, hidden=64, latent=16, window=WINDOW):
        super().__init__()
        self.window = window
        self.encoder = Encoder(n_features, hidden, latent)
        self.decoder = Decoder(latent, hidden, n_features)

    def forward(self, x):
        return self.decoder(self.encoder(x), self.window)


def reconstruction_errors(model, windows):
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(windows)
        return ((model(x) - x) ** 2).mean(dim=(1, 2)).numpy()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--normal", default="telemetry_normal.npy")
    parser.add_argument("--test", default="telemetry_test.npy")
    parser.add_argument("--hidden", type=int, default=48)
    parser.add_argument("--latent", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--quantile", type=float, default=0.99)
    args = parser.parse_args()

    normal = np.load(args.normal)
    mean, std = normal.mean(0), normal.std(0) + 1e-8
    windows = make_windows((normal - mean) / std)
    loader = DataLoader(TensorDataset(torch.from_numpy(windows)), batch_size=64, shuffle=True)

    n_features = normal.shape[1]
    model = LSTMAutoencoder(n_features, hidden=args.hidden, latent=args.latent)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.L1Loss()
    for epoch in range(args.epochs):
        model.train()
        for (batch,) in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(batch), batch)
            loss.backward()
            optimizer.step()
    threshold = float(np.quantile(reconstruction_errors(model, windows), args.quantile))
    test_errors = reconstruction_errors(model, make_windows((np.load(args.test) - mean) / std))
    print(f"threshold {threshold:.4f}: {int((test_errors > threshold).sum())} anomalous windows")
    torch.save(model.state_dict(), "lstm-ae.pt")
    with open("lstm-ae.json", "w") as f:
        json.dump({"threshold": threshold, "mean": mean.tolist(), "std": std.tolist()}, f)


if __name__ == "__main__":
    main()
