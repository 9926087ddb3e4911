import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

VOCAB_SIZE = 1000
MAXLEN = 20

model = keras.Sequential([
    keras.Input(shape=(MAXLEN,), dtype="int32"),
    layers.Embedding(VOCAB_SIZE, 32),
    layers.LSTM(32, dropout=0.2),
    layers.Dense(1, activation="sigmoid"),
])

if __name__ == "__main__":
    x_train = np.random.randint(1, VOCAB_SIZE, size=(640, MAXLEN))
    y_train = np.random.randint(0, 2, size=(640, 1))
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate=0.002),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=16, epochs=4)
