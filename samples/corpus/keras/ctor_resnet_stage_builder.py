"""A small Keras ResNet built the way application builders are written: a frozen dataclass of stage
settings, a residual-block helper that names its layers from a prefix, a stage loop, a projection
shortcut only where the shape changes, and a builder taking the config object."""
from dataclasses import dataclass

import keras
from keras import layers


@dataclass(frozen=True)
class StageConfig:
    filters: tuple = (16, 32, 64)
    blocks: tuple = (1, 2, 1)
    stem_filters: int = 16
    num_classes: int = 10
    epsilon: float = 1.001e-5


def residual_block(x, filters, stride, name, epsilon):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=name + "_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=epsilon, name=name + "_0_bn")(shortcut)
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=name + "_1_conv")(x)
    x = layers.BatchNormalization(epsilon=epsilon, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_2_conv")(x)
    x = layers.BatchNormalization(epsilon=epsilon, name=name + "_2_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def build_resnet(config=StageConfig(), input_shape=(32, 32, 3)):
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(config.stem_filters, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(epsilon=config.epsilon, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for stage, (filters, count) in enumerate(zip(config.filters, config.blocks)):
        for index in range(count):
            stride = 2 if index == 0 and stage > 0 else 1
            x = residual_block(x, filters, stride, f"stage{stage + 1}_block{index + 1}", config.epsilon)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(config.num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_resnet")


if __name__ == "__main__":
    model = build_resnet()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.summary()
