"""Keras' automatic layer names when a script builds more than one model (issue 10, ``--weights``).

Keras numbers unnamed layers per class over every layer the process made (``dense``, ``dense_1``...,
reset by ``keras.backend.clear_session()``). A script that builds its model at module level and again
under ``__main__``, or builds a baseline before the model it trains, saves a ``.weights.h5`` whose
model has the names of the LAST build it trained. Each test runs a whole script the way its user does
(``python script.py``: argparse, a local numpy data file, ``fit``, ``save_weights`` under ``__main__``)
in-process, migrates it with ``nnpivot migrate --to pytorch --weights``, loads the result with
``load_state_dict`` and compares it with the trained Keras model (channels-last against channels-first)
within 1e-5 at two input sizes. The importer's predicted layer names are checked against the trained
model's own.
"""
from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.migrate import import_source

ATOL = 1e-5

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow,
              pytest.mark.filterwarnings("ignore::UserWarning")]


SEQUENCE_TAGGER = '''
    """Scores sequences of sensor readings; a small baseline is trained first for comparison."""
    import argparse

    import numpy as np
    import keras
    from keras import layers

    CHANNELS = 6


    def build_model(width=16, num_classes=3, heads=2):
        readings = keras.Input(shape=(None, CHANNELS))
        x = layers.Dense(width)(readings)
        x = layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads)(x, x)
        x = layers.Dense(width, activation="relu")(x)
        x = layers.GlobalAveragePooling1D()(x)
        scores = layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(readings, scores)


    model = build_model()   # for interactive inspection when the module is imported

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=1)
        parser.add_argument("--data", default="readings.npz")
        args = parser.parse_args()
        data = np.load(args.data)
        baseline = build_model(width=8, num_classes=5)
        baseline.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        baseline.fit(data["x"], data["y"], epochs=args.epochs, verbose=0)
        model = build_model(num_classes=5, width=12)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(data["x"], data["y"], epochs=args.epochs, verbose=0)
        model.save_weights("tagger.weights.h5")
'''

IMAGE_CLASSIFIER = '''
    """Classifies small RGB crops."""
    import argparse

    import numpy as np
    import keras
    from keras import layers


    def make_classifier(num_classes=10, width=16):
        return keras.Sequential([
            keras.Input(shape=(None, None, 3)),
            layers.Conv2D(width, 3, padding="same", activation="relu"),
            layers.Conv2D(width, 3, strides=2, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.GlobalAveragePooling2D(),
            layers.Dense(num_classes),
        ])


    preview = make_classifier()


    def load_crops(path):
        data = np.load(path)
        return data["images"].astype("float32") / 255.0, data["labels"]


    if __name__ == "__main__":
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--epochs", type=int, default=1)
        args = parser.parse_args()
        images, labels = load_crops("crops.npz")
        model: keras.Model = make_classifier(num_classes=5, width=8)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(images, labels, batch_size=8, epochs=args.epochs, verbose=0)
        model.save_weights("classifier.weights.h5")
'''

SUBCLASSED_SCORER = '''
    """Regresses three targets from ten features with a subclassed model."""
    import argparse

    import numpy as np
    import keras
    from keras import layers


    class Scorer(keras.Model):
        def __init__(self, width=16, num_outputs=3):
            super().__init__()
            self.hidden = layers.Dense(width, activation="relu")
            self.mix = layers.Dense(width, activation="tanh")
            self.head = layers.Dense(num_outputs)

        def call(self, x):
            return self.head(self.mix(self.hidden(x)))


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=1)
        args = parser.parse_args()
        data = np.load("scores.npz")
        baseline = Scorer(width=4)
        baseline.compile(optimizer="sgd", loss="mse")
        baseline.fit(data["x"], data["y"], epochs=args.epochs, verbose=0)
        model = Scorer(num_outputs=3, width=12)
        model.compile(optimizer="adam", loss="mse")
        model.fit(data["x"], data["y"], epochs=args.epochs, verbose=0)
        model.save_weights("scorer.weights.h5")
        return model


    if __name__ == "__main__":
        trained = main()
'''


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


