import torch
import torch.nn as nn


class QuestionAnswerMatcher(nn.Module):
    """Encodes a question and an answer with separate GRUs and scores the pair."""

    def __init__(self, vocab_size=500, dim=16):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.q_rnn = nn.GRU(dim, dim, batch_first=True)
        self.a_rnn = nn.GRU(dim, dim, batch_first=True)
        self.scorer = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, 1))

    def encode_question(self, q):
        _, h = self.q_rnn(self.embedding(q))
        return h[-1]

    def encode_answer(self, a):
        _, h = self.a_rnn(self.embedding(a))
        return h[-1]

    def forward(self, question, answer):
        pair = torch.cat([self.encode_question(question), self.encode_answer(answer)], dim=-1)
        return self.scorer(pair)
