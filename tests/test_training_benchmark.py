"""benchmarks/training.py's precisions: in float64 (its default) the original and the migrated model both train in
float64 and their loss curves agree to float64 rounding; in float32 they agree only to float32 rounding. A model
left in float32 by the float64 mode would part from the other by ~1e-7 and fail the 1e-12 check.

A tiny classifier of the digits (64 pixels, one hidden layer with dropout: the shared masks run too), one epoch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_module import load_benchmark

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]
pytest.importorskip("sklearn")  # the bench extra's digits

training = load_benchmark("training")

TORCH_SOURCE = '''\
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class DigitsMLP(nn.Module):
    def __init__(self, hidden=24, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.net(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    images, labels = torch.randn(512, 64), torch.randint(0, 10, (512,))
    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    model = DigitsMLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
'''

KERAS_SOURCE = '''\
import argparse

import keras
import numpy as np
from keras import layers


def build_digits_mlp(hidden=24, num_classes=10):
    inputs = keras.Input(shape=(64,))
    x = layers.Dense(hidden, activation="relu")(inputs)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    model = build_digits_mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    images, labels = np.random.randn(512, 64).astype("float32"), np.random.randint(0, 10, 512)
    model.fit(images, labels, batch_size=32, epochs=args.epochs)
'''

CASES = {
    "pytorch": (TORCH_SOURCE, "digits_mlp_torch.py", "DigitsMLP"),
    "keras": (KERAS_SOURCE, "digits_mlp_keras.py", "build_digits_mlp"),
}


def _row(tmp_path: Path, framework: str, precision: str) -> dict:
    text, name, model = CASES[framework]
    (tmp_path / name).write_text(text)
    case = training.Case("digits mlp", name, model, "digits", 0.05, 1)
    return training.run_case(case, tmp_path, None, noise_floor=precision == "float64", precision=precision)


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_float64_trains_both_models_in_float64_and_their_curves_agree(tmp_path, framework):
    row = _row(tmp_path, framework, "float64")
    assert row["direction"] == f"{framework} -> {training.OTHER[framework]}"
    assert row["precision"] == "float64" and row["trained_in"] == ("float64", "float64")
    original, migrated = (np.asarray(losses) for losses in row["losses"])
    assert row["steps"] == len(original) == 1437 // 32 and row["dropouts"] == 1
    assert original[-1] < 0.5 * original[0]  # it trains: the comparison is of a training, not of a flat curve
    assert np.abs(original - migrated).max() <= 1e-12
    assert row["curve_max"] <= 1e-12 and row["difference"] == 0.0
    # the noise floor moves the weights by one float64 ulp: curves apart by about that, not by float32's rounding
    assert 0 < row["noise_floor"]["curve_max"] <= 1e-12


@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_float32_curves_differ_by_more_than_the_float64_tolerance(tmp_path, framework):
    """The control: trained as users train (float32), the two frameworks' rounding parts the curves by more than
    1e-12, so a model left in float32 would fail the check above."""
    row = _row(tmp_path, framework, "float32")
    assert row["precision"] == "float32" and row["trained_in"] == ("float32", "float32")
    assert 1e-12 < row["curve_max"] <= 1e-4


def test_a_model_left_in_float32_stops_the_float64_run(tmp_path, monkeypatch):
    """Keras models built outside the float64 dtype policy stay float32: the run refuses instead of comparing a
    float32 model with a float64 one."""
    from contextlib import nullcontext

    monkeypatch.setattr(training, "keras_precision", lambda precision: nullcontext())
    with pytest.raises(RuntimeError, match="the migrated model in float32, not float64"):
        _row(tmp_path, "pytorch", "float64")


def test_dropout_masks_follow_units_that_are_off_for_every_probe_sample():
    """A channels-first map flattened against its channels-last twin: units a ReLU keeps at 0 for the whole probe
    hold equal values, so values cannot place them, but they come on in training and must get the same unit's
    mask in both frameworks (AlexNet PyTorch -> Keras: 24 of 288 such units took other units' masks, and its
    float64 curves parted at step 4)."""
    rng = np.random.default_rng(3)
    first = np.maximum(rng.standard_normal((16, 6, 3, 2)), 0.0)   # N, C, H, W
    first[:, 2] = 0.0                                              # a channel off everywhere
    first[:, :, 1, 0] = 0.0                                        # a position off in every channel
    last = np.ascontiguousarray(first.transpose(0, 2, 3, 1))       # N, H, W, C
    order = training.element_order(first, last)
    channels, positions = np.meshgrid(np.arange(6), np.arange(6), indexing="xy")
    np.testing.assert_array_equal(order, (channels * 6 + positions).reshape(-1))  # keras j = s*C + c <- c*S + s
    np.testing.assert_array_equal(first.reshape(16, -1)[:, order], last.reshape(16, -1))
    # the same layouts: the identity, even where a column is all zeros
    np.testing.assert_array_equal(training.element_order(first, first), np.arange(36))


def test_dropout_inputs_no_layout_can_place_stop_the_run():
    zeros = np.zeros((8, 4, 2, 2))
    with pytest.raises(training.UnsharedRandomness, match="layouts fit"):
        training.element_order(zeros, zeros.transpose(0, 2, 3, 1))
    rng = np.random.default_rng(0)
    values = rng.standard_normal((8, 12))
    values[:, [3, 7]] = 0.0
    shuffled = values[:, rng.permutation(12)]
    with pytest.raises(training.UnsharedRandomness, match="same values"):
        training.element_order(values, shuffled)
