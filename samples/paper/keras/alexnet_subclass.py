import tensorflow as tf
from tensorflow.keras import layers


class AlexNet(tf.keras.Model):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.pad = layers.ZeroPadding2D(2)
        self.conv1 = layers.Conv2D(64, kernel_size=11, strides=4, activation="relu")
        self.pool1 = layers.MaxPooling2D(3, strides=2)
        self.conv2 = layers.Conv2D(192, kernel_size=5, padding="same", activation="relu")
        self.pool2 = layers.MaxPooling2D(3, strides=2)
        self.conv3 = layers.Conv2D(384, kernel_size=3, padding="same", activation="relu")
        self.conv4 = layers.Conv2D(256, kernel_size=3, padding="same", activation="relu")
        self.conv5 = layers.Conv2D(256, kernel_size=3, padding="same", activation="relu")
        self.pool3 = layers.MaxPooling2D(3, strides=2)
        self.flatten = layers.Flatten()
        self.drop1 = layers.Dropout(0.5)
        self.fc1 = layers.Dense(4096, activation="relu")
        self.drop2 = layers.Dropout(0.5)
        self.fc2 = layers.Dense(4096, activation="relu")
        self.fc3 = layers.Dense(num_classes)

    def call(self, inputs, training=False):
        x = self.pool1(self.conv1(self.pad(inputs)))
        x = self.pool2(self.conv2(x))
        x = self.conv3(x)
        x = self.conv4(x)
        x = self.pool3(self.conv5(x))
        x = self.flatten(x)
        x = self.fc1(self.drop1(x, training=training))
        x = self.fc2(self.drop2(x, training=training))
        return self.fc3(x)
