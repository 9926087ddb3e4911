from tensorflow import keras
from tensorflow.keras import layers

vocab_size = 5000
seq_len = 100

tokens = keras.Input(shape=(seq_len,), dtype="int64", name="tokens")
embedded = layers.Embedding(vocab_size, 50)(tokens)

branch_a = layers.Conv1D(200, 4, activation="relu")(embedded)
branch_a = layers.MaxPooling1D(2)(branch_a)
branch_b = layers.Conv1D(200, 5, activation="relu")(embedded)
branch_b = layers.MaxPooling1D(2)(branch_b)

merged = layers.Concatenate(axis=1)([branch_a, branch_b])
x = layers.GRU(100)(merged)
x = layers.Dense(400, activation="relu")(x)
prediction = layers.Dense(1, activation="sigmoid")(x)

model = keras.Model(tokens, prediction)
