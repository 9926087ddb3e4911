"""Neural collaborative filtering (NeuMF) on implicit feedback: a GMF branch (element-wise product of user and
item embeddings) beside an MLP branch over their concatenation; negatives sampled per epoch; user and item
counts come from the ratings file."""
import argparse
import random
from collections import defaultdict

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


def read_interactions(path):
    users, items, pairs = {}, {}, []
    with open(path) as f:
        for line in f:
            user, item, rating, _ = line.strip().split("::")
            if float(rating) >= 4:
                u = users.setdefault(user, len(users))
                i = items.setdefault(item, len(items))
                pairs.append((u, i))
    return pairs, len(users), len(items)


class ImplicitFeedback(Dataset):
    def __init__(self, pairs, num_items, negatives=4):
        self.positives = defaultdict(set)
        for u, i in pairs:
            self.positives[u].add(i)
        self.pairs, self.num_items, self.negatives = pairs, num_items, negatives
        self.resample()

    def resample(self):
        rows = []
        for u, i in self.pairs:
            rows.append((u, i, 1.0))
            for _ in range(self.negatives):
                j = random.randrange(self.num_items)
                while j in self.positives[u]:
                    j = random.randrange(self.num_items)
                rows.append((u, j, 0.0))
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        u, i, label = self.rows[index]
        return torch.tensor(u), torch.tensor(i), torch.tensor(label)


def mlp_tower(sizes, dropout):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class NeuMF(nn.Module):
    def __init__(self, num_users, num_items, factors=8, mlp_sizes=(64, 32, 16), dropout=0.1):
        super().__init__()
        self.user_gmf = nn.Embedding(num_users, factors)
        self.item_gmf = nn.Embedding(num_items, factors)
        self.user_mlp = nn.Embedding(num_users, mlp_sizes[0] // 2)
        self.item_mlp = nn.Embedding(num_items, mlp_sizes[0] // 2)
        self.mlp = mlp_tower(list(mlp_sizes), dropout)
        self.predict = nn.Linear(factors + mlp_sizes[-1], 1)

    def forward(self, user, item):
        gmf = self.user_gmf(user) * self.item_gmf(item)
        mlp = self.mlp(torch.cat([self.user_mlp(user), self.item_mlp(item)], dim=-1))
        return self.predict(torch.cat([gmf, mlp], dim=-1)).squeeze(-1)


@torch.no_grad()
def hit_rate(model, pairs, num_items, k=10, samples=100):
    model.eval()
    hits = 0
    for u, i in random.sample(pairs, min(len(pairs), 500)):
        candidates = torch.tensor([i] + random.sample(range(num_items), samples - 1))
        scores = model(torch.full_like(candidates, u), candidates)
        hits += int(0 in scores.topk(k).indices.tolist())
    return hits / min(len(pairs), 500)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", default="ml-1m/ratings.dat")
    parser.add_argument("--factors", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    pairs, num_users, num_items = read_interactions(args.ratings)
    dataset = ImplicitFeedback(pairs, num_items)
    model = NeuMF(num_users, num_items, factors=args.factors)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.BCEWithLogitsLoss()
    for epoch in range(args.epochs):
        dataset.resample()
        model.train()
        for user, item, label in DataLoader(dataset, batch_size=256, shuffle=True):
            optimizer.zero_grad()
            loss = criterion(model(user, item), label)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: HR@10 {hit_rate(model, pairs, num_items):.3f}")
    torch.save(model.state_dict(), "neumf.pt")


if __name__ == "__main__":
    main()
