"""IMDB reviews as integer sequences: Embedding, Conv1D and max pooling, then a GRU, in a Sequential model."""
import argparse

import keras
from keras import layers

MAX_FEATURES = 10000
MAXLEN = 120


def get_model(max_features=MAX_FEATURES, embedding_size=64, filters=64, kernel_size=5, pool_size=4, gru_units=48):
    model = keras.Sequential(name="conv_gru")
    model.add(keras.Input(shape=(MAXLEN,), dtype="int32"))
    model.add(layers.Embedding(max_features, embedding_size))
    model.add(layers.Dropout(0.25))
    model.add(layers.Conv1D(filters, kernel_size, padding="valid", activation="relu", strides=1))
    model.add(layers.MaxPooling1D(pool_size=pool_size))
    model.add(layers.GRU(gru_units))
    model.add(layers.Dense(1))
    model.add(layers.Activation("sigmoid"))
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=MAX_FEATURES)
    x_train = keras.utils.pad_sequences(x_train, maxlen=MAXLEN)
    x_test = keras.utils.pad_sequences(x_test, maxlen=MAXLEN)
    print("x_train shape:", x_train.shape)

    model = get_model()
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_data=(x_test, y_test))
    score, acc = model.evaluate(x_test, y_test, batch_size=args.batch_size)
    print("Test score:", score, "accuracy:", acc)


if __name__ == "__main__":
    main()
