"""Time-series classification with Conv1D; window length and class count come from the loaded arrays."""
import sys

import numpy as np
import keras
from keras import layers


def build_baseline(input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), layers.Flatten(), layers.Dense(num_classes, "softmax")])


def build_cnn1d(input_shape, num_classes, filters=32, kernel_size=5):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for rate in (1, 2):
        x = layers.Conv1D(filters * rate, kernel_size, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def load(path):
    data = np.load(path)
    x, y = data["x"], data["y"]
    return x.reshape((x.shape[0], x.shape[1], 1)), y


def train(model, x, y, epochs=30):
    callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=5)]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    return model.fit(x, y, batch_size=32, epochs=epochs, validation_split=0.2, callbacks=callbacks)


if __name__ == "__main__":
    x_train, y_train = load(sys.argv[1])
    num_classes = len(np.unique(y_train))
    classifier = build_cnn1d(x_train.shape[1:], num_classes, filters=16)
    train(classifier, x_train, y_train)
    classifier.save("cnn1d.keras")
