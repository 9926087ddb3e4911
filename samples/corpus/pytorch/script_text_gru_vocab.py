"""Sentence classifier: a vocabulary built from the training file, a bidirectional GRU over embeddings."""
import argparse
import collections

import torch
import torch.nn as nn

LABELS = ["negative", "neutral", "positive"]
NUM_CLASSES = len(LABELS)
PAD, UNK = "<pad>", "<unk>"
MAX_LEN = 12


def build_vocab(lines, min_count=2):
    counts = collections.Counter(word for line in lines for word in line.split())
    words = [w for w, c in counts.most_common() if c >= min_count]
    return {w: i for i, w in enumerate([PAD, UNK, *words])}


def encode(line, vocab):
    ids = [vocab.get(w, 1) for w in line.split()][:MAX_LEN]
    return ids + [0] * (MAX_LEN - len(ids))


class GRUClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim=32, hidden=48, num_classes=2, dropout=0.2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.gru = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, num_classes)

    def forward(self, tokens):
        states, _ = self.gru(self.embedding(tokens))
        return self.out(self.dropout(states.mean(dim=1)))


def read_dataset(path):
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    return [text for text, _ in rows], [LABELS.index(label) for _, label in rows]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train_file")
    parser.add_argument("--embed-dim", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    texts, labels = read_dataset(args.train_file)
    vocab = build_vocab(texts)
    model = GRUClassifier(len(vocab), embed_dim=args.embed_dim, hidden=args.hidden, num_classes=NUM_CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    tokens = torch.tensor([encode(t, vocab) for t in texts])
    targets = torch.tensor(labels)
    for _ in range(args.epochs):
        for start in range(0, len(tokens), 32):
            logits = model(tokens[start:start + 32])
            loss = nn.functional.cross_entropy(logits, targets[start:start + 32])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    main()
