"""Character-level translation in the manner of the Keras lstm_seq2seq example: the encoder's final states start
the decoder (initial_state=), and a summary GRU starts from a projected context."""
import numpy as np
import keras
from keras import layers

SOURCE_CHARS = 8
TARGET_CHARS = 6
LATENT = 32

encoder_inputs = keras.Input(shape=(12, SOURCE_CHARS), name="encoder_inputs")
_, state_h, state_c = layers.LSTM(LATENT, return_state=True, name="encoder")(encoder_inputs)

decoder_inputs = keras.Input(shape=(10, TARGET_CHARS), name="decoder_inputs")
decoded = layers.LSTM(LATENT, return_sequences=True, name="decoder")(decoder_inputs, initial_state=[state_h, state_c])
context = layers.Dense(16, activation="tanh", name="context")(state_h)
summary = layers.GRU(16, name="summary")(decoded, initial_state=context)
next_chars = layers.Dense(TARGET_CHARS, activation="softmax", name="next_chars")(decoded)
length = layers.Dense(1, name="length")(summary)

model = keras.Model(inputs=[encoder_inputs, decoder_inputs], outputs=[next_chars, length])


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    sources = rng.random((64, 12, SOURCE_CHARS)).astype("float32")
    targets = rng.random((64, 10, TARGET_CHARS)).astype("float32")
    model.compile(optimizer="rmsprop", loss=["categorical_crossentropy", "mse"])
    model.fit([sources, targets], [targets, rng.random((64, 1))], batch_size=16, epochs=2)
