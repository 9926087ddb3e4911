"""Review sentiment: tokenised reviews padded per batch in a collate function, a two-layer LSTM over embeddings,
the top layer's last hidden state classified."""
import argparse
import csv
import re
from collections import Counter

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, random_split

TOKEN = re.compile(r"[a-z0-9']+")
SPECIALS = ["<pad>", "<unk>"]


def tokenize(text):
    return TOKEN.findall(text.lower())


class ReviewDataset(Dataset):
    def __init__(self, path, vocab=None, max_tokens=200):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        self.texts = [tokenize(r["review"])[:max_tokens] for r in rows]
        self.labels = [1 if r["sentiment"] == "positive" else 0 for r in rows]
        if vocab is None:
            counts = Counter(t for text in self.texts for t in text)
            vocab = {w: i for i, w in enumerate(SPECIALS + [w for w, c in counts.items() if c >= 3])}
        self.vocab = vocab

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, i):
        ids = [self.vocab.get(t, 1) for t in self.texts[i]] or [1]
        return torch.tensor(ids), torch.tensor(self.labels[i], dtype=torch.float32)


def collate(batch):
    ids, labels = zip(*batch)
    return pad_sequence(ids, batch_first=True, padding_value=0), torch.stack(labels)


class SentimentLSTM(nn.Module):
    def __init__(self, vocab_size, embed_dim=100, hidden_dim=128, num_layers=2, dropout=0.3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, text):
        embedded = self.dropout(self.embedding(text))
        _, (hidden, _) = self.lstm(embedded)
        return self.fc(self.dropout(hidden[-1])).squeeze(1)


def binary_accuracy(logits, y):
    return ((logits > 0).float() == y).float().mean().item()


def evaluate(model, loader, criterion):
    model.eval()
    loss, acc = 0.0, 0.0
    with torch.no_grad():
        for text, labels in loader:
            logits = model(text)
            loss += criterion(logits, labels).item()
            acc += binary_accuracy(logits, labels)
    return loss / len(loader), acc / len(loader)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", default="reviews.csv")
    parser.add_argument("--embed-dim", type=int, default=64)
    parser.add_argument("--hidden-dim", type=int, default=96)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--clip", type=float, default=1.0)
    args = parser.parse_args()

    dataset = ReviewDataset(args.csv)
    n_valid = len(dataset) // 10
    train_set, valid_set = random_split(dataset, [len(dataset) - n_valid, n_valid])
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True, collate_fn=collate)
    valid_loader = DataLoader(valid_set, batch_size=64, collate_fn=collate)

    vocab_size = len(dataset.vocab)
    model = SentimentLSTM(vocab_size, args.embed_dim, args.hidden_dim, num_layers=args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.BCEWithLogitsLoss()
    best = float("inf")
    for epoch in range(args.epochs):
        model.train()
        for text, labels in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(text), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
        valid_loss, valid_acc = evaluate(model, valid_loader, criterion)
        print(f"epoch {epoch}: valid loss {valid_loss:.3f} acc {valid_acc:.2%}")
        if valid_loss < best:
            best = valid_loss
            torch.save(model.state_dict(), "sentiment-lstm.pt")


if __name__ == "__main__":
    main()
