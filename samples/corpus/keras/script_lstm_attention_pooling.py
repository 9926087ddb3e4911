"""Document classifier: bidirectional LSTM over word ids, a learned attention pooling layer, class count from labels."""
import argparse
import json

import numpy as np
import keras
from keras import layers, ops


class AttentionPooling(layers.Layer):
    """Scores every time step with a small dense network and returns the score-weighted sum of the steps."""

    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(units, activation="tanh")
        self.score = layers.Dense(1)

    def call(self, sequence):
        scores = self.score(self.hidden(sequence))
        weights = ops.softmax(scores, axis=1)
        return ops.sum(sequence * weights, axis=1)


def build_classifier(vocab_size, num_classes, maxlen=64, embed_dim=48, lstm_units=32):
    words = keras.Input(shape=(maxlen,), dtype="int32", name="words")
    x = layers.Embedding(vocab_size, embed_dim)(words)
    x = layers.Bidirectional(layers.LSTM(lstm_units, return_sequences=True))(x)
    x = AttentionPooling(units=lstm_units)(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(words, outputs)


def load_corpus(path, maxlen):
    with open(path) as handle:
        records = [json.loads(line) for line in handle]
    sequences = keras.utils.pad_sequences([r["ids"] for r in records], maxlen=maxlen, padding="post")
    labels = np.array([r["label"] for r in records])
    return sequences, labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="documents.jsonl")
    parser.add_argument("--maxlen", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    sequences, labels = load_corpus(args.corpus, args.maxlen)
    vocab_size = int(sequences.max()) + 1
    num_classes = len(set(labels.tolist()))
    model = build_classifier(vocab_size, num_classes, maxlen=args.maxlen)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(sequences, labels, validation_split=0.1, epochs=args.epochs, batch_size=32)


if __name__ == "__main__":
    main()
