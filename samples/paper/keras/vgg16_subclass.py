import keras
from keras import layers


class VGG16(keras.Model):
    def __init__(self, num_classes=1000, **kwargs):
        super().__init__(**kwargs)
        self.conv1_1 = layers.Conv2D(64, 3, padding="same", activation="relu")
        self.conv1_2 = layers.Conv2D(64, 3, padding="same", activation="relu")
        self.conv2_1 = layers.Conv2D(128, 3, padding="same", activation="relu")
        self.conv2_2 = layers.Conv2D(128, 3, padding="same", activation="relu")
        self.conv3_1 = layers.Conv2D(256, 3, padding="same", activation="relu")
        self.conv3_2 = layers.Conv2D(256, 3, padding="same", activation="relu")
        self.conv3_3 = layers.Conv2D(256, 3, padding="same", activation="relu")
        self.conv4_1 = layers.Conv2D(512, 3, padding="same", activation="relu")
        self.conv4_2 = layers.Conv2D(512, 3, padding="same", activation="relu")
        self.conv4_3 = layers.Conv2D(512, 3, padding="same", activation="relu")
        self.conv5_1 = layers.Conv2D(512, 3, padding="same", activation="relu")
        self.conv5_2 = layers.Conv2D(512, 3, padding="same", activation="relu")
        self.conv5_3 = layers.Conv2D(512, 3, padding="same", activation="relu")
        self.pool = layers.MaxPooling2D(2)
        self.flatten = layers.Flatten()
        self.fc6 = layers.Dense(4096, activation="relu")
        self.drop6 = layers.Dropout(0.5)
        self.fc7 = layers.Dense(4096, activation="relu")
        self.drop7 = layers.Dropout(0.5)
        self.fc8 = layers.Dense(num_classes)

    def call(self, x):
        x = self.pool(self.conv1_2(self.conv1_1(x)))
        x = self.pool(self.conv2_2(self.conv2_1(x)))
        x = self.pool(self.conv3_3(self.conv3_2(self.conv3_1(x))))
        x = self.pool(self.conv4_3(self.conv4_2(self.conv4_1(x))))
        x = self.pool(self.conv5_3(self.conv5_2(self.conv5_1(x))))
        x = self.flatten(x)
        x = self.drop6(self.fc6(x))
        x = self.drop7(self.fc7(x))
        return self.fc8(x)
