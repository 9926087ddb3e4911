import keras
from keras import layers

max_features = 10000
maxlen = 100

model = keras.Sequential()
model.add(keras.Input(shape=(maxlen,), dtype="int64"))
model.add(layers.Embedding(max_features, 326))
model.add(layers.Bidirectional(layers.LSTM(40, return_sequences=True)))
model.add(layers.Dropout(0.5))
model.add(layers.LSTM(40))
model.add(layers.Dense(40, activation="relu"))
model.add(layers.Dense(2, activation="softmax"))
