import torch
import torch.nn as nn


class FastText(nn.Module):
    def __init__(self, vocab_size=1000, embed_dim=20, num_classes=4, pad_idx=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, text):
        embedded = self.embedding(text)
        sentence = torch.mean(embedded, dim=1)
        return self.fc(sentence)
