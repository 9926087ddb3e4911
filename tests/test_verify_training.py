"""``nnpivot verify --train STEPS`` (issue 11 item 3): original and migrated files train alike, step for step.

Each case migrates a source file with ``nnpivot.migrate.migrate`` and runs ``nnpivot verify SRC MIGRATED
--train 50`` (the original's definitions only, as plain verify runs them): both start from the original's
initial weights and take 50 optimizer steps on the same seeded batches, each with the training configuration
its importer reads from it, in float64 (the check's default, see nnpivot/verify_training.py); the loss of every
step must agree within 1e-4 relative, every parameter after the last step within 1e-4 + 1e-3 * max |w|.
Batches of 4 samples; paper files at the manifest's input size.

Cases that still fail are listed in ``KNOWN_FAILURES`` with their cause (strict xfail: a fix shows up).
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.kinds import training as vocabulary
from nnpivot.migrate import migrate
from nnpivot.verify_training import labels_for


def _benchmark_module(name: str):
    """benchmarks/NAME.py (not a package): the manifest helpers the verify --train benchmarks share."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


checks = _benchmark_module("train_checks")
ROOT, OTHER = checks.SAMPLES, checks.OTHER
STEPS = 50

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow,
              pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]

# Per paper network, the files migrated PyTorch -> Keras and Keras -> PyTorch with the batch size and the number
# of steps of the check. AlexNet (61M parameters at 224 x 224) trains one sample for 2 steps here, the least
# that compares a loss after an update: at 50 steps one check takes about 16 minutes in float64 on the shared
# 2-core machine (7 in float32) and holds 4.7 GB. Run apart (benchmarks/verify_train_paper.py, results in
# benchmarks/results/verify_train_paper.md) both AlexNet files pass 50 steps in float64 (losses within 5e-16,
# weights within 1e-15); in float32 they fail (the Keras file at step 9, 1.4e-2 apart, loss rising 6.7 -> 7.3 with
# SGD at lr 0.01 on random labels: float32 rounding grown along an unstable trajectory). Before the check gave
# both optimizers float32-rounded hyper-parameters, float64 failed too (step 29): Keras's SGD reads momentum 0.9
# as float32, PyTorch as given. VGG16 is not in the suite (a float64 check holds about 10 GB); run apart, it
# passes 50 steps in float64 in both directions (losses within 3e-16).
PAPER = [
    ("pytorch/cnn_rnn_sequential.py", 4, STEPS),
    ("keras/cnn_rnn_functional.py", 4, STEPS),
    ("pytorch/tutorial_cnn_subclass.py", 4, STEPS),
    ("keras/tutorial_cnn_sequential.py", 4, STEPS),
    # their LSTMs train PyTorch's two biases (bias_ih, bias_hh), Keras's one their sum: the check's Keras optimizer
    # steps that bias twice, as generated Keras training code does, and the sums are compared
    ("pytorch/text_classifier_sequential.py", 4, STEPS),
    ("pytorch/text_classifier_subclass.py", 4, STEPS),
    ("keras/text_classifier_sequential.py", 4, STEPS),
    ("pytorch/alexnet_sequential.py", 1, 2),
    ("keras/alexnet_functional.py", 1, 2),
]

# Corpus files whose training code sets a complete configuration (optimizer and loss), each as
# (file, direction): "original->migrated" checks the original against its migration, "migrated->back" the
# migrated file (a source in its own right) against its migration back.
CORPUS = [
    ("keras/cnn_training_script.py", "original->migrated"),
    ("keras/cnn_training_script.py", "migrated->back"),
    ("keras/mlp_training_script.py", "original->migrated"),
    ("keras/mlp_training_script.py", "migrated->back"),
    ("pytorch/cnn_training_script.py", "original->migrated"),
    ("pytorch/cnn_training_script.py", "migrated->back"),
    ("pytorch/mlp_log_softmax_mnist.py", "original->migrated"),
    ("pytorch/mlp_log_softmax_mnist.py", "migrated->back"),
    ("pytorch/mlp_training_script.py", "original->migrated"),
    ("pytorch/mlp_training_script.py", "migrated->back"),
    ("pytorch/script_cnn_dataclass_config.py", "original->migrated"),
    ("pytorch/script_cnn_dataclass_config.py", "migrated->back"),
    ("pytorch/script_resnet_image_folder.py", "original->migrated"),
    ("pytorch/mlp_tensor_methods_device.py", "original->migrated"),
    ("pytorch/script_resnet_image_folder.py", "migrated->back"),
    ("pytorch/mlp_tensor_methods_device.py", "migrated->back"),
    # an Embedding under RMSprop: Keras squares each occurrence's gradient of a row apart, PyTorch the row's sum
    ("keras/lstm_training_script.py", "original->migrated"),
    ("keras/lstm_training_script.py", "migrated->back"),
    ("pytorch/lstm_training_script.py", "original->migrated"),
    ("pytorch/lstm_training_script.py", "migrated->back"),
]

