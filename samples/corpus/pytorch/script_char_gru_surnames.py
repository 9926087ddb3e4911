"""Which language is a surname from? Characters embedded and read by a two-layer GRU; the languages are the
files of the data folder, so their number comes from the data."""
import argparse
import glob
import os
import string
import unicodedata

import torch
import torch.nn as nn

ALL_LETTERS = string.ascii_letters + " .,;'-"
N_LETTERS = len(ALL_LETTERS) + 1   # index 0 pads
MAX_CHARS = 16


def unicode_to_ascii(s):
    return "".join(c for c in unicodedata.normalize("NFD", s)
                   if unicodedata.category(c) != "Mn" and c in ALL_LETTERS)


def encode_name(name):
    ids = [ALL_LETTERS.find(c) + 1 for c in name][:MAX_CHARS]
    return ids + [0] * (MAX_CHARS - len(ids))


def load_surnames(folder):
    names, labels, languages = [], [], []
    for path in sorted(glob.glob(os.path.join(folder, "*.txt"))):
        language = os.path.splitext(os.path.basename(path))[0]
        languages.append(language)
        with open(path, encoding="utf-8") as f:
            for line in f:
                names.append(encode_name(unicode_to_ascii(line.strip())))
                labels.append(len(languages) - 1)
    return torch.tensor(names), torch.tensor(labels), languages


class SurnameGRU(nn.Module):
    def __init__(self, n_letters, n_categories, embed_dim=24, hidden_size=64, num_layers=2):
        super().__init__()
        self.embed = nn.Embedding(n_letters, embed_dim, padding_idx=0)
        self.gru = nn.GRU(embed_dim, hidden_size, num_layers=num_layers, batch_first=True, dropout=0.1)
        self.out = nn.Linear(hidden_size, n_categories)

    def forward(self, chars):
        output, hidden = self.gru(self.embed(chars))
        return torch.log_softmax(self.out(hidden[-1]), dim=1)


def category_from_output(output, languages):
    return languages[output.argmax(dim=1)[0].item()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data/names")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    names, labels, languages = load_surnames(args.data)
    n_categories = len(languages)
    rnn = SurnameGRU(N_LETTERS, n_categories, hidden_size=args.hidden)
    criterion = nn.NLLLoss()
    optimizer = torch.optim.RMSprop(rnn.parameters(), lr=0.002)
    for iteration in range(1, args.iterations + 1):
        batch = torch.randint(0, len(names), (args.batch,))
        loss = criterion(rnn(names[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if iteration % 500 == 0:
            guess = category_from_output(rnn(names[batch[:1]]), languages)
            print(f"{iteration} {loss.item():.4f} guess {guess} / {languages[labels[batch[0]]]}")
    torch.save({"state_dict": rnn.state_dict(), "languages": languages}, "surnames-gru.pt")


if __name__ == "__main__":
    main()
