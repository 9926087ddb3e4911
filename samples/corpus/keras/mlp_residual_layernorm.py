import keras
from keras import layers


def residual_mlp_block(x, dim, expansion=2, dropout=0.1):
    y = layers.LayerNormalization(epsilon=1e-6)(x)
    y = layers.Dense(dim * expansion, activation="gelu")(y)
    y = layers.Dense(dim)(y)
    y = layers.Dropout(dropout)(y)
    return layers.Add()([x, y])


def build(in_dim=24, dim=32, num_classes=6):
    inputs = keras.Input(shape=(in_dim,))
    x = layers.Dense(dim)(inputs)
    x = residual_mlp_block(x, dim)
    x = residual_mlp_block(x, dim)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs)
