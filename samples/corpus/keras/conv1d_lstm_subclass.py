import keras
from keras import layers


class ConvLSTM(keras.Model):
    def __init__(self, n_classes=4):
        super().__init__()
        self.conv = layers.Conv1D(16, 3, padding="same", activation="relu")
        self.pool = layers.MaxPooling1D(2)
        self.lstm = layers.LSTM(24)
        self.out = layers.Dense(n_classes, activation="softmax")

    def call(self, x):
        x = self.conv(x)
        x = self.pool(x)
        x = self.lstm(x)
        return self.out(x)
