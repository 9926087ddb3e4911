"""Per-step classifiers: (N, T, C) outputs trained on (N, T) class indices (issue 11).

Keras's SparseCategoricalCrossentropy reads the classes on the last axis of an (N, T, C) output; PyTorch's
CrossEntropyLoss on dim 1, so PyTorch code gives it (N, C, T) (``logits.permute(0, 2, 1)``) or flattens both
(``logits.reshape(-1, C)``, ``tags.reshape(-1)``). The pivot's class loss reads the classes on the axis the
output's Keras form has last (kinds.training class_axis): generated PyTorch ``train()`` and ``verify --train``
move them to dim 1, and the PyTorch tagger that permutes before its loss imports to the very loss the Keras
tagger does. Both generated trainings are run on the same data from the same weights and their per-step
losses compared.
"""
from __future__ import annotations

import contextlib
import io
import os
import re

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import torch
from test_training_code import STEP_TOLERANCE, generated_pair

from nnpivot.cli import main
from nnpivot.kinds import training as vocabulary
from nnpivot.migrate import import_source, migrate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

KERAS_TAGGER = """\
import numpy as np
import keras
from keras import layers


def build_model(steps=12, vocabulary=40, tags=5):
    tokens = keras.Input(shape=(steps,), dtype="int32")
    x = layers.Embedding(vocabulary, 16)(tokens)
    x = layers.Conv1D(24, 3, padding="same", activation="relu")(x)
    logits = layers.Dense(tags)(x)
    return keras.Model(tokens, logits)


if __name__ == "__main__":
    tokens = np.random.randint(0, 40, size=(512, 12))
    tags = np.random.randint(0, 5, size=(512, 12))
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(tokens, tags, epochs=4, batch_size=32)
"""

TORCH_TAGGER = """\
import argparse

import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, vocabulary=40, dim=16, hidden=24, tags=5):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, dim)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, tags)

    def forward(self, tokens):
        states, _ = self.rnn(self.embed(tokens))
        return self.out(states)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.5)
    args = parser.parse_args()
    model = Tagger()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    data = torch.utils.data.TensorDataset(torch.randint(0, 40, (512, 12)), torch.randint(0, 5, (512, 12)))
    for epoch in range(4):
        for tokens, tags in torch.utils.data.DataLoader(data, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            logits = model(tokens)
            LOSS
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    main()
"""
PERMUTED = "loss = criterion(logits.permute(0, 2, 1), tags)"
FLATTENED = "loss = criterion(logits.reshape(-1, logits.size(-1)), tags.reshape(-1))"


