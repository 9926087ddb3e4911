import keras
from keras import layers


class Tagger(keras.Model):
    def __init__(self, vocab_size=400, tagset_size=6, embedding_dim=16, units=16):
        super().__init__()
        self.embed = layers.Embedding(vocab_size, embedding_dim)
        self.rnn = layers.Bidirectional(layers.GRU(units, return_sequences=True))
        self.tag = layers.Dense(tagset_size, activation="log_softmax")

    def call(self, sentence):
        return self.tag(self.rnn(self.embed(sentence)))
