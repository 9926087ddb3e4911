"""Hostile and careless inputs (issue 8): every one ends in a located diagnostic, never in an internal
error (exit 70), never in lost data, and in bounded time.

Each case runs the real command line in process, as a user types it.
"""
import importlib.util
import json
import os
import random
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from benchmark_module import load_benchmark

from nnpivot import api
from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError, error
from nnpivot.fileio import Staged
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import TEXTX_REPORT_LIMIT
from nnpivot.pipeline import Conversion
from nnpivot.weights import WeightStore

ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "samples" / "lenet5.nn"


fuzz = load_benchmark("fuzz")  # the seeded slice of the fuzz benchmark runs here

INTERNAL = 70


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert status != INTERNAL and "internal error" not in err and "Traceback" not in out + err
    return status, out, err


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


MLP_TORCH = """import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, features=8, hidden=16, classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.body(x))
"""


# --- internal errors that are now located diagnostics ----------------------------------------------------

def test_deeply_nested_nn_lists_are_a_located_error(capsys, tmp_path):
    deep = "[" * 1000 + "1" + "]" * 1000
    source = write(tmp_path / "deep.nn", "model Deep {\n    input x: float32[1, 8, 8]\n"
                                         f"    c = conv2d(x, 4, kernel_size=3, padding={deep})\n    output c\n}}\n")
    status, _, err = run(capsys, "check", source)
    assert status == 1 and f"{source}:3:" in err and "error[nesting-too-deep]" in err


def test_two_hundred_deep_nn_lists_are_a_located_error(capsys, tmp_path):
    deep = "[" * 200 + "3" + "]" * 200
    source = write(tmp_path / "deep.nn", f"model Deep {{\n    input x: float32[4]\n    h = dense(x, {deep})\n"
                                         "    output h\n}\n")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.py", "--to", "pytorch")
    assert status == 1 and f"{source}:3:" in err and files_in(tmp_path) == ["deep.nn"]


def test_a_syntax_error_in_a_huge_nn_file_is_located_by_the_direct_reader(capsys, tmp_path):
    """textX reports syntax errors of files over TEXTX_REPORT_LIMIT in seconds per megabyte (19 s CPU for a 6 MB
    file benchmarks/fuzz.py made); the direct reader's furthest position is where textX puts the error."""
    lines = ["model Huge {", "    input x: float32[4]"] + [f"    r{i} = relu(x)" for i in range(60_000)]
    lines[30_000] = "    r29998 = relu(x"   # the parenthesis never closes
    text = "\n".join(lines + ["    output r59999", "}"]) + "\n"
    assert len(text) > TEXTX_REPORT_LIMIT
    source = write(tmp_path / "huge.nn", text)
    status, _, err = run(capsys, "check", source)
    assert status == 1 and f"{source}:30002:5: error[syntax-error]: the text leaves the .nn grammar here" in err
    small = "\n".join(lines[:10] + [lines[30_000]] + lines[11:20] + ["    output r1", "}"]) + "\n"
    status, _, err = run(capsys, "check", write(tmp_path / "small.nn", small))
    assert status == 1 and f"{tmp_path / 'small.nn'}:12:5: error[syntax-error]" in err   # textX, same place


def test_keras_layer_name_never_imported_is_a_located_error(capsys, tmp_path):
    source = write(tmp_path / "net.py", "import keras\nfrom keras import layers\n\n"
                                        "model = keras.Sequential([\n    keras.Input((4,)),\n"
                                        "    layers.Dense(8),\n    FancyLayer(2),\n])\n")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.nn")
    assert status == 1 and f"{source}:7:" in err and "error[unknown-layer]" in err and "FancyLayer" in err


@pytest.mark.parametrize("line,says", [
    ("        x = torch.flatten(x, start_dim=[])", "error[bad-value]: flatten 'flatten': start_dim cannot be []"),
    ("        x = x.view(x.size(16), -1)", "error[bad-value]: 'x.size(16)': no dimension 16 in a tensor of rank 2"),
])
def test_pytorch_values_of_the_wrong_type_are_a_located_error(capsys, tmp_path, line, says):
    """Found by benchmarks/fuzz.py (seed 2): pyecore's BadValueError and an IndexError escaped as internal errors."""
    source = write(tmp_path / "net.py", MLP_TORCH.replace("        return self.head(self.body(x))",
                                                          f"{line}\n        return self.head(self.body(x))"))
    status, _, err = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py", "--input-shape", "8")
    assert status == 1 and f"{source}:12:" in err and says in err
    assert files_in(tmp_path) == ["net.py"]


