import torch.nn as nn


class DeepMLP(nn.Module):
    def __init__(self, sizes=(12, 32, 32, 16), num_outputs=2):
        super().__init__()
        self.layers = nn.ModuleList(
            [nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)]
        )
        self.head = nn.Linear(sizes[-1], num_outputs)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).relu()
        return self.head(x)
