import keras
from keras import layers


class CNNRNN(keras.Model):
    def __init__(self, vocab_size=5000, embedding_dim=50):
        super().__init__()
        self.embedding = layers.Embedding(input_dim=vocab_size, output_dim=embedding_dim)
        self.conv_a = layers.Conv1D(filters=200, kernel_size=4, activation="relu")
        self.conv_b = layers.Conv1D(filters=200, kernel_size=5, activation="relu")
        self.pool_a = layers.MaxPooling1D(pool_size=2)
        self.pool_b = layers.MaxPooling1D(pool_size=2)
        self.concat = layers.Concatenate(axis=1)
        self.gru = layers.GRU(100)
        self.fc = layers.Dense(400, activation="relu")
        self.out = layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        x = self.embedding(inputs)
        a = self.pool_a(self.conv_a(x))
        b = self.pool_b(self.conv_b(x))
        x = self.concat([a, b])
        x = self.gru(x)
        return self.out(self.fc(x))
