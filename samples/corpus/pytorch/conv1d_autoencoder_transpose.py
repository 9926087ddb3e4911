import torch.nn as nn


class SeriesAutoencoder(nn.Module):
    def __init__(self, channels=1):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv1d(channels, 8, kernel_size=4, stride=2, padding=1),
            nn.ELU(),
            nn.Conv1d(8, 16, kernel_size=4, stride=2, padding=1),
            nn.ELU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(16, 8, kernel_size=4, stride=2, padding=1),
            nn.ELU(),
            nn.ConvTranspose1d(8, channels, kernel_size=4, stride=2, padding=1),
        )

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z)
