"""Character-level text generation: a subclassed model of Embedding, GRU and a Dense over the vocabulary."""
import argparse

import numpy as np
import tensorflow as tf
import keras
from keras import layers

SEQ_LENGTH = 100


class CharModel(keras.Model):
    def __init__(self, vocab_size, embedding_dim=64, rnn_units=128):
        super().__init__()
        self.embedding = layers.Embedding(vocab_size, embedding_dim)
        self.gru = layers.GRU(rnn_units, return_sequences=True)
        self.dense = layers.Dense(vocab_size)

    def call(self, inputs, training=False):
        x = self.embedding(inputs, training=training)
        x = self.gru(x, training=training)
        return self.dense(x, training=training)


def split_input_target(sequence):
    return sequence[:-1], sequence[1:]


def make_dataset(text, char_to_id, batch_size):
    ids = np.array([char_to_id[c] for c in text], dtype="int64")
    chunks = tf.data.Dataset.from_tensor_slices(ids).batch(SEQ_LENGTH + 1, drop_remainder=True)
    return chunks.map(split_input_target).shuffle(10000).batch(batch_size, drop_remainder=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--text", default="shakespeare.txt")
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--rnn-units", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    with open(args.text, encoding="utf-8") as handle:
        text = handle.read()
    vocab = sorted(set(text))
    char_to_id = {c: i for i, c in enumerate(vocab)}
    vocab_size = len(vocab)
    dataset = make_dataset(text, char_to_id, batch_size=64)

    model = CharModel(vocab_size=vocab_size, embedding_dim=args.embedding_dim, rnn_units=args.rnn_units)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(dataset, epochs=args.epochs,
              callbacks=[keras.callbacks.ModelCheckpoint("ckpt_{epoch}.weights.h5", save_weights_only=True)])


if __name__ == "__main__":
    main()
