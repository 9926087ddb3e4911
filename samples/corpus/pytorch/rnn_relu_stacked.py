import torch
from torch import nn


class StackedRNN(nn.Module):
    def __init__(self, n_in=4, n_hidden=20, n_layers=2):
        super().__init__()
        self.rnn = nn.RNN(input_size=n_in, hidden_size=n_hidden, num_layers=n_layers,
                          nonlinearity="relu", batch_first=True)
        self.linear = nn.Linear(n_hidden, 1)

    def forward(self, sequence):
        _, h_n = self.rnn(sequence)
        return self.linear(h_n[-1])
