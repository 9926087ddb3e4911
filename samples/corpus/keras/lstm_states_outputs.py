import keras
from keras import layers

inputs = keras.Input(shape=(10, 6))
sequence, state_h, state_c = layers.LSTM(16, return_sequences=True, return_state=True)(inputs)
per_step = layers.Dense(2)(sequence)
summary = layers.Dense(1, activation="sigmoid")(state_h)

model = keras.Model(inputs=inputs, outputs=[per_step, summary])
