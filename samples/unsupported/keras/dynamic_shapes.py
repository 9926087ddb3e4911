# A value known only at run time: the layer width comes from the data file.
import keras
import numpy as np
from keras import layers

data = np.load("features.npy")
model = keras.Sequential([
    keras.Input(shape=(20,)),
    layers.Dense(data.shape[1], activation="relu"),
    layers.Dense(1),
])
