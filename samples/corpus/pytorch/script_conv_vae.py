"""Convolutional VAE on 28x28 grey images, trained with the ELBO; reconstructions from the mean at eval time."""
import argparse
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class VAEConfig:
    latent_dim: int = 16
    base_channels: int = 32
    beta: float = 1.0
    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 128


class Encoder(nn.Module):
    def __init__(self, channels, latent_dim):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 4, stride=2, padding=1), nn.ReLU(),            # 14x14
            nn.Conv2d(channels, channels * 2, 4, stride=2, padding=1), nn.ReLU(),  # 7x7
        )
        self.fc_mu = nn.Linear(channels * 2 * 7 * 7, latent_dim)
        self.fc_logvar = nn.Linear(channels * 2 * 7 * 7, latent_dim)

    def forward(self, x):
        h = self.conv(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)


class Decoder(nn.Module):
    def __init__(self, channels, latent_dim):
        super().__init__()
        self.channels = channels
        self.fc = nn.Linear(latent_dim, channels * 2 * 7 * 7)
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(channels * 2, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),
        )

    def forward(self, z):
        h = self.fc(z).view(-1, self.channels * 2, 7, 7)
        return torch.sigmoid(self.deconv(h))


class VAE(nn.Module):
    def __init__(self, latent_dim=8, base_channels=16):
        super().__init__()
        self.encoder = Encoder(base_channels, latent_dim)
        self.decoder = Decoder(base_channels, latent_dim)

    def reparameterize(self, mu, logvar):
        if self.training:
            std = torch.exp(0.5 * logvar)
            return mu + torch.randn_like(std) * std
        return mu

    def forward(self, x):
        mu, logvar = self.encoder(x)
        z = self.reparameterize(mu, logvar)
        return self.decoder(z), mu, logvar


def vae_loss(recon, x, mu, logvar, beta):
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + beta * kld) / x.size(0)


def load_images(path):
    data = torch.load(path) if path else torch.rand(1024, 1, 28, 28)
    return TensorDataset(data.float().clamp(0, 1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=None, help="tensor file of (N, 1, 28, 28) images")
    parser.add_argument("--latent-dim", type=int, default=VAEConfig.latent_dim)
    parser.add_argument("--epochs", type=int, default=VAEConfig.epochs)
    args = parser.parse_args()
    cfg = VAEConfig(latent_dim=args.latent_dim, epochs=args.epochs)

    loader = DataLoader(load_images(args.data), batch_size=cfg.batch_size, shuffle=True)
    model = VAE(cfg.latent_dim, cfg.base_channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for epoch in range(cfg.epochs):
        model.train()
        total = 0.0
        for (x,) in loader:
            recon, mu, logvar = model(x)
            loss = vae_loss(recon, x, mu, logvar, cfg.beta)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * x.size(0)
        print(f"epoch {epoch + 1}: loss {total / len(loader.dataset):.2f}")
    torch.save({"config": cfg.__dict__, "state_dict": model.state_dict()}, "vae.pt")


if __name__ == "__main__":
    main()
