"""House listings: numeric features and a neighbourhood id in, price and days on the market out (two regression heads)."""
import argparse
from dataclasses import dataclass

import numpy as np
import keras
from keras import layers


@dataclass
class Config:
    hidden: int = 64
    embedding_dim: int = 8
    dropout: float = 0.2
    learning_rate: float = 1e-3
    epochs: int = 30


def load_listings(path):
    data = np.load(path)
    return data["numeric"], data["district"], data["price"], np.log1p(data["days_listed"])


def build_model(num_numeric, num_districts, config=None):
    config = config or Config()
    numeric = keras.Input(shape=(num_numeric,), name="numeric")
    district = keras.Input(shape=(1,), dtype="int64", name="district")
    embedded = layers.Embedding(num_districts, config.embedding_dim, name="district_embedding")(district)
    embedded = layers.Flatten()(embedded)
    x = layers.Concatenate()([numeric, embedded])
    x = layers.Dense(config.hidden, activation="relu")(x)
    x = layers.Dropout(config.dropout)(x)
    x = layers.Dense(config.hidden // 2, activation="relu")(x)
    price = layers.Dense(1, name="price")(x)
    days = layers.Dense(1, activation="softplus", name="days")(x)
    return keras.Model(inputs=[numeric, district], outputs=[price, days])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="listings.npz")
    parser.add_argument("--hidden", type=int, default=Config.hidden)
    parser.add_argument("--epochs", type=int, default=Config.epochs)
    args = parser.parse_args()
    config = Config(hidden=args.hidden, epochs=args.epochs)

    numeric, district, price, days = load_listings(args.data)
    num_districts = int(district.max()) + 1
    model = build_model(numeric.shape[1], num_districts, config)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="mse", metrics=["mae"])
    model.fit({"numeric": numeric, "district": district}, {"price": price, "days": days},
              epochs=config.epochs, batch_size=64, validation_split=0.2)


if __name__ == "__main__":
    main()