@pytest.mark.parametrize("call", ["layers.Permute((1e-320, 1))(inputs)", "layers.Permute((1, 1))(inputs)",
                                  "ops.transpose(inputs, (0, 2.0, 1))", "ops.transpose(inputs, (0, 1, 1))",
                                  "layers.ZeroPadding1D(padding=(2.5, 1))(inputs)",
                                  "layers.ZeroPadding1D(padding=((1, 0.5),))(inputs)",
                                  "layers.ZeroPadding1D(padding=(inf, 1))(inputs)"])
def test_keras_axes_and_pads_that_are_no_integers_are_a_located_error(capsys, tmp_path, call):
    """Found by benchmarks/fuzz.py (seed 2): a float Permute dim reached a tuple index, a float pad tuple()."""
    source = write(tmp_path / "net.py", "import keras\nfrom keras import layers, ops\n\n"
                                        f"inputs = keras.Input((16, 24))\nx = {call}\nmodel = keras.Model(inputs, x)\n")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.nn")
    assert status == 1 and f"{source}:5:" in err and "error[bad-value]" in err
    assert files_in(tmp_path) == ["net.py"]


@pytest.mark.parametrize("framework,source,line", [
    ("pytorch", MLP_TORCH.replace("nn.Linear(features, hidden)", "nn.Conv1d(1, hidden, kernel_size=2.5)"), 8),
    ("pytorch", MLP_TORCH.replace("nn.Linear(hidden, classes)", "nn.Linear(hidden, classes / 1)"), 9),
    ("keras", ("import keras\nfrom keras import layers\n\ninputs = keras.Input((8, 8, 1))\n"
               "x = layers.Conv2D(4, 2.5)(inputs)\nmodel = keras.Model(inputs, x)\n"), 5),
    ("keras", ("import keras\nfrom keras import layers\n\ninputs = keras.Input((8,))\n"
               "x = layers.Dense(16 / 2)(inputs)\nmodel = keras.Model(inputs, x)\n"), 5),
], ids=["torch-kernel-2.5", "torch-units-float", "keras-kernel-2.5", "keras-units-float"])
def test_float_where_an_integer_goes_is_an_error_never_truncated(capsys, tmp_path, framework, source, line):
    path = write(tmp_path / "net.py", source)
    extra = ["--input-shape", "1,8"] if framework == "pytorch" and "Conv1d" in source else \
        ["--input-shape", "8"] if framework == "pytorch" else []
    status, _, err = run(capsys, "convert", path, "-o", tmp_path / "out.nn", *extra)
    assert status == 1 and f"{path}:{line}:" in err and "expects" in err and "integer" in err
    assert not (tmp_path / "out.nn").exists()


def test_float_operation_argument_is_an_error(capsys, tmp_path):
    source = write(tmp_path / "net.py", MLP_TORCH.replace("return self.head(self.body(x))",
                                                          "return self.head(self.body(x)).permute(0, 2.0, 1)"))
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.nn", "--input-shape", "5,8")
    assert status == 1 and f"{source}:12:16:" in err and "dims expects integers, got [0, 2.0, 1]" in err


def test_keras_shape_of_tuples_is_an_error(capsys, tmp_path):
    source = write(tmp_path / "net.py", "import keras\nfrom keras import layers\n\ninputs = keras.Input((4, 6))\n"
                                        "x = layers.Reshape(((), 3))(inputs)\nmodel = keras.Model(inputs, x)\n")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.nn")
    assert status == 1 and f"{source}:5:5: error[bad-value]: shape expects integers, got [(), 3]" in err


def test_keras_input_shape_of_booleans_is_an_error(capsys, tmp_path):
    """Found by benchmarks/fuzz.py: True was taken as the size 1 and the XMI written did not load back."""
    source = write(tmp_path / "net.py", "import keras\nfrom keras import layers\n\ninputs = keras.Input((True, 8, 3))\n"
                                        "x = layers.Conv2D(4, 3)(inputs)\nmodel = keras.Model(inputs, x)\n")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.xmi")
    assert status == 1 and f"{source}:4:10: error[dynamic-value]" in err and files_in(tmp_path) == ["net.py"]


