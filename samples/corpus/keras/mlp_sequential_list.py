import keras
from keras import layers

model = keras.Sequential(
    [
        keras.Input(shape=(20,)),
        layers.Dense(32, activation="relu"),
        layers.Dense(32, activation="relu"),
        layers.Dense(3, activation="softmax"),
    ]
)
