"""Regression on sensor features with a subclassed Keras model; options from the command line."""
import argparse

import numpy as np
import keras
from keras import layers

NUM_FEATURES = 24
TARGETS = ("temperature", "humidity")


class ResidualMLP(keras.Model):
    def __init__(self, units=32, blocks=2, outputs=1, **kwargs):
        super().__init__(**kwargs)
        self.stem = layers.Dense(units, activation="relu")
        self.hidden = [layers.Dense(units, activation="gelu") for _ in range(blocks)]
        self.norms = [layers.LayerNormalization() for _ in range(blocks)]
        self.head = layers.Dense(outputs)

    def call(self, features):
        x = self.stem(features)
        for dense, norm in zip(self.hidden, self.norms):
            x = norm(x + dense(x))
        return self.head(x)


def synthetic_data(count, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, NUM_FEATURES)).astype("float32")
    return x, x[:, : len(TARGETS)] * 0.5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=48)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    x, y = synthetic_data(1024)
    model = ResidualMLP(units=args.units, blocks=args.blocks, outputs=len(TARGETS))
    model.build((None, NUM_FEATURES))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="mse")
    model.fit(x, y, epochs=args.epochs, batch_size=32)


if __name__ == "__main__":
    main()
