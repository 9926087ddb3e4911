import torch.nn as nn


class EncoderBlock(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.1):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        attn_out, _ = self.attn(x, x, x)
        x = self.norm1(x + self.drop(attn_out))
        x = self.norm2(x + self.drop(self.ff(x)))
        return x


class TinyTransformer(nn.Module):
    def __init__(self, vocab_size=300, d_model=32, n_heads=4, n_classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.block1 = EncoderBlock(d_model, n_heads, 64)
        self.block2 = EncoderBlock(d_model, n_heads, 64)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, ids):
        x = self.embed(ids)
        x = self.block2(self.block1(x))
        return self.head(x.mean(dim=1))
