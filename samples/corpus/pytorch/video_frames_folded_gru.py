"""Clip classifier: a small CNN run on every frame by folding time into the batch, then a GRU over the frames."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FrameEncoder(nn.Module):
    def __init__(self, channels=3, width=8, features=16):
        super().__init__()
        self.features = nn.Sequential(conv_block(channels, width), nn.MaxPool2d(2), conv_block(width, width * 2))
        self.proj = nn.Linear(width * 2, features)

    def forward(self, frames):
        x = self.features(frames)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.proj(x)


class ClipClassifier(nn.Module):
    def __init__(self, num_classes=6, features=16, hidden=24):
        super().__init__()
        self.encoder = FrameEncoder(features=features)
        self.rnn = nn.GRU(features * 2, hidden, batch_first=True)
        self.drop = nn.Dropout2d(0.25)   # on (N, hidden): drops single features, as nn.Dropout would
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, clip):
        b, t, c, h, w = clip.size()
        per_frame = self.encoder(clip.view(b * t, c, h, w))
        per_frame = per_frame.view(b, t, -1)
        context = per_frame.mean(dim=1, keepdim=True).expand(-1, t, -1)
        out, _ = self.rnn(torch.cat([per_frame, context], dim=2))
        return self.fc(self.drop(out[:, -1]))


def evaluate(model, clips, labels):
    model.eval()
    with torch.no_grad():
        logits = model(clips)
    return (logits.argmax(1) == labels).float().mean().item()


if __name__ == "__main__":
    model = ClipClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    clips, labels = torch.randn(8, 5, 3, 16, 16), torch.randint(0, 6, (8,))
    for epoch in range(2):
        model.train()
        loss = F.cross_entropy(model(clips), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(epoch, loss.item(), evaluate(model, clips, labels))
