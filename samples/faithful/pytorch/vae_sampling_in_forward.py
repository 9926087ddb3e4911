"""Convolutional VAE whose forward always samples the latent code (training and inference alike)."""
import torch
import torch.nn as nn


class ConvVAE(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
            nn.Flatten(),
        )
        self.to_mu = nn.Linear(32 * 7 * 7, latent_dim)
        self.to_logvar = nn.Linear(32 * 7 * 7, latent_dim)
        self.from_latent = nn.Linear(latent_dim, 32 * 7 * 7)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.Sigmoid(),
        )

    def sample(self, mu, logvar):
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, images):
        features = self.encoder(images)
        mu, logvar = self.to_mu(features), self.to_logvar(features)
        z = self.sample(mu, logvar)
        decoded = self.decoder(self.from_latent(z).view(-1, 32, 7, 7))
        return decoded, mu, logvar


if __name__ == "__main__":
    vae = ConvVAE()
    recon, mu, logvar = vae(torch.rand(8, 1, 28, 28))
    print(recon.shape, mu.shape)
