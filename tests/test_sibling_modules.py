"""Projects of several files (issue 10 item 2): sibling modules and star imports are read statically.

``from layers import ConvBlock``, ``import config as cfg``, ``from models import *`` of files next to the source
(or in a package below its folder) are read with the same interpreter in their own namespace, never run: their
classes, functions and constants; a star import honours ``__all__``. A missing module or name, and an import
cycle, are located diagnostics at the import statement. ``verify`` loads the project's files by their
definitions only.
"""
from __future__ import annotations

import importlib
import os
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.importers.keras import import_keras
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.migrate import import_source, migrate

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")]


def write(folder, name: str, text: str):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def place(path, text: str) -> tuple[int, int]:
    """Line and column (1-based) of ``text``'s first occurrence in the file."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} is not in {path}")


def cli(capsys, *argv) -> tuple[int, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def import_project(folder, module: str, names: tuple[str, ...]):
    """The user's own module imported as they run it (its folder first on sys.path), then forgotten again."""
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n.split(".")[0] in names]:
            del sys.modules[name]


def load_generated(path, name: str):
    namespace: dict = {"__name__": f"migrated_{name}"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    return namespace[name]


# --- a PyTorch project: a training script, its blocks, its hyper-parameters, a package of heads -----------------

CONFIG = '''
    """Hyper-parameters of the vibration classifier."""
    HIDDEN = 24
    NUM_CLASSES = 4
    EPOCHS = 7
    STAGES = [(6, 3), (12, 5)]
    _PRIVATE_SEED = 11
'''

LAYERS = '''
    import torch.nn as nn

    from config import HIDDEN

    SLOPE = 0.2


    class ConvBlock(nn.Module):
        """Convolution and a leaky activation, padding kept so the length stays."""

        def __init__(self, cin, cout, kernel=3):
            super().__init__()
            self.conv = nn.Conv1d(cin, cout, kernel, padding=kernel // 2)
            self.act = nn.LeakyReLU(SLOPE)

        def forward(self, x):
            return self.act(self.conv(x))


    def widths():
        return [HIDDEN, HIDDEN // 2]
'''

HEADS = '''
    import torch
    from torch import nn

    __all__ = ["PooledHead"]


    class PooledHead(nn.Module):
        def __init__(self, cin, hidden, classes):
            super().__init__()
            self.fc1 = nn.Linear(cin, hidden)
            self.fc2 = nn.Linear(hidden, classes)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x.mean(dim=2))))


    class NotExported(nn.Module):
        def forward(self, x):
            return x
'''

TRAIN = '''
    """Train the vibration classifier on recorded sensor windows."""
    import argparse

    import torch
    import torch.nn as nn

    import config as cfg
    from config import HIDDEN, NUM_CLASSES
    from layers import ConvBlock, widths
    from models import *


    class VibrationNet(nn.Module):
        def __init__(self, channels=3):
            super().__init__()
            stages = []
            cin = channels
            for cout, kernel in cfg.STAGES:
                stages.append(ConvBlock(cin, cout, kernel))
                cin = cout
            self.features = nn.Sequential(*stages)
            first, second = widths()
            self.mix = nn.Conv1d(cin, first, 1)
            self.head = PooledHead(first, second, NUM_CLASSES)

        def forward(self, x):
            return self.head(self.mix(self.features(x)))


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=1e-3)
        args = parser.parse_args()
        model = VibrationNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        for epoch in range(cfg.EPOCHS):
            optimizer.zero_grad()


    if __name__ == "__main__":
        main()
'''


def pytorch_project(folder):
    write(folder, "config.py", CONFIG)
    write(folder, "layers.py", LAYERS)
    write(folder, "models/heads.py", HEADS)
    write(folder, "models/__init__.py", "from .heads import *\n")
    return write(folder, "train.py", TRAIN)


def test_a_pytorch_project_is_read_across_its_files_with_locations_in_each(tmp_path):
    path = pytorch_project(tmp_path)
    model, report = import_pytorch(path)
    assert report.model == "VibrationNet"
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    where = {entry.qualified: str(entry.location) for entry in report.entries}
    layers, heads = tmp_path / "layers.py", tmp_path / "models" / "heads.py"
    line, column = place(layers, "nn.Conv1d(")
    assert any(w == f"{layers}:{line}:{column}" for w in where.values()), where
    line, column = place(heads, "nn.Linear(cin")
    assert any(w == f"{heads}:{line}:{column}" for w in where.values()), where
    assert model.training.epochs == 7   # cfg.EPOCHS of config.py


def test_a_star_import_honours_all(tmp_path):
    write(tmp_path, "blocks.py", HEADS)
    path = write(tmp_path, "net.py", '''
        from torch import nn
        from blocks import *

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = NotExported()

            def forward(self, x):
                return self.head(x)
    ''')
    errors = refusal(path, input_shapes=[(3, 5)])
    assert errors and errors[0].code == "dynamic-value" and "'NotExported' is not defined" in errors[0].message, \
        [str(d) for d in errors]


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_pytorch_project_migrates_to_keras_and_matches_at_two_batch_sizes(tmp_path):
    import torch

    path = pytorch_project(tmp_path)
    torch.manual_seed(0)
    original = import_project(tmp_path, "train", ("train", "config", "layers", "models")).VibrationNet().eval()
    for parameter in original.parameters():   # lively weights, not the initialisation's small ones
        parameter.data.normal_(0.0, 0.5)
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)
    output, weights_out = tmp_path / "migrated_keras.py", tmp_path / "migrated.weights.h5"
    result = migrate(path, "keras", output, input_shapes=[(3, 32)], weights=checkpoint, weights_out=weights_out)
    assert result.ok, result.report_text()
    migrated = load_generated(output, "VibrationNet")()
    rng = np.random.default_rng(0)
    first = rng.standard_normal((1, 3, 32)).astype("float32")
    migrated(first)
    migrated.load_weights(str(weights_out))
    for batch in (1, 5):
        x = rng.standard_normal((batch, 3, 32)).astype("float32")
        with torch.no_grad():
            want = original(torch.from_numpy(x)).numpy()
        got = np.asarray(migrated(x, training=False))
        assert want.shape == got.shape == (batch, 4)
        assert np.abs(want - got).max() <= 1e-5