# "folder/path direction" -> why it fails today (strict xfail: a fix shows up)
KNOWN_FAILURES: dict[str, str] = {
}


def _migrate(source: Path, entry: dict, output: Path) -> None:
    result = checks.migrate_entry(source, entry, output)
    assert result.failed is None and not result.partial, [str(d) for d in result.diagnostics]


def _verify_train(capsys, a: Path, b: Path, options: list[str], batch: int, steps: int = STEPS):
    status = main(["verify", str(a), str(b), *options, "--train", str(steps), "--train-batch", str(batch)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _param(key: str, *values):
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[key])] if key in KNOWN_FAILURES else []
    return pytest.param(*values, id=key, marks=marks)


PAPER_CASES = [_param(f"paper/{path}", path, batch, steps) for path, batch, steps in PAPER]


@pytest.mark.parametrize(("path", "batch", "steps"), PAPER_CASES)
def test_paper_network_trains_like_its_migration(path, batch, steps, tmp_path, capsys):
    entry = checks.entries("paper")[path]
    migrated = tmp_path / f"migrated_{Path(path).stem}.py"
    _migrate(ROOT / "paper" / path, entry, migrated)
    status, out, err = _verify_train(capsys, ROOT / "paper" / path, migrated, checks.verify_options(entry), batch,
                                     steps)
    assert status == 0, out + err
    assert f"{steps} training steps" in out and "training check: PASS" in out


CORPUS_CASES = [_param(f"corpus/{path} {direction}", path, direction) for path, direction in CORPUS]


@pytest.mark.parametrize(("path", "direction"), CORPUS_CASES)
def test_corpus_file_trains_like_its_migration(path, direction, tmp_path, capsys):
    entry = checks.entries("corpus")[path]
    source = ROOT / "corpus" / path
    migrated = tmp_path / f"migrated_{source.stem}.py"
    _migrate(source, entry, migrated)
    _check_direction(capsys, tmp_path, path, direction, migrated, STEPS)


def _check_direction(capsys, tmp_path, path: str, direction: str, migrated: Path, steps: int) -> None:
    entry = checks.entries("corpus")[path]
    source = ROOT / "corpus" / path
    if direction == "original->migrated":
        status, out, err = _verify_train(capsys, source, migrated, checks.verify_options(entry), 4, steps)
    else:  # the migrated file is a source in its own right: migrate it back and train both
        back = tmp_path / f"back_{source.stem}.py"
        result, options = checks.migrate_back(source, entry, migrated, back)
        assert result.failed is None and not result.partial, [str(d) for d in result.diagnostics]
        status, out, err = _verify_train(capsys, migrated, back, options, 4, steps)
    assert status == 0, f"{direction}: {out}{err}"
    assert "training check: PASS" in out
    # the configuration was read from both files, not made up by the check
    assert "sets no training configuration" not in out and "neither file" not in out


# More corpus files with training code, each checked in both directions in one test (one migration) over
# QUICK_STEPS steps to keep the suite short. At 50 steps in float32 (before the check's float64 default) 5 of them
# ended with one weight tensor 1.1x to 4.4x beyond the tolerance. At 50 steps in float64 (benchmarks/
# verify_train_corpus.py, benchmarks/results/verify_train_corpus.md) 15 of them pass both ways (losses within 1e-8,
# weights within 4e-7): all but script_resnet_custom_blocks (not reached by the run) and script_tabular_residual_mlp,
# which trains with a FocalLoss the importer does not read (the check's cross-entropy stands in). The faster ones
# already are here; the other passing files with training code (script_conv_vae, script_sensor_attention_classifier,
# script_mnist_convnet_callbacks...) take 20 s to minutes per check, too slow for the suite.
QUICK_STEPS = 10
CORPUS_BOTH_WAYS = [
    "keras/script_resnet_custom_blocks.py",
    "pytorch/script_distill_student.py",
    "pytorch/script_denoising_autoencoder.py",
    "pytorch/script_dcgan_generator.py",
    "pytorch/script_conv1d_load_forecaster.py",
    "pytorch/script_tabular_residual_mlp.py",
    "keras/script_mlp_dataclass_config.py",
    "keras/script_subclass_residual_mlp.py",
    "keras/script_hparams_dict_cnn.py",
    "pytorch/script_unet_cell_segmentation.py",
    "pytorch/script_convmixer_cifar.py",
    "pytorch/script_multitask_face_attributes.py",
    "keras/script_image_folder_classifier.py",
    "keras/script_conv1d_timeseries.py",
    "keras/script_weather_gru_forecast.py",
    "pytorch/script_audio_keyword_spotting.py",
    "pytorch/script_mobilenet_amp_ema.py",
]

