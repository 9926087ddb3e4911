"""Multi-label tagging of photos with a light separable-convolution network; the tags come from the CSV header."""
import argparse
import csv

import numpy as np
import keras
from keras import layers

IMAGE_SIZE = 96


def read_labels(path):
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for row in reader]
    files = [row[0] for row in rows]
    targets = np.array([[float(v) for v in row[1:]] for row in rows], dtype="float32")
    return header[1:], files, targets


def separable_block(x, filters, stride):
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.Conv2D(filters, 1, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU(max_value=6.0)(x)


def build_tagger(num_tags, image_size=IMAGE_SIZE, width=16):
    inputs = keras.Input(shape=(image_size, image_size, 3))
    x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(max_value=6.0)(x)
    for multiplier, stride in ((2, 1), (4, 2), (4, 1), (8, 2)):
        x = separable_block(x, width * multiplier, stride)
    x = layers.SeparableConv2D(width * 8, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_tags, activation="sigmoid", name="tags")(x)
    return keras.Model(inputs, outputs, name="tagger")


def load_images(folder, files):
    images = [keras.utils.img_to_array(keras.utils.load_img(f"{folder}/{name}",
                                                            target_size=(IMAGE_SIZE, IMAGE_SIZE))) for name in files]
    return np.stack(images) / 255.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", default="labels.csv")
    parser.add_argument("--images", default="photos")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=25)
    args = parser.parse_args()

    tags, files, targets = read_labels(args.labels)
    images = load_images(args.images, files)
    num_tags = len(tags)
    model = build_tagger(num_tags, width=args.width)
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[keras.metrics.AUC(multi_label=True, num_labels=num_tags)])
    model.fit(images, targets, epochs=args.epochs, batch_size=32, validation_split=0.15,
              callbacks=[keras.callbacks.TensorBoard("logs")])


if __name__ == "__main__":
    main()
