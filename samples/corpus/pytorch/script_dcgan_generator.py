"""DCGAN on 32x32 images: a generator and a discriminator trained against each other; the generator is kept."""
import argparse
import os
import random

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            # nz x 1 x 1 -> (ngf*4) x 4 x 4
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

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf=64, nc=3):
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

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


class RandomImages(Dataset):
    """Stands in for an ImageFolder of faces: images scaled to [-1, 1]."""

    def __init__(self, count, size=32):
        self.count, self.size = count, size

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        return torch.rand(3, self.size, self.size) * 2 - 1


def parse_args():
    parser = argparse.ArgumentParser(description="DCGAN")
    parser.add_argument("--nz", type=int, default=64, help="size of the latent z vector")
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--ndf", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--outf", default="out")
    parser.add_argument("--seed", type=int, default=None)
    return parser.parse_args()


def main():
    opt = parse_args()
    seed = opt.seed if opt.seed is not None else random.randint(1, 10000)
    torch.manual_seed(seed)
    os.makedirs(opt.outf, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    nz = int(opt.nz)
    loader = DataLoader(RandomImages(512), batch_size=opt.batch_size, shuffle=True, drop_last=True)
    netG = Generator(nz, opt.ngf).to(device)
    netG.apply(weights_init)
    netD = Discriminator(opt.ndf).to(device)
    netD.apply(weights_init)

    criterion = nn.BCELoss()
    fixed_noise = torch.randn(16, nz, 1, 1, device=device)
    optimizerD = optim.Adam(netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    for epoch in range(opt.epochs):
        for i, real in enumerate(loader):
            real = real.to(device)
            b = real.size(0)
            # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            errD_real = criterion(netD(real), torch.ones(b, device=device))
            noise = torch.randn(b, nz, 1, 1, device=device)
            fake = netG(noise)
            errD_fake = criterion(netD(fake.detach()), torch.zeros(b, device=device))
            (errD_real + errD_fake).backward()
            optimizerD.step()
            # (2) update G: maximize log(D(G(z)))
            netG.zero_grad()
            errG = criterion(netD(fake), torch.ones(b, device=device))
            errG.backward()
            optimizerG.step()
        with torch.no_grad():
            samples = netG(fixed_noise).cpu()
        print(f"[{epoch}/{opt.epochs}] loss_D {(errD_real + errD_fake).item():.3f} loss_G {errG.item():.3f} "
              f"sample range {samples.min().item():.2f}..{samples.max().item():.2f}")
    torch.save(netG.state_dict(), os.path.join(opt.outf, "netG.pth"))


if __name__ == "__main__":
    main()
