from tensorflow import keras
from tensorflow.keras import layers


def double_conv(x, filters):
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu")(x)


def tiny_unet(input_shape=(16, 16, 3), n_classes=2):
    inputs = keras.Input(input_shape)
    c1 = double_conv(inputs, 8)
    p1 = layers.MaxPooling2D()(c1)
    c2 = double_conv(p1, 16)
    u1 = layers.UpSampling2D(size=(2, 2))(c2)
    u1 = layers.Concatenate(axis=-1)([u1, c1])
    c3 = double_conv(u1, 8)
    outputs = layers.Conv2D(n_classes, 1, activation="softmax")(c3)
    return keras.Model(inputs=[inputs], outputs=[outputs])
