"""Image classifier whose preprocessing lives in the model: augmentation (active only in training), a centre crop
to the training size, and a Normalization layer adapted on the training images, so the saved model takes raw
pixels."""
import argparse

import numpy as np
import keras
from keras import layers

RAW_SIZE = 36
CROP_SIZE = 32
NUM_CLASSES = 4


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    return parser.parse_args()


def load_images(count, seed=0):
    """Stand-in for a folder of photos: raw 0..255 pixels with a per-channel tint."""
    rng = np.random.default_rng(seed)
    tint = np.array([40.0, 0.0, -30.0], dtype="float32")
    images = rng.uniform(0, 255, size=(count, RAW_SIZE, RAW_SIZE, 3)).astype("float32") + tint
    labels = rng.integers(0, NUM_CLASSES, size=(count,))
    return images, labels


augmentation = keras.Sequential(
    [layers.RandomFlip("horizontal"), layers.RandomRotation(0.05)], name="augmentation")
normalizer = layers.Normalization(axis=-1)


def build_model(num_classes=NUM_CLASSES):
    inputs = keras.Input(shape=(RAW_SIZE, RAW_SIZE, 3))
    x = augmentation(inputs)
    x = layers.CenterCrop(CROP_SIZE, CROP_SIZE)(x)
    x = normalizer(x)
    for filters in (16, 32):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="tinted_classifier")


def main():
    args = parse_args()
    images, labels = load_images(64)
    normalizer.adapt(images)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(images, labels, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.25)
    model.save_weights("tinted_classifier.weights.h5")


if __name__ == "__main__":
    main()
