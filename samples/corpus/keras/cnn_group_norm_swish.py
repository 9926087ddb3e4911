import keras
from keras import layers


class GNConvNet(keras.Model):
    def __init__(self, num_classes=6, groups=4, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = layers.Conv2D(16, 3, padding="same")
        self.norm1 = layers.GroupNormalization(groups=groups)
        self.conv2 = layers.Conv2D(32, 3, strides=2, padding="same")
        self.norm2 = layers.GroupNormalization(groups=groups, epsilon=1e-5)
        self.act = layers.Activation("swish")
        self.pool = layers.GlobalAveragePooling2D()
        self.head = layers.Dense(num_classes)

    def call(self, inputs):
        x = self.act(self.norm1(self.conv1(inputs)))
        x = self.act(self.norm2(self.conv2(x)))
        return self.head(self.pool(x))
