import torch
import torch.nn as nn
import torch.optim as optim


class CifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 8 * 8, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def train(model, epochs=2, batch_size=32, lr=0.01):
    images = torch.randn(512, 3, 32, 32)
    labels = torch.randint(0, 10, (512,))
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(epochs):
        running_loss = 0.0
        for i in range(0, len(images), batch_size):
            optimizer.zero_grad()
            loss = criterion(model(images[i:i + batch_size]), labels[i:i + batch_size])
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(epoch, running_loss)


if __name__ == "__main__":
    net = CifarNet()
    train(net, epochs=5, batch_size=64, lr=0.005)
    torch.save(net.state_dict(), "cifar_net.pth")