def test_float_kernel_size_in_nn_text_is_an_error(capsys, tmp_path):
    source = write(tmp_path / "k.nn", "model K {\n    input x: float32[1, 8, 8]\n"
                                      "    c = conv2d(x, 2, kernel_size=2.5)\n    output c\n}\n")
    status, _, err = run(capsys, "check", source)
    assert status == 1 and f"{source}:3:34: error[bad-value]" in err


def test_submodule_without_forward_is_a_located_error(capsys, tmp_path):
    source = write(tmp_path / "net.py", MLP_TORCH + """

class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)


class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()

    def forward(self, x):
        return self.encoder(x)
""")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.nn", "--model", "Wrapped",
                         "--input-shape", "8")
    assert status == 1 and f"{source}:27:16:" in err and "Encoder" in err and "forward" in err


def test_keras_pooling_over_an_axis_of_unknown_size_generates(capsys, tmp_path):
    source = write(tmp_path / "net.py", "import keras\nfrom keras import layers\n\n"
                                        "inputs = keras.Input((5, None))\n"
                                        "x = layers.MaxPooling1D(2, data_format='channels_first')(inputs)\n"
                                        "model = keras.Model(inputs, x)\n")
    output = tmp_path / "out.py"
    status, _, err = run(capsys, "migrate", source, "--to", "keras", "-o", output)
    assert status == 0, err
    compile(output.read_text(), str(output), "exec")


@pytest.mark.tensorflow
def test_keras_pooling_over_an_unknown_axis_runs_at_two_lengths(capsys, tmp_path):
    import keras

    source = write(tmp_path / "pooling_net.py", "import keras\nfrom keras import layers\n\n"
                                                "inputs = keras.Input((5, None))\n"
                                                "x = layers.MaxPooling1D(2, data_format='channels_first')(inputs)\n"
                                                "model = keras.Model(inputs, x)\n")
    output = tmp_path / "pooled.py"
    assert run(capsys, "migrate", source, "--to", "keras", "-o", output)[0] == 0
    module = _module_from(output)
    [model_class] = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, keras.Model)
                     and v.__module__ == module.__name__]
    model = model_class()
    rng = np.random.default_rng(3)
    for length in (9, 12):  # the user's layout: channels first, as the source declares
        x = rng.standard_normal((2, 5, length)).astype("float32")
        expected = x[:, :, :length // 2 * 2].reshape(2, 5, length // 2, 2).max(axis=-1)
        np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=0, atol=1e-6)


