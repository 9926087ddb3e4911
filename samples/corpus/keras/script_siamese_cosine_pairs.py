"""Siamese network on image pairs: conv, pool and dense layers shared by both inputs, cosine similarity of the embeddings."""
import argparse
import random

import numpy as np
import keras
from keras import layers, ops


def make_pairs(x, y, seed=0):
    rnd = random.Random(seed)
    by_class = {label: np.where(y == label)[0] for label in np.unique(y)}
    firsts, seconds, same = [], [], []
    for index, label in enumerate(y):
        other = rnd.choice(by_class[label])
        firsts.append(x[index]), seconds.append(x[other]), same.append(1.0)
        wrong = rnd.choice([c for c in by_class if c != label])
        firsts.append(x[index]), seconds.append(x[rnd.choice(by_class[wrong])]), same.append(0.0)
    return np.stack(firsts), np.stack(seconds), np.array(same, dtype="float32")


class CosineSimilarity(layers.Layer):
    """Cosine of the angle between two batches of embeddings, one value per pair."""

    def call(self, a, b):
        a = ops.normalize(a, axis=-1)
        b = ops.normalize(b, axis=-1)
        return ops.sum(a * b, axis=-1, keepdims=True)


def build_siamese(input_shape, embedding_dim=32):
    left = keras.Input(shape=input_shape, name="left")
    right = keras.Input(shape=input_shape, name="right")
    shared = layers.Dense(embedding_dim, activation="tanh")
    flat = layers.Flatten()
    conv = layers.Conv2D(8, 3, activation="relu")
    pool = layers.MaxPooling2D(2)
    left_embedding = shared(flat(pool(conv(left))))
    right_embedding = shared(flat(pool(conv(right))))
    similarity = CosineSimilarity()(left_embedding, right_embedding)
    score = layers.Dense(1, activation="sigmoid")(similarity)
    return keras.Model(inputs=[left, right], outputs=score, name="siamese")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--embedding-dim", type=int, default=32)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    x_train = x_train.astype("float32")[..., None] / 255.0
    x_test = x_test.astype("float32")[..., None] / 255.0
    first, second, same = make_pairs(x_train, y_train)
    model = build_siamese(x_train.shape[1:], embedding_dim=args.embedding_dim)
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.RMSprop(1e-3), metrics=["accuracy"])
    model.fit([first, second], same, batch_size=64, epochs=args.epochs, validation_split=0.1)
    test_first, test_second, test_same = make_pairs(x_test, y_test, seed=1)
    print(model.evaluate([test_first, test_second], test_same))


if __name__ == "__main__":
    main()
