"""Keyword spotting on one-second clips: log-magnitude spectrograms computed in the data pipeline
(torch.stft), random time masking, a CNN over (1, frequency, time)."""
import argparse
import random
import wave
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

SAMPLE_RATE = 16000
N_FFT = 256
HOP = 128
N_FREQ = N_FFT // 2 + 1
KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def read_wav(path):
    with wave.open(str(path)) as f:
        audio = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    audio = audio[:SAMPLE_RATE]
    return np.pad(audio, (0, SAMPLE_RATE - len(audio)))


def log_spectrogram(waveform):
    spec = torch.stft(waveform, n_fft=N_FFT, hop_length=HOP, window=torch.hann_window(N_FFT), return_complex=True)
    return torch.log1p(spec.abs()).unsqueeze(0)   # (1, N_FREQ, frames)


def time_mask(spec, max_width=10):
    width = random.randint(0, max_width)
    start = random.randint(0, max(spec.shape[-1] - width, 0))
    spec = spec.clone()
    spec[..., start:start + width] = 0
    return spec


class SpeechCommands(Dataset):
    def __init__(self, root, train=True):
        self.files = [(p, KEYWORDS.index(p.parent.name)) for p in sorted(Path(root).glob("*/*.wav"))
                      if p.parent.name in KEYWORDS]
        self.train = train

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        path, label = self.files[i]
        spec = log_spectrogram(torch.from_numpy(read_wav(path)))
        return (time_mask(spec) if self.train else spec), label


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class KeywordCNN(nn.Module):
    def __init__(self, n_classes=len(KEYWORDS), channels=(16, 32, 64), dropout=0.25):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1)
        self.block1 = nn.Sequential(conv_bn_relu(1, channels[0]), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(conv_bn_relu(channels[0], channels[1]), nn.MaxPool2d(2))
        self.block3 = nn.Sequential(conv_bn_relu(channels[1], channels[2]), conv_bn_relu(channels[2], channels[2]))
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels[2], n_classes)

    def forward(self, spec):
        x = self.input_norm(spec)
        x = self.block3(self.block2(self.block1(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(self.dropout(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-dir", default="speech_commands/train")
    parser.add_argument("--test-dir", default="speech_commands/test")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()

    train_loader = DataLoader(SpeechCommands(args.train_dir), batch_size=64, shuffle=True, num_workers=4)
    test_loader = DataLoader(SpeechCommands(args.test_dir, train=False), batch_size=128)
    model = KeywordCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.epochs * len(train_loader))
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for spec, label in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(spec), label)
            loss.backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for spec, label in test_loader:
                correct += (model(spec).argmax(1) == label).sum().item()
        print(f"epoch {epoch}: test accuracy {correct / len(test_loader.dataset):.3f}")
    torch.save(model.state_dict(), f"kws_{N_FREQ}bins.pt")


if __name__ == "__main__":
    main()
