import tensorflow as tf

inputs = tf.keras.Input(shape=(12,), name="features")
x = tf.keras.layers.Dense(40, activation="relu")(inputs)
x = tf.keras.layers.Dense(40, activation="relu")(x)
outputs = tf.keras.layers.Dense(5, activation="softmax", name="probabilities")(x)
model = tf.keras.Model(inputs=inputs, outputs=outputs)
