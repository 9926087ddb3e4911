import torch.nn as nn


class VolumeDecoder(nn.Module):
    def __init__(self, latent_dim=16):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 8 * 2 * 2 * 2)
        self.deconv1 = nn.ConvTranspose3d(8, 4, kernel_size=2, stride=2)
        self.deconv2 = nn.ConvTranspose3d(4, 1, kernel_size=2, stride=2)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, z):
        x = self.fc(z).view(-1, 8, 2, 2, 2)
        x = self.act(self.deconv1(x))
        return self.deconv2(x).sigmoid()
