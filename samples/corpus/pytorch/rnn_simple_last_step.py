import torch.nn as nn


class SimpleRNNClassifier(nn.Module):
    def __init__(self, input_size=5, hidden_size=16, output_size=3):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        out, _ = self.rnn(x)
        out = out[:, -1, :]
        return self.fc(out)