@pytest.mark.torch
@pytest.mark.tensorflow
def test_verify_runs_a_project_by_its_definitions_only(tmp_path, capsys):
    path = pytorch_project(tmp_path)
    marker = tmp_path / "layers_top_level_ran.txt"
    write(tmp_path, "layers.py", LAYERS + f'''
    open({str(marker)!r}, "w").write("the sibling's top level ran")
    ''')
    output = tmp_path / "migrated_keras.py"
    status, out = cli(capsys, "migrate", path, "--to", "keras", "-o", output, "--input-shape", "3,32")
    assert status == 0, out
    status, out = cli(capsys, "verify", path, output, "--input-shape", "3,32", "--inputs", 4)
    assert status == 0, out
    assert "PASS" in out
    assert not marker.exists()
    assert not [n for n in sys.modules if n in ("layers", "config", "models")]   # the run's, not the process's


# --- a Keras project: a custom layer in a sibling module ---------------------------------------------------------

KERAS_LAYERS = '''
    import keras
    from keras import layers

    GATE_BIAS = 0.5


    class GatedDense(layers.Layer):
        """A dense projection scaled by a sigmoid gate of the same input."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.value = layers.Dense(units)
            self.gate = layers.Dense(units, activation="sigmoid")

        def call(self, x):
            return self.value(x) * self.gate(x)
'''

KERAS_SCRIPT = '''
    import keras
    from keras import layers

    import settings
    from custom import GatedDense

    inputs = keras.Input(shape=(settings.FEATURES,))
    hidden = GatedDense(settings.UNITS)(inputs)
    outputs = layers.Dense(settings.CLASSES)(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=settings.EPOCHS)
'''


