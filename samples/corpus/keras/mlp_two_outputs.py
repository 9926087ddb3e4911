from tensorflow import keras
from tensorflow.keras import layers


def build_model(input_dim=14, n_classes=3):
    inputs = keras.Input(shape=(input_dim,))
    x = layers.Dense(32, activation="relu")(inputs)
    x = layers.Dense(32, activation="relu")(x)
    class_output = layers.Dense(n_classes, activation="softmax", name="class_output")(x)
    value_output = layers.Dense(1, name="value_output")(x)
    return keras.Model(inputs=inputs, outputs=[class_output, value_output])