@pytest.mark.parametrize("path", [_param(f"corpus/{path} both ways", path) for path in CORPUS_BOTH_WAYS])
def test_corpus_file_trains_like_its_migration_both_ways(path, tmp_path, capsys):
    entry = checks.entries("corpus")[path]
    migrated = tmp_path / f"migrated_{Path(path).stem}.py"
    _migrate(ROOT / "corpus" / path, entry, migrated)
    for direction in ("original->migrated", "migrated->back"):
        _check_direction(capsys, tmp_path, path, direction, migrated, QUICK_STEPS)


# --- a wrong migration fails, naming the step ----------------------------------------------------------

SCRIPT = """\
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, features=12, hidden=32, classes=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.body(x)


def main():
    model = Classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    data = torch.utils.data.TensorDataset(torch.randn(256, 12), torch.randint(0, 4, (256,)))
    for epoch in range(3):
        for x, y in torch.utils.data.DataLoader(data, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()


if __name__ == "__main__":
    main()
"""


@pytest.fixture()
def user_script(tmp_path):
    source = tmp_path / "classifier.py"
    source.write_text(SCRIPT)
    migrated = tmp_path / "classifier_keras.py"
    result = migrate(source, "keras", migrated)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    return source, migrated


def test_faithful_migration_passes_and_reports_the_measurements(user_script, capsys):
    source, migrated = user_script
    status, out, err = _verify_train(capsys, source, migrated, [], 8)
    assert status == 0, out + err
    assert "sgd(learning_rate=0.05, momentum=0.9), loss cross_entropy" in out
    worst = float(out.split("max relative difference ")[1].split()[0])
    weights = float(out.split("max abs difference ")[1].split()[0])
    assert worst <= 1e-4 and weights <= 1e-4


# The loss of step k is taken before update k: a changed learning rate shows at step 2; a changed momentum at
# step 3 at the earliest, since the first update of SGD with momentum is the gradient alone in both frameworks
# (with these seeds the 0.1 x lr x gradient it adds to the second update shows in the loss of step 4).
@pytest.mark.parametrize(("written", "wrong", "step"), [("learning_rate=0.05", "learning_rate=0.06", 2),
                                                        ("momentum=0.9", "momentum=0.8", 4)])
def test_a_changed_setting_in_the_migrated_file_fails_at_its_first_step(user_script, written, wrong, step, capsys):
    source, migrated = user_script
    code = migrated.read_text()
    assert written in code
    migrated.write_text(code.replace(written, wrong))
    status, out, err = _verify_train(capsys, source, migrated, [], 8, steps=10)
    assert status == 1
    assert f"{migrated.name}:" in err and f"error[training-diverges]: step {step} of 10" in err
    assert "warning[training-settings-differ]" in err and wrong in err
    assert f"first diverging step: {step}\n" in out and "first diverging parameter: body_0.weight" in out
    assert "error[weights-diverge]" in err and f"{source}:" in err  # located at the parameter's layer


def test_a_changed_epsilon_fails(tmp_path, capsys):
    source = tmp_path / "adam_classifier.py"
    source.write_text(SCRIPT.replace("torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)",
                                     "torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-3)"))
    migrated = tmp_path / "adam_classifier_keras.py"
    assert migrate(source, "keras", migrated).failed is None
    code = migrated.read_text()
    assert "epsilon=0.001" in code
    migrated.write_text(code.replace("epsilon=0.001", "epsilon=1e-07"))
    status, out, err = _verify_train(capsys, source, migrated, [], 8, steps=10)
    assert status == 1
    assert "first diverging step: 1" not in out and "first diverging step:" in out
    assert "error[training-diverges]" in err


