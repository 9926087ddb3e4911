import torch
import torch.nn as nn
import torch.nn.functional as F


class TextClassifier(nn.Module):
    """Embedding -> BiLSTM -> Dropout -> LSTM (last step) -> Dense -> softmax."""

    def __init__(self, vocab_size=10000, embed_dim=326, hidden=40, num_classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.bilstm = nn.LSTM(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.5)
        self.lstm = nn.LSTM(2 * hidden, hidden, batch_first=True)
        self.fc1 = nn.Linear(hidden, 40)
        self.fc2 = nn.Linear(40, num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens)
        x, _ = self.bilstm(x)
        x = self.dropout(x)
        x, (h, c) = self.lstm(x)
        x = x[:, -1, :]
        x = F.relu(self.fc1(x))
        return F.softmax(self.fc2(x), dim=1)
