import torch.nn as nn
import torch.nn.functional as F


class Tagger(nn.Module):
    """Token-level tagger: a tag distribution for every position."""

    def __init__(self, vocab_size=400, tagset_size=6, embedding_dim=16, hidden_dim=16):
        super(Tagger, self).__init__()
        self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden_dim, bidirectional=True, batch_first=True)
        self.hidden2tag = nn.Linear(hidden_dim * 2, tagset_size)

    def forward(self, sentence):
        embeds = self.word_embeddings(sentence)
        gru_out, _ = self.gru(embeds)
        tag_space = self.hidden2tag(gru_out)
        return F.log_softmax(tag_space, dim=-1)
