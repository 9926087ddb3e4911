"""Keyword spotting on spectrograms: tf.data turns waveforms into spectrograms, a 2-D CNN classifies them."""
import argparse
import pathlib

import numpy as np
import tensorflow as tf
import keras
from keras import layers


def get_spectrogram(waveform):
    spectrogram = tf.abs(tf.signal.stft(waveform, frame_length=255, frame_step=128))
    return spectrogram[..., tf.newaxis]


def make_spec_ds(ds):
    return ds.map(lambda audio, label: (get_spectrogram(audio), label), num_parallel_calls=tf.data.AUTOTUNE)


def conv_block(x, filters, dropout):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D()(x)
    return layers.SpatialDropout2D(dropout)(x)


def build_model(input_shape, num_labels, filters=(16, 32, 64), dropout=0.1):
    inputs = layers.Input(shape=input_shape, name="spectrogram")
    x = inputs
    for count in filters:
        x = conv_block(x, count, dropout)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_labels, name="logits")(x)
    return keras.Model(inputs, outputs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="data/mini_speech_commands")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    data_dir = pathlib.Path(args.data_dir)
    train_ds, val_ds = keras.utils.audio_dataset_from_directory(
        directory=data_dir, batch_size=64, validation_split=0.2, seed=0, output_sequence_length=16000,
        subset="both")
    label_names = np.array(train_ds.class_names)
    squeeze = lambda audio, labels: (tf.squeeze(audio, axis=-1), labels)  # noqa: E731
    train_spectrogram_ds = make_spec_ds(train_ds.map(squeeze)).cache().prefetch(tf.data.AUTOTUNE)
    val_spectrogram_ds = make_spec_ds(val_ds.map(squeeze)).cache().prefetch(tf.data.AUTOTUNE)

    for example_spectrograms, _ in train_spectrogram_ds.take(1):
        break
    input_shape = example_spectrograms.shape[1:]
    print("Input shape:", input_shape)
    num_labels = len(label_names)

    model = build_model(input_shape, num_labels)
    model.compile(optimizer=keras.optimizers.Adam(), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_spectrogram_ds, validation_data=val_spectrogram_ds, epochs=args.epochs,
              callbacks=keras.callbacks.EarlyStopping(verbose=1, patience=2))


if __name__ == "__main__":
    main()
