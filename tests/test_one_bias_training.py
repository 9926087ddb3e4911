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