def _verify_train(capsys, a, b, *options):
    status = main(["verify", str(a), str(b), *options, "--train", "20", "--train-batch", "6"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_keras_tagger_trains_alike_in_its_pytorch_migration(tmp_path, capsys):
    source = tmp_path / "tagger.py"
    source.write_text(KERAS_TAGGER)
    model, _ = import_source(source, "keras")
    assert model.training.loss == "cross_entropy"
    migrated = tmp_path / "tagger_torch.py"
    assert migrate(source, "pytorch", migrated).failed is None
    code = migrated.read_text()
    assert "loss = loss_fn(outputs.movedim(-1, 1), targets)" in code
    status, out, err = _verify_train(capsys, source, migrated)
    assert status == 0, out + err
    assert float(out.split("max relative difference ")[1].split()[0]) < 1e-12


@pytest.mark.parametrize("loss", [PERMUTED, FLATTENED])
def test_pytorch_tagger_imports_to_the_keras_taggers_loss_and_trains_alike(loss, tmp_path, capsys):
    source = tmp_path / "tagger.py"
    source.write_text(TORCH_TAGGER.replace("LOSS", loss))
    shapes = {"tokens": (12,)}
    model, report = import_source(source, "pytorch", input_shapes=shapes)
    assert not [d for d in report.diagnostics if "loss" in d.message], [str(d) for d in report.diagnostics]
    keras_model, _ = import_source(_keras_tagger(tmp_path), "keras")
    assert (model.training.loss, vocabulary.label_format(vocabulary.LOSSES[model.training.loss])) == \
        (keras_model.training.loss, vocabulary.CLASS_INDICES)
    migrated = tmp_path / "tagger_keras.py"
    assert migrate(source, "keras", migrated, input_shapes=shapes).failed is None
    assert "SparseCategoricalCrossentropy(from_logits=True)" in migrated.read_text()
    status, out, err = _verify_train(capsys, source, migrated, "--input-shape", "tokens=12")
    assert status == 0, out + err
    # float64 rounding (2.7e-16 measured); 1.3e-10 while the check summed the LSTM's two float32 biases for
    # Keras's one in float32 (verify_training store_in_precision)
    assert float(out.split("max relative difference ")[1].split()[0]) < 1e-12


def _keras_tagger(tmp_path):
    path = tmp_path / "keras_tagger.py"
    path.write_text(KERAS_TAGGER)
    return path


NET = """\
model SequenceTagger {
    input x: float32[STEPS, 8]
    hidden = dense(x, 16)
    act = tanh(hidden)
    out = dense(act, 4)
    output out
    training {
        optimizer sgd(learning_rate=0.5, momentum=0.9)
        loss LOSS
        epochs 8
        batch_size BATCH
        metrics accuracy
    }
}
"""


def _tagging_data(size: int, steps: int):
    rng = np.random.RandomState(7)
    features = rng.uniform(-1, 1, (size, steps, 8)).astype("float32")
    tags = (features[..., :4].argmax(-1) + (features[..., 4] > 0.5)) % 4
    return features, tags.astype("int64")


@pytest.mark.parametrize(("size", "steps"), [(24, 5), (48, 9)])
@pytest.mark.parametrize("loss", ["cross_entropy", "categorical_cross_entropy"])
def test_generated_trainings_of_a_per_step_classifier_agree_step_by_step(loss, size, steps, tmp_path):
    nn_file = tmp_path / "tagger.nn"
    nn_file.write_text(NET.replace("STEPS", str(steps)).replace("LOSS", loss).replace("BATCH", str(size)))
    torch_module, net, keras_module, keras_net = generated_pair(nn_file, "SequenceTagger", (steps, 8))

    features, tags = _tagging_data(size, steps)
    labels = tags if loss == "cross_entropy" else np.eye(4, dtype="float32")[tags]   # (N, T) or (N, T, 4)
    history = keras_module.train(keras_net, features, labels).history
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        torch_module.train(net, torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels)))
    torch_losses = [float(v) for v in re.findall(r"loss (\d\.\d+)", printed.getvalue())]
    accuracies = [float(v) for v in re.findall(r"accuracy (\d\.\d+)", printed.getvalue())]
    assert len(torch_losses) == len(history["loss"]) == 8
    np.testing.assert_allclose(torch_losses, history["loss"], atol=STEP_TOLERANCE)
    assert torch_losses[-1] < torch_losses[0] - 0.1
    # the share of right tags, as Keras's accuracy counts them (one tag in 24 x 5 is 8e-3)
    np.testing.assert_allclose(accuracies, history["accuracy"], atol=STEP_TOLERANCE)
    assert 0 < min(accuracies) and max(accuracies) < 1


CHANNELS_FIRST_TAGGER = """\
import torch
from torch import nn
import torch.nn.functional as F


class FrameTagger(nn.Module):
    def __init__(self, features=8, tags=5):
        super().__init__()
        self.conv = nn.Conv1d(features, 16, 3, padding=1)
        self.head = nn.Conv1d(16, tags, 1)

    def forward(self, frames):
        return self.head(torch.relu(self.conv(frames)))


def train(model, frames, tags):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(100):
        optimizer.zero_grad()
        scores = model(frames)
        loss = LOSS
        loss.backward()
        optimizer.step()
"""


@pytest.mark.parametrize(("loss", "warned"), [("F.cross_entropy(scores, tags)", True),
                                              (("F.cross_entropy(scores.transpose(1, 2).reshape(-1, 5), "
                                                "tags.reshape(-1))"), False)])
def test_a_loss_reading_the_classes_on_dim_1_of_a_sequence_output_is_a_located_warning(loss, warned, tmp_path):
    source = tmp_path / "frames.py"
    source.write_text(CHANNELS_FIRST_TAGGER.replace("LOSS", loss))
    model, report = import_source(source, "pytorch", input_shapes={"frames": (8, 20)})
    assert model.training.loss == "cross_entropy"
    found = [d for d in report.diagnostics if "reads the classes on dim 1" in d.message]
    assert len(found) == int(warned)
    if warned:
        line = CHANNELS_FIRST_TAGGER.splitlines().index("        loss = LOSS") + 1
        assert (found[0].location.line, found[0].location.col) == (line, 16)
        assert "(5 of them)" in found[0].message
