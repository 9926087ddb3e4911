import keras
from keras import layers

wide = keras.Input(shape=(6,), name="wide")
deep = keras.Input(shape=(10,), name="deep")
d = layers.Dense(32, activation="relu")(deep)
d = layers.Dense(16, activation="relu")(d)
merged = layers.concatenate([wide, d])
output = layers.Dense(1, activation="sigmoid")(merged)

model = keras.Model(inputs=[wide, deep], outputs=output)
