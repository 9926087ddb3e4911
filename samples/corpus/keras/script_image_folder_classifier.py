"""Image classifier over a folder of class subfolders."""
import argparse
import os

import keras
from keras import layers

IMAGE_SIZE = (64, 64)


def make_augmentation():
    return keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])


def conv_block(x, filters):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_model(input_shape, num_classes, width=32, dropout=0.3):
    inputs = keras.Input(shape=input_shape)
    x = conv_block(inputs, width)
    x = layers.MaxPooling2D()(x)
    x = conv_block(x, width * 2)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="images")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    class_names = sorted(os.listdir(args.data))
    train_ds = keras.utils.image_dataset_from_directory(args.data, image_size=IMAGE_SIZE, batch_size=32)
    augment = make_augmentation()
    train_ds = train_ds.map(lambda x, y: (augment(x), y))
    model = build_model(IMAGE_SIZE + (3,), len(class_names), width=args.width)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_ds, epochs=args.epochs)
    model.save("classifier.keras")


if __name__ == "__main__":
    main()
