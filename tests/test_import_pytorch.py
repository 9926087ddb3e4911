"""The PyTorch source importer (issue 4): every sample migrates, means what the source means, and round-trips.

For each PyTorch file of ``samples/paper`` and ``samples/corpus`` (model, arguments
and input shapes from the manifests):

* the import has no error and shape inference has nothing to say;
* the pivot's output shapes are those of the real module run by torch (the
  importer never executes the file; this test does, to check it);
* the module generated from the pivot, given the source's trained weights
  (state_dict keys mapped through ``report.state_dict_prefixes``), computes the same
  outputs as the source module;
* source -> pivot -> generated PyTorch -> pivot gives an equal model (after one
  documented normalisation: the model name, since a module-level
  ``nn.Sequential`` variable becomes a class in generated code, and a loss the
  source does not state, which the generated training function fills in).

Then every diagnostic code of the importer is triggered with its location, and
the training configuration, input-shape guessing and the report are checked.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from markers import FRAMEWORK_MARKS

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError, has_errors
from nnpivot.generators import pytorch as torch_target
from nnpivot.generators.codegen import class_name
from nnpivot.importers.constructed_torch import import_pytorch_source
from nnpivot.importers.pytorch import PyTorchImportError, guess_input_shapes, import_pytorch
from nnpivot.migrate import source_key
from nnpivot.shapes import infer_shapes

ROOT = Path(__file__).resolve().parent.parent / "samples"
UNSUPPORTED = ROOT / "unsupported" / "pytorch"
MIN_CORPUS_FILES = 60
BATCH = 2


def _entries():
    found = []
    for collection in ("paper", "corpus"):
        base = ROOT / collection
        for entry in json.loads((base / "manifest.json").read_text())["entries"]:
            if entry["framework"] == "pytorch" and "refused" not in entry:   # refusals: test_corpus_sizes.py
                found.append((collection, base / entry["path"], entry))
    return found


ENTRIES = _entries()
IDS = [f"{c}/{e['path']}" for c, _, e in ENTRIES]
# Constructor-mode files run their builders when imported: those entries need torch even for the static tests.
PARAMS = [pytest.param(c, p, e, id=f"{c}/{e['path']}", marks=[FRAMEWORK_MARKS["pytorch"]] if e.get("run_constructor")
                       else []) for c, p, e in ENTRIES]


def _shapes(entry):
    return [spec["shape"] for spec in entry["inputs"]]


def _load_module(path: Path, tag: str):
    name = "nnpivot_import_test_" + re.sub(r"\W", "_", tag)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


_NETWORKS: dict = {}


def _source_network(path: Path, entry, tag: str):
    """The real source module, built once per file (the big paper networks take seconds)."""
    import torch  # noqa: F401 - the source file imports it; fail here, not inside the sample

    if path not in _NETWORKS:
        module = _load_module(path, tag)
        target = getattr(module, entry["model"])
        network = target if entry["model_kind"] == "variable" else target(**entry["kwargs"])
        _NETWORKS[path] = network.eval()
    return _NETWORKS[path]


def _inputs(entry, seed=0):
    import torch

    rng = np.random.default_rng(seed)
    tensors = []
    for spec in entry["inputs"]:
        shape = (BATCH, *spec["shape"])
        if spec["dtype"] == "int64":
            tensors.append(torch.from_numpy(rng.integers(0, spec["vocab"], size=shape, dtype=np.int64)))
        else:
            tensors.append(torch.from_numpy(rng.standard_normal(shape).astype(np.float32)))
    return tensors


def _flat(value):
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _flat(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flat(item)]
    return [value]


@pytest.fixture(scope="module")
def imported():
    """Each sample imported once: (model, report)."""
    cache = {}

    def get(path, entry):
        if path not in cache:
            cache[path] = import_pytorch_source(path, entry["model"], entry["kwargs"], _shapes(entry),
                                                run_constructor=entry.get("run_constructor", False))
        return cache[path]
    return get


# ---------------------------------------------------------------- every sample

def test_corpus_count_guard():
    corpus = [e for c, _, e in ENTRIES if c == "corpus"]
    paper = [e for c, _, e in ENTRIES if c == "paper"]
    assert len(corpus) >= MIN_CORPUS_FILES, f"only {len(corpus)} corpus PyTorch files"
    assert len(paper) == 10


@pytest.mark.torch
@pytest.mark.parametrize(("collection", "path", "entry"), ENTRIES, ids=IDS)
def test_sample_imports_with_the_shapes_torch_computes(collection, path, entry, imported):
    import torch

    model, report = imported(path, entry)
    assert not has_errors(report.diagnostics), [str(d) for d in report.diagnostics]
    table, problems = infer_shapes(model)
    assert problems == []
    assert report.model == entry["model"]
    network = _source_network(path, entry, f"{collection}/{entry['path']}")
    with torch.no_grad():
        outputs = _flat(network(*_inputs(entry)))
    expected = [tuple(t.shape[1:]) for t in outputs]
    actual = [tuple(table.operand(o)[1:]) for o in model.outputs]
    assert actual == expected


@pytest.mark.torch
@pytest.mark.parametrize(("collection", "path", "entry"), ENTRIES, ids=IDS)
def test_generated_module_computes_what_the_source_computes(collection, path, entry, imported, tmp_path):
    import torch

    model, report = imported(path, entry)
    source = _source_network(path, entry, f"{collection}/{entry['path']}")
    generated_file = tmp_path / "generated.py"
    generated_file.write_text(torch_target.generate(model, entry["path"]))
    generated = getattr(_load_module(generated_file, f"gen/{entry['path']}"), class_name(model.name))().eval()
    source_state = source.state_dict()
    state = {slot.torch_key: source_state[source_key(model, report, slot.pivot_key)]
             for slot in torch_target.parameter_slots(model)}
    missing, unexpected = generated.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    seeds = 1 if sum(p.numel() for p in source.parameters()) > 10_000_000 else 3
    with torch.no_grad():
        for seed in range(seeds):
            inputs = _inputs(entry, seed)
            want, got = _flat(source(*inputs)), _flat(generated(*inputs))
            assert len(want) == len(got)
            for a, b in zip(want, got):
                assert float((a - b).abs().max()) < 1e-5


# Training settings that do not come back from the generated train(): corpus path -> (the diagnostic codes
# re-reading the generated file gives, the differences it reads back).
APPROXIMATE_TRAINING = {
    # ReduceLROnPlateau on the validation loss: train() has no validation data and watches the training loss
    # (the generator warns: approximate-translation)
    "pytorch/script_conv1d_load_forecaster.py": ([], ["training, schedule: monitor 'val_loss' != 'loss'"]),
}


@pytest.mark.parametrize(("collection", "path", "entry"), PARAMS)
def test_round_trip_through_generated_pytorch(collection, path, entry, imported, tmp_path):
    model, _ = imported(path, entry)
    generated_file = tmp_path / "generated.py"
    generated_file.write_text(torch_target.generate(model, entry["path"]))
    again, report = import_pytorch(generated_file, class_name(model.name), None, _shapes(entry))
    codes, known = APPROXIMATE_TRAINING.get(entry["path"], ([], []))
    assert [d.code for d in report.diagnostics] == codes, [str(d) for d in report.diagnostics]
    again.name = model.name                       # a Sequential variable became a class
    if model.training is not None and model.training.loss is None:
        model.training.loss = again.training.loss  # the training function needs a loss; the source gave none
    assert differences(model, again) == known


# ---------------------------------------------------------------- what the pivot holds

def _node(model, name):
    return next(n for n in model.nodes if n.name == name)


def test_layer_arguments_become_pivot_attributes(imported):
    path = ROOT / "corpus" / "pytorch" / "cnn_resnet_blocks.py"
    entry = next(e for _, p, e in ENTRIES if p == path)
    model, report = imported(path, entry)
    assert [b.name for b in model.blocks] == ["BasicBlock"] == report.blocks   # one parameterised block (issue 12)
    conv = _node(model, "conv1")
    assert (list(conv.kernelSize), str(conv.padding), list(conv.pads), conv.bias, conv.inChannels) == \
        ([3], "explicit", [1, 1, 1, 1], False, 3)
    assert list(conv.stride) == []              # stride=1 is the pivot default
    assert [n.eClass.name for n in model.nodes if n.name.startswith("layer")] == ["BlockCall"] * 3
    assert report.state_dict_prefixes["layer2"] == "layer2"
    assert report.state_dict_prefixes["BasicBlock:shortcut_0"] == "shortcut.0"


def test_recurrent_last_step_becomes_return_sequences_false(imported):
    path = ROOT / "paper" / "pytorch" / "text_classifier_subclass.py"
    entry = next(e for _, p, e in ENTRIES if p == path)
    model, report = imported(path, entry)
    bilstm, lstm = _node(model, "bilstm"), _node(model, "lstm")
    assert (bilstm.bidirectional, bilstm.returnSequences, bilstm.batchFirst) == (True, True, True)
    assert lstm.returnSequences is False and list(report.folded) == ["lstm"]
    assert "h_n[-1]" in report.folded["lstm"] or "last step" in report.folded["lstm"]
    assert not [n for n in model.nodes if n.eClass.name in ("Index", "Select")]
    assert str(_node(model, "tokens").dtype) == "int64"


def test_torch_defaults_that_differ_from_the_pivot_are_written():
    model, _ = import_pytorch(ROOT / "corpus" / "pytorch" / "cnn_dropout2d.py", input_shapes=[[1, 16, 16]])
    assert _node(model, "dropout1").spatial is True and _node(model, "dropout2").spatial is False
    assert _node(model, "output").axis == 1     # F.log_softmax(x, dim=1) assigned to output


POOLING_HEADS = """import torch
import torch.nn as nn


