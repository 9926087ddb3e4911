import tensorflow as tf
from tensorflow.keras import layers


class ConvNet(tf.keras.Model):
    def __init__(self, num_classes=10):
        super(ConvNet, self).__init__()
        self.conv1 = layers.Conv2D(8, 3, activation="relu")
        self.conv2 = layers.Conv2D(16, 3, activation="relu")
        self.pool = layers.MaxPooling2D(2)
        self.spatial_drop = layers.SpatialDropout2D(0.25)
        self.flatten = layers.Flatten()
        self.fc1 = layers.Dense(32, activation="relu")
        self.dropout = layers.Dropout(0.5)
        self.fc2 = layers.Dense(num_classes)

    def call(self, x, training=False):
        x = self.conv1(x)
        x = self.conv2(x)
        x = self.pool(x)
        x = self.spatial_drop(x, training=training)
        x = self.flatten(x)
        x = self.fc1(x)
        x = self.dropout(x, training=training)
        return tf.nn.log_softmax(self.fc2(x))
