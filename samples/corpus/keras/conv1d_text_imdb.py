from tensorflow import keras
from tensorflow.keras import layers

max_features = 1000
embedding_dim = 32
sequence_length = 20

inputs = keras.Input(shape=(sequence_length,), dtype="int64")
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)
x = layers.Conv1D(32, 5, padding="valid", activation="relu", strides=2)(x)
x = layers.Conv1D(32, 3, padding="valid", activation="relu", strides=1)(x)
x = layers.GlobalMaxPooling1D()(x)
x = layers.Dense(32, activation="relu")(x)
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)
