import torch
import torch.nn as nn


class AttentiveLSTM(nn.Module):
    def __init__(self, vocab=700, emb=16, hidden=24, classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden, 1)
        self.out = nn.Linear(2 * hidden, classes)

    def attend(self, states):
        weights = torch.softmax(self.score(states).squeeze(-1), dim=1)   # (N, T)
        return (states * weights.unsqueeze(-1)).sum(dim=1)              # (N, 2H)

    def forward(self, tokens):
        states, _ = self.lstm(self.embedding(tokens))
        return self.out(self.attend(states))
