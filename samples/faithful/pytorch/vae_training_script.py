"""Variational autoencoder for 28x28 digits, trained with the reparameterisation trick."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn, optim

parser = argparse.ArgumentParser(description="VAE on MNIST")
parser.add_argument("--batch-size", type=int, default=128)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--latent", type=int, default=20)
parser.add_argument("--lr", type=float, default=1e-3)


class VAE(nn.Module):
    def __init__(self, latent=20, hidden=400):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train(model, optimizer, loader, epoch):
    model.train()
    total = 0.0
    for batch_idx, (data, _) in enumerate(loader):
        optimizer.zero_grad()
        recon, mu, logvar = model(data)
        loss = loss_function(recon, data, mu, logvar)
        loss.backward()
        total += loss.item()
        optimizer.step()
    print(f"epoch {epoch}: average loss {total / len(loader.dataset):.4f}")


def main():
    args = parser.parse_args()
    model = VAE(latent=args.latent)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    images = torch.rand(1024, 1, 28, 28)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.zeros(1024)),
                                         batch_size=args.batch_size, shuffle=True)
    for epoch in range(1, args.epochs + 1):
        train(model, optimizer, loader, epoch)
    torch.save(model.state_dict(), "vae.pt")


if __name__ == "__main__":
    main()
