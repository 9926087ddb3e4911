import keras
from keras import layers


def transformer_block(x, embed_dim, num_heads, ff_dim, rate=0.1):
    attn_output = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim // num_heads)(x, x)
    attn_output = layers.Dropout(rate)(attn_output)
    out1 = layers.LayerNormalization(epsilon=1e-6)(x + attn_output)
    ffn = layers.Dense(ff_dim, activation="relu")(out1)
    ffn = layers.Dense(embed_dim)(ffn)
    ffn = layers.Dropout(rate)(ffn)
    return layers.LayerNormalization(epsilon=1e-6)(out1 + ffn)


def build(vocab_size=300, maxlen=12, embed_dim=32, num_heads=4):
    inputs = layers.Input(shape=(maxlen,))
    x = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)(inputs)
    x = transformer_block(x, embed_dim, num_heads, ff_dim=64)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)
