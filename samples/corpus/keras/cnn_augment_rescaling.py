"""Small image classifier in the style of the Keras 'train from scratch' tutorials: augmentation and rescaling
are layers of the model, so the saved model takes raw 0..255 pixels."""
import numpy as np
import keras
from keras import layers

IMAGE_SIZE = (24, 24)
NUM_CLASSES = 5

data_augmentation = keras.Sequential(
    [
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
        layers.RandomZoom(0.1),
    ],
    name="augmentation",
)


def make_model(input_shape=IMAGE_SIZE + (3,), num_classes=NUM_CLASSES):
    inputs = keras.Input(shape=input_shape)
    x = data_augmentation(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x
    for size in [16, 32]:
        x = layers.Conv2D(size, 3, padding="same", activation="relu")(x)
        x = layers.Rescaling(scale=0.5, offset=0.1)(x)
        x = layers.MaxPooling2D(2)(x)
        residual = layers.Conv2D(size, 1, strides=2)(previous)
        x = layers.add([x, residual])
        previous = x
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.GaussianNoise(0.05)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs)


if __name__ == "__main__":
    model = make_model(input_shape=IMAGE_SIZE + (3,), num_classes=NUM_CLASSES)
    images = np.random.randint(0, 256, size=(40,) + IMAGE_SIZE + (3,)).astype("float32")
    labels = np.random.randint(0, NUM_CLASSES, size=(40,))
    model.compile(optimizer=keras.optimizers.Adam(3e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(images, labels, epochs=2, batch_size=8)
