import torch
import torch.nn as nn


class SpamClassifier(nn.Module):
    def __init__(self, vocab_size=1000, embed_dim=32, hidden_size=32):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        x = self.embedding(x)
        x, _ = self.lstm(x)
        return self.fc(x[:, -1])


if __name__ == "__main__":
    EPOCHS = 4
    BATCH_SIZE = 16
    LR = 2e-3

    data = torch.randint(1, 1000, (320, 20))
    labels = torch.randint(0, 2, (320, 1)).float()
    model = SpamClassifier()
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR)
    model.train()
    for epoch in range(EPOCHS):
        permutation = torch.randperm(data.size(0))
        for i in range(0, data.size(0), BATCH_SIZE):
            idx = permutation[i:i + BATCH_SIZE]
            optimizer.zero_grad()
            loss = loss_fn(model(data[idx]), labels[idx])
            loss.backward()
            optimizer.step()
        print("epoch", epoch, "loss", loss.item())
