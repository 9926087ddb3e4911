"""Loops in parameterised blocks: a group of nodes repeated a number of times its parameters give.

The DenseNet-shaped sample (one DenseBlock whose dense layers are ``for i in range(num_layers) { ... }``,
called with 2, 3 and 2 layers) checks, prints back to the same text, round-trips through XMI, has shapes per
call and iteration, and generates one class whose layers are built in a loop (an ``nn.ModuleList`` in PyTorch,
a list in Keras); both generated models, given the same weights and called directly in their own layout at
two input sizes, agree within 1e-5, and the Keras one saves and reloads. The .nn importer locates a count that
is no int and a loop that is not a group; the importers read a class whose uses hold other numbers of the
same layers as one block with a loop, and its migration with weights computes what the source does.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import ROOT
from generated_module import load_generated

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import save_xmi, to_xmi_string
from nnpivot.grammars import metamodel, reader
from nnpivot.importers.nn_text import build_model, parse_file, parse_text
from nnpivot.importers.xmi import load_xmi
from nnpivot.migrate import import_source, migrate
from nnpivot.shapes import infer_shapes
from nnpivot.validators import validate

SAMPLE = ROOT / "samples" / "densenet_blocks.nn"
SIZES = (32, 44)


@pytest.fixture(scope="module")
def model():
    return parse_file(SAMPLE)


def test_the_sample_checks_and_prints_back(model):
    assert [d for d in validate(model) if d.is_error] == []
    text = to_text(model)
    assert "        for i in range(num_layers) {\n" in text
    assert "            features = grown\n        }\n" in text
    again = parse_text(text, "densenet_blocks.nn")
    assert differences(model, again) == []
    assert to_text(again) == text


def test_textx_and_the_fast_reader_read_a_loop_alike():
    text = SAMPLE.read_text()
    by_textx, _ = build_model(metamodel().model_from_str(text), "densenet_blocks.nn")
    by_reader, _ = build_model(reader.read(text), "densenet_blocks.nn", reader.LineColumns(text))
    assert differences(by_textx, by_reader) == []
    loop = by_textx.blocks[0].loops[0]
    assert (loop.index.name, loop.initial.name, loop.result.name) == ("i", "features", "grown")
    assert [n.name for n in loop.nodes] == ["norm1", "relu1", "conv1", "norm2", "relu2", "conv2", "grown"]


def test_the_sample_round_trips_through_xmi(model, tmp_path):
    saved = save_xmi(model, tmp_path / "model.xmi")
    assert "<loops " in saved.read_text() and "@loops.0/@index" in saved.read_text()
    loaded = load_xmi(saved)
    assert differences(model, loaded) == []
    assert to_xmi_string(loaded) == to_xmi_string(model)


def test_each_call_runs_its_own_number_of_iterations(model):
    table, diagnostics = infer_shapes(model)
    assert diagnostics == []
    by_call = {call.name: table.of(call) for call in table.calls if call.block.name == "DenseBlock"}
    assert by_call == {"block1": (None, 32, 32, 32), "block2": (None, 40, 16, 16), "block3": (None, 36, 8, 8)}
    block2 = next(spec for call, spec in table.calls.items() if call.name == "block2")
    assert [n.name for n in block2.nodes if n.name.startswith("norm1.")] == ["norm1.0", "norm1.1", "norm1.2"]
    assert [table.of(n)[1] for n in block2.nodes if n.name.startswith("norm1.")] == [16, 24, 32]


def test_the_generated_block_builds_its_layers_in_a_loop(model):
    torch_code = pytorch_generator.generate(model, "densenet_blocks.nn")
    assert re.findall(r"^class (\w+)\(", torch_code, re.MULTILINE) == ["DenseBlock", "Transition", "DenseNetBlocks"]
    assert "        self.norm1 = nn.ModuleList()\n" in torch_code
    assert "        for i in range(num_layers):\n" in torch_code
    assert "            self.norm1.append(nn.BatchNorm2d(in_channels + i * growth_rate))\n" in torch_code
    assert "        grown = features\n        for i in range(self.num_layers):\n" in torch_code
    assert "            grown = torch.cat([grown, conv2], dim=1)\n" in torch_code
    assert "self.block2 = DenseBlock(3, 16, 8)" in torch_code
    keras_code = keras_generator.generate(model, "densenet_blocks.nn")
    assert re.findall(r"^class (\w+)\(", keras_code, re.MULTILINE) == ["DenseBlock", "Transition", "DenseNetBlocks"]
    assert "        self.norm1 = []\n" in keras_code
    assert 'name=f"relu1_{i}"' in keras_code
    assert "            grown = ops.concatenate([grown, conv2], axis=3)\n" in keras_code


@pytest.mark.torch
@pytest.mark.tensorflow
def test_generated_models_agree_called_directly(model, tmp_path):
    import keras
    import torch

    torch_module = load_generated(pytorch_generator.generate(model, "densenet_blocks.nn"), "densenet_torch")
    net = torch_module.DenseNetBlocks().eval()
    assert "block2.conv1.2.weight" in net.state_dict()   # iteration 2 of the loop's conv1, in its ModuleList
    store, problems = pytorch_generator.store_from_state_dict(model, net.state_dict())
    assert problems == []
    store = enliven(store, seed=5)   # running statistics too
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))   # strict: every key maps

    keras_module = load_generated(keras_generator.generate(model, "densenet_blocks.nn"), "densenet_keras")
    layer = keras_module.DenseNetBlocks()
    layer(np.zeros((1, SIZES[0], SIZES[0], 3), np.float32))
    assert keras_generator.assign_store(layer, model, store) == []

    rng = np.random.default_rng(1)
    for size in SIZES:
        images = rng.standard_normal((2, 3, size, size + 6)).astype(np.float32)   # channels-first
        with torch.no_grad():
            expected = net(torch.from_numpy(images)).numpy()
        found = np.asarray(layer(np.transpose(images, (0, 2, 3, 1))))             # channels-last
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < 1e-5, (size, np.abs(found - expected).max())

    weights = tmp_path / "model.weights.h5"
    layer.save_weights(weights)
    fresh = keras_module.DenseNetBlocks()
    fresh(np.zeros((1, SIZES[0], SIZES[0], 3), np.float32))
    fresh.load_weights(weights)
    probe = rng.standard_normal((1, SIZES[1], SIZES[1], 3)).astype(np.float32)
    assert np.abs(np.asarray(fresh(probe)) - np.asarray(layer(probe))).max() == 0
    saved = tmp_path / "model.keras"
    layer.save(saved)
    custom = {n: getattr(keras_module, n) for n in ("DenseBlock", "Transition", "DenseNetBlocks")}
    reloaded = keras.models.load_model(saved, custom_objects=custom)
    assert np.abs(np.asarray(reloaded(probe)) - np.asarray(layer(probe))).max() < 1e-6


def test_the_generated_pytorch_reads_back_as_one_looped_block(model, tmp_path):
    code = tmp_path / "densenet_torch.py"
    code.write_text(pytorch_generator.generate(model, "densenet_blocks.nn"))
    again, report = import_source(code, "pytorch", "DenseNetBlocks", input_shapes=[[3, 32, 32]])
    assert [d for d in report.diagnostics if d.is_error] == []
    assert [b.name for b in again.blocks] == ["DenseBlock", "Transition"]
    loop = again.blocks[0].loops[0]
    assert (loop.count.eClass.name, loop.count.parameter.name) == ("ParameterRef", "num_layers")
    assert [n.name for n in loop.nodes] == ["norm1", "relu1", "conv1", "norm2", "relu2", "conv2", "grown"]
    assert "            norm1 = batch_norm2d(features, num_features=in_channels + i * growth_rate)\n" in to_text(again)


@pytest.mark.torch
def test_a_loop_whose_sizes_are_not_written_gets_one_pytorch_class_per_argument_set():
    """Without in_channels written as an expression PyTorch cannot write one class for every iteration: one
    class per argument set, each with its iterations unrolled over ModuleLists, whose keys are the weights'."""
    text = SAMPLE.read_text().replace(", in_channels=in_channels + i * growth_rate", "").replace(
        ", num_features=in_channels + i * growth_rate", "")
    model = parse_text(text, "unwritten.nn")
    code = pytorch_generator.generate(model, "unwritten.nn")
    assert re.findall(r"^class (\w+)\(", code, re.MULTILINE) == [
        "DenseBlock", "DenseBlock2", "DenseBlock3", "Transition", "DenseNetBlocks"]
    assert "        self.norm1.append(nn.BatchNorm2d(24))\n" in code
    assert "        norm1_1 = self.norm1[1](grown_0)\n" in code
    module = load_generated(code, "unwritten_torch")
    keys = {k for k in module.DenseNetBlocks().state_dict() if not k.endswith("num_batches_tracked")}
    assert {s.torch_key for s in pytorch_generator.parameter_slots(model)} == keys
    assert "block2.conv1.2.weight" in keys


