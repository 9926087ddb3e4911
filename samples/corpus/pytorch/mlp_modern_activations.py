from torch import nn


class MobileHead(nn.Module):
    def __init__(self, in_features=20, num_classes=7):
        super().__init__()
        self.fc1 = nn.Linear(in_features, 32)
        self.act1 = nn.Hardswish()
        self.fc2 = nn.Linear(32, 32)
        self.act2 = nn.SiLU()
        self.fc3 = nn.Linear(32, 32)
        self.act3 = nn.Mish()
        self.fc4 = nn.Linear(32, 16)
        self.act4 = nn.PReLU(num_parameters=16)
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        x = self.act3(self.fc3(x))
        x = self.act4(self.fc4(x))
        return self.classifier(x)
