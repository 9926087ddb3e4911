from tensorflow import keras
from tensorflow.keras.layers import LSTM, Dense, Dropout

model = keras.Sequential()
model.add(LSTM(32, return_sequences=True, input_shape=(20, 3)))
model.add(Dropout(0.2))
model.add(LSTM(32, return_sequences=True))
model.add(LSTM(16))
model.add(Dense(1))
