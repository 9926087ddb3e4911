"""Sequence autoencoder for sensor windows: encode to a vector, repeat it for every step, decode."""
import numpy as np
import keras
from keras import layers, ops

TIMESTEPS = 12
CHANNELS = 3


def with_window_mean(x):
    """Appends each window's per-channel mean to every step of the window."""
    mean = ops.mean(x, axis=1, keepdims=True)
    return ops.concatenate([x, ops.tile(mean, (1, TIMESTEPS, 1))], axis=-1)


def build_autoencoder(latent=8):
    inputs = keras.Input(shape=(TIMESTEPS, CHANNELS))
    x = with_window_mean(inputs)
    encoded = layers.LSTM(16)(x)
    encoded = layers.Dense(latent, activation="tanh")(encoded)
    x = layers.RepeatVector(TIMESTEPS)(encoded)
    x = layers.LSTM(16, return_sequences=True)(x)
    outputs = layers.Dense(CHANNELS)(x)   # Dense acts on every step of a sequence
    return keras.Model(inputs, outputs, name="sensor_autoencoder")


if __name__ == "__main__":
    windows = np.random.normal(size=(64, TIMESTEPS, CHANNELS)).astype("float32")
    autoencoder = build_autoencoder()
    autoencoder.compile(optimizer="adam", loss="mse")
    autoencoder.fit(windows, windows, epochs=2, batch_size=16, validation_split=0.25)
