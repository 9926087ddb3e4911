import torch.nn as nn


class SequenceOutput(nn.Module):
    """Keeps the output sequence of an RNN and drops its states."""

    def forward(self, x):
        output, _ = x
        return output


class LastTimeStep(nn.Module):
    def forward(self, x):
        output, _ = x
        return output[:, -1, :]


model = nn.Sequential(
    nn.Embedding(10000, 326),
    nn.LSTM(326, 40, batch_first=True, bidirectional=True),
    SequenceOutput(),
    nn.Dropout(0.5),
    nn.LSTM(80, 40, batch_first=True),
    LastTimeStep(),
    nn.Linear(40, 40),
    nn.ReLU(),
    nn.Linear(40, 2),
    nn.Softmax(dim=1),
)
