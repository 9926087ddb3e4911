import torch.nn as nn


class LastOutput(nn.Module):
    def forward(self, inputs):
        output, _ = inputs
        return output[:, -1, :]


model = nn.Sequential(
    nn.Linear(4, 8),
    nn.Tanh(),
    nn.RNN(8, 16, batch_first=True),
    LastOutput(),
    nn.Linear(16, 2),
    nn.LogSoftmax(dim=1),
)
