import keras
from keras import layers

model = keras.Sequential([
    layers.Input(shape=(12, 5)),
    layers.SimpleRNN(16),
    layers.Dense(3, activation="softmax"),
])
