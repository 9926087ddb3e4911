import torch


class ActivationZoo(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = torch.nn.Linear(9, 16)
        self.act1 = torch.nn.SELU()
        self.layer2 = torch.nn.Linear(16, 16)
        self.act2 = torch.nn.ELU(alpha=0.5)
        self.layer3 = torch.nn.Linear(16, 16)
        self.act3 = torch.nn.LeakyReLU(negative_slope=0.1)
        self.layer4 = torch.nn.Linear(16, 4)
        self.act4 = torch.nn.Softplus()

    def forward(self, x):
        x = self.act1(self.layer1(x))
        x = self.act2(self.layer2(x))
        x = self.act3(self.layer3(x))
        return self.act4(self.layer4(x))
