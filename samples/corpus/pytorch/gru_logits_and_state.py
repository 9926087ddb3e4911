import torch.nn as nn


class NextStepModel(nn.Module):
    def __init__(self, vocab_size=120, embed=16, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.gru = nn.GRU(embed, hidden, num_layers=2, batch_first=True)
        self.proj = nn.Linear(hidden, vocab_size)

    def forward(self, ids):
        out, h = self.gru(self.embed(ids))
        logits = self.proj(out)
        summary = h[-1]
        return logits, summary
