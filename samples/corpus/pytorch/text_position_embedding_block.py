"""Tiny transformer text classifier: learned token and position embeddings (torch.arange ids), one pre-norm block."""
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 200
    block_size: int = 16
    n_embd: int = 32
    n_head: int = 4
    n_classes: int = 3
    dropout: float = 0.1


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.MultiheadAttention(n_embd, n_head, dropout=dropout, batch_first=True)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        h = self.ln_1(x)
        attended, _ = self.attn(h, h, h, need_weights=False)
        x = x + attended
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


class TextClassifier(nn.Module):
    def __init__(self, vocab_size=200, block_size=16, n_embd=32, n_head=4, n_classes=3):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(0.1)
        self.block = Block(n_embd, n_head, 0.1)
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, n_classes)

    def forward(self, idx):
        b, t = idx.size()
        assert t <= self.block_size, f"sequence of {t} tokens, block size {self.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device).unsqueeze(0)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        x = self.ln_f(self.block(x))
        return self.head(x.mean(dim=1))


def build(config: Config) -> TextClassifier:
    return TextClassifier(config.vocab_size, config.block_size, config.n_embd, config.n_head, config.n_classes)


if __name__ == "__main__":
    cfg = Config()
    model = build(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    tokens = torch.randint(0, cfg.vocab_size, (8, cfg.block_size))
    labels = torch.randint(0, cfg.n_classes, (8,))
    for step in range(3):
        loss = F.cross_entropy(model(tokens), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
