from keras import layers, Sequential

model = Sequential([
    layers.Input(shape=(32, 32, 3)),
    layers.Conv2D(8, 3, strides=2, padding="same"),
    layers.BatchNormalization(),
    layers.ReLU(max_value=6.0),
    layers.Conv2D(16, 3, padding="same", activation="hard_swish"),
    layers.Conv2D(16, 1, activation="hard_sigmoid"),
    layers.GlobalAveragePooling2D(),
    layers.Dense(10, activation="softmax"),
])
