"""Sine-wave forecaster in the manner of PyTorch's time-sequence-prediction example: two LSTMCells stepped by hand."""
import torch
import torch.nn as nn


class Forecaster(nn.Module):
    def __init__(self, features=1, hidden=24):
        super().__init__()
        self.hidden = hidden
        self.cell1 = nn.LSTMCell(features, hidden)
        self.cell2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, features)

    def forward(self, series):
        batch, steps, _ = series.shape
        h1 = torch.zeros(batch, self.hidden, dtype=torch.float32, device=series.device)
        c1 = torch.zeros(batch, self.hidden, dtype=torch.float32, device=series.device)
        h2 = torch.zeros(batch, self.hidden, device=series.device)
        c2 = torch.zeros(batch, self.hidden, device=series.device)
        outputs = []
        for t in range(steps):
            h1, c1 = self.cell1(series[:, t], (h1, c1))
            h2, c2 = self.cell2(h1, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.stack(outputs, dim=1)


if __name__ == "__main__":
    model = Forecaster()
    wave = torch.sin(torch.linspace(0, 20, 97)).repeat(8, 1).unsqueeze(-1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(5):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(wave[:, :-1]), wave[:, 1:])
        loss.backward()
        optimizer.step()
        print(step, loss.item())
