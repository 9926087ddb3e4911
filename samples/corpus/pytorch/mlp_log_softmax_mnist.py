import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(14 * 14, 64)
        self.fc2 = nn.Linear(64, 10)
        self.dropout = nn.Dropout(0.25)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x)))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


if __name__ == "__main__":
    model = MnistMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(256, 1, 14, 14)
    targets = torch.randint(0, 10, (256,))
    for epoch in range(3):
        for start in range(0, 256, 32):
            optimizer.zero_grad()
            loss = F.nll_loss(model(images[start:start + 32]), targets[start:start + 32])
            loss.backward()
            optimizer.step()
