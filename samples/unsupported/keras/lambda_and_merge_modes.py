# Constructs the Keras importer refuses, each reported with its line: a Lambda layer
# (arbitrary code), a Bidirectional with merge_mode="sum", a layer nnpivot does not know (Masking).
import keras
from keras import layers

inputs = keras.Input(shape=(12, 8))
x = layers.Lambda(lambda t: t * 2.0)(inputs)
x = layers.Bidirectional(layers.LSTM(16, return_sequences=True), merge_mode="sum")(x)
x = layers.Masking(mask_value=0.0)(x)
outputs = layers.Dense(4)(x)
model = keras.Model(inputs, outputs)
