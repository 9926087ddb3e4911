import keras
from keras import layers

input_dim = 64
encoding_dim = 8

input_vec = keras.Input(shape=(input_dim,))
encoded = layers.Dense(32, activation="relu")(input_vec)
encoded = layers.Dense(encoding_dim, activation="relu")(encoded)
decoded = layers.Dense(32, activation="relu")(encoded)
decoded = layers.Dense(input_dim, activation="sigmoid")(decoded)

autoencoder = keras.Model(input_vec, decoded)
