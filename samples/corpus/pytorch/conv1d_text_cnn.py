import torch
import torch.nn as nn
import torch.nn.functional as F


class TextCNN(nn.Module):
    """Kim (2014) sentence classifier: several kernel widths, max over time."""

    def __init__(self, vocab_size=1000, embed_dim=32, num_filters=16, kernel_sizes=(3, 4, 5), num_classes=2,
                 pad_idx=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.convs = nn.ModuleList([nn.Conv1d(embed_dim, num_filters, k) for k in kernel_sizes])
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(num_filters * len(kernel_sizes), num_classes)

    def forward(self, text):
        embedded = self.embedding(text).transpose(1, 2)
        pooled = [torch.max(F.relu(conv(embedded)), dim=2)[0] for conv in self.convs]
        cat = self.dropout(torch.cat(pooled, dim=1))
        return self.fc(cat)