# --- mistakes, located ----------------------------------------------------------------------------

LOOPED = """model M {{
    input x: float32[4, 8, 8]
    y = Grow(x, {call})
    output y

    block Grow(n: int, flag: bool = false) {{
        input z
        for {index} in range({count}) {{
            c = conv2d(z, 2, kernel_size=1)
            j = concat(z, c)
            {carry}
        }}
        output {out}
    }}
}}
"""


def loop_problems(call: str = "2", index: str = "i", count: str = "n", carry: str = "z = j", out: str = "j"
                  ) -> list[str]:
    text = LOOPED.format(call=call, index=index, count=count, carry=carry, out=out)
    try:
        model = parse_text(text, "loop.nn")
    except NNPivotError as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(d) for d in validate(model) if d.is_error]


def test_the_loop_case_is_fine_as_written():
    assert loop_problems() == []


@pytest.mark.parametrize("arguments,expected", [
    ({"count": "n / 2"}, "loop.nn:8:24: error[expression-type]: the count of loop 'i' must be an int, not float"),
    ({"count": "flag"}, "loop.nn:8:24: error[expression-type]: the count of loop 'i' must be an int, not bool"),
    ({"count": "nn"}, "loop.nn:8:24: error[unknown-parameter]: 'nn' is not a parameter here (did you mean 'n'?)"),
    ({"index": "flag"}, "loop.nn:8:9: error[duplicate-name]: loop index 'flag' is already a parameter of Grow"),
    ({"index": "z"}, "loop.nn:8:9: error[duplicate-name]: loop index 'z' is already a node of Grow"),
    ({"carry": "c = j"}, ("loop.nn:11:13: error[bad-loop]: 'c = ...' must name a value from before the loop, not "
                          "one of its statements")),
    ({"carry": "z = x"}, "loop.nn:11:17: error[unknown-reference]: 'x' is not defined here"),
    ({"carry": "z = z"}, "loop.nn:11:17: error[bad-loop]: '... = z' must name a statement of the loop"),
    ({"out": "c"}, ("loop.nn:8:9: error[bad-loop]: block Grow outputs 'c' of loop 'i', whose value outside the loop is "
                    "only its result 'j'")),
    ({"call": "-1"}, "loop.nn:3:5: error[expression-error]: block call 'y': the count of loop 'i' is -1, below 0"),
])
def test_loop_mistakes_are_located(arguments, expected):
    found = loop_problems(**arguments)
    assert len(found) == 1 and found[0].startswith(expected), found   # one mistake, one message


