"""Gradient clipping in ``nnpivot verify --train`` and in generated ``train()`` (issue 11).

PyTorch's ``clip_grad_norm_(model.parameters(), c)`` clips the norm of all gradients together (Keras's
``global_clipnorm``); Keras's ``clipnorm`` clips each variable's gradient by its own norm (PyTorch's
``clip_grad_norm_`` of each parameter); ``clip_grad_value_`` / ``clipvalue`` clip each element. The pivot keeps
the three apart (clipNorm, clipNormPerVariable, clipValue) and the check trains each file with the clipping its
own code sets. The limits are small and the learning rates large enough that the first update is clipped: the
same pair without the clip, or clipping otherwise, fails at step 2, the loss of the first step after a clipped
update (each step's loss is taken before its update). PyTorch scales a norm by min(1, limit / (norm + 1e-6)), Keras
by limit / max(norm, limit): generated PyTorch code of a Keras source clips with Keras's scaling
(kinds.training KERAS_CLIP_NORM) and agrees to float64 rounding; generated Keras code of a PyTorch source still
clips with Keras's, about 1e-6 / norm relatively apart.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import torch
from test_training_code import STEP_TOLERANCE, generated_pair, printed_losses
from test_training_config import classes_data

from nnpivot.cli import main
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.importers.nn_text import parse_text
from nnpivot.kinds import training as vocabulary
from nnpivot.migrate import import_source, migrate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

STEPS = 10

TORCH_SCRIPT = """\
import argparse

