from tensorflow.keras import Sequential
from tensorflow.keras.layers import ELU, Dense, Input, LeakyReLU, PReLU

model = Sequential([
    Input(shape=(9,)),
    Dense(16, activation="selu"),
    Dense(16),
    ELU(alpha=0.5),
    Dense(16),
    LeakyReLU(negative_slope=0.1),
    Dense(16),
    PReLU(),
    Dense(4, activation="softplus"),
])