def test_the_other_frameworks_stock_adam_fails_in_float64(tmp_path, capsys):
    # the migrated Keras file trains with TorchAdam (PyTorch's rule: epsilon after the bias correction); Keras's own
    # Adam with the same values adds it before: float64 takes away the float32 noise, not the translation's errors
    source = tmp_path / "adam_classifier.py"
    source.write_text(SCRIPT.replace("torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)",
                                     "torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-3)"))
    migrated = tmp_path / "adam_classifier_keras.py"
    assert migrate(source, "keras", migrated).failed is None
    status, out, err = _verify_train(capsys, source, migrated, [], 8, steps=10)
    assert status == 0 and "in float64" in out, out + err
    worst = float(out.split("max relative difference ")[1].split()[0])
    assert worst <= 1e-12  # the rule class takes PyTorch's steps to float64 rounding
    code = migrated.read_text()
    assert "optimizer=TorchAdam(" in code
    migrated.write_text(code.replace("optimizer=TorchAdam(", "optimizer=keras.optimizers.Adam("))
    status, out, err = _verify_train(capsys, source, migrated, [], 8, steps=10)
    assert status == 1 and "in float64" in out
    assert "error[training-diverges]: step 2 of 10" in err and "rule=keras" in err


def test_the_check_trains_in_float64_unless_told_float32(user_script, capsys):
    source, migrated = user_script
    status, out, err = _verify_train(capsys, source, migrated, [], 8, steps=10)
    assert status == 0 and "seeded batches of 8 in float64" in out, out + err
    in_float64 = float(out.split("max relative difference ")[1].split()[0])
    status = main(["verify", str(source), str(migrated), "--train", "10", "--train-batch", "8",
                   "--train-precision", "float32"])
    out = capsys.readouterr().out
    assert status == 0 and "seeded batches of 8 in float32" in out
    in_float32 = float(out.split("max relative difference ")[1].split()[0])
    # float32's rounding differences are gone (1.7e-7 here); what is left (6.7e-9) is Keras's SGD reading its
    # momentum 0.9 as float32 (ops.cast of a Python float) where PyTorch takes it as given
    assert in_float64 < 1e-8 and 10 * in_float64 < in_float32


ONE_UNIT_SCRIPT = """\
import torch
from torch import nn


class Detector(nn.Module):
    def __init__(self, features=6):
        super().__init__()
        self.hidden = nn.Linear(features, 8)
        self.score = nn.Linear(8, 1)

    def forward(self, x):
        return torch.sigmoid(self.score(torch.relu(self.hidden(x))))
"""


def test_a_one_unit_model_without_training_code_trains_with_binary_cross_entropy(tmp_path, capsys):
    # cross-entropy over one class is 0 whatever the weights: the check would compare no training at all
    source = tmp_path / "detector.py"
    source.write_text(ONE_UNIT_SCRIPT)
    migrated = tmp_path / "detector_keras.py"
    assert migrate(source, "keras", migrated, input_shapes={"x": (6,)}).failed is None
    status, out, err = _verify_train(capsys, source, migrated, ["--input-shape", "x=6"], 8, steps=10)
    assert status == 0, out + err
    assert "loss binary_cross_entropy" in out and "training-inert" not in err
    first, last = (float(v) for v in out.split("loss: step 1 ")[1].split(" (")[0].split(", step 10 "))
    assert first != last


def test_a_check_that_trains_nothing_warns(tmp_path, capsys):
    # the file's own loss is cross-entropy over one logit: 0 whatever the weights, so no parameter moves
    source = tmp_path / "one_logit.py"
    source.write_text(ONE_UNIT_SCRIPT.replace("torch.sigmoid(self.score(torch.relu(self.hidden(x))))",
                                              "self.score(torch.relu(self.hidden(x)))") + """

def main():
    model = Detector()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(10):
        optimizer.zero_grad()
        loss_fn(model(torch.randn(16, 6)), torch.zeros(16, dtype=torch.long)).backward()
        optimizer.step()
""")
    migrated = tmp_path / "one_logit_keras.py"
    assert migrate(source, "keras", migrated, input_shapes={"x": (6,)}).failed is None
    status, out, err = _verify_train(capsys, source, migrated, ["--input-shape", "x=6"], 8, steps=5)
    assert status == 0 and "loss cross_entropy" in out and "loss: step 1 0, step 5 0" in out, out + err
    assert f"{source}" in err and "warning[training-inert]: no parameter of one_logit.py changed in 5 steps" in err


