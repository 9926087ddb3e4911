import numpy as np
import keras
from keras import layers


def make_model(n_features=12, n_classes=5):
    model = keras.Sequential([
        layers.Input(shape=(n_features,)),
        layers.Dense(48, activation="relu"),
        layers.Dropout(0.3),
        layers.Dense(n_classes, activation="softmax"),
    ])
    return model


if __name__ == "__main__":
    x_train = np.random.rand(1000, 12).astype("float32")
    y_train = np.random.randint(0, 5, size=(1000,))
    model = make_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=5, validation_split=0.1)
