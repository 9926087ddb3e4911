import tensorflow as tf


class TextClassifier(tf.keras.Model):
    def __init__(self, vocab_size=10000, embedding_dim=326, units=40):
        super(TextClassifier, self).__init__()
        self.embedding = tf.keras.layers.Embedding(vocab_size, embedding_dim)
        self.bilstm = tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(units, return_sequences=True))
        self.dropout = tf.keras.layers.Dropout(0.5)
        self.lstm = tf.keras.layers.LSTM(units)
        self.dense = tf.keras.layers.Dense(40, activation="relu")
        self.classifier = tf.keras.layers.Dense(2, activation="softmax")

    def call(self, inputs, training=False):
        x = self.embedding(inputs)
        x = self.bilstm(x)
        x = self.dropout(x, training=training)
        x = self.lstm(x)
        x = self.dense(x)
        return self.classifier(x)
