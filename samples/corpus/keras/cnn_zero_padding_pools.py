import keras

model = keras.Sequential()
model.add(keras.layers.ZeroPadding2D(padding=(1, 1), input_shape=(16, 16, 3)))
model.add(keras.layers.Conv2D(16, (3, 3), strides=(2, 2), activation="relu"))
model.add(keras.layers.AveragePooling2D(pool_size=(2, 2)))
model.add(keras.layers.Conv2D(32, (3, 3), padding="same", activation="relu"))
model.add(keras.layers.GlobalMaxPooling2D())
model.add(keras.layers.Dense(3, activation="softmax"))
