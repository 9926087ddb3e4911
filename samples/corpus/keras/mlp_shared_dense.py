import keras
from keras import layers

left = keras.Input(shape=(24,))
right = keras.Input(shape=(24,))

# the same projection is applied to both inputs
shared_projection = layers.Dense(16, activation="relu")
a = shared_projection(left)
b = shared_projection(right)

difference = layers.Subtract()([a, b])
product = layers.Multiply()([a, b])
features = layers.Concatenate()([difference, product])
score = layers.Dense(1, activation="sigmoid")(features)

model = keras.Model([left, right], score)
