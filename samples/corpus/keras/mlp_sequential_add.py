from keras import layers, models

model = models.Sequential()
model.add(layers.Dense(64, activation="tanh", input_shape=(16,)))
model.add(layers.Dropout(0.2))
model.add(layers.Dense(32, activation="tanh"))
model.add(layers.Dense(1))
