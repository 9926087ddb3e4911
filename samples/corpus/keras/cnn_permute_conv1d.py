import keras
from keras import layers

# Spectrogram frames arrive as (frequency, time); Conv1D wants (time, features).
spectrogram = keras.Input(shape=(16, 24))
x = layers.Permute((2, 1))(spectrogram)
x = layers.Conv1D(16, 3, activation="relu")(x)
x = layers.AveragePooling1D(2)(x)
x = layers.Conv1D(16, 3, activation="elu")(x)
x = layers.GlobalAveragePooling1D()(x)
label = layers.Dense(5, activation="softmax")(x)
model = keras.Model(spectrogram, label)
