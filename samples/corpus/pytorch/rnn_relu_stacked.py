import torch
from torch import nn


class StackedRNN(nn.Module):
    def __init__(self, n_in=4, n_hidden=20, n_layers=2):
        super().__init__()
        self.rnn = nn.RNN(hidden_size=n_hidden, input_size=n_in, batch_first=True,
                          nonlinearity="relu", num_layers=n_layers)
        self.linear = nn.Linear(n_hidden, 1)

    def forward(self, sequence):
        _, h_n = self.rnn(sequence)
        return self.linear(h_n[-1])
