import torch.nn as nn


class ResidualGRUStack(nn.Module):
    def __init__(self, input_dim=10, hidden_dim=16, depth=3):
        super().__init__()
        self.proj = nn.Linear(input_dim, hidden_dim)
        self.rnns = nn.ModuleList([nn.GRU(hidden_dim, hidden_dim, batch_first=True) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(hidden_dim) for _ in range(depth)])
        self.out = nn.Linear(hidden_dim, 2)

    def forward(self, x):
        x = self.proj(x)
        for rnn, norm in zip(self.rnns, self.norms):
            y, _ = rnn(x)
            x = norm(x + y)
        return self.out(x[:, -1, :])
