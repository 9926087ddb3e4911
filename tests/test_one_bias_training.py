"""A Keras LSTM trains one bias, PyTorch's LSTM two (bias_ih, bias_hh): the PyTorch code migrated from Keras keeps
bias_hh at zero and frozen, so SGD moves it exactly as Keras moves its model, step for step."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from nnpivot.migrate import migrate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

KERAS_SCRIPT = '''\
import keras
from keras import layers

FEATURES, UNITS, CLASSES = 4, 5, 3


def build_tagger():
    inputs = keras.Input(shape=(None, FEATURES))
    states = layers.LSTM(UNITS)(inputs)
    scores = layers.Dense(CLASSES)(states)
    return keras.Model(inputs, scores, name="tagger")


model = build_tagger()
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.2), loss="mse")
'''

STEPS, LEARNING_RATE = 6, 0.2


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batches(rng):
    """Batches of sequences of two lengths (the model takes any), with regression targets."""
    return [(rng.standard_normal((3, 6 if step % 2 else 9, 4)).astype("float32"),
             rng.standard_normal((3, 3)).astype("float32")) for step in range(STEPS)]


def _keras_steps(model, batches):
    import keras
    import tensorflow as tf
    optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE)
    losses = []
    for inputs, targets in batches:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(inputs) - targets))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        losses.append(float(loss))
    return losses


def _torch_steps(model, batches):
    import torch
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    losses = []
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(torch.from_numpy(inputs)), torch.from_numpy(targets))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _copy_keras_weights(keras_model, torch_model):
    """Keras's LSTM gates (i, f, c, o) are PyTorch's (i, f, g, o): kernels transposed, the one bias as bias_ih."""
    import torch
    lstm, dense = (layer for layer in keras_model.layers if layer.weights)
    kernel, recurrent, bias = (w.numpy() for w in lstm.weights)
    dense_kernel, dense_bias = (w.numpy() for w in dense.weights)
    arrays = {"weight_ih_l0": kernel.T, "weight_hh_l0": recurrent.T, "bias_ih_l0": bias,
              "bias_hh_l0": np.zeros_like(bias)}
    torch_lstm = next(m for m in torch_model.modules() if isinstance(m, torch.nn.LSTM))
    torch_dense = next(m for m in torch_model.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        for name, array in arrays.items():
            getattr(torch_lstm, name).copy_(torch.from_numpy(np.ascontiguousarray(array)))
        torch_dense.weight.copy_(torch.from_numpy(np.ascontiguousarray(dense_kernel.T)))
        torch_dense.bias.copy_(torch.from_numpy(dense_bias))
    return torch_lstm, torch_dense, lstm, dense


def test_migrated_lstm_trains_exactly_like_keras(tmp_path):
    import torch
    source = tmp_path / "tagger.py"
    source.write_text(KERAS_SCRIPT)
    migrated = tmp_path / "tagger_torch.py"
    result = migrate(source, "pytorch", migrated, model_name="model")
    assert result.failed is None, [str(d) for d in result.diagnostics]
    assert 'requires_grad_(False)' in migrated.read_text()

    keras_model = _load(source, "tagger_keras").model
    torch_class = _load(migrated, "tagger_torch").Tagger
    torch_model = torch_class()
    torch_lstm, torch_dense, lstm, dense = _copy_keras_weights(keras_model, torch_model)
    # the state_dict keeps PyTorch's keys: a checkpoint of the migrated model loads strictly
    torch_class().load_state_dict(torch_model.state_dict(), strict=True)

    batches = _batches(np.random.default_rng(7))
    keras_losses = _keras_steps(keras_model, batches)
    torch_losses = _torch_steps(torch_model, batches)
    np.testing.assert_allclose(torch_losses, keras_losses, rtol=1e-5, atol=1e-6)

    kernel, recurrent, bias = (w.numpy() for w in lstm.weights)
    assert not torch_lstm.bias_hh_l0.detach().numpy().any()
    pairs = [(torch_lstm.weight_ih_l0, kernel.T), (torch_lstm.weight_hh_l0, recurrent.T),
             (torch_lstm.bias_ih_l0, bias), (torch_dense.weight, dense.weights[0].numpy().T),
             (torch_dense.bias, dense.weights[1].numpy())]
    for parameter, expected in pairs:
        np.testing.assert_allclose(parameter.detach().numpy(), expected, atol=1e-6)
    # both computing the same function at both sequence lengths after training
    for inputs, _ in batches[:2]:
        with torch.no_grad():
            got = torch_model(torch.from_numpy(inputs)).numpy()
        np.testing.assert_allclose(got, keras_model(inputs).numpy(), atol=1e-6)


def test_two_trained_biases_would_not_train_like_keras(tmp_path):
    # The check above can fail: a stock nn.LSTM (bias_hh trained too) moves its bias sum twice as far.
    source = tmp_path / "tagger.py"
    source.write_text(KERAS_SCRIPT)
    migrated = tmp_path / "tagger_torch.py"
    assert migrate(source, "pytorch", migrated, model_name="model").failed is None
    keras_model = _load(source, "tagger_keras").model
    torch_model = _load(migrated, "tagger_torch").Tagger()
    torch_lstm, _, lstm, _ = _copy_keras_weights(keras_model, torch_model)
    torch_lstm.bias_hh_l0.requires_grad_(True)
    batches = _batches(np.random.default_rng(7))
    _keras_steps(keras_model, batches)
    _torch_steps(torch_model, batches)
    bias_sum = (torch_lstm.bias_ih_l0 + torch_lstm.bias_hh_l0).detach().numpy()
    assert np.abs(bias_sum - lstm.weights[2].numpy()).max() > 1e-3


STACKED_SCRIPT = '''\
import argparse

import keras
from keras import layers


def build_tagger(features, units):
    inputs = keras.Input(shape=(None, features))
    states = layers.Bidirectional(layers.LSTM(units, return_sequences=True), name="context")(inputs)
    states = layers.LSTM(units + 1, name="summary")(states)
    scores = layers.Dense(3, name="scores")(states)
    return keras.Model(inputs, scores, name="tagger")


parser = argparse.ArgumentParser()
parser.add_argument("--units", type=int, default=5)
args = parser.parse_args()
model = build_tagger(4, args.units)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
'''


def _recurrent_one_bias(model) -> dict:
    return {node.name: node.oneBias for node in model.eAllContents() if node.eClass.name in ("LSTM", "GRU")}


def test_generated_freeze_reads_back_as_one_bias(tmp_path):
    """Keras -> PyTorch -> Keras keeps one bias: the importer reads the generated bias_hh freeze (a Bidirectional
    LSTM's too), so the Keras file migrated back trains with Keras's own optimizer, not the two-bias class."""
    from nnpivot.importers.pytorch import import_pytorch
    source, migrated, back = tmp_path / "tagger.py", tmp_path / "tagger_torch.py", tmp_path / "tagger_back.py"
    source.write_text(STACKED_SCRIPT)
    assert migrate(source, "pytorch", migrated, model_name="model").failed is None
    assert migrated.read_text().count("parameter.requires_grad_(False)") == 2

    model, report = import_pytorch(migrated, input_shapes=[(7, 4)])
    assert _recurrent_one_bias(model) == {"context": True, "states": True}
    assert not [d for d in report.diagnostics if d.code == "freeze-ignored"]

    result = migrate(migrated, "keras", back)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    code = back.read_text()
    assert "TwoBias" not in code and "optimizer=keras.optimizers.SGD(" in code
    text = tmp_path / "tagger.nn"
    assert migrate(migrated, "nn", text).failed is None
    assert text.read_text().count("one_bias=true") == 2


HAND_FROZEN = '''\
import argparse

import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, features=4, hidden=6, classes=3):
        super().__init__()
        self.encoder = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
        # keep the input biases at zero while the recurrent ones learn
        for name, parameter in self.encoder.named_parameters():
            if name.startswith("bias_ih"):
                nn.init.zeros_(parameter)
                parameter.requires_grad_(False)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        states, _ = self.encoder(x)
        return self.head(states[:, -1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args()
    model = Tagger()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    for step in range(10):
        x, y = torch.randn(8, 5, 4), torch.randint(0, 3, (8,))
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
'''


def test_a_different_freeze_is_not_read_as_one_bias(tmp_path):
    """A user's loop freezing bias_ih (not the generated bias_hh form) is no oneBias: a located warning says the
    freeze is left out."""
    from nnpivot.importers.pytorch import import_pytorch
    source = tmp_path / "frozen_input_bias.py"
    source.write_text(HAND_FROZEN)
    model, report = import_pytorch(source, model_name="Tagger", input_shapes=[(5, 4)])
    assert _recurrent_one_bias(model) == {"encoder": False}
    [freeze] = [d for d in report.diagnostics if d.code == "freeze-ignored"]
    assert freeze.severity == "warning" and (freeze.location.line, freeze.location.col) == (12, 9)
