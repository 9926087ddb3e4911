"""Multi-step weather forecast: sliding windows of a CSV of sensor readings, a stacked GRU predicting the next hours."""
import argparse
import csv

import numpy as np
import keras
from keras import layers


def read_csv(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    header, values = rows[0], np.array(rows[1:], dtype="float32")
    return header[1:], values[:, 1:]


def standardize(values, train_fraction):
    split = int(len(values) * train_fraction)
    mean, std = values[:split].mean(axis=0), values[:split].std(axis=0)
    return (values - mean) / std, split


def windows(values, target_column, window, horizon, batch_size, start, end):
    targets = np.stack([values[i + window:i + window + horizon, target_column]
                        for i in range(start, end - window - horizon)])
    return keras.utils.timeseries_dataset_from_array(values[start:end - horizon], targets, sequence_length=window,
                                                     batch_size=batch_size)


def build_forecaster(window, num_features, horizon, units=(64, 32), dropout=0.1):
    series = keras.Input(shape=(window, num_features), name="series")
    x = series
    for i, size in enumerate(units):
        x = layers.GRU(size, return_sequences=i < len(units) - 1, dropout=dropout)(x)
    x = layers.Dense(units[-1], activation="relu")(x)
    forecast = layers.Dense(horizon, name="forecast")(x)
    return keras.Model(series, forecast)


def parse_args():
    parser = argparse.ArgumentParser(description="GRU forecaster")
    parser.add_argument("csv_path", nargs="?", default="jena_climate_2009_2016.csv")
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--horizon", type=int, default=6)
    parser.add_argument("--target", default="T (degC)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    columns, readings = read_csv(args.csv_path)
    readings, split = standardize(readings, 0.7)
    target = columns.index(args.target)
    train_ds = windows(readings, target, args.window, args.horizon, args.batch_size, 0, split)
    val_ds = windows(readings, target, args.window, args.horizon, args.batch_size, split, len(readings))
    num_features = readings.shape[-1]
    model = build_forecaster(args.window, num_features, args.horizon)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", metrics=["mae"])
    checkpoint = keras.callbacks.ModelCheckpoint("forecaster.weights.h5", save_best_only=True, save_weights_only=True)
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs,
              callbacks=[checkpoint, keras.callbacks.EarlyStopping(patience=2)])
