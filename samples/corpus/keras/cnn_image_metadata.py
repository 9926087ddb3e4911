import keras
from keras import layers

image = keras.Input(shape=(16, 16, 3), name="image")
metadata = keras.Input(shape=(7,), name="metadata")

x = layers.Conv2D(8, 3, padding="same", activation="relu")(image)
x = layers.MaxPooling2D(2)(x)
x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
x = layers.GlobalAveragePooling2D()(x)

m = layers.Dense(16, activation="relu")(metadata)
combined = layers.Concatenate()([x, m])
prediction = layers.Dense(2, activation="softmax")(combined)

model = keras.Model(inputs=[image, metadata], outputs=prediction)
