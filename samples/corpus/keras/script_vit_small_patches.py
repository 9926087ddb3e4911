"""A small vision transformer for 32x32 images: patches cut by a strided convolution, learned position embeddings."""
import argparse
from dataclasses import dataclass, field

import keras
from keras import layers, ops


@dataclass
class ViTConfig:
    image_size: int = 32
    patch_size: int = 4
    channels: int = 3
    projection_dim: int = 32
    num_heads: int = 4
    transformer_layers: int = 2
    mlp_units: list = field(default_factory=lambda: [64, 32])
    num_classes: int = 10

    @property
    def num_patches(self):
        return (self.image_size // self.patch_size) ** 2


class PatchEncoder(layers.Layer):
    """Projects image patches and adds a learned embedding of each patch's position."""

    def __init__(self, num_patches, projection_dim, patch_size, **kwargs):
        super().__init__(**kwargs)
        self.num_patches = num_patches
        self.projection = layers.Conv2D(projection_dim, patch_size, strides=patch_size)
        self.flatten = layers.Reshape((num_patches, projection_dim))
        self.position_embedding = layers.Embedding(input_dim=num_patches, output_dim=projection_dim)

    def call(self, images):
        patches = self.flatten(self.projection(images))
        positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
        return patches + self.position_embedding(positions)


def mlp(x, hidden_units, dropout_rate):
    for units in hidden_units:
        x = layers.Dense(units, activation=keras.activations.gelu)(x)
        x = layers.Dropout(dropout_rate)(x)
    return x


def create_vit_classifier(config=None):
    config = config or ViTConfig()
    inputs = keras.Input(shape=(config.image_size, config.image_size, config.channels))
    encoded = PatchEncoder(config.num_patches, config.projection_dim, config.patch_size)(inputs)
    for _ in range(config.transformer_layers):
        x1 = layers.LayerNormalization(epsilon=1e-6)(encoded)
        attention = layers.MultiHeadAttention(num_heads=config.num_heads, key_dim=config.projection_dim // config.num_heads,
                                              dropout=0.1)(x1, x1)
        x2 = layers.Add()([attention, encoded])
        x3 = layers.LayerNormalization(epsilon=1e-6)(x2)
        x3 = mlp(x3, hidden_units=[config.projection_dim * 2, config.projection_dim], dropout_rate=0.1)
        encoded = layers.Add()([x3, x2])
    representation = layers.LayerNormalization(epsilon=1e-6)(encoded)
    representation = layers.GlobalAveragePooling1D()(representation)
    features = mlp(representation, hidden_units=config.mlp_units, dropout_rate=0.5)
    logits = layers.Dense(config.num_classes)(features)
    return keras.Model(inputs=inputs, outputs=logits)


def run_experiment(model, data, epochs, batch_size):
    (x_train, y_train), (x_test, y_test) = data
    optimizer = keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1,
              callbacks=[keras.callbacks.ModelCheckpoint("vit.weights.h5", save_weights_only=True,
                                                         save_best_only=True, monitor="val_accuracy")])
    _, accuracy = model.evaluate(x_test, y_test)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args()
    config = ViTConfig(transformer_layers=args.layers)
    data = keras.datasets.cifar10.load_data()
    vit = create_vit_classifier(config)
    run_experiment(vit, data, args.epochs, args.batch_size)
