import keras
from keras import layers

encoder_input = keras.Input(shape=(16, 16, 1))
x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(encoder_input)
x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
x = layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(x)

conv_autoencoder = keras.Model(encoder_input, x, name="conv_autoencoder")
