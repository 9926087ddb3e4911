"""Denoising autoencoder for feature vectors; architecture from a config dict, feature count from the data."""
import json
import sys

import numpy as np
import torch
from torch import nn

CONFIG = {"latent": 8, "hidden": [48, 24], "noise": 0.1}


def mlp(sizes, last_activation=True):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class AutoEncoder(nn.Module):
    def __init__(self, input_dim, latent=4, hidden=(32,), noise=0.0):
        super().__init__()
        self.encoder = mlp([input_dim, *hidden, latent])
        self.decoder = mlp([latent, *reversed(hidden), input_dim], last_activation=False)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def add_noise(batch, scale):
    return batch + scale * torch.randn_like(batch)


def train(model, data, epochs=10, noise=0.1):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for batch in data.split(128):
            recon = model(add_noise(batch, noise))
            loss = nn.functional.mse_loss(recon, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


if __name__ == "__main__":
    features = np.load(sys.argv[1]).astype(np.float32)
    features = (features - features.mean(0)) / (features.std(0) + 1e-6)
    net = AutoEncoder(features.shape[1], **CONFIG)
    net = net.to("cpu")
    train(net, torch.from_numpy(features), noise=CONFIG["noise"])
    with open("autoencoder.json", "w") as handle:
        json.dump({"input_dim": features.shape[1], **CONFIG}, handle)
    torch.save(net.state_dict(), "autoencoder.pt")