def _module_from(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ceil_mode_pooling_over_an_unknown_axis_is_a_located_error_for_keras(capsys, tmp_path):
    # stride + end pad above the kernel: whether PyTorch keeps the last window depends on the size (k=3, s=2 is exact)
    source = write(tmp_path / "p.nn", "model P {\n    input x: float32[3, ?]\n"
                                      "    p = max_pool1d(x, 2, stride=3, ceil_mode=true)\n    output p\n}\n")
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.py", "--to", "keras")
    assert status == 1 and f"{source}:3:5: error[unsupported-for-target]" in err and "ceil_mode" in err
    assert files_in(tmp_path) == ["p.nn"]


def test_xmi_model_without_a_name_is_a_located_error(capsys, tmp_path):
    xmi = tmp_path / "lenet.xmi"
    api.save(api.load(LENET), xmi)
    text = xmi.read_text()
    write(xmi, text.replace(' name="LeNet5"', "", 1))
    status, _, err = run(capsys, "convert", xmi, "-o", tmp_path / "out.py", "--to", "pytorch")
    assert status == 1 and f"{xmi}:2: error[invalid-name]: the model has no name" in err
    assert not (tmp_path / "out.py").exists()


def test_xmi_attribute_with_an_invalid_qualified_name_is_a_located_error(capsys, tmp_path):
    xmi = tmp_path / "lenet.xmi"
    api.save(api.load(LENET), xmi)
    text = xmi.read_text()  # a token swap benchmarks/fuzz.py made: xmlns <-> inputs
    last_inputs = text.rindex(" inputs=")
    text = text[:last_inputs] + " xmlns=" + text[last_inputs + len(" inputs="):]
    write(xmi, text.replace("xmlns:xmi=", "inputs:xmi=", 1))
    status, _, err = run(capsys, "check", xmi)
    assert status == 1 and f"{xmi}:2: error[xmi-syntax]" in err


def _pivot_weights(tmp_path) -> Path:
    """A pivot weight store of the MLP_TORCH classifier, written as .npz (no framework needed)."""
    source = write(tmp_path / "net.py", MLP_TORCH)
    model = api.load(source, input_shapes=[[8]])
    store = WeightStore()
    for slot in pytorch_generator.parameter_slots(model):
        store[slot.pivot_key] = np.full(slot.shape, 0.25, dtype=np.float32)
    store.save(tmp_path / "trained.npz")
    return source


@pytest.mark.parametrize("where", ["missing", "unwritable"])
def test_weights_out_into_a_missing_or_unwritable_folder(capsys, tmp_path, where):
    source = _pivot_weights(tmp_path)
    folder = tmp_path / "out"
    if where == "unwritable":
        folder.mkdir()
        folder.chmod(0o500)
        if os.access(folder, os.W_OK):  # root writes anyway: a file where the folder should be
            folder.chmod(0o700)
            folder.rmdir()
            write(folder, "not a folder")
    try:
        status, _, err = run(capsys, "migrate", source, "--to", "pytorch", "-o", tmp_path / "net_torch.py",
                             "--input-shape", "8", "--weights", tmp_path / "trained.npz",
                             "--weights-out", folder / "w.npz")
    finally:
        if folder.is_dir():
            folder.chmod(0o700)
    assert status == 1 and "error[output-unwritable]" in err and f"{folder / 'w.npz'}" in err
    assert not (tmp_path / "net_torch.py").exists()  # the code output is not left behind either


def test_three_hundred_character_file_names(capsys, tmp_path):
    long_name = "n" * 300
    status, _, err = run(capsys, "check", tmp_path / f"{long_name}.nn")
    assert status == 1 and "error[unreadable-file]" in err
    status, _, err = run(capsys, "convert", LENET, "-o", tmp_path / f"{long_name}.py", "--to", "pytorch")
    assert status == 1 and "error[output-unwritable]" in err and "longer than 255 bytes" in err
    assert files_in(tmp_path) == []


def test_deeply_nested_model_args_are_a_usage_error(capsys, tmp_path):
    source = write(tmp_path / "net.py", MLP_TORCH)
    nested = '{"hidden": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    status, _, err = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                         "--input-shape", "8", "--model-args", nested)
    assert status == 2 and "error[bad-model-args]" in err and "nests more than" in err


@pytest.mark.parametrize("option,code", [("--set", "bad-setting"), ("--model-args", "bad-model-args")])
def test_deeply_nested_name_value_options_are_a_usage_error(capsys, tmp_path, option, code):
    """``--set n=[[...]]`` reached json.loads unbounded (a RecursionError, exit 70); ``--model-args n=[[...]]``
    was taken as a bare string."""
    source = write(tmp_path / "net.py", MLP_TORCH)
    status, _, err = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                         "--input-shape", "8", option, "hidden=" + "[" * 20_000 + "]" * 20_000)
    assert status == 2 and f"error[{code}]: {option} nests more than" in err
    assert files_in(tmp_path) == ["net.py"]


@pytest.mark.parametrize("command", ["check", "convert"])
def test_dev_zero_as_input_is_refused(capsys, tmp_path, command):
    argv = ["check", "--from", "nn", "/dev/zero"] if command == "check" else \
        ["convert", "/dev/zero", "--from", "nn", "-o", tmp_path / "out.nn"]
    started = time.perf_counter()
    status, _, err = run(capsys, *argv)
    assert status == 1 and "/dev/zero: error[not-a-file]: /dev/zero is a device" in err
    assert time.perf_counter() - started < 5 and files_in(tmp_path) == []


def test_fifo_as_input_is_refused_without_blocking(capsys, tmp_path):
    fifo = tmp_path / "model.nn"
    os.mkfifo(fifo)  # nobody writes it: opening it would block for ever
    status, _, err = run(capsys, "check", fifo)
    assert status == 1 and f"{fifo}: error[not-a-file]: {fifo} is a FIFO (named pipe)" in err


