import torch
import torch.nn as nn


class AutoEncoder(nn.Module):
    def __init__(self, input_dim=64, latent_dim=8):
        super().__init__()
        self.enc1 = nn.Linear(input_dim, 32)
        self.enc2 = nn.Linear(32, latent_dim)
        self.dec1 = nn.Linear(latent_dim, 32)
        self.dec2 = nn.Linear(32, input_dim)

    def encode(self, x):
        h = torch.relu(self.enc1(x))
        return self.enc2(h)

    def decode(self, z):
        h = torch.relu(self.dec1(z))
        return torch.sigmoid(self.dec2(h))

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z