def keras_project(folder):
    write(folder, "custom.py", KERAS_LAYERS)
    write(folder, "settings.py", "FEATURES = 10\nUNITS = 16\nCLASSES = 3\nEPOCHS = 2\n")
    return write(folder, "train.py", KERAS_SCRIPT)


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_keras_project_with_a_custom_layer_in_a_sibling_migrates_and_matches(tmp_path):
    import keras
    import torch

    path = keras_project(tmp_path)
    _, report = import_keras(path)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    custom = tmp_path / "custom.py"
    line, _ = place(custom, "self.value = layers.Dense(units)")
    assert any(str(e.location).startswith(f"{custom}:{line}:") for e in report.entries), \
        [str(e.location) for e in report.entries]

    keras.utils.set_random_seed(0)
    sys.path.insert(0, str(tmp_path))
    try:
        GatedDense = importlib.import_module("custom").GatedDense
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("custom", None)
    inputs = keras.Input(shape=(10,))   # the user's model, built as the script builds it
    original = keras.Model(inputs, keras.layers.Dense(3)(GatedDense(16)(inputs)))
    checkpoint = tmp_path / "original.weights.h5"
    original.save_weights(str(checkpoint))
    output, weights_out = tmp_path / "migrated.py", tmp_path / "migrated.pt"
    result = migrate(path, "pytorch", output, weights=checkpoint, weights_out=weights_out)
    assert result.ok, result.report_text()
    namespace: dict = {"__name__": "migrated_gated"}
    exec(compile(output.read_text(), str(output), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    (name,) = [k for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == "migrated_gated" and "Gated" not in k]
    migrated = namespace[name]().eval()
    migrated.load_state_dict(torch.load(weights_out, weights_only=True))
    rng = np.random.default_rng(1)
    for batch in (2, 7):
        x = rng.standard_normal((batch, 10)).astype("float32")
        want = keras.ops.convert_to_numpy(original(x, training=False))
        with torch.no_grad():
            got = migrated(torch.from_numpy(x)).numpy()
        assert np.abs(want - got).max() <= 1e-5


# --- what cannot be read: located at the import statement ---------------------------------------------------------

NET_USING = '''
    from torch import nn
    {imports}


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = {call}

        def forward(self, x):
            return self.block(x)
'''


def refusal(path, **options) -> list:
    """The error diagnostics of importing ``path`` (raised or in the report)."""
    try:
        _, report = import_pytorch(path, **options)
    except NNPivotError as refused:
        return [d for d in refused.diagnostics if d.is_error]
    return [d for d in report.diagnostics if d.is_error]


def test_a_missing_module_is_located_at_its_import_and_names_the_file_searched(tmp_path):
    path = write(tmp_path, "net.py", NET_USING.format(imports="from blocks import Residual", call="Residual(4)"))
    errors = refusal(path, input_shapes=[(4,)])
    line, column = place(path, "from blocks import Residual")
    assert errors and errors[0].code == "module-not-found", [str(d) for d in errors]
    assert str(errors[0].location) == f"{path}:{line}:{column}"
    assert str(tmp_path / "blocks.py") in errors[0].message


def test_a_relative_import_of_a_missing_module_is_located_too(tmp_path):
    write(tmp_path, "pkg/__init__.py", "from .parts import Block\n")
    path = write(tmp_path, "net.py", NET_USING.format(imports="from pkg import Block", call="Block(4)"))
    errors = refusal(path, input_shapes=[(4,)])
    init = tmp_path / "pkg" / "__init__.py"
    assert errors and errors[0].code == "module-not-found", [str(d) for d in errors]
    assert str(errors[0].location) == f"{init}:1:1"
    assert str(tmp_path / "pkg" / "parts.py") in errors[0].message


def test_a_name_the_module_does_not_define_is_located_at_the_import(tmp_path):
    write(tmp_path, "blocks.py", LAYERS)
    write(tmp_path, "config.py", CONFIG)
    path = write(tmp_path, "net.py", NET_USING.format(imports="from blocks import Residual", call="Residual(4)"))
    errors = refusal(path, input_shapes=[(4,)])
    line, column = place(path, "from blocks import Residual")
    assert errors and errors[0].code == "name-not-found", [str(d) for d in errors]
    assert str(errors[0].location) == f"{path}:{line}:{column}"
    assert "blocks.py" in errors[0].message and "Residual" in errors[0].message


def test_a_keras_script_using_a_missing_sibling_names_the_import(tmp_path):
    path = write(tmp_path, "train.py", KERAS_SCRIPT)   # settings.py and custom.py are not there
    line, column = place(path, "import settings")
    try:
        _, report = import_keras(path)
        errors = [d for d in report.diagnostics if d.is_error]
    except NNPivotError as refused:
        errors = [d for d in refused.diagnostics if d.is_error]
    assert errors and errors[0].code == "module-not-found", [str(d) for d in errors]
    assert str(errors[0].location) == f"{path}:{line}:{column}"


def test_an_import_cycle_is_a_located_diagnostic_not_a_hang(tmp_path):
    write(tmp_path, "left.py", "from torch import nn\nfrom right import WIDTH\nDEPTH = 2\n")
    write(tmp_path, "right.py", "from left import DEPTH\nWIDTH = 8\n")
    path = write(tmp_path, "net.py", NET_USING.format(imports="from left import WIDTH", call="nn.Linear(4, WIDTH)"))
    errors = refusal(path, input_shapes=[(4,)])
    right = tmp_path / "right.py"
    assert errors and errors[0].code == "import-cycle", [str(d) for d in errors]
    assert str(errors[0].location) == f"{right}:1:1"
    assert "left" in errors[0].message


def test_a_sibling_importing_the_source_back_is_a_cycle(tmp_path):
    write(tmp_path, "parts.py", "from net import Net\nWIDTH = 3\n")
    path = write(tmp_path, "net.py", NET_USING.format(imports="from parts import WIDTH", call="nn.Linear(4, WIDTH)"))
    errors = refusal(path, input_shapes=[(4,)])
    assert errors and errors[0].code == "import-cycle", [str(d) for d in errors]


def test_the_evaluation_limits_apply_to_siblings(tmp_path):
    write(tmp_path, "big.py", "SIZE = 10 ** 10 ** 6\n")
    path = write(tmp_path, "net.py", NET_USING.format(imports="from big import SIZE", call="nn.Linear(4, SIZE)"))
    errors = refusal(path, input_shapes=[(4,)])
    big = tmp_path / "big.py"
    assert errors and errors[0].code == "evaluation-limit", [str(d) for d in errors]
    assert str(errors[0].location).startswith(f"{big}:1:")


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_side_effect_at_a_siblings_top_level_never_runs(tmp_path, capsys):
    marker = tmp_path / "written_by_the_sibling.txt"
    write(tmp_path, "blocks.py", f'''
        from torch import nn

        open({str(marker)!r}, "w").write("downloaded")
        WIDTH = 6


        def mlp(cin, cout):
            return nn.Sequential(nn.Linear(cin, WIDTH), nn.Tanh(), nn.Linear(WIDTH, cout))

        if __name__ == "__main__":
            open({str(marker)!r}, "a").write("trained")
    ''')
    path = write(tmp_path, "net.py", NET_USING.format(imports="from blocks import mlp", call="mlp(4, 2)"))
    output = tmp_path / "net_keras.py"
    status, out = cli(capsys, "migrate", path, "--to", "keras", "-o", output, "--input-shape", "4")
    assert status == 0, out
    status, out = cli(capsys, "verify", path, output, "--input-shape", "4", "--inputs", 3)
    assert status == 0 and "PASS" in out, out
    assert not marker.exists()


@pytest.mark.torch
@pytest.mark.tensorflow
def test_constructor_mode_loads_the_siblings_definitions_only(tmp_path):
    import torch

    marker = tmp_path / "layers_top_level_ran.txt"
    path = pytorch_project(tmp_path)
    write(tmp_path, "layers.py", LAYERS + f'''
    open({str(marker)!r}, "w").write("the sibling's top level ran")
    ''')
    _, report = import_source(path, "pytorch", input_shapes=[(3, 32)], run_constructor=True)
    assert report.constructed and report.model == "VibrationNet"
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    assert not marker.exists()
    output = tmp_path / "migrated_keras.py"
    result = migrate(path, "keras", output, input_shapes=[(3, 32)], run_constructor=True)
    assert result.ok, result.report_text()
    torch.manual_seed(0)
    original = import_project(tmp_path, "train", ("train", "config", "layers", "models")).VibrationNet().eval()
    marker.unlink()   # the user's own import ran it, as Python does
    checkpoint, weights_out = tmp_path / "original.pt", tmp_path / "migrated.weights.h5"
    torch.save(original.state_dict(), checkpoint)
    result = migrate(path, "keras", output, input_shapes=[(3, 32)], run_constructor=True, weights=checkpoint,
                     weights_out=weights_out, force=True)
    assert result.ok, result.report_text()
    assert not marker.exists()
    migrated = load_generated(output, "VibrationNet")()
    rng = np.random.default_rng(3)
    migrated(rng.standard_normal((1, 3, 32)).astype("float32"))
    migrated.load_weights(str(weights_out))
    for batch in (2, 3):
        x = rng.standard_normal((batch, 3, 32)).astype("float32")
        with torch.no_grad():
            want = original(torch.from_numpy(x)).numpy()
        assert np.abs(want - np.asarray(migrated(x, training=False))).max() <= 1e-5


def test_a_relative_import_in_the_source_reads_the_file_next_to_it(tmp_path):
    write(tmp_path, "config.py", CONFIG)
    layers = write(tmp_path, "layers.py", LAYERS)
    path = write(tmp_path, "net.py", NET_USING.format(imports="from .layers import ConvBlock", call="ConvBlock(3, 5)"))
    model, report = import_pytorch(path, input_shapes=[(3, 16)])
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    line, column = place(layers, "nn.Conv1d(")
    assert f"{layers}:{line}:{column}" in [str(e.location) for e in report.entries]
    assert report.model == "Net" and len(model.nodes) >= 2
