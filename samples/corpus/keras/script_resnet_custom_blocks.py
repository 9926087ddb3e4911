"""CIFAR-10 with residual blocks written as a custom layer, a functional stem and head, a cosine learning rate."""
import argparse

import keras
from keras import layers


class ResidualBlock(layers.Layer):
    """Two 3x3 convolutions with batch norm; a 1x1 projection on the shortcut when the shape changes."""

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)
        self.bn1 = layers.BatchNormalization()
        self.conv2 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = layers.BatchNormalization()
        self.project = strides != 1
        if self.project:
            self.shortcut_conv = layers.Conv2D(filters, 1, strides=strides, use_bias=False)
            self.shortcut_bn = layers.BatchNormalization()

    def call(self, inputs, training=None):
        x = self.conv1(inputs)
        x = self.bn1(x, training=training)
        x = keras.activations.relu(x)
        x = self.conv2(x)
        x = self.bn2(x, training=training)
        shortcut = inputs
        if self.project:
            shortcut = self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        return keras.activations.relu(x + shortcut)


def build_resnet(input_shape=(32, 32, 3), num_classes=10, stage_filters=(16, 32, 64), blocks_per_stage=2):
    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(stage_filters[0], 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for stage, filters in enumerate(stage_filters):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            x = ResidualBlock(filters, strides=strides)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="resnet_small")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--blocks", type=int, default=2)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    x_train, x_test = x_train.astype("float32") / 255.0, x_test.astype("float32") / 255.0
    steps = args.epochs * (len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=steps)
    model = build_resnet(blocks_per_stage=args.blocks)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_data=(x_test, y_test))
    print(model.evaluate(x_test, y_test, verbose=0))


if __name__ == "__main__":
    main()
