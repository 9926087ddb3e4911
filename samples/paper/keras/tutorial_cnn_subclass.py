from tensorflow import keras
from tensorflow.keras import layers


class TutorialCNN(keras.Model):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = layers.Conv2D(32, 3, activation="relu")
        self.conv2 = layers.Conv2D(64, 3, activation="relu")
        self.conv3 = layers.Conv2D(64, 3, activation="relu")
        self.pool1 = layers.MaxPooling2D()
        self.pool2 = layers.MaxPooling2D()
        self.flatten = layers.Flatten()
        self.d1 = layers.Dense(64, activation="relu")
        self.d2 = layers.Dense(num_classes)

    def call(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        x = self.conv3(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)
