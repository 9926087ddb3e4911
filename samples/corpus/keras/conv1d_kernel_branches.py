import keras
from keras import layers


def build_text_cnn(vocab_size=1000, maxlen=20, embed_dim=16, kernel_sizes=(3, 4, 5), filters=8):
    tokens = keras.Input(shape=(maxlen,))
    embedded = layers.Embedding(vocab_size, embed_dim)(tokens)
    pooled = []
    for k in kernel_sizes:
        conv = layers.Conv1D(filters, k, activation="relu")(embedded)
        pooled.append(layers.GlobalMaxPooling1D()(conv))
    merged = layers.Concatenate()(pooled)
    merged = layers.Dropout(0.5)(merged)
    output = layers.Dense(2, activation="softmax")(merged)
    return keras.Model(tokens, output)