def _run_as_user(script: Path, monkeypatch) -> dict:
    """``python script.py`` in a fresh Keras session, in the script's folder: its globals afterwards."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    monkeypatch.chdir(script.parent)
    monkeypatch.setattr(sys, "argv", [script.name])
    return runpy.run_path(str(script), run_name="__main__")


def _migrate(script: Path, weights: Path, *options) -> tuple[int, Path, Path]:
    output, weights_out = script.with_name("migrated.py"), script.with_name("migrated.pt")
    status = main(["migrate", str(script), "--to", "pytorch", "-o", str(output), "--weights", str(weights),
                   "--weights-out", str(weights_out), *options])
    return status, output, weights_out


def _load_migrated(output: Path, weights_out: Path, class_name: str):
    import torch

    spec = importlib.util.spec_from_file_location(f"migrated_{output.parent.name}", output)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = getattr(module, class_name)()
    net.load_state_dict(torch.load(weights_out, weights_only=True))
    return net.eval()


def _layer_names(keras_model) -> set[str]:
    return {layer.name for layer in keras_model._flatten_layers(include_self=False, recursive=True)}


def _check_predicted_names(script: Path, trained, *options):
    _, report = import_source(script, "keras", **dict(options))
    predicted = set(report.keras_layer_names.values())
    assert predicted and predicted <= _layer_names(trained), (predicted, _layer_names(trained))
    return report


def _same_outputs(trained, net, batches: list[np.ndarray], to_torch_layout=None):
    import torch

    for batch in batches:
        expected = np.asarray(trained(batch, training=False))
        given = batch if to_torch_layout is None else np.transpose(batch, to_torch_layout)
        with torch.no_grad():
            got = net(torch.from_numpy(np.ascontiguousarray(given))).numpy()
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


def test_builder_run_at_import_and_again_under_main_with_a_baseline_first(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    script = _write(tmp_path, "tagger.py", SEQUENCE_TAGGER)
    np.savez(tmp_path / "readings.npz", x=rng.normal(size=(32, 9, 6)).astype("float32"),
             y=rng.integers(0, 5, size=32))
    trained = _run_as_user(script, monkeypatch)["model"]
    # the trained model is the third build: every class's counter is past the two earlier builds
    assert {"dense_6", "multi_head_attention_2", "dense_8"} <= _layer_names(trained)
    report = _check_predicted_names(script, trained)
    assert report.model_arguments == {"num_classes": 5, "width": 12}

    status, output, weights_out = _migrate(script, tmp_path / "tagger.weights.h5")
    assert status == 0
    net = _load_migrated(output, weights_out, "Model")
    _same_outputs(trained, net, [rng.normal(size=(3, 9, 6)).astype("float32"),
                                 rng.normal(size=(2, 4, 6)).astype("float32")])


def test_annotated_builder_call_with_keyword_arguments_keeps_its_names(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    script = _write(tmp_path, "classifier.py", IMAGE_CLASSIFIER)
    np.savez(tmp_path / "crops.npz", images=rng.integers(0, 256, size=(16, 12, 12, 3)).astype("uint8"),
             labels=rng.integers(0, 5, size=16))
    trained = _run_as_user(script, monkeypatch)["model"]
    assert {"conv2d_2", "conv2d_3", "dense_1"} <= _layer_names(trained)
    report = _check_predicted_names(script, trained)
    assert report.model_arguments == {"num_classes": 5, "width": 8}

    status, output, weights_out = _migrate(script, tmp_path / "classifier.weights.h5")
    assert status == 0
    net = _load_migrated(output, weights_out, "Classifier")
    _same_outputs(trained, net, [rng.uniform(size=(2, 12, 12, 3)).astype("float32"),
                                 rng.uniform(size=(3, 20, 16, 3)).astype("float32")], (0, 3, 1, 2))


def test_subclassed_model_trained_after_a_baseline_in_main(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    script = _write(tmp_path, "scorer.py", SUBCLASSED_SCORER)
    np.savez(tmp_path / "scores.npz", x=rng.normal(size=(24, 10)).astype("float32"),
             y=rng.normal(size=(24, 3)).astype("float32"))
    trained = _run_as_user(script, monkeypatch)["trained"]
    assert _layer_names(trained) == {"dense_3", "dense_4", "dense_5"}
    _check_predicted_names(script, trained, ("input_shapes", [[10]]))

    status, output, weights_out = _migrate(script, tmp_path / "scorer.weights.h5", "--input-shape", "x=10")
    assert status == 0
    net = _load_migrated(output, weights_out, "Scorer")
    _same_outputs(trained, net, [rng.normal(size=(1, 10)).astype("float32"),
                                 rng.normal(size=(5, 10)).astype("float32")])


def test_clear_session_in_the_script_restarts_the_numbering(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    source = SUBCLASSED_SCORER.replace('        model = Scorer(num_outputs=3, width=12)\n',
                                       '        keras.backend.clear_session()\n'
                                       '        model = Scorer(num_outputs=3, width=12)\n')
    script = _write(tmp_path, "scorer.py", source)
    np.savez(tmp_path / "scores.npz", x=rng.normal(size=(24, 10)).astype("float32"),
             y=rng.normal(size=(24, 3)).astype("float32"))
    trained = _run_as_user(script, monkeypatch)["trained"]
    assert _layer_names(trained) == {"dense", "dense_1", "dense_2"}
    _check_predicted_names(script, trained, ("input_shapes", [[10]]))

    status, output, weights_out = _migrate(script, tmp_path / "scorer.weights.h5", "--input-shape", "x=10")
    assert status == 0
    _same_outputs(trained, _load_migrated(output, weights_out, "Scorer"),
                  [rng.normal(size=(2, 10)).astype("float32"), rng.normal(size=(7, 10)).astype("float32")])


def test_a_layer_name_known_only_at_run_time_is_a_located_diagnostic(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(4)
    source = SUBCLASSED_SCORER.replace('self.mix = layers.Dense(width, activation="tanh")',
                                       'self.mix = layers.Dense(width, activation="tanh",\n'
                                       '                                        '
                                       'name=os.environ.get("MIX_LAYER", "mix"))')
    source = source.replace("    import argparse\n", "    import argparse\n    import os\n")
    script = _write(tmp_path, "scorer.py", source)
    np.savez(tmp_path / "scores.npz", x=rng.normal(size=(24, 10)).astype("float32"),
             y=rng.normal(size=(24, 3)).astype("float32"))
    _run_as_user(script, monkeypatch)
    capsys.readouterr()

    status, output, weights_out = _migrate(script, tmp_path / "scorer.weights.h5", "--input-shape", "x=10")
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err and "internal error" not in err
    line = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if "self.mix =" in text)
    assert f"{script}:{line}:" in err and "error[weights-unmapped]: mix:" in err
    assert not output.exists() and not weights_out.exists()
