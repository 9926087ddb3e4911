"""Review sentiment with Keras: TextVectorization in the data pipeline, embeddings and a bidirectional LSTM."""
import argparse

import keras
import tensorflow as tf
from keras import layers

SEQUENCE_LENGTH = 16
EMBED_DIM = 32
BATCH_SIZE = 32


def make_vectorizer(texts, max_tokens=20000):
    vectorizer = layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=SEQUENCE_LENGTH)
    vectorizer.adapt(texts)
    return vectorizer


def build_model(vocab_size, embed_dim=EMBED_DIM, units=32, dropout=0.3):
    tokens = keras.Input(shape=(SEQUENCE_LENGTH,), dtype="int64", name="tokens")
    x = layers.Embedding(vocab_size, embed_dim)(tokens)
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(units, activation="relu")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="sentiment")(x)
    return keras.Model(tokens, outputs, name="sentiment_lstm")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="aclImdb/train")
    parser.add_argument("--units", type=int, default=24)
    args = parser.parse_args()

    raw_train = keras.utils.text_dataset_from_directory(args.data_dir, batch_size=BATCH_SIZE)
    vectorizer = make_vectorizer(raw_train.map(lambda text, label: text))
    train_ds = raw_train.map(lambda text, label: (vectorizer(text), label)).prefetch(tf.data.AUTOTUNE)
    vocab_size = len(vectorizer.get_vocabulary())
    model = build_model(vocab_size, units=args.units)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(train_ds, epochs=3)


if __name__ == "__main__":
    main()