import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, features=12, hidden=32, classes=4):
        super().__init__()
        self.hidden = nn.Linear(features, hidden)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--max-norm", type=float, default=0.1)
    args = parser.parse_args()
    model = Tagger()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    data = torch.utils.data.TensorDataset(torch.randn(256, 12), torch.randint(0, 4, (256,)))
    for epoch in range(3):
        for x, y in torch.utils.data.DataLoader(data, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            CLIP
            optimizer.step()


if __name__ == "__main__":
    main()
"""
GLOBAL = "nn.utils.clip_grad_norm_(model.parameters(), args.max_norm)"
PER_PARAMETER = "for p in model.parameters():\n                nn.utils.clip_grad_norm_(p, args.max_norm)"

KERAS_SCRIPT = """\
import numpy as np
import keras
from keras import layers


def build_model(features=12, classes=4):
    return keras.Sequential([
        keras.Input(shape=(features,)),
        layers.Dense(32, activation="tanh"),
        layers.Dense(classes),
    ])


if __name__ == "__main__":
    x = np.random.rand(256, 12).astype("float32")
    y = np.random.randint(0, 4, size=(256,))
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5, momentum=0.9, CLIP),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=3, batch_size=32)
"""


def _verify_train(capsys, a, b):
    status = main(["verify", str(a), str(b), "--train", str(STEPS), "--train-batch", "8"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _worst(out: str) -> float:
    return float(out.split("max relative difference ")[1].split()[0])


def _pair(tmp_path, script: str, clip: str, target: str):
    source = tmp_path / "net.py"
    source.write_text(script.replace("CLIP", clip))
    migrated = tmp_path / f"net_{target}.py"
    result = migrate(source, target, migrated)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    return source, migrated


@pytest.mark.parametrize(("clip", "feature", "written"), [
    (GLOBAL, "clipNorm", "global_clipnorm=0.1"),
    (PER_PARAMETER, "clipNormPerVariable", "clipnorm=0.1"),
    ("nn.utils.clip_grad_value_(model.parameters(), 0.01)", "clipValue", "clipvalue=0.01")])
def test_pytorch_clipping_reads_as_its_kind_and_its_keras_migration_trains_alike(clip, feature, written, tmp_path,
                                                                                    capsys):
    source, migrated = _pair(tmp_path, TORCH_SCRIPT, clip, "keras")
    model, _ = import_source(source, "pytorch")
    assert [(c.feature, limit) for c, limit in vocabulary.clippings_of(model.training)] == \
        [(feature, 0.01 if feature == "clipValue" else 0.1)]
    code = migrated.read_text()
    assert f"momentum=0.9, {written}" in code
    status, out, err = _verify_train(capsys, source, migrated)
    assert status == 0, out + err
    setting = vocabulary.CLIPPINGS_BY_FEATURE[feature].setting
    assert out.count(f"loss cross_entropy, {setting} ") == 2
    # the norms clip through limit / (norm + 1e-6) in PyTorch, limit / norm in Keras; values clip exactly
    assert _worst(out) < (1e-5 if feature != "clipValue" else 1e-12)
    # the clip bites from the first update on: without it the migrated file fails at step 2
    migrated.write_text(code.replace(f", {written}", ""))
    status, out, err = _verify_train(capsys, source, migrated)
    assert status == 1 and "error[training-diverges]: step 2 of 10" in err, out + err
    assert "warning[training-settings-differ]" in err


@pytest.mark.parametrize(("written", "other"), [("global_clipnorm=0.1", "clipnorm=0.1"),
                                                ("global_clipnorm=0.1", "global_clipnorm=0.2"),
                                                ("clipnorm=0.1", "global_clipnorm=0.1")])
def test_a_migration_that_clips_otherwise_fails_at_the_first_clipped_step(written, other, tmp_path, capsys):
    clip = GLOBAL if written.startswith("global") else PER_PARAMETER
    source, migrated = _pair(tmp_path, TORCH_SCRIPT, clip, "keras")
    migrated.write_text(migrated.read_text().replace(written, other))
    status, out, err = _verify_train(capsys, source, migrated)
    assert status == 1, out + err
    assert "error[training-diverges]: step 2 of 10" in err and "first diverging step: 2\n" in out


@pytest.mark.parametrize(("clip", "feature", "written"), [
    ("clipnorm=0.1", "clipNormPerVariable", "keras_clip_grad_norm_(parameter, 0.1)"),
    ("global_clipnorm=0.1", "clipNorm", "keras_clip_grad_norm_(model.parameters(), 0.1)"),
    ("clipvalue=0.01", "clipValue", "torch.nn.utils.clip_grad_value_(model.parameters(), 0.01)")])
def test_keras_clipping_reads_as_its_kind_and_its_pytorch_migration_trains_alike(clip, feature, written, tmp_path,
                                                                                  capsys):
    source, migrated = _pair(tmp_path, KERAS_SCRIPT, clip, "pytorch")
    model, report = import_source(source, "keras")
    assert not [d for d in report.diagnostics if "clip" in d.message]
    assert [c.feature for c, _ in vocabulary.clippings_of(model.training)] == [feature]
    code = migrated.read_text()
    assert written in code
    status, out, err = _verify_train(capsys, source, migrated)
    assert status == 0, out + err
    # the generated code scales a norm as Keras does (limit / max(norm, limit), no 1e-6): float64-exact
    assert _worst(out) < 1e-12
    # read back, the generated PyTorch code clips as the Keras source, with Keras's scaling
    again, _ = import_source(migrated, "pytorch")
    assert [c.feature for c, _ in vocabulary.clippings_of(again.training)] == [feature]
    assert vocabulary.clipping_rule(again.training) == \
        (vocabulary.RULE_KERAS if feature != "clipValue" else vocabulary.RULE_PYTORCH)
    if feature == "clipNormPerVariable":   # each parameter by its own norm is not all of them by theirs
        migrated.write_text(re.sub(r"for parameter in model\.parameters\(\):\n\s+(.*)\(parameter, ",
                                   r"\1(model.parameters(), ", code))
        status, out, err = _verify_train(capsys, source, migrated)
        assert status == 1 and "error[training-diverges]: step 2 of 10" in err, out + err


NET = """\
model ClipNet {
    input x: float32[6]
    hidden = dense(x, 16)
    act = tanh(hidden)
    out = dense(act, 3)
    output out
    training {
        optimizer sgd(learning_rate=0.5)
        loss cross_entropy
        epochs 8
        batch_size BATCH
        CLIP
    }
}
"""


def test_a_keras_optimizer_keeps_one_clipping_and_warns_where_the_others_are_set():
    text = NET.replace("BATCH", "48").replace("CLIP", "clip_norm 1.0\n        clip_norm_per_variable 0.5\n        clip_value 0.1")
    model = parse_text(text, "clipped.nn")
    program = K.plan(model)
    code = K.render(program, "clipped.nn")
    assert "SGD(learning_rate=0.5, global_clipnorm=1.0)" in code
    dropped = [d for d in program.diagnostics if d.code == "unsupported-for-target"]
    lines = text.splitlines()
    assert [d.location.line for d in dropped] == [lines.index("        clip_norm_per_variable 0.5") + 1,
                                                  lines.index("        clip_value 0.1") + 1]
    torch_code = P.generate(model, "clipped.nn")   # PyTorch applies all three, in the vocabulary's order
    assert torch_code.index("clip_grad_norm_(model.parameters(), 1.0)") < \
        torch_code.index("clip_grad_norm_(parameter, 0.5)") < torch_code.index("clip_grad_value_(")


def _generated_trainings(tmp_path, clip: str, batch: int):
    """The ClipNet of ``clip`` generated for both frameworks, with the same initial weights."""
    tmp_path.mkdir(exist_ok=True)
    nn_file = tmp_path / "clipnet.nn"
    nn_file.write_text(NET.replace("BATCH", str(batch)).replace("CLIP", clip))
    return generated_pair(nn_file, "ClipNet", (6,))


def _trained_losses(tmp_path, clip: str, size: int):
    features, labels = classes_data(size, seed=5)
    torch_module, net, keras_module, keras_net = _generated_trainings(tmp_path, clip, size)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    torch_losses = printed_losses(torch_module.train, net, dataset)
    keras_losses = keras_module.train(keras_net, features, labels).history["loss"]
    return torch_losses, keras_losses


@pytest.mark.parametrize("size", [24, 48])
@pytest.mark.parametrize("clip", ["clip_norm 0.05", "clip_norm_per_variable 0.05", "clip_value 0.005"])
def test_generated_trainings_of_both_frameworks_clip_alike_step_by_step(clip, size, tmp_path):
    torch_losses, keras_losses = _trained_losses(tmp_path, clip, size)
    # one batch per epoch: 8 steps, each loss printed by the generated PyTorch train with four decimals
    assert len(torch_losses) == len(keras_losses) == 8
    np.testing.assert_allclose(torch_losses, keras_losses, atol=STEP_TOLERANCE)
    unclipped, _ = _trained_losses(tmp_path / "unclipped", "", size)
    assert max(abs(a - b) for a, b in zip(torch_losses, unclipped)) > 10 * STEP_TOLERANCE  # the clip bites


def test_the_three_clippings_print_read_and_round_trip_through_xmi(tmp_path):
    from nnpivot.generators.nn_text import to_text
    from nnpivot.generators.xmi import save_xmi
    from nnpivot.importers.xmi import load_xmi

    text = NET.replace("BATCH", "48").replace("CLIP", "clip_norm 1.0\n        clip_norm_per_variable 0.5\n"
                                                        "        clip_value 0.1")
    printed = to_text(parse_text(text, "clipped.nn"))
    assert "clip_norm 1.0\n        clip_norm_per_variable 0.5\n        clip_value 0.1\n" in printed
    save_xmi(parse_text(printed, "again.nn"), tmp_path / "clipped.xmi")
    training = load_xmi(tmp_path / "clipped.xmi").training
    assert (training.clipNorm, training.clipNormPerVariable, training.clipValue) == (1.0, 0.5, 0.1)
    assert to_text(load_xmi(tmp_path / "clipped.xmi")) == printed