def test_bad_step_count_is_a_usage_error(user_script, capsys):
    source, migrated = user_script
    status, _, err = _verify_train(capsys, source, migrated, [], 8, steps=0)
    assert status == 2 and "error[bad-argument]" in err


# --- each file gets the labels its own training code takes ---------------------------------------------

KERAS_ONE_HOT_SCRIPT = """\
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers


def build_model(features=10, classes=3):
    inputs = keras.Input(shape=(features,))
    x = layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


if __name__ == "__main__":
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.5),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    labels = keras.utils.to_categorical(np.random.randint(0, 3, size=200), 3)
    model.fit(np.random.rand(200, 10), labels, batch_size=20, epochs=4)
"""


def test_one_hot_labels_reach_a_migration_that_takes_class_indices(tmp_path, capsys):
    # Keras trains on one-hot rows (categorical_crossentropy); the generated PyTorch train() writes
    # CrossEntropyLoss, which reads back as class indices: the check gives each file its own format
    source = tmp_path / "one_hot_classifier.py"
    source.write_text(KERAS_ONE_HOT_SCRIPT)
    migrated = tmp_path / "one_hot_classifier_torch.py"
    assert migrate(source, "pytorch", migrated).failed is None
    status, out, err = _verify_train(capsys, source, migrated, [], 8, steps=10)
    assert status == 0, out + err
    assert "given to one_hot_classifier_torch.py as class indices" in out and "training check: PASS" in out


def test_labels_are_rewritten_only_between_class_indices_and_one_hot_rows():
    indices = np.array([2, 0, 1, 2])
    one_hot = labels_for(vocabulary.LOSSES["categorical_cross_entropy"], indices, vocabulary.LOSSES["cross_entropy"], 3)
    assert one_hot.dtype == np.float32 and one_hot.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    back = labels_for(vocabulary.LOSSES["cross_entropy"], one_hot, vocabulary.LOSSES["categorical_cross_entropy"], 3)
    assert back.dtype == np.int64 and back.tolist() == indices.tolist()
    # nll takes class indices as cross_entropy does; binary and regression targets stay as they are
    assert labels_for(vocabulary.LOSSES["nll"], indices, vocabulary.LOSSES["cross_entropy"], 3) is indices
    values = np.zeros((4, 3), np.float32)
    assert labels_for(vocabulary.LOSSES["mae"], values, vocabulary.LOSSES["mse"], 3) is values


TWO_OUTPUT_SCRIPT = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


class Decoder(nn.Module):
    def __init__(self, code=4, features=12):
        super().__init__()
        self.fc = nn.Linear(code, features)

    def forward(self, z):
        return torch.sigmoid(self.fc(z))


class AutoEncoder(nn.Module):
    def __init__(self, features=12, code=4):
        super().__init__()
        self.encoder = nn.Linear(features, code)
        self.decoder = Decoder(code, features)

    def forward(self, x):
        code = torch.tanh(self.encoder(x))
        return self.decoder(code), code


def main():
    model = AutoEncoder()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = torch.rand(64, 12)
    for epoch in range(5):
        reconstruction, _ = model(data)
        loss = F.binary_cross_entropy(reconstruction, data)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
"""


def test_the_loss_reads_the_first_output_of_a_model_with_two(tmp_path, capsys):
    # the loss takes the sigmoid reconstruction (the first output, inside a block) as probabilities in both
    # files; read as logits, Keras's from_logits loss would take the values behind the sigmoid (step 1 differs)
    source = tmp_path / "autoencoder.py"
    source.write_text(TWO_OUTPUT_SCRIPT)
    migrated = tmp_path / "autoencoder_keras.py"
    assert migrate(source, "keras", migrated, model_name="AutoEncoder").failed is None
    status, out, err = _verify_train(capsys, source, migrated, ["--model-name", "AutoEncoder"], 8, steps=10)
    assert status == 0, out + err
    assert "loss binary_cross_entropy" in out and "training check: PASS" in out


# --- learning-rate schedules: the check applies a per-step schedule in both runners --------------------------

ONE_CYCLE_SCRIPT = """\
import argparse

