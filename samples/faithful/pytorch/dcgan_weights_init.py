"""DCGAN for 32x32 colour images: a generator from a 100-d noise vector and a discriminator."""
import random

import torch
import torch.nn as nn
import torch.optim as optim

manual_seed = 999
random.seed(manual_seed)
torch.manual_seed(manual_seed)

nz, ngf, ndf, nc = 100, 32, 32, 3


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, noise):
        return self.main(noise)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, image):
        return self.main(image).view(-1, 1).squeeze(1)


netG = Generator()
netG.apply(weights_init)
netD = Discriminator()
netD.apply(weights_init)
print(netG)


def train(dataloader, epochs=5):
    criterion = nn.BCELoss()
    optimizer_d = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_g = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    fixed_noise = torch.randn(64, nz, 1, 1)
    for epoch in range(epochs):
        for real, _ in dataloader:
            netD.zero_grad()
            label = torch.full((real.size(0),), 1.0)
            loss_real = criterion(netD(real), label)
            loss_real.backward()
            noise = torch.randn(real.size(0), nz, 1, 1)
            fake = netG(noise)
            label.fill_(0.0)
            loss_fake = criterion(netD(fake.detach()), label)
            loss_fake.backward()
            optimizer_d.step()
            netG.zero_grad()
            label.fill_(1.0)
            loss_g = criterion(netD(fake), label)
            loss_g.backward()
            optimizer_g.step()
    return netG(fixed_noise)


if __name__ == "__main__":
    data = torch.utils.data.TensorDataset(torch.rand(256, nc, 32, 32) * 2 - 1, torch.zeros(256))
    train(torch.utils.data.DataLoader(data, batch_size=64, shuffle=True))
