import torch
from torch import nn


class CNNRNN(nn.Module):
    def __init__(self, vocab_size=5000, embedding_dim=50):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.conv4 = nn.Conv1d(embedding_dim, 200, kernel_size=4)
        self.conv5 = nn.Conv1d(embedding_dim, 200, kernel_size=5)
        self.pool = nn.MaxPool1d(2)
        self.gru = nn.GRU(200, 100, batch_first=True)
        self.fc = nn.Linear(100, 400)
        self.out = nn.Linear(400, 1)

    def forward(self, x):
        x = self.embedding(x)          # (N, T, E)
        x = x.transpose(1, 2)          # Conv1d wants (N, E, T)
        a = self.pool(torch.relu(self.conv4(x)))
        b = self.pool(torch.relu(self.conv5(x)))
        x = torch.cat([a, b], dim=2)   # join the two branches along time
        x = x.permute(0, 2, 1)
        _, h = self.gru(x)
        x = torch.relu(self.fc(h[-1]))
        return torch.sigmoid(self.out(x))
