"""California-housing style regression: a wide path straight to the output beside a deep Dense stack."""
import argparse
import json

import numpy as np
import keras
from keras import layers

DEFAULTS = {"deep_units": [64, 32], "activation": "selu", "learning_rate": 3e-3}


def load_split(path, seed=42):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype="float32")
    features, target = data[:, :-1], data[:, -1:]
    order = np.random.default_rng(seed).permutation(len(features))
    cut = int(0.8 * len(features))
    train, valid = order[:cut], order[cut:]
    mean, std = features[train].mean(axis=0), features[train].std(axis=0) + 1e-7
    features = (features - mean) / std
    return (features[train], target[train]), (features[valid], target[valid])


def build_wide_and_deep(n_features, deep_units=(30, 30), activation="relu"):
    features = keras.Input(shape=(n_features,), name="features")
    hidden = features
    for units in deep_units:
        hidden = layers.Dense(units, activation=activation, kernel_initializer="lecun_normal")(hidden)
    concat = layers.concatenate([features, hidden])
    output = layers.Dense(1, name="value")(concat)
    return keras.Model(inputs=[features], outputs=[output], name="wide_and_deep")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--params", help="JSON file overriding the defaults")
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()
    params = dict(DEFAULTS)
    if args.params:
        with open(args.params) as handle:
            params.update(json.load(handle))

    (x_train, y_train), (x_valid, y_valid) = load_split(args.csv)
    model = build_wide_and_deep(x_train.shape[1], params["deep_units"], params["activation"])
    model.compile(loss="mse", optimizer=keras.optimizers.Nadam(learning_rate=params["learning_rate"]),
                  metrics=[keras.metrics.RootMeanSquaredError()])
    early = keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    schedule = keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=5)
    history = model.fit(x_train, y_train, epochs=args.epochs, validation_data=(x_valid, y_valid),
                        callbacks=[early, schedule])
    print("best val rmse", min(history.history["val_root_mean_squared_error"]))


if __name__ == "__main__":
    main()
