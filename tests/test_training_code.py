"""Generated training code trains like the source, step for step (issue 11).

Each test writes a user's script, migrates it with its initial weights, trains the
original with the user's own training code and the migrated model with the generated
``train`` on the same deterministic data, and compares the loss of every step.

One batch holds the whole data set, so each epoch is one optimizer step and the
shuffling of either framework cannot change the gradient. The generated PyTorch
``train`` prints each epoch's loss with four decimals. The step losses are compared
within 2e-4: the print's rounding (5e-5) plus the float32 drift of two frameworks summing
in different orders, compounded over the steps (largest measured difference 4.9e-5 over
these tests). A wrong loss or label shape differs by 1e-2 and more from the second step
on; Keras's Adam, whose epsilon is added before the bias correction, drifted 3.5e-4 from
PyTorch's within six steps of the binary classifier (epsilon 1e-7), so that case trains
with SGD and momentum, whose update rules agree.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnpivot.cli import main
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.importers.nn_text import parse_text
from nnpivot.migrate import migrate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

STEP_TOLERANCE = 2e-4


def load_module(path):
    name = f"user_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def printed_losses(train, *args) -> list[float]:
    """The per-epoch losses a generated PyTorch ``train`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        train(*args)
    return [float(v) for v in re.findall(r"loss (\S+?),?(?:\s|$)", out.getvalue())]


def generated_pair(nn_file, class_name: str, sample_shape: tuple):
    """The model of ``nn_file`` generated for both frameworks and built with the same initial weights: PyTorch's
    seeded initialization, converted by ``nnpivot weights convert`` and read by Keras's own ``load_weights``.
    Returns (torch module, torch model, keras module, keras model)."""
    folder, stem = nn_file.parent, nn_file.stem
    model = parse_text(nn_file.read_text(), str(nn_file))
    (folder / f"{stem}_torch.py").write_text(P.generate(model, nn_file.name))
    (folder / f"{stem}_keras.py").write_text(K.generate(model, nn_file.name))
    torch_module = load_module(folder / f"{stem}_torch.py")
    keras_module = load_module(folder / f"{stem}_keras.py")
    torch.manual_seed(0)
    net = getattr(torch_module, class_name)()
    torch.save(net.state_dict(), folder / "initial.pt")
    assert main(["weights", "convert", "--model", str(nn_file), "--from", str(folder / "initial.pt"),
                 "--to", str(folder / "initial.weights.h5")]) == 0
    keras.backend.clear_session()
    keras_net = getattr(keras_module, class_name)()
    keras_net(np.zeros((1, *sample_shape), "float32"))
    keras_net.load_weights(folder / "initial.weights.h5")
    return torch_module, net, keras_module, keras_net


# --- the nll case: a PyTorch MNIST-style script to Keras -------------------------------------------

MNIST_SCRIPT = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.fc1 = nn.Linear(4 * 3 * 3, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(model, train_loader, optimizer):
    model.train()
    losses = []
    for data, target in train_loader:
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main(dataset):
    train_loader = torch.utils.data.DataLoader(dataset, batch_size=64)
    model = Net()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for epoch in range(1, 7):
        losses += train(model, train_loader, optimizer)
    return model, losses
"""


def digits_like(count: int, seed: int, side: int = 8):
    """Deterministic images and class labels: the class is the brightest of ten fixed patterns."""
    rng = np.random.RandomState(seed)
    images = rng.rand(count, 1, side, side).astype("float32")
    patterns = np.random.RandomState(99).rand(10, side * side).astype("float32")
    labels = (images.reshape(count, -1) @ patterns.T).argmax(axis=1).astype("int64")
    return images, labels


def test_nll_loss_is_keras_crossentropy_from_logits_in_numbers():
    """On log-probabilities, cross-entropy from logits is their negative log-likelihood: softmax(log p) = p."""
    logits = np.array([[2.0, -1.0, 0.5], [40.0, -45.0, 3.0], [-30.0, 60.0, 0.0]], dtype="float32")
    labels = np.array([0, 1, 2])
    log_probabilities = F.log_softmax(torch.from_numpy(logits), dim=1)
    expected = F.nll_loss(log_probabilities, torch.from_numpy(labels)).item()
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert float(loss(labels, log_probabilities.numpy())) == pytest.approx(expected, rel=1e-6)
    # the probabilities spelling is another number: it clips the (negative) log-probabilities to 1e-7
    wrong = keras.losses.SparseCategoricalCrossentropy()(labels, log_probabilities.numpy())
    assert float(wrong) != pytest.approx(expected, rel=1e-2)


def test_mnist_nll_script_trains_the_same_in_keras(tmp_path):
    script = tmp_path / "mnist_net.py"
    script.write_text(MNIST_SCRIPT)
    user = load_module(script)
    torch.manual_seed(0)
    torch.save(user.Net().state_dict(), tmp_path / "initial.pt")
    out = tmp_path / "keras_net.py"
    result = migrate(script, "keras", out, input_shapes=[[1, 8, 8]], weights=tmp_path / "initial.pt",
                     weights_out=tmp_path / "initial.weights.h5")
    assert result.weights_written
    generated = out.read_text()
    assert "SparseCategoricalCrossentropy(from_logits=True)" in generated
    assert "epsilon=1e-08" in generated  # PyTorch's Adam epsilon, not Keras's 1e-7

    images, labels = digits_like(64, seed=1)
    torch.manual_seed(0)  # the same initial weights as the checkpoint
    _, torch_losses = user.main(torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels)))

    migrated = load_module(out)
    model = migrated.Net()
    model(np.zeros((1, 8, 8, 1), "float32"))
    model.load_weights(tmp_path / "initial.weights.h5")
    history = migrated.train(model, images.transpose(0, 2, 3, 1), labels)  # channels-last, as Keras users hold it
    keras_losses = history.history["loss"]

    assert len(torch_losses) == len(keras_losses) == 6
    np.testing.assert_allclose(keras_losses, torch_losses, atol=STEP_TOLERANCE)
    assert torch_losses[-1] < torch_losses[0] - 0.05  # it trains: the comparison is not of constant losses


# --- the (N,) label case: a Keras binary classifier to PyTorch -------------------------------------

BINARY_SCRIPT = """\
import keras
from keras import layers


def build_model():
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(12, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def train_model(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model.fit(x, y, epochs=6, batch_size=48, verbose=0)
"""


def keras_initial_weights(module, path):
    """The source model's initial weights, built as nnpivot builds it (fresh session, seeded)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    module.build_model().save_weights(path)


def keras_training(module, x, y):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)  # the same initial weights as keras_initial_weights
    return module.train_model(module.build_model(), x, y).history["loss"]


def migrated_torch(script, tmp_path, model_class: str):
    source = load_module(script)
    keras_initial_weights(source, tmp_path / "initial.weights.h5")
    out = tmp_path / "torch_net.py"
    result = migrate(script, "pytorch", out, weights=tmp_path / "initial.weights.h5",
                     weights_out=tmp_path / "initial.pt")
    assert result.weights_written
    migrated = load_module(out)
    model = getattr(migrated, model_class)()
    model.load_state_dict(torch.load(tmp_path / "initial.pt"))
    return source, migrated, model, out.read_text()


@pytest.mark.parametrize("label_shape", ["(N,)", "(N, 1)"])
def test_binary_classifier_with_keras_labels_trains_the_same_in_pytorch(label_shape, tmp_path):
    script = tmp_path / "binary_net.py"
    script.write_text(BINARY_SCRIPT)
    source, migrated, model, generated = migrated_torch(script, tmp_path, "Model")
    assert "eps=0.001, momentum=0.01" in generated  # Keras's BatchNorm epsilon and momentum convention

    features = np.random.RandomState(3).rand(48, 6).astype("float32")
    labels = (features.sum(axis=1) > 3).astype("float32")
    if label_shape == "(N, 1)":
        labels = labels[:, None]
    keras_losses = keras_training(source, features, labels)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    torch_losses = printed_losses(migrated.train, model, dataset)

    assert len(torch_losses) == len(keras_losses) == 6
    np.testing.assert_allclose(torch_losses, keras_losses, atol=STEP_TOLERANCE)
    assert torch_losses[-1] < torch_losses[0] - 0.05


# --- a softmax-ending model on confident predictions ----------------------------------------------

SOFTMAX_SCRIPT = """\
import keras
from keras import layers


def build_model():
    inputs = keras.Input(shape=(5,))
    x = layers.Dense(8, activation="tanh")(inputs)
    outputs = layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def train_model(model, x, y):
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    return model.fit(x, y, epochs=5, batch_size=40, verbose=0)
"""


def confident(state_dict, scale: float):
    """The checkpoint with the output layer's weights scaled: predictions get logit gaps of about ``scale``."""
    state = dict(state_dict)
    key = next(k for k in reversed(list(state)) if k.endswith("weight"))
    state[key] = state[key] * scale
    return state


def softmax_case(tmp_path):
    script = tmp_path / "softmax_net.py"
    script.write_text(SOFTMAX_SCRIPT)
    source, migrated, model, _ = migrated_torch(script, tmp_path, "Model")
    features = np.random.RandomState(5).uniform(-1, 1, (40, 5)).astype("float32")
    with torch.no_grad():
        logits_free = model(torch.from_numpy(features))
    # labels against the model's own guess where it is surest: the confident wrong predictions
    labels = ((logits_free.argmax(dim=1).numpy() + np.arange(40) % 2) % 3).astype("int64")
    return source, migrated, model, features, labels


@pytest.mark.parametrize("label_shape", ["(N,)", "(N, 1)"])
def test_softmax_model_trains_the_same_in_pytorch_on_confident_predictions(label_shape, tmp_path):
    """Gaps of ~40 make Keras's clipped probabilities (1e-7) differ from the logits; fit uses the logits."""
    source, migrated, model, features, labels = softmax_case(tmp_path)
    model.load_state_dict(confident(model.state_dict(), 12.0))
    with torch.no_grad():
        probabilities = model(torch.from_numpy(features))
    # some labels are less likely than Keras's clip (1e-7) and none has underflowed
    label_probabilities = probabilities[torch.arange(40), torch.from_numpy(labels)]
    assert (label_probabilities < 1e-7).any() and (label_probabilities > 0).all()
    if label_shape == "(N, 1)":
        labels = labels[:, None]
    keras_model = source.build_model
    source.build_model = lambda: scaled_keras(keras_model(), 12.0)
    keras_losses = keras_training(source, features, labels)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    torch_losses = printed_losses(migrated.train, model, dataset)
    np.testing.assert_allclose(torch_losses, keras_losses, rtol=1e-4, atol=STEP_TOLERANCE)


def scaled_keras(model, scale: float):
    last = model.layers[-1]
    kernel, bias = last.get_weights()
    last.set_weights([kernel * scale, bias])
    return model


def test_softmax_model_with_underflowing_probabilities_trains_without_nan(tmp_path):
    """Logit gaps in the hundreds underflow softmax to 0 in float32: log(0) made the loss inf and the weights NaN."""
    _, migrated, model, features, labels = softmax_case(tmp_path)
    model.load_state_dict(confident(model.state_dict(), 400.0))
    with torch.no_grad():
        probabilities = model(torch.from_numpy(features))
    assert (probabilities[torch.arange(40), torch.from_numpy(labels)] == 0).any()  # the case is really there
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    losses = printed_losses(migrated.train, model, dataset)
    assert len(losses) == 5 and all(np.isfinite(losses))
    assert all(torch.isfinite(p).all() for p in model.parameters())
