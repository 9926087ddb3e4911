from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    layers.Conv2D(64, (3, 3), padding="same", activation="relu", input_shape=(224, 224, 3)),
    layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
    layers.MaxPooling2D((2, 2), strides=(2, 2)),
    layers.Conv2D(128, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(128, (3, 3), padding="same", activation="relu"),
    layers.MaxPooling2D((2, 2), strides=(2, 2)),
    layers.Conv2D(256, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(256, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(256, (3, 3), padding="same", activation="relu"),
    layers.MaxPooling2D((2, 2), strides=(2, 2)),
    layers.Conv2D(512, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(512, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(512, (3, 3), padding="same", activation="relu"),
    layers.MaxPooling2D((2, 2), strides=(2, 2)),
    layers.Conv2D(512, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(512, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(512, (3, 3), padding="same", activation="relu"),
    layers.MaxPooling2D((2, 2), strides=(2, 2)),
    layers.Flatten(),
    layers.Dense(4096, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(4096, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(1000),
])