class Heads(nn.Module):
    \"\"\"Reductions over feature maps: the ones over every axis after the channels are global poolings.\"\"\"

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.signal = nn.Conv1d(3, 4, 3)

    def forward(self, image, sequence):
        maps = self.conv(image)
        spatial_mean = maps.mean(dim=(2, 3))
        spatial_max = torch.amax(maps, dim=(-1, -2), keepdim=True)
        time_max = torch.max(self.signal(sequence), 2)[0]
        channel_mean = maps.mean(dim=1)
        row_mean = maps.mean(dim=(1, 2))
        column_max = maps.amax(dim=-1)
        feature_mean = sequence.mean(dim=(1,))
        return spatial_mean, spatial_max, time_max, channel_mean, row_mean, column_max, feature_mean
"""


def test_a_reduction_over_exactly_the_spatial_axes_is_a_global_pooling(tmp_path):
    path = tmp_path / "heads.py"
    path.write_text(POOLING_HEADS)
    model, report = import_pytorch(path, input_shapes={"image": [3, 8, 8], "sequence": [3, 10]})
    assert report.diagnostics == []
    read = [(node.eClass.name, list(getattr(node, "axes", [])), getattr(node, "keepdims", None))
            for node in model.outputs]
    # keeping its axes, a global pooling is the adaptive pooling to one cell (the canonical-forms pass)
    assert list(model.outputs[1].outputSize) == [1]
    assert read == [("GlobalAvgPool", [], False), ("AdaptiveMaxPool2d", [], None), ("GlobalMaxPool", [], False),
                    ("ReduceMean", [1], False), ("ReduceMean", [1, 2], False), ("ReduceMax", [-1], False),
                    ("ReduceMean", [1], False)]


def test_model_args_override_constructor_defaults():
    model, report = import_pytorch(ROOT / "corpus" / "pytorch" / "mlp_basic.py", model_args={"hidden": 7},
                                   input_shapes={"x": [20]})
    assert _node(model, "fc1").units == 7 and _node(model, "fc2").inFeatures == 7
    assert report.input_shapes == {"x": (20,)}


def test_training_configuration_of_a_script():
    model, report = import_pytorch(ROOT / "corpus" / "pytorch" / "mlp_training_script.py", input_shapes=[[12]])
    training = model.training
    assert (training.optimizer.kind, training.optimizer.learningRate, training.loss, training.epochs,
            training.batchSize) == ("adam", 0.001, "cross_entropy", 5, 64)
    assert "optimizer adam" in report.training
    model, _ = import_pytorch(ROOT / "corpus" / "pytorch" / "cnn_training_script.py", input_shapes=[[3, 32, 32]])
    training = model.training
    assert (training.optimizer.kind, training.optimizer.learningRate, training.epochs, training.batchSize) == \
        ("sgd", 0.005, 5, 64)
    assert {p.key: p.value for p in training.optimizer.parameters} == {"momentum": 0.9}


def test_the_file_is_never_executed():
    model, _ = import_pytorch(UNSUPPORTED / "top_level_side_effect.py", input_shapes=[[3]])
    assert [n.eClass.name for n in model.nodes] == ["Input", "Dense"]


# ---------------------------------------------------------------- honest failure

def _codes(diagnostics):
    return [(d.code, d.location.line, d.location.col) for d in diagnostics if d.location is not None]


def test_refused_constructs_are_located_and_the_rest_migrates():
    path = UNSUPPORTED / "unsupported_constructs.py"
    with pytest.raises(PyTorchImportError) as caught:
        import_pytorch(path, input_shapes=[[8]])
    assert _codes(caught.value.diagnostics) == [
        ("unknown-layer", 11, 20), ("unknown-function", 16, 13), ("dynamic-value", 18, 12),
        ("unsupported-construct", 20, 13)]
    assert str(caught.value.diagnostics[0]).startswith(f"{path}:11:20: error[unknown-layer]: nn.Softshrink")
    model, report = import_pytorch(path, input_shapes=[[8]], partial=True)
    assert [n.name for n in model.nodes] == ["x", "fc", "out"] and [o.name for o in model.outputs] == ["out"]
    text = report.to_text()
    assert "migrated class Refused" in text and "translated exactly: 2" in text and "not translated: 4" in text


def test_approximations_are_reported():
    model, report = import_pytorch(UNSUPPORTED / "shared_and_dropout.py", input_shapes=[[6]])
    assert _codes(report.diagnostics) == []
    notes = {e.node: e.note for e in report.approximate}
    assert set(notes) == {"dropout"} and "training=self.training" in notes["dropout"]
    assert "translated approximately: 1\n" in report.to_text()
    # the layer called twice is exact: the second call shares the first call's weights
    nodes = {n.name: n for n in model.nodes}
    assert nodes["fc_1"].weightsOf is nodes["fc"] and "fc_1" in {e.node for e in report.exact}


def test_declared_sizes_are_checked():
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(UNSUPPORTED / "shape_mismatch.py", input_shapes=[[1, 10, 10]])
    assert _codes(caught.value.diagnostics) == [("shape-mismatch", 7, 5)]
    assert "400 input features but fed 256" in str(caught.value)


@pytest.mark.parametrize(("name", "kwargs", "code", "where", "words"), [
    ("two_networks.py", {}, "ambiguous-model", (0, 0), "Classifier, encoder"),
    ("two_networks.py", {"model_name": "Missing"}, "no-model-found", (0, 0), "Missing"),
    ("no_network.py", {}, "no-model-found", (0, 0), "no nn.Module"),
    ("not_python.py", {}, "syntax-error", (3, 24), "not valid Python"),
    ("absent.py", {}, "file-not-found", (0, 0), "no such file"),
    ("input_read_by_no_layer.py", {}, "missing-input-shape", (11, 5), "forward argument 'x'"),
    ("needs_model_args.py", {"input_shapes": [[5]]}, "dynamic-value", (5, 1), "in_features"),
])
def test_fatal_problems(name, kwargs, code, where, words):
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(UNSUPPORTED / name, **kwargs)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == code and words in diagnostic.message
    assert (diagnostic.location.line, diagnostic.location.col) == where
    assert diagnostic.location.file == str(UNSUPPORTED / name)


def test_choosing_among_several_networks():
    model, report = import_pytorch(UNSUPPORTED / "two_networks.py", model_name="encoder", input_shapes=[[4]])
    assert (report.model, report.model_kind, report.candidates) == ("encoder", "variable", ["Classifier", "encoder"])
    assert [n.name for n in model.nodes] == ["x", "dense_0", "relu_1"]


# ---------------------------------------------------------------- guessed shapes

@pytest.mark.parametrize(("path", "expected"), [
    ("corpus/pytorch/cnn_lenet.py", {"x": (1, 32, 32)}),
    ("corpus/pytorch/mlp_basic.py", {"x": (20,)}),
    ("paper/pytorch/text_classifier_subclass.py", {"tokens": (16,)}),
    ("paper/pytorch/alexnet_sequential.py", {"x": (3, 64, 64)}),   # 32x32 is too small for AlexNet
])
def test_guessed_input_shapes(path, expected):
    assert guess_input_shapes(ROOT / path) == expected


def test_an_unguessable_input_is_named():
    with pytest.raises(NNPivotError) as caught:
        guess_input_shapes(ROOT / "corpus" / "pytorch" / "mlp_two_inputs.py")
    assert caught.value.diagnostics[0].code == "missing-input-shape"
    assert "'wide'" in caught.value.diagnostics[0].message


def test_the_shape_a_dense_layer_fixes_is_read_without_running_the_file():
    model, report = import_pytorch(UNSUPPORTED / "top_level_side_effect.py")
    assert report.input_shapes == {"x": (3,)}
    assert [n.eClass.name for n in model.nodes] == ["Input", "Dense"]


# ---------------------------------------------------------------- constructs real code uses (issue 10)

def _import_text(tmp_path, source, shapes, **kwargs):
    path = tmp_path / "net.py"
    path.write_text(source, encoding="utf-8")
    return import_pytorch(path, input_shapes=shapes, **kwargs)


PADDING_MODULES = '''
import torch.nn as nn


class Borders(nn.Module):
    def __init__(self):
        super().__init__()
        self.reflect = nn.ReflectionPad2d((1, 2, 0, 3))
        self.replicate = nn.ReplicationPad1d(2)
        self.circular = nn.CircularPad2d(1)
        self.constant = nn.ConstantPad1d((0, 2), -1.5)
        self.zero = nn.ZeroPad2d(1)

    def forward(self, image, signal):
        return self.zero(self.circular(self.reflect(image))), self.constant(self.replicate(signal))
'''


def test_padding_modules_are_pads_with_the_mode_of_their_class(tmp_path):
    model, report = _import_text(tmp_path, PADDING_MODULES, [[3, 8, 8], [4, 10]])
    assert _codes(report.diagnostics) == []
    pads = {n.name: (list(n.pads), n.mode.name, n.value) for n in model.nodes if n.eClass.name == "Pad"}
    assert pads == {"reflect": ([0, 3, 1, 2], "reflect", 0.0), "circular": ([1, 1, 1, 1], "circular", 0.0),
                    "zero": ([1, 1, 1, 1], "constant", 0.0), "replicate": ([2, 2], "replicate", 0.0),
                    "constant": ([0, 2], "constant", -1.5)}


TENSOR_METHODS = '''
import torch
from torch import nn

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Mixer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.embed = nn.Embedding(50, 6)

    def forward(self, x, ids):
        if isinstance(x, (tuple, list)) or not isinstance(x, torch.Tensor):
            x = x[0]
        x = x.to(DEVICE).float().to(torch.float32)
        with torch.autograd.profiler.record_function("mix"), torch.no_grad():
            h = self.fc(x)
        if not torch.jit.is_scripting():
            h = h.add(x).sub(1.0).mul(x).div(x.add(3.0))
        words = self.embed(ids.long().to(x.device)).mean(1)
        return torch.neg(h).add(words, alpha=1).cuda().cpu().type(torch.FloatTensor)
'''


def test_tensor_methods_casts_and_plumbing_are_read(tmp_path):
    model, report = _import_text(tmp_path, TENSOR_METHODS, [[6], [5]])
    assert _codes(report.diagnostics) == []
    ops = [(n.eClass.name, [i.name for i in n.inputs], getattr(n, "scalar", None)) for n in model.nodes
           if n.eClass.name in ("Add", "Sub", "Mul", "Div")]
    assert ops == [("Add", ["fc", "x"], 0.0), ("Sub", ["add"], 1.0), ("Mul", ["sub", "x"], 0.0),
                   ("Add", ["x"], 3.0), ("Div", ["mul", "add_1"], 0.0), ("Mul", ["h"], -1.0),
                   ("Add", ["mul_1", "words"], 0.0)]
    assert {n.name: n.dtype.name for n in model.nodes if n.eClass.name == "Input"} == {"x": "float32", "ids": "int64"}


@pytest.mark.parametrize(("expression", "words"), [
    ("x.double()", "casts to float64"),
    ("self.fc(x).long()", "casts to int64"),
    ("x.to(torch.float16)", "casts to float16"),
    ("x.add(x, alpha=2)", "alpha=2"),
    ("x.to(self.fc)", "not a device or dtype change"),
])
def test_casts_that_change_values_are_refused(tmp_path, expression, words):
    source = f'''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return {expression}
'''
    with pytest.raises(NNPivotError) as caught:
        _import_text(tmp_path, source, [[4]])
    first = caught.value.diagnostics[0]
    assert first.code == "unsupported-construct" and words in first.message and first.location.line == 12


COPIES = '''
import torch
import torch.nn as nn


class Copies(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout2d(0.1)

    def forward(self, x, maps):
        h = self.drop(self.fc(x))
        wide = h.repeat(1, 3)
        tiled = torch.tile(maps, (2, 1, 1))
        steps = h.unsqueeze(1).expand(-1, 5, -1)
        same = maps.expand(maps.size(0), -1, 6, 6)
        return wide, tiled, steps, same
'''


def test_repeat_tile_and_expand_are_tiles(tmp_path):
    model, report = _import_text(tmp_path, COPIES, [[4], [3, 6, 6]])
    assert _codes(report.diagnostics) == []
    tiles = {n.name: list(n.repeats) for n in model.nodes if n.eClass.name == "Tile"}
    assert tiles == {"wide": [3], "tiled": [2, 1, 1], "steps": [5, 1]}
    assert [o.name for o in model.outputs][-1] == "maps"   # an expand to the same sizes is the tensor itself


@pytest.mark.parametrize(("expression", "words"), [
    ("x.repeat(2, 1)", "copies of the batch axis"),
    ("x.repeat(1, 1, 2)", "new leading axes"),
    ("x.unsqueeze(1).expand(-1, 3, 8)", "expands axis 2 of size 4 to 8"),
])
def test_copies_without_a_pivot_counterpart_are_refused(tmp_path, expression, words):
    source = f'''
import torch.nn as nn


class Net(nn.Module):
    def forward(self, x):
        return {expression}
'''
    with pytest.raises(NNPivotError) as caught:
        _import_text(tmp_path, source, [[4]])
    first = caught.value.diagnostics[0]
    assert words in first.message and first.location.line == 7, str(first)


FOLDS = '''
import torch.nn as nn


class PerStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 4)
        self.split = nn.Unflatten(1, (2, 2))

    def forward(self, x):
        n, t, f = x.shape
        steps = self.fc(x.reshape(n * t, f))
        again = steps.view(n, t, -1)
        folded = x.view(-1, f)
        pairs = self.split(self.fc(folded)).view(n, t, 4)
        return again, pairs, steps.unflatten(0, (n, t))
'''


def test_time_steps_folded_into_the_batch_and_back(tmp_path):
    model, report = _import_text(tmp_path, FOLDS, [[5, 6]])
    assert _codes(report.diagnostics) == []
    nodes = {n.name: n for n in model.nodes}
    folds = [n.name for n in model.nodes if n.eClass.name == "Flatten" and n.startDim == 0 and n.endDim == 1]
    assert len(folds) == 2
    unflattens = {n.name: (n.axis, list(n.shape)) for n in model.nodes if n.eClass.name == "Unflatten"}
    assert unflattens == {"again": (0, [-1, 5]), "split": (1, [2, 2]), "pairs": (0, [-1, 5]),
                          "unflatten": (0, [-1, 5])}
    # (N*T, 2, 2) viewed as (N, T, 4): the time steps out of the batch, then the rest reshaped
    after = next(n for n in model.nodes if n.eClass.name == "Reshape")
    assert list(after.shape) == [5, 4] and after.inputs[0] is nodes["pairs"]


def test_a_fold_that_does_not_match_the_shape_is_refused(tmp_path):
    source = FOLDS.replace("x.reshape(n * t, f)", "x.reshape(n * f, t)")
    with pytest.raises(NNPivotError) as caught:
        _import_text(tmp_path, source, [[5, 6]])
    first = caught.value.diagnostics[0]
    assert first.code == "unsupported-construct" and "folds 6 steps into the batch" in first.message


def test_torch_transformer_encoder_layers_are_blocks_with_torchs_submodule_names(tmp_path):
    source = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, first=True):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, 32, batch_first=first)
        self.encoder = nn.TransformerEncoder(layer, 2)

    def forward(self, x):
        return self.encoder(x)
'''
    model, report = _import_text(tmp_path, source, [[5, 16]])
    assert _codes(report.diagnostics) == []
    blocks = {b.name: [n.name for n in b.nodes] for b in model.blocks}
    assert blocks["TransformerEncoder"] == ["src", "layers_0", "layers_1"]
    assert blocks["TransformerEncoderLayer"] == ["src", "self_attn", "dropout1", "add", "norm1", "linear1", "relu",
                                                 "dropout", "linear2", "dropout2", "add_1", "norm2"]
    prefixes = report.state_dict_prefixes   # the checkpoint's keys: encoder.layers.0.self_attn.in_proj_weight...
    assert (prefixes["encoder"], prefixes["TransformerEncoder:layers_0"], prefixes["TransformerEncoderLayer:self_attn"],
            prefixes["TransformerEncoderLayer:linear1"]) == ("encoder", "layers.0", "self_attn", "linear1")
    with pytest.raises(NNPivotError) as caught:
        _import_text(tmp_path, source, [[5, 16]], model_args={"first": False})
    first = caught.value.diagnostics[0]
    assert first.code == "unsupported-construct" and "batch_first=True" in first.message and first.location.line == 8