# --- importers ------------------------------------------------------------------------------------

STAGED = '''"""An MLP in stages of residual layers; a stage builds its layers in a loop over its depth."""
import torch
from torch import nn


class Stage(nn.Module):
    def __init__(self, depth, width, expansion=2):
        super().__init__()
        self.layers = nn.ModuleList()
        for i in range(depth):
            self.layers.append(nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width * expansion), nn.GELU(),
                                             nn.Linear(width * expansion, width)))

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return x


class StagedMLP(nn.Module):
    def __init__(self, in_features=12, classes=5):
        super().__init__()
        self.stem = nn.Linear(in_features, 16)
        self.stage1 = Stage(2, 16)
        self.widen = nn.Linear(16, 24)
        self.stage2 = Stage(3, 24)
        self.head = nn.Linear(24, classes)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = self.stage1(x)
        x = self.stage2(torch.relu(self.widen(x)))
        return self.head(x)
'''


def test_a_class_whose_uses_repeat_its_layers_another_number_of_times_reads_as_one_looped_block(tmp_path):
    source = tmp_path / "staged.py"
    source.write_text(STAGED)
    model, report = import_source(source, "pytorch", "StagedMLP", input_shapes=[[12]])
    assert [d for d in report.diagnostics if d.is_error] == []
    assert [b.name for b in model.blocks] == ["Stage"]
    text = to_text(model)
    assert "    block Stage(depth: int, width: int, expansion: int = 2) {\n" in text
    assert "        for i in range(depth) {\n" in text
    assert "dense(layers_0, width * expansion, in_features=width)" in text
    assert "    stage2 = Stage(relu_1, 3, 24)\n" in text


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_the_looped_block_migrates_with_its_weights(tmp_path, target):
    import keras
    import torch

    source = tmp_path / "staged.py"
    source.write_text(STAGED)
    original_module = load_generated(STAGED, "staged_original")
    torch.manual_seed(0)
    original = original_module.StagedMLP().eval()
    assert "stage2.layers.2.3.weight" in original.state_dict()
    checkpoint = tmp_path / "staged.pt"
    torch.save(original.state_dict(), checkpoint)
    code = tmp_path / "migrated.py"
    weights = tmp_path / ("migrated.pt" if target == "pytorch" else "migrated.weights.h5")
    result = migrate(source, target, code, model_name="StagedMLP", input_shapes=[[12]], weights=checkpoint,
                     weights_out=weights)
    assert result.ok, result.report_text()
    text = code.read_text()
    assert re.findall(r"^class (\w+)\(", text, re.MULTILINE) == ["Stage", "StagedMLP"]
    migrated_module = load_generated(text, f"staged_{target}")
    migrated = migrated_module.StagedMLP()
    rng = np.random.default_rng(2)
    for batch in (3, 7):
        rows = rng.standard_normal((batch, 12)).astype(np.float32)
        with torch.no_grad():
            expected = original(torch.from_numpy(rows)).numpy()
        if target == "pytorch":
            migrated.load_state_dict(torch.load(weights))   # strict
            migrated.eval()
            with torch.no_grad():
                found = migrated(torch.from_numpy(rows)).numpy()
        else:
            if not migrated.weights:
                migrated(rows)
                migrated.load_weights(str(weights))
            found = keras.ops.convert_to_numpy(migrated(rows, training=False))
        assert np.abs(found - expected).max() < 1e-5
