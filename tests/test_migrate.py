"""``nnpivot migrate`` (issue 4): the paper networks migrate both ways WITH their weights, and the CLI.

Paper networks. For each of the 20 files of ``samples/paper`` (five networks,
two frameworks, two styles) the test builds the ORIGINAL hand-written model
with a fixed seed, saves its weights in its own framework's format (a
``state_dict`` ``.pt`` keyed by the source's attributes, or a Keras
``.weights.h5``), runs ``migrate(..., weights=..., weights_out=...)`` to the
other framework, loads the generated code with the migrated weights file (the
target framework's own loader, not nnpivot's) and compares the two on 20
random inputs (one batch) within 1e-5.

Round trips (source -> pivot -> same-framework code -> pivot is an equal model)
are proved for every source sample by ``tests/test_import_pytorch.py::
test_round_trip_through_generated_pytorch`` and ``tests/test_import_keras.py::
test_round_trip_through_generated_keras``; they are not repeated here.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.frameworks import open_model_file, random_inputs
from nnpivot.migrate import import_source, migrate, parse_input_shapes, parse_model_args, source_runner
from nnpivot.pipeline import UsageError

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "samples" / "paper"
UNSUPPORTED = ROOT / "samples" / "unsupported"
ENTRIES = json.loads((PAPER / "manifest.json").read_text())["entries"]
ATOL = 1e-5
INPUTS = 20
OTHER = {"pytorch": "keras", "keras": "pytorch"}
WEIGHT_SUFFIX = {"pytorch": ".pt", "keras": ".weights.h5"}

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]


def _shapes(entry):
    return [spec["shape"] for spec in entry["inputs"]]


def _save_original_weights(runner, framework: str, path: Path) -> None:
    if framework == "pytorch":
        import torch
        torch.save(runner.obj.state_dict(), path)
    else:
        runner.obj.save_weights(str(path))


def _load_generated_weights(runner, framework: str, path: Path) -> None:
    """The target framework's own loader reads the migrated weights into the generated model."""
    if framework == "pytorch":
        import torch
        runner.obj.load_state_dict(torch.load(path, weights_only=True))
    else:
        runner.obj.load_weights(str(path))


def test_every_paper_network_is_covered():
    networks = {(e["framework"], Path(e["path"]).stem.rsplit("_", 1)[0]) for e in ENTRIES}
    assert len(ENTRIES) == 20 and len(networks) == 10


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["path"] for e in ENTRIES])
def test_paper_network_migrates_with_its_weights(entry, tmp_path):
    import keras
    import torch

    source = PAPER / entry["path"]
    framework, target = entry["framework"], OTHER[entry["framework"]]
    model, report = import_source(source, framework, entry["model"], entry["kwargs"], _shapes(entry))
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    original = source_runner(source, framework, model, report, entry["kwargs"])
    checkpoint = tmp_path / f"original{WEIGHT_SUFFIX[framework]}"
    _save_original_weights(original, framework, checkpoint)

    output, weights_out = tmp_path / "migrated.py", tmp_path / f"migrated{WEIGHT_SUFFIX[target]}"
    result = migrate(source, target, output, model_name=entry["model"], model_args=entry["kwargs"],
                     input_shapes=_shapes(entry), weights=checkpoint, weights_out=weights_out)
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.ran == ["import", "validate", "read weights", "generate", "write"]
    assert result.written == [output, weights_out] and result.weights_written > 0

    generated = open_model_file(output, result.model, target)
    _load_generated_weights(generated, target, weights_out)
    inputs = random_inputs(result.model, INPUTS, seed=1)
    want, got = original.run(inputs), generated.run(inputs)
    assert len(want) == len(got) == len(result.model.outputs)
    worst = max(float(np.abs(a.astype(np.float64) - b).max()) for a, b in zip(want, got))
    print(f"{entry['path']} -> {target}: max abs difference {worst:.3g} over {INPUTS} inputs")
    assert worst <= ATOL


# --- the Python API ----------------------------------------------------------------------------------

MLP = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def forward(self, x):
        return self.body(x)
