import keras
from keras import layers


class MLP(keras.Model):
    def __init__(self, hidden_units=32, num_classes=4, dropout_rate=0.1):
        super().__init__()
        self.hidden1 = layers.Dense(hidden_units, activation="relu")
        self.hidden2 = layers.Dense(hidden_units, activation="relu")
        self.dropout = layers.Dropout(dropout_rate)
        self.classifier = layers.Dense(num_classes)

    def call(self, inputs, training=False):
        x = self.hidden1(inputs)
        x = self.dropout(x, training=training)
        x = self.hidden2(x)
        return self.classifier(x)