def test_fifo_as_weights_is_refused_without_blocking(capsys, tmp_path):
    source = write(tmp_path / "net.py", MLP_TORCH)
    fifo = tmp_path / "trained.npz"
    os.mkfifo(fifo)
    status, _, err = run(capsys, "migrate", source, "--to", "pytorch", "-o", tmp_path / "out.py", "--input-shape", "8",
                         "--weights", fifo, "--weights-out", tmp_path / "out.npz")
    assert status == 1 and f"{fifo}: error[not-a-file]: {fifo} is a FIFO (named pipe), not a weight file" in err
    assert not (tmp_path / "out.py").exists()


@pytest.mark.parametrize("what", ["fifo", "device", "folder"])
def test_force_never_replaces_what_is_not_a_regular_file(capsys, tmp_path, what):
    if what == "fifo":
        target = tmp_path / "out.nn"
        os.mkfifo(target)
    elif what == "folder":
        target = tmp_path / "out.nn"
        target.mkdir()
    else:
        target = tmp_path / "null.nn"
        target.symlink_to("/dev/null")
    status, _, err = run(capsys, "convert", LENET, "-o", target, "--force")
    assert status == 1 and "error[not-a-file]" in err
    mode = os.lstat(target).st_mode
    assert {"fifo": stat.S_ISFIFO, "folder": stat.S_ISDIR, "device": stat.S_ISLNK}[what](mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# --- data safety -----------------------------------------------------------------------------------------

def test_force_keeps_the_mode_of_a_replaced_file(capsys, tmp_path):
    output = tmp_path / "secret.nn"
    write(output, "old")
    output.chmod(0o600)
    status, _, _ = run(capsys, "convert", LENET, "-o", output, "--force")
    assert status == 0 and stat.S_IMODE(output.stat().st_mode) == 0o600 and "LeNet5" in output.read_text()
    assert files_in(tmp_path) == ["secret.nn"]


def test_report_obeys_force(capsys, tmp_path):
    source = write(tmp_path / "net.py", MLP_TORCH)
    report = write(tmp_path / "notes.md", "my notes\n")
    status, _, err = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                         "--input-shape", "8", "--report", report)
    assert status == 1 and "error[output-exists]" in err and report.read_text() == "my notes\n"
    assert not (tmp_path / "out.py").exists()  # refused before any work
    status, _, _ = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                       "--input-shape", "8", "--report", report, "--force")
    assert status == 0 and "status:" in report.read_text()


@pytest.mark.parametrize("force", [False, True])
def test_report_never_destroys_the_source(capsys, tmp_path, force):
    source = write(tmp_path / "net.py", MLP_TORCH)
    status, _, err = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                         "--input-shape", "8", "--report", source, *(["--force"] if force else []))
    assert status == 2 and "error[output-is-input]" in err
    assert source.read_text() == MLP_TORCH and files_in(tmp_path) == ["net.py"]


def test_output_is_never_the_input_even_with_force(capsys, tmp_path):
    copy = write(tmp_path / "lenet.nn", LENET.read_text())
    status, _, err = run(capsys, "convert", copy, "-o", copy, "--force")
    assert status == 2 and "error[output-is-input]" in err and copy.read_text() == LENET.read_text()


def test_weights_convert_never_overwrites_its_input(capsys, tmp_path):
    _pivot_weights(tmp_path)
    model = write(tmp_path / "classifier.nn", to_text(api.load(tmp_path / "net.py", input_shapes=[[8]])))
    before = (tmp_path / "trained.npz").read_bytes()
    status, _, err = run(capsys, "weights", "convert", "--model", model, "--from", tmp_path / "trained.npz",
                         "--to", tmp_path / "trained.npz", "--force")
    assert status == 1 and "error[output-is-input]" in err and (tmp_path / "trained.npz").read_bytes() == before


def test_weights_convert_keeps_the_mode_of_a_replaced_file(capsys, tmp_path):
    _pivot_weights(tmp_path)
    model = write(tmp_path / "classifier.nn", to_text(api.load(tmp_path / "net.py", input_shapes=[[8]])))
    target = write(tmp_path / "copy.npz", "old")
    target.chmod(0o600)
    status, _, err = run(capsys, "weights", "convert", "--model", model, "--from", tmp_path / "trained.npz",
                         "--to", target, "--force")
    assert status == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and sorted(WeightStore.load(target)) == sorted(
        WeightStore.load(tmp_path / "trained.npz"))
    assert files_in(tmp_path) == ["classifier.nn", "copy.npz", "net.py", "trained.npz"]


