"""A Keras VGG-style classifier from a table of block settings: a builder forwarding **kwargs to a
Sequential assembled in loops (conv blocks, then a dense head from a list of widths), layer names
derived from the block index, and the width scaled by a multiplier."""
import keras
from keras import layers

BLOCKS = {
    "a": [(1, 16), (1, 32), (2, 64)],
    "b": [(2, 16), (2, 32), (2, 64)],
}
HEAD = [64, 32]


def _conv_block(model, index, repeats, filters, batch_norm):
    for r in range(repeats):
        model.add(layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm,
                                name=f"block{index}_conv{r + 1}"))
        if batch_norm:
            model.add(layers.BatchNormalization(name=f"block{index}_bn{r + 1}"))
        model.add(layers.ReLU(name=f"block{index}_relu{r + 1}"))
    model.add(layers.MaxPooling2D(2, name=f"block{index}_pool"))


def make_vgg(variant="a", width=1.0, batch_norm=True, num_classes=10, input_shape=(32, 32, 3)):
    model = keras.Sequential(name=f"vgg_{variant}")
    model.add(keras.Input(shape=input_shape))
    for index, (repeats, filters) in enumerate(BLOCKS[variant], start=1):
        _conv_block(model, index, repeats, int(filters * width), batch_norm)
    model.add(layers.Flatten(name="flatten"))
    for i, units in enumerate(HEAD):
        model.add(layers.Dense(units, activation="relu", name=f"fc{i + 1}"))
        model.add(layers.Dropout(0.3, name=f"drop{i + 1}"))
    model.add(layers.Dense(num_classes, name="logits"))
    return model


def vgg_b(**kwargs):
    return make_vgg("b", **kwargs)


if __name__ == "__main__":
    net = vgg_b(width=0.5)
    net.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