"""


@pytest.fixture
def mlp(tmp_path):
    path = tmp_path / "mlp.py"
    path.write_text(MLP)
    return path


def test_arguments_parse():
    assert parse_model_args('{"hidden": 4}') == {"hidden": 4}
    assert parse_model_args("hidden=4,name=abc,flag=true") == {"hidden": 4, "name": "abc", "flag": True}
    assert parse_input_shapes(["x=3,32,32", "y=10"]) == {"x": [3, 32, 32], "y": [10]}
    assert parse_input_shapes(["8"]) == [[8]]
    for bad in (lambda: parse_model_args("hidden"), lambda: parse_input_shapes(["x=a,b"]),
                lambda: parse_input_shapes(["x=3", "4"])):
        with pytest.raises(UsageError):
            bad()


def test_migrate_to_every_target_without_torch_weights(mlp, tmp_path):
    for target, name in (("keras", "net.py"), ("pytorch", "same.py"), ("nn", "net.nn"), ("xmi", "net.xmi")):
        result = migrate(mlp, target, tmp_path / name, input_shapes=[[8]], model_args={"hidden": 5})
        assert result.ok and result.written == [tmp_path / name], [str(d) for d in result.diagnostics]
        assert result.migrated == "class Net"
    assert "hidden" not in (tmp_path / "net.nn").read_text()
    assert "nn.Linear(8, 5)" in (tmp_path / "same.py").read_text()


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_checkpoint_of_another_model_writes_nothing(mlp, tmp_path):
    import torch

    checkpoint = tmp_path / "other.pt"
    torch.save({"body.0.weight": torch.zeros(4, 8), "body.0.bias": torch.zeros(4)}, checkpoint)
    output, weights_out = tmp_path / "net.py", tmp_path / "net.weights.h5"
    result = migrate(mlp, "keras", output, input_shapes=[[8]], weights=checkpoint, weights_out=weights_out)
    assert result.failed == "read weights"
    codes = {d.code for d in result.diagnostics}
    assert {"weight-shape-mismatch", "weight-missing"} <= codes
    assert "body.0.weight" in " ".join(d.message for d in result.diagnostics)
    assert not output.exists() and not weights_out.exists()


# --- the command line --------------------------------------------------------------------------------

def _run(capsys, *argv):
    status = main(["migrate", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.torch
@pytest.mark.tensorflow
def test_cli_migrates_with_weights_and_names_what_it_migrated(mlp, tmp_path, capsys):
    import torch
    from torch import nn

    torch.manual_seed(0)
    original = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    torch.save({f"body.{k}": v for k, v in original.state_dict().items()}, tmp_path / "ckpt.pt")
    status, out, err = _run(capsys, mlp, "--to", "keras", "-o", tmp_path / "net.py", "--input-shape", "x=8",
                            "--weights", tmp_path / "ckpt.pt", "--weights-out", tmp_path / "net.weights.h5")
    assert status == 0, err
    assert "migrated class Net (pytorch)" in out
    assert "net.weights.h5: 4 weight arrays written" in out
    generated = open_model_file(tmp_path / "net.py", import_source(mlp, "pytorch", input_shapes=[[8]])[0])
    generated.obj.load_weights(str(tmp_path / "net.weights.h5"))
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    with torch.no_grad():
        want = original(torch.from_numpy(x)).numpy()
    assert np.abs(generated.run([x])[0] - want).max() <= ATOL


def test_cli_report_sections(tmp_path, capsys):
    status, out, _ = _run(capsys, UNSUPPORTED / "pytorch" / "shared_and_dropout.py", "--to", "keras",
                          "-o", tmp_path / "net.py", "--input-shape", "6", "--report")
    assert status == 0
    for section in ("migrated class Shared", "input x: [6], same layout as the pivot", "training configuration: none",
                    "translated exactly:", "translated approximately:", "not translated: 0"):
        assert section in out
    approximate = out.split("translated approximately:")[1].split("not translated")[0]
    assert "dropout" in approximate and "fc_1" not in approximate  # fc called again shares its weights exactly


def test_cli_partial_migration_is_written_reported_and_fails(tmp_path, capsys):
    source = UNSUPPORTED / "pytorch" / "unsupported_constructs.py"
    report_file = tmp_path / "report.md"
    status, _, err = _run(capsys, source, "--to", "keras", "-o", tmp_path / "net.py", "--input-shape", "8",
                          "--report", report_file)
    assert status == 1
    assert (tmp_path / "net.py").exists()
    assert f"{source}:16:" in err and "error[" in err          # gcc-style, with the construct's line
    assert "does NOT compute what the source computes" in err
    text = report_file.read_text()
    assert "status: partial" in text
    not_translated = text.split("not translated:")[1]
    assert "cumsum" in not_translated and "Softshrink" in not_translated


def test_cli_unsound_rest_writes_nothing(tmp_path, capsys):
    source = tmp_path / "broken.py"
    source.write_text("import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(8, 2)\n\n"
                      "    def forward(self, x):\n        return self.fc(torch.cumsum(x, dim=1))\n")
    status, _, err = _run(capsys, source, "--to", "keras", "-o", tmp_path / "net.py", "--input-shape", "8")
    assert status == 1
    assert f"{source}:11:" in err and "nothing written" in err
    assert not (tmp_path / "net.py").exists()


def test_cli_existing_output_needs_force(mlp, tmp_path, capsys):
    output = tmp_path / "net.py"
    output.write_text("# keep me\n")
    status, _, err = _run(capsys, mlp, "--to", "keras", "-o", output, "--input-shape", "8")
    assert status == 1 and "output-exists" in err
    assert output.read_text() == "# keep me\n"
    status, _, _ = _run(capsys, mlp, "--to", "keras", "-o", output, "--input-shape", "8", "--force")
    assert status == 0 and "import keras" in output.read_text()


def test_cli_missing_input_shape_names_the_input(tmp_path, capsys):
    source = UNSUPPORTED / "pytorch" / "input_read_by_no_layer.py"   # no layer says what x is
    status, _, err = _run(capsys, source, "--to", "keras", "-o", tmp_path / "net.py")
    assert status == 1
    assert "error[missing-input-shape]" in err and "'x'" in err and "--input-shape" in err
    assert "stopped at step 'import'" in err
    assert not (tmp_path / "net.py").exists()


def test_cli_reads_the_input_shape_the_first_layer_fixes(mlp, tmp_path, capsys):
    status, _, err = _run(capsys, mlp, "--to", "keras", "-o", tmp_path / "net.py")
    assert status == 0, err
    assert "error" not in err and "layers.Dense(16" in (tmp_path / "net.py").read_text()
    assert import_source(mlp, "pytorch")[1].input_shapes == {"x": (8,)}   # Linear(8, ...) fixes it


def test_cli_usage_errors_exit_2(mlp, tmp_path, capsys):
    output = tmp_path / "net.py"
    assert _run(capsys, mlp, "--to", "tensorflow", "-o", output)[0] == 2
    status, _, err = _run(capsys, mlp, "--to", "keras", "-o", output, "--weights", tmp_path / "w.pt")
    assert status == 2 and "--weights-out" in err
    status, _, err = _run(capsys, mlp, "--to", "keras", "-o", output, "--input-shape", "8",
                          "--weights", tmp_path / "w.pt", "--weights-out", tmp_path / "w.pt")
    assert status == 2 and "error[weights-target-mismatch]" in err
    assert not output.exists()


def test_cli_source_errors_are_located(tmp_path, capsys):
    source = tmp_path / "bad.py"
    source.write_text("import torch.nn as nn\n\nclass Net(nn.Module:\n    pass\n")
    status, _, err = _run(capsys, source, "--to", "keras", "-o", tmp_path / "net.py")
    assert status == 1 and f"{source}:3:" in err


def test_cli_keras_source_to_pytorch(tmp_path, capsys):
    source = PAPER / "keras" / "tutorial_cnn_sequential.py"
    status, out, err = _run(capsys, source, "--to", "pytorch", "-o", tmp_path / "net.py")
    assert status == 0, err
    assert "(keras)" in out and "import torch" in (tmp_path / "net.py").read_text()


def test_cli_report_of_a_keras_source_has_the_same_sections(tmp_path, capsys):
    source = PAPER / "keras" / "text_classifier_sequential.py"
    status, out, err = _run(capsys, source, "--to", "pytorch", "-o", tmp_path / "net.py", "--report")
    assert status == 0, err
    report = out[out.index("Migration report for"):]
    for section in (f"{source} (keras)", "migrated variable", "input ", "training configuration:",
                    "translated exactly:", "translated approximately:", "not translated: 0"):
        assert section in report
    exact = report.split("translated exactly:")[1].split("translated approximately:")[0]
    assert f"({source}:" not in exact and f" at {source}:" in exact   # each node with its file:line:col


@pytest.mark.torch
@pytest.mark.tensorflow
def test_verify_a_source_without_input_shapes_reads_them_from_the_code(tmp_path, capsys):
    source = ROOT / "samples" / "corpus" / "pytorch" / "lstm_stacked_padding_idx.py"
    output = tmp_path / "migrated.py"
    assert _run(capsys, source, "--to", "keras", "-o", output, "--input-shape", "text=20")[0] == 0
    status = main(["verify", str(source), str(output), "--inputs", "4"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "using a small legal one" not in out   # the Embedding says: token ids of any length
    assert "PASS" in out
    model, _ = import_source(source, "pytorch", input_shapes={"text": [16]})
    embedding = next(n for n in model.nodes if n.eClass.name == "Embedding")
    tokens = random_inputs(model, 4, seed=0)[0]
    assert all((row == embedding.paddingIdx).any() for row in tokens)   # every input holds the padding index


# --- Keras separable convolutions: read as depthwise + pointwise, with their weights ----------------------

SEPARABLE_2D = '''"""A small mobile-style image classifier: separable convolutions, as MobileNet and Xception write them."""
import keras
from keras import layers


class MobileClassifier(keras.Model):
    def __init__(self, classes=5, width=8):
        super().__init__()
        self.stem = layers.Conv2D(width, 3, padding="same", activation="relu")
        self.sep1 = layers.SeparableConv2D(width * 2, 3, padding="same", use_bias=False)
        self.bn1 = layers.BatchNormalization()
        self.sep2 = layers.SeparableConvolution2D(width * 2, 3, strides=2, padding="same")
        self.head = layers.SeparableConv2D(width * 4, (3, 2), depth_multiplier=2, dilation_rate=2,
                                           activation="relu")
        self.pool = layers.GlobalAveragePooling2D()
        self.classify = layers.Dense(classes)

    def call(self, images):
        x = keras.ops.relu(self.bn1(self.sep1(self.stem(images))))
        x = self.head(self.sep2(x))
        return self.classify(self.pool(x))
'''

SEPARABLE_1D = '''"""Keyword spotting over audio features: separable 1-D convolutions along time."""
import keras
from keras import layers

FEATURES = 6


class KeywordSpotter(keras.Model):
    def __init__(self, words=4):
        super().__init__()
        self.conv1 = layers.SeparableConv1D(12, 5, padding="same", activation="relu")
        self.conv2 = layers.SeparableConv1D(16, 3, strides=2, depth_multiplier=3)
        self.pool = layers.GlobalMaxPooling1D()
        self.out = layers.Dense(words)

    def call(self, frames):
        return self.out(self.pool(self.conv2(self.conv1(frames))))
'''

# (source, shape the migration is told, the two Keras input shapes the models are called at)
SEPARABLE_CASES = {
    "2d": (SEPARABLE_2D, (32, 32, 3), [(32, 32, 3), (24, 40, 3)]),
    "1d": (SEPARABLE_1D, (20, 6), [(20, 6), (34, 6)]),
}


def _randomize(keras_model, seed: int) -> None:
    """Every weight random (biases and batch-norm statistics too), so each one is checked."""
    rng = np.random.default_rng(seed)
    for variable in keras_model.weights:
        values = rng.uniform(0.5, 1.5, variable.shape) if "variance" in variable.path else \
            rng.normal(0.0, 0.5, variable.shape)
        variable.assign(values.astype("float32"))


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("case", SEPARABLE_CASES)
def test_keras_separable_convolutions_migrate_with_their_weights(case, tmp_path):
    import torch

    text, shape, sizes = SEPARABLE_CASES[case]
    source = tmp_path / "net.py"
    source.write_text(text)
    model, report = import_source(source, "keras", input_shapes=[shape])
    keywords = {node.name: node.eClass.name for node in model.nodes}
    assert not report.diagnostics, [str(d) for d in report.diagnostics]
    pointwise = [name for name in keywords if name.endswith("_pointwise")]
    assert len(pointwise) == (3 if case == "2d" else 2)
    if case == "2d":
        assert sum(kind == "DepthwiseConv2d" for kind in keywords.values()) == 3

    original = source_runner(source, "keras", model, report)
    _randomize(original.obj, seed=3)
    checkpoint = tmp_path / "original.weights.h5"
    original.obj.save_weights(str(checkpoint))

    output, weights_out = tmp_path / "migrated.py", tmp_path / "migrated.pt"
    result = migrate(source, "pytorch", output, input_shapes=[shape], weights=checkpoint, weights_out=weights_out)
    assert result.ok, [str(d) for d in result.diagnostics]
    generated = open_model_file(output, result.model, "pytorch").obj
    generated.load_state_dict(torch.load(weights_out, weights_only=True))
    generated.eval()

    # PyTorch takes images channels first; a sequence keeps its (N, T, F) layout in both frameworks.
    (layout,) = result.report.input_layouts
    assert layout == ((0, 2, 3, 1) if case == "2d" else (0, 1, 2))  # Keras tensor = transpose(pivot tensor, layout)
    keras_model = original.obj
    rng = np.random.default_rng(4)
    for size in sizes:
        inputs = rng.standard_normal((3, *size)).astype("float32")  # channels last, as Keras takes them
        want = np.asarray(keras_model(inputs, training=False))
        torch_inputs = np.moveaxis(inputs, -1, 1) if case == "2d" else inputs
        with torch.no_grad():
            got = generated(torch.from_numpy(np.ascontiguousarray(torch_inputs))).numpy()
        assert got.shape == want.shape
        assert np.abs(want - got).max() <= ATOL, (size, float(np.abs(want - got).max()))