def test_failed_migration_writes_no_report_file(capsys, tmp_path):
    source = write(tmp_path / "net.py", MLP_TORCH.replace("nn.ReLU()", "nn.Conv1d(1, 2, kernel_size=2.5)"))
    status, _, _ = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                       "--input-shape", "8", "--report", tmp_path / "report.md")
    assert status == 1 and files_in(tmp_path) == ["net.py"]   # the import fails: nothing to report
    source.unlink()
    # a failure after the import: the report is printed instead of written
    source = write(tmp_path / "pool.py", MLP_TORCH.replace("nn.Linear(features, hidden), nn.ReLU()",
                                                           "nn.MaxPool1d(2, stride=3, ceil_mode=True)")
                   .replace("self.head(self.body(x))", "self.body(x)"))
    status, out, _ = run(capsys, "migrate", source, "--to", "keras", "-o", tmp_path / "out.py",
                         "--input-shape", "4,?", "--report", tmp_path / "report.md")
    assert status == 1 and "status: failed at step generate" in out
    assert files_in(tmp_path) == ["pool.py"]


def test_failed_weights_write_leaves_no_code_output(tmp_path, monkeypatch):
    source = _pivot_weights(tmp_path)
    existing = write(tmp_path / "net_torch.py", "# my previous version\n")

    def failing_writer(model, store, path, force=False):
        Path(path).write_bytes(b"half")
        raise NNPivotError([error("output-unwritable", f"cannot write {path}: No space left on device")])

    monkeypatch.setattr("nnpivot.pipeline.WEIGHTS_WRITER", "nnpivot.weight_formats:write_store")
    monkeypatch.setattr("nnpivot.weight_formats.write_store", failing_writer)
    for force in (False, True):
        result = Conversion(source, tmp_path / ("net_torch.py" if force else "fresh.py"), "pytorch",
                            options={"input_shapes": [[8]]}, weights=tmp_path / "trained.npz",
                            weights_out=tmp_path / "w.npz", force=force).run()
        assert result.failed == "write"
    assert files_in(tmp_path) == ["net.py", "net_torch.py", "trained.npz"]
    assert existing.read_text() == "# my previous version\n"


def test_staged_outputs_are_published_together(tmp_path):
    with Staged() as staged:
        write(staged.path_for(tmp_path / "a.nn"), "a")
        write(staged.path_for(tmp_path / "b.weights.h5"), "b")
        assert all(p.name.startswith(".nnpivot-") for p in tmp_path.iterdir())
        assert any(p.name.endswith(".weights.h5") for p in tmp_path.iterdir())  # writers choose by the name's end
        write(tmp_path / "b.weights.h5", "appeared meanwhile")
        with pytest.raises(NNPivotError) as raised:
            staged.publish()
    assert raised.value.diagnostics[0].code == "output-exists"
    assert files_in(tmp_path) == ["b.weights.h5"]  # a.nn was published, then removed again
    assert (tmp_path / "b.weights.h5").read_text() == "appeared meanwhile"


# --- bounded work ----------------------------------------------------------------------------------------

HOSTILE_CONSTANTS = ["for i in range(10**9):\n    pass", "N = 10**10**8", "N = sum(range(10**12))",
                     "N = 1 << 10**10"]


@pytest.mark.parametrize("statement", HOSTILE_CONSTANTS, ids=["loop", "power", "sum-range", "shift"])
@pytest.mark.parametrize("framework", ["pytorch", "keras"])
def test_hostile_constants_stop_fast_with_a_located_diagnostic(capsys, tmp_path, statement, framework):
    if framework == "keras":
        text = f"import keras\nfrom keras import layers\n\n{statement}\n" \
               "model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])\n"
        line = 4
    else:  # the importer evaluates __init__: the statement is there
        body = "\n".join("        " + s for s in statement.splitlines())
        text = ("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                f"        super().__init__()\n{body}\n        self.fc = nn.Linear(4, 3)\n\n"
                "    def forward(self, x):\n        return self.fc(x)\n")
        line = 8
    source = write(tmp_path / "net.py", text)
    started = time.perf_counter()
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.nn", "--input-shape", "4")
    assert time.perf_counter() - started < 5
    assert status == 1 and f"{source}:{line}:" in err and "error[evaluation-limit]" in err


