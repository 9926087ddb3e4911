import keras
from keras import layers

sequence = keras.Input(shape=(14, 8))
x = layers.GRU(16, return_sequences=True)(sequence)
x = layers.GRU(16, return_sequences=True)(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.LayerNormalization()(x)
output = layers.Dense(3)(x)
model = keras.Model(sequence, output)
