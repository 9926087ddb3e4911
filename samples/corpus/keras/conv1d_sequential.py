import keras
from keras import layers

n_timesteps, n_features, n_outputs = 32, 3, 4

model = keras.Sequential()
model.add(layers.Conv1D(filters=16, kernel_size=3, activation="relu", input_shape=(n_timesteps, n_features)))
model.add(layers.Conv1D(filters=16, kernel_size=3, activation="relu"))
model.add(layers.Dropout(0.5))
model.add(layers.MaxPooling1D(pool_size=2))
model.add(layers.Flatten())
model.add(layers.Dense(32, activation="relu"))
model.add(layers.Dense(n_outputs, activation="softmax"))
