from tensorflow.keras import layers, models

model = models.Sequential([
    layers.Conv3D(8, kernel_size=(3, 3, 3), activation="relu", padding="same", input_shape=(8, 16, 16, 1)),
    layers.MaxPooling3D(pool_size=(2, 2, 2)),
    layers.Conv3D(16, kernel_size=(3, 3, 3), activation="relu", padding="same"),
    layers.MaxPooling3D(pool_size=(2, 2, 2)),
    layers.Flatten(),
    layers.Dense(16, activation="relu"),
    layers.Dense(3, activation="softmax"),
])
