"""Sentence classifier on torch's own transformer encoder (batch_first), after a pre-norm GELU layer."""
import math

import torch
import torch.nn as nn


class SentenceEncoder(nn.Module):
    def __init__(self, vocab_size=300, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, num_classes=4,
                 dropout=0.1):
        super().__init__()
        self.scale = math.sqrt(d_model)
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        encoder_layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(encoder_layer, num_layers, norm=nn.LayerNorm(d_model))
        self.refine = nn.TransformerEncoderLayer(d_model=d_model, nhead=nhead, dim_feedforward=2 * d_model,
                                                 activation="gelu", batch_first=True, norm_first=True)
        self.classifier = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens) * self.scale
        x = self.encoder(self.refine(x))
        return self.classifier(x[:, 0])


def train_epoch(model, batches, optimizer, loss_fn):
    model.train()
    for tokens, labels in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(tokens), labels)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()


if __name__ == "__main__":
    model = SentenceEncoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    data = [(torch.randint(1, 300, (16, 12)), torch.randint(0, 4, (16,))) for _ in range(4)]
    for epoch in range(2):
        train_epoch(model, data, optimizer, nn.CrossEntropyLoss())
