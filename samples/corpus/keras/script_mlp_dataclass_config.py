"""Tabular classifier with Keras: hyper-parameters in a dataclass, feature and class counts from the data."""
import argparse
from dataclasses import dataclass

import numpy as np
import keras
from keras import layers


@dataclass
class Config:
    num_features: int
    num_classes: int
    units: int = 64
    depth: int = 2
    dropout: float = 0.1
    learning_rate: float = 1e-3


def build_mlp(num_features, num_classes, units=64, depth=2, dropout=0.1):
    model = keras.Sequential(name="tabular_mlp")
    model.add(keras.Input(shape=(num_features,)))
    for i in range(depth):
        model.add(layers.Dense(units // (2 ** i), activation="relu"))
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(num_classes, activation="softmax"))
    return model


def load_split(path):
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    return table[:, :-1], table[:, -1].astype(np.int64)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", default="train.csv")
    parser.add_argument("--units", type=int, default=96)
    parser.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()

    x_train, y_train = load_split(args.train)
    cfg = Config(num_features=x_train.shape[1], num_classes=int(y_train.max()) + 1, units=args.units,
                 depth=args.depth)
    model = build_mlp(cfg.num_features, cfg.num_classes, units=cfg.units, depth=cfg.depth, dropout=cfg.dropout)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=20, batch_size=64, validation_split=0.1)


if __name__ == "__main__":
    main()
