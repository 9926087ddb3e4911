import tensorflow as tf
from tensorflow.keras import layers


class BiLSTMClassifier(tf.keras.Model):
    def __init__(self, vocab_size=600, embed_dim=16, units=24, num_classes=4):
        super().__init__()
        self.embedding = layers.Embedding(vocab_size, embed_dim)
        self.bilstm1 = layers.Bidirectional(layers.LSTM(units, return_sequences=True))
        self.bilstm2 = layers.Bidirectional(layers.LSTM(units))
        self.classifier = layers.Dense(num_classes, activation="softmax")

    def call(self, tokens):
        x = self.embedding(tokens)
        x = self.bilstm1(x)
        x = self.bilstm2(x)
        return self.classifier(x)