import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self, features=12, hidden=32, classes=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.body(x)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    model = Classifier()
    optimizer = {optimizer}
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs,
                                                    steps_per_epoch=5, {options})
    loss_fn = nn.CrossEntropyLoss()
    data = torch.utils.data.TensorDataset(torch.randn(160, 12), torch.randint(0, 4, (160,)))
    for epoch in range(args.epochs):
        for x, y in torch.utils.data.DataLoader(data, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            scheduler.step()


if __name__ == "__main__":
    main()
"""


PADDED_SCRIPT = """\
import argparse

import torch
from torch import nn


class BagOfWords(nn.Module):
    def __init__(self, vocab_size=40, dim=8, classes=3):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.out = nn.Linear(dim, classes)

    def forward(self, tokens):
        return self.out(self.embedding(tokens).mean(dim=1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    model = BagOfWords()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    tokens = torch.randint(0, 40, (64, 10))
    labels = torch.randint(0, 3, (64,))
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss_fn(model(tokens), labels).backward()
        optimizer.step()


if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize(("optimizer", "options", "written", "changed", "step"), [
    ("torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True)",
     'anneal_strategy="linear", three_phase=True', "three_phase=True", "three_phase=False", 8),
    ("torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-3)", "pct_start=0.25, base_momentum=0.8",
     "optimizer=OneCycleTorchAdam(", "optimizer=TorchAdam(", 3)],
    ids=["sgd_linear_three_phase", "adam_cos"])
def test_a_one_cycle_script_trains_like_its_keras_migration(optimizer, options, written, changed, step, tmp_path,
                                                            capsys):
    """20 steps: OneCycleLR's total (4 epochs of 5); a changed phase or a beta_1 that does not cycle fails (Adam's first
    update does not depend on beta_1: its loss shows at step 3)."""
    source = tmp_path / "classifier.py"
    source.write_text(ONE_CYCLE_SCRIPT.format(optimizer=optimizer, options=options))
    migrated = tmp_path / "classifier_keras.py"
    result = migrate(source, "keras", migrated)
    assert result.failed is None and result.diagnostics == [], [str(d) for d in result.diagnostics]
    status, out, err = _verify_train(capsys, source, migrated, [], 4, steps=20)
    assert status == 0, out + err
    assert "schedule one_cycle(max_learning_rate=0.5, total_steps=20" in out
    assert float(out.split("max relative difference ")[1].split()[0]) <= 1e-12
    code = migrated.read_text()
    assert written in code
    migrated.write_text(code.replace(written, changed))
    status, out, err = _verify_train(capsys, source, migrated, [], 4, steps=20)
    assert status == 1 and f"error[training-diverges]: step {step} of 20" in err, out + err


@pytest.mark.parametrize("optimizer", [
    "torch.optim.SGD(model.parameters(), lr=0.5)",
    "torch.optim.Adam(model.parameters(), lr=0.05)",
    "torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=0.1)"], ids=["sgd", "adam", "adam_l2"])
def test_a_padding_row_stays_out_of_training_in_the_generated_keras(optimizer, tmp_path, capsys):
    # PyTorch's padding_idx row gets no gradient (only L2 weight decay moves it); the generated PaddedEmbedding reads
    # it through stop_gradient. A plain Keras Embedding trains the row: the check must see that
    source = tmp_path / "bag_of_words.py"
    source.write_text(PADDED_SCRIPT.replace("torch.optim.SGD(model.parameters(), lr=0.5)", optimizer))
    migrated = tmp_path / "bag_of_words_keras.py"
    result = migrate(source, "keras", migrated, input_shapes={"tokens": (10,)})
    assert result.failed is None and not [d for d in result.diagnostics if "padding" in str(d)], \
        [str(d) for d in result.diagnostics]
    code = migrated.read_text()
    assert "PaddedEmbedding(40, 8, padding_idx=0" in code
    # the Keras importer reads the subclass back as the Embedding with its padding row
    back = tmp_path / "bag_of_words_back.py"
    result = migrate(migrated, "pytorch", back, input_shapes={"tokens": (10,)})
    assert result.failed is None and "nn.Embedding(40, 8, padding_idx=0)" in back.read_text()
    status, out, err = _verify_train(capsys, source, migrated, ["--input-shape", "tokens=10"], 8, steps=3)
    assert status == 0, out + err
    migrated.write_text(code.replace("PaddedEmbedding(40, 8, padding_idx=0", "layers.Embedding(40, 8"))
    status, out, err = _verify_train(capsys, source, migrated, ["--input-shape", "tokens=10"], 8, steps=3)
    assert status == 1 and "first diverging parameter: embedding.weight" in out, out + err
