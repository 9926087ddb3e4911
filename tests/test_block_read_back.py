"""Generated code with parameterised blocks reads back into the same blocks (issue 12).

A migration there and back keeps one class per block: for every corpus file with block classes (the files
tests/test_block_class_counts.py measures, static and constructor mode), the model is generated in PyTorch and
in Keras and each generated file is read back by the importer of its framework (statically: nothing is run
but a constructor-mode file's own builder). The read-back model has the blocks the generated file was made
from (same names, same number of guards, in order), and as many as the source has block classes.

The Keras importer rebuilds a custom ``Layer`` class whose uses differ in ``if``-guarded layers (an optional
expansion before a list of layers, which shifts their positions, and an optional shortcut) or in ``if``/``else``
branches as one parameterised block, as the PyTorch importer does for modules; each use's weights come from
its own layer object, so the migration to PyTorch with the user's ``.weights.h5`` computes what the Keras
model computes.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import test_block_class_counts as measure
from conftest import SAMPLES
from markers import FRAMEWORK_MARKS
from test_importer_round_trip import read_back_keras, read_back_pytorch

from nnpivot.frameworks import load_source_module
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.migrate import import_source, migrate

READ_BACK = {"pytorch": read_back_pytorch, "keras": read_back_keras}

# (path, target) -> why the generated file reads back with other blocks than it was made from (strict xfail).
READ_BACK_SHORT = {
    ("pytorch/script_lstm_anomaly_autoencoder.py", "keras"): (
        "the generated Keras Decoder's call takes a per-call number (call(self, z, steps), called with steps=30): "
        "the Keras importer reads no custom layer taking a value besides its tensors, so it stops with "
        "dynamic-value at the tile and the block's output"),
}


def _param(entry: dict, target: str, constructed: bool):
    marks = [FRAMEWORK_MARKS["pytorch"]] if constructed else []   # the builder runs: it needs torch
    short = (measure.KNOWN_SHORT_CONSTRUCTED if constructed else measure.KNOWN_SHORT).get(entry["path"])
    reason = READ_BACK_SHORT.get((entry["path"], target)) or (
        f"the import of the source is already short of block classes: {short}" if short else None)
    if reason:
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    return pytest.param(entry, target, constructed, id=f"{entry['path']}->{target}", marks=marks)


PARAMS = [_param(e, target, constructed) for constructed, entries in ((False, measure.WITH_BLOCKS),
                                                                     (True, measure.CONSTRUCTED_WITH_BLOCKS))
          for e in entries for target in READ_BACK]


def test_the_read_back_covers_every_file_with_block_classes():
    assert len(PARAMS) == 2 * (len(measure.WITH_BLOCKS) + len(measure.CONSTRUCTED_WITH_BLOCKS)) >= 2 * 29
    assert {path for path, _ in READ_BACK_SHORT} <= {e["path"] for e in [*measure.WITH_BLOCKS,
                                                                         *measure.CONSTRUCTED_WITH_BLOCKS]}


@pytest.mark.parametrize(("entry", "target", "constructed"), PARAMS)
def test_generated_code_reads_back_with_one_block_per_source_class(entry, target, constructed, tmp_path):
    if constructed:
        wanted = measure.constructed_block_classes(entry)
        model, _ = import_source(measure.CORPUS / entry["path"], entry["framework"], entry["model"],
                                 entry["kwargs"] or None, [spec["shape"] for spec in entry["inputs"]],
                                 run_constructor=True)
    else:
        wanted = measure.source_block_classes((measure.CORPUS / entry["path"]).read_text(), entry["framework"],
                                              entry["model"])
        model, _ = measure._import(entry)
    again, report = READ_BACK[target](model, tmp_path)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    assert [(b.name, len(b.guards)) for b in again.blocks] == [(b.name, len(b.guards)) for b in model.blocks]
    assert len(again.blocks) == len(wanted), ([b.name for b in again.blocks], wanted)


SAMPLES_WITH_BLOCKS = [path for path in SAMPLES if "block " in path.read_text()]


def test_the_samples_with_blocks_are_read_back():
    assert {"prepost_encoder_blocks", "resnet18_blocks", "unet_blocks"} <= {p.stem for p in SAMPLES_WITH_BLOCKS}


@pytest.mark.parametrize("target", READ_BACK)
@pytest.mark.parametrize("sample", SAMPLES_WITH_BLOCKS, ids=[p.stem for p in SAMPLES_WITH_BLOCKS])
def test_generated_code_of_a_sample_reads_back_with_its_blocks(sample, target, tmp_path):
    """The .nn samples' blocks (guards, an else branch) come back from each framework's generated code: the
    pre/post-norm encoder layer block read back from Keras was two blocks without guards before."""
    model = parse_text(sample.read_text(), str(sample))
    again, report = READ_BACK[target](model, tmp_path)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    def structure(blocks):  # in name order: generated Keras code may define the classes in another order
        return sorted((b.name, len(b.guards), [len(g.alternative) for g in b.guards], len(b.loops)) for b in blocks)

    assert structure(again.blocks) == structure(model.blocks)


# --- the same test in __init__ and forward ------------------------------------------------------------------

PROJECTED = textwrap.dedent('''\
    import torch.nn as nn


    class Step(nn.Module):
        """A step whose input is projected first when the widths differ (the test written in both methods, over
        the argument and over the attribute keeping it), with the residual sum where asked for."""

        def __init__(self, inp, oup, residual):
            super().__init__()
            self.inp = inp
            self.oup = oup
            self.residual = residual
            if inp != oup:
                self.project = nn.Linear(inp, oup)
            self.body = nn.Sequential(nn.LayerNorm(oup), nn.Linear(oup, oup))
            self.act = nn.ReLU()

        def forward(self, x):
            if self.inp != self.oup:
                x = self.project(x)
            y = self.act(self.body(x))
            if self.residual:
                y = x + y
            return y


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.steps = nn.Sequential(Step(6, 8, True), Step(8, 8, True), Step(8, 4, False), Step(4, 4, False))

        def forward(self, x):
            return self.steps(x)
    ''')


def test_a_guard_tested_in_init_and_again_in_forward_is_one_test(tmp_path):
    """Two guards (the projection, the sum) so the nodes are matched by role: each guard's condition is the one
    test that holds exactly where its nodes are, and ``inp != oup`` written twice is one test, not two."""
    path = tmp_path / "projected.py"
    path.write_text(PROJECTED)
    model, _ = import_pytorch(path, "Net", None, [[6]])
    [block] = model.blocks
    assert [[n.name for n in guard.nodes] for guard in block.guards] == [["project"], ["y"]]
    assert all(call.block is block for call in model.nodes if call.eClass.name == "BlockCall")


# --- Keras custom layers with guards -------------------------------------------------------------------------

MOBILE = textwrap.dedent('''\
    """A small MobileNetV2-style classifier written as Keras layer subclasses."""
    import keras
    from keras import layers

    SETTINGS = [(1, 8, 1), (4, 12, 2), (4, 12, 1), (4, 16, 2)]   # expansion, channels, stride


    class Inverted(layers.Layer):
        """Expand (only when the ratio is not 1), depthwise, project; the shortcut only where the shape is kept."""

        def __init__(self, inp, oup, stride, ratio, **kwargs):
            super().__init__(**kwargs)
            self.residual = stride == 1 and inp == oup
            self.steps = []
            if ratio != 1:
                self.steps += [layers.Conv2D(inp * ratio, 1, use_bias=False), layers.BatchNormalization(),
                               layers.ReLU(max_value=6.0)]
            self.steps += [
                layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False),
                layers.BatchNormalization(),
                layers.ReLU(max_value=6.0),
                layers.Conv2D(oup, 1, use_bias=False),
                layers.BatchNormalization(),
            ]

        def call(self, x, training=False):
            y = x
            for step in self.steps:
                y = step(y, training=training)
            if self.residual:
                return x + y
            return y


    class TinyMobileNet(keras.Model):
        def __init__(self, num_classes=5, **kwargs):
            super().__init__(**kwargs)
            self.stem = keras.Sequential([layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False),
                                          layers.BatchNormalization(), layers.ReLU(max_value=6.0)])
            self.blocks = []
            width = 8
            for ratio, channels, stride in SETTINGS:
                self.blocks.append(Inverted(width, channels, stride, ratio))
                width = channels
            self.pool = layers.GlobalAveragePooling2D()
            self.head = layers.Dense(num_classes)

        def call(self, x, training=False):
            x = self.stem(x, training=training)
            for block in self.blocks:
                x = block(x, training=training)
            return self.head(self.pool(x))
    ''')

PRE_POST = textwrap.dedent('''\
    """Tags every step of a sequence through two residual feed-forward steps, pre-norm then post-norm."""
    import keras
    from keras import layers


    class Residual(layers.Layer):
        def __init__(self, width, norm_first=False, **kwargs):
            super().__init__(**kwargs)
            self.norm_first = norm_first
            self.norm = layers.LayerNormalization(epsilon=1e-5)
            self.hidden = layers.Dense(width * 2, activation="relu")
            self.project = layers.Dense(width)

        def call(self, x):
            if self.norm_first:
                return x + self.project(self.hidden(self.norm(x)))
            else:
                return self.norm(x + self.project(self.hidden(x)))


    class Tagger(keras.Model):
        def __init__(self, width=16, tags=5, **kwargs):
            super().__init__(**kwargs)
            self.embed = layers.Dense(width)
            self.first = Residual(width, norm_first=True)
            self.second = Residual(width)
            self.head = layers.Dense(tags)

        def call(self, x):
            return self.head(self.second(self.first(self.embed(x))))
    ''')

# name -> (source, model class, one input's shape in Keras, a second size of its free axes)
KERAS_SOURCES = {
    "mobile": (MOBILE, "TinyMobileNet", (16, 16, 3), (21, 21, 3)),
    "pre_post": (PRE_POST, "Tagger", (7, 4), (12, 4)),
}


def test_a_keras_layer_with_an_optional_expansion_and_shortcut_is_one_block_with_two_guards(tmp_path):
    path = tmp_path / "mobile.py"
    path.write_text(MOBILE)
    model, _ = import_keras(path, "TinyMobileNet", [list(KERAS_SOURCES["mobile"][2])])
    [block] = model.blocks
    assert block.name == "Inverted" and [p.name for p in block.parameters] == ["inp", "oup", "stride", "ratio"]
    assert [len(guard.nodes) for guard in block.guards] == [3, 1]   # conv, norm and relu6; the sum
    assert [n.eClass.name for n in block.guards[0].nodes] == ["Conv2d", "BatchNorm2d", "ReLU6"]
    calls = [n for n in model.nodes if n.eClass.name == "BlockCall"]
    assert len(calls) == 4 and all(call.block is block for call in calls)


def test_a_keras_layer_with_if_else_branches_is_one_block_with_an_alternative(tmp_path):
    path = tmp_path / "pre_post.py"
    path.write_text(PRE_POST)
    model, _ = import_keras(path, "Tagger", [list(KERAS_SOURCES["pre_post"][2])])
    [block] = model.blocks
    assert block.name == "Residual" and [p.name for p in block.parameters] == ["width", "norm_first"]
    [guard] = block.guards
    assert guard.nodes and guard.alternative
    # the branches compute with one LayerNormalization and one pair of Dense layers: one set of weights
    assert {n.weightsOf.name for n in guard.alternative if n.weightsOf is not None} == {"norm", "hidden", "project"}


def _lively(model) -> None:
    """Trained-looking normalisation weights and statistics, so the comparison exercises them."""
    import keras

    rng = np.random.default_rng(1)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (keras.layers.BatchNormalization, keras.layers.LayerNormalization)):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layer.get_weights()])


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("name", KERAS_SOURCES)
def test_a_guarded_keras_layer_migrates_to_one_pytorch_class_with_its_weights(name, tmp_path):
    import keras
    import torch

    source, network, shape, second = KERAS_SOURCES[name]
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    keras.utils.set_random_seed(0)
    original = getattr(load_source_module(path), network)()
    original(np.zeros((1, *shape), "float32"))
    _lively(original)
    original.save_weights(tmp_path / "original.weights.h5")
    code, weights = tmp_path / f"{name}_torch.py", tmp_path / "migrated.pt"
    result = migrate(path, "pytorch", code, model_name=network, input_shapes=[list(shape)],
                     weights=tmp_path / "original.weights.h5", weights_out=weights)
    assert result.ok and not [d for d in result.diagnostics if d.is_error], [str(d) for d in result.diagnostics]
    text = code.read_text()
    block = result.model.blocks[0].name
    assert text.count("(nn.Module):") == 2 and f"class {block}(nn.Module):" in text
    migrated = getattr(load_source_module(code), network)()
    migrated.load_state_dict(torch.load(weights))   # strict: every key of the file, no other
    migrated.eval()
    rng = np.random.default_rng(2)
    for size in (shape, second):
        data = rng.standard_normal((2, *size)).astype("float32")
        expected = np.asarray(original(data, training=False))
        torch_layout = np.transpose(data, (0, 3, 1, 2)) if data.ndim == 4 else data   # channels-first images
        with torch.no_grad():
            got = migrated(torch.from_numpy(torch_layout)).numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-5, (size, np.abs(got - expected).max())
