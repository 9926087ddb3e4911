from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    layers.Input(shape=(30,)),
    layers.Dense(64, use_bias=False),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.Dense(32, use_bias=False),
    layers.BatchNormalization(momentum=0.9, epsilon=1e-3),
    layers.Activation("relu"),
    layers.Dense(2, activation="softmax"),
])
