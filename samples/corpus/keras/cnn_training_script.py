import numpy as np
import tensorflow as tf
from tensorflow.keras import layers, models


def create_model():
    model = models.Sequential()
    model.add(layers.Conv2D(16, (3, 3), padding="same", activation="relu", input_shape=(32, 32, 3)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(32, (3, 3), padding="same", activation="relu"))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation="relu"))
    model.add(layers.Dense(10))
    return model


if __name__ == "__main__":
    x = np.random.random((500, 32, 32, 3)).astype(np.float32)
    y = np.random.randint(10, size=(500,))
    model = create_model()
    model.compile(
        optimizer=tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=3, batch_size=50)
