import keras
from keras import layers

question = keras.Input(shape=(12,), dtype="int64", name="question")
answer = keras.Input(shape=(16,), dtype="int64", name="answer")

embedding = layers.Embedding(500, 16)
encoder = layers.GRU(16)

q = encoder(embedding(question))
a = encoder(embedding(answer))
x = layers.concatenate([q, a], axis=-1)
x = layers.Dense(16, activation="relu")(x)
score = layers.Dense(1)(x)

model = keras.Model(inputs=[question, answer], outputs=score)
