"""Denoising convolutional autoencoder on digit images: separate encoder and decoder models joined end to end."""
import argparse

import numpy as np
import keras
from keras import layers


def add_noise(images, factor, seed=1337):
    rng = np.random.default_rng(seed)
    noisy = images + factor * rng.normal(size=images.shape)
    return np.clip(noisy, 0.0, 1.0).astype("float32")


def build_encoder(input_shape, filters=(32, 64), latent_channels=16):
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for count in filters:
        x = layers.Conv2D(count, 3, strides=2, padding="same", activation="relu")(x)
    latent = layers.Conv2D(latent_channels, 1, activation="relu", name="latent")(x)
    return keras.Model(inputs, latent, name="encoder")


def build_decoder(latent_shape, out_channels, filters=(64, 32)):
    latent = keras.Input(shape=latent_shape, name="code")
    x = latent
    for count in filters:
        x = layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(out_channels, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(latent, outputs, name="decoder")


def build_autoencoder(input_shape):
    encoder = build_encoder(input_shape)
    decoder = build_decoder(encoder.output_shape[1:], input_shape[-1])
    inputs = keras.Input(shape=input_shape)
    outputs = decoder(encoder(inputs))
    return keras.Model(inputs, outputs, name="denoiser")


def prepare():
    (x_train, _), (x_test, _) = keras.datasets.mnist.load_data()
    x_train = np.expand_dims(x_train.astype("float32") / 255.0, -1)
    x_test = np.expand_dims(x_test.astype("float32") / 255.0, -1)
    return x_train, x_test


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--noise", type=float, default=0.4)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    x_train, x_test = prepare()
    noisy_train, noisy_test = add_noise(x_train, args.noise), add_noise(x_test, args.noise)
    autoencoder = build_autoencoder(x_train.shape[1:])
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    autoencoder.summary()
    autoencoder.fit(noisy_train, x_train, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                    validation_data=(noisy_test, x_test),
                    callbacks=[keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])
    autoencoder.save("denoiser.keras")
