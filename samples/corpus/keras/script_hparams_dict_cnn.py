"""Fashion-style image classifier; hyper-parameters in a dict spread into the builder, classes listed in the file."""
import argparse

import keras
from keras import layers

CLASS_NAMES = ["shirt", "trouser", "pullover", "dress", "coat", "sandal"]
IMG_SHAPE = (28, 28, 1)
HPARAMS = {"filters": [16, 32], "dense_units": 64, "dropout": 0.3}


def build_model(input_shape, num_classes, filters=(8,), dense_units=32, dropout=0.0):
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for count in filters:
        x = layers.Conv2D(count, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="fashion_cnn")


def build_optimizer(learning_rate):
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=1000, decay_rate=0.9)
    return keras.optimizers.Adam(schedule)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    (x_train, y_train), _ = keras.datasets.fashion_mnist.load_data()
    keep = y_train < len(CLASS_NAMES)
    x_train, y_train = x_train[keep][..., None] / 255.0, y_train[keep]
    model = build_model(IMG_SHAPE, len(CLASS_NAMES), **HPARAMS)
    model.compile(optimizer=build_optimizer(args.lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, validation_split=0.1)


if __name__ == "__main__":
    main()