def test_absurd_num_layers_stops_the_keras_generator(capsys, tmp_path):
    """Found by benchmarks/fuzz.py: num_layers=999999999999 unrolled for ever into Keras layers."""
    source = write(tmp_path / "r.nn", "model R {\n    input x: float32[20, 3]\n"
                                      "    r = lstm(x, 8, num_layers=999999999999)\n    output r\n}\n")
    started = time.process_time()
    status, _, err = run(capsys, "convert", source, "-o", tmp_path / "out.py", "--to", "keras")
    assert status == 1 and f"{source}:3:5: error[unsupported-for-target]" in err and "at most 1000" in err
    assert time.process_time() - started < 5 and files_in(tmp_path) == ["r.nn"]


def _sharing_chain(pairs: int) -> str:
    lines = ["model Shared {", "    input x: float32[16]"]
    previous = "x"
    for index in range(pairs):
        lines += [f"    a{index} = dense({previous}, 16)", f"    b{index} = dense(a{index}, 16, shares=a{index})"]
        previous = f"b{index}"
    return "\n".join([*lines, f"    output {previous}", "}", ""])


def test_checking_weight_sharing_is_linear(tmp_path):
    """One upstream search per sharing node was quadratic: 25,000 nodes took minutes. CPU time, not wall."""
    seconds = {}
    for pairs in (1000, 4000):
        source = write(tmp_path / f"shared{pairs}.nn", _sharing_chain(pairs))
        model = api.load(source)
        started = time.process_time()
        assert api.validate(model) == []
        seconds[pairs] = time.process_time() - started
    assert seconds[4000] < 8 * max(seconds[1000], 0.05)  # linear gives 4, quadratic 16


def _repeated_forward(calls: int) -> str:
    body = "\n".join(["        y = self.conv(F.pad(x, (2, 0)))"] * calls)
    return ("import torch\nfrom torch import nn\nimport torch.nn.functional as F\n\n\n"
            "class Repeated(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"        self.conv = nn.Conv1d(3, 3, 3)\n\n    def forward(self, x):\n{body}\n        return y\n")


def test_importing_a_forward_repeating_one_call_is_linear(tmp_path):
    """Unique names searched from 1 and the inlined pad removed from the middle of the node set were quadratic."""
    seconds = {}
    for calls in (300, 1200):
        source = write(tmp_path / f"repeated{calls}.py", _repeated_forward(calls))
        started = time.process_time()
        model = api.load(source, input_shapes=[[3, 16]])
        seconds[calls] = time.process_time() - started
        assert len(model.nodes) == calls + 1 and model.nodes[-1].name == f"conv_{calls - 1}"
    assert seconds[1200] < 8 * max(seconds[300], 0.05)  # linear gives 4, quadratic 16


def test_the_sharing_order_rule_still_holds(capsys, tmp_path):
    source = write(tmp_path / "s.nn", "model S {\n    input x: float32[4]\n    a = dense(x, 4, shares=b)\n"
                                      "    b = dense(a, 4)\n    output b\n}\n")
    status, _, err = run(capsys, "check", source)
    assert status == 1 and f"{source}:3:5: error[shared-weights-order]" in err


# --- the fuzz benchmark's seeded slice -------------------------------------------------------------------

def test_fuzz_slice_finds_no_internal_error_and_no_broken_output():
    tallies, problems = fuzz.fuzz(inputs=150, seed=8, timeout=20.0, large_every=0, failures=None)
    assert sum(t.tried for t in tallies.values()) == 150
    assert set(tallies) == {"nn", "xmi", "pytorch", "keras"}
    assert sum(t.outputs for t in tallies.values()) > 10  # mutated inputs still convert: outputs were checked
    assert problems == [], json.dumps(problems, indent=1)


def test_fuzz_mutations_are_seeded():
    all_seeds = fuzz.seeds()
    first = [fuzz.make_case(random.Random(4), all_seeds, 0, n).text for n in range(5)]
    again = [fuzz.make_case(random.Random(4), all_seeds, 0, n).text for n in range(5)]
    assert first == again

