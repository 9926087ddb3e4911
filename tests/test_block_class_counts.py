"""Issue 12's measure: a corpus source with block classes migrates to one generated class per source class.

A source's block classes are read from its text: the classes it defines that are modules (a PyTorch
``nn.Module`` subclass, a Keras ``Layer`` or ``Model`` subclass) and that the migrated model reaches (its
class body, builder function or the statements building its variable, and from there every class and
function of the file they name), without the model's own class; with the torch modules the importer writes
as classes of their own (``nn.TransformerEncoderLayer``, ``nn.TransformerEncoder``) that it reaches. Every
static corpus entry (not ``refused``, not ``run_constructor``) with such a class is imported and generated
in both frameworks (no framework runs), and each generated file must hold as many block classes (every
class but the model's) as the source has. Files still short are strict xfails with the cause, so a fix
shows up.

The constructor-mode entries (``run_constructor``) are measured the same way, read by running their
builder (the model's class is the one the builder returns); those that come out with one class per source
class are also migrated with their weights to both frameworks, loaded the way their users load them (strict
``load_state_dict``, ``load_weights``) and called in the users' layout at two input sizes.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.importers.constructed import execute_definitions
from nnpivot.importers.pytorch import COMPOSITES
from nnpivot.kinds.core import PADDED_EMBEDDING
from nnpivot.migrate import import_source, migrate

CORPUS = Path(__file__).resolve().parent.parent / "samples" / "corpus"
LISTED = json.loads((CORPUS / "manifest.json").read_text())["entries"]
ENTRIES = [e for e in LISTED if "refused" not in e and not e.get("run_constructor")]
CONSTRUCTED = [e for e in LISTED if e.get("run_constructor")]
MODULE_BASES = {"pytorch": {"Module"}, "keras": {"Layer", "Model"}}
GENERATED_BASES = {"pytorch": {"nn.Module"}, "keras": {"keras.layers.Layer", "keras.Model"}}
OPTIMIZER_NAMESPACES = ("torch.optim.", "keras.optimizers.")

# "path" -> why its generated files still hold another number of block classes (strict xfail).
KNOWN_SHORT: dict[str, str] = {}


def _bases(cls: ast.ClassDef) -> list[str]:
    return [ast.unparse(base) for base in cls.bases]


def _is_module(cls: ast.ClassDef, classes: dict, framework: str, seen: frozenset = frozenset()) -> bool:
    for base in _bases(cls):
        if base.split(".")[-1] in MODULE_BASES[framework]:
            return True
        if base in classes and base not in seen and _is_module(classes[base], classes, framework, seen | {base}):
            return True
    return False


def source_block_classes(text: str, framework: str, model: str) -> list[str]:
    """The block classes of a source (see the module docstring), in the order they are reached."""
    tree = ast.parse(text)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    functions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if model in classes:
        roots = list(classes[model].body)
    elif model in functions:
        roots = [functions[model]]
    else:   # a module-level variable: the statements that build or extend it
        roots = [s for s in tree.body if not isinstance(s, (ast.ClassDef, ast.FunctionDef))
                 and any(isinstance(n, ast.Name) and n.id == model for n in ast.walk(s))]
    reached, composites, pending = [], [], list(roots)
    while pending:
        for node in ast.walk(pending.pop()):
            if isinstance(node, ast.Name) and node.id not in reached and node.id != model:
                if node.id in classes:
                    reached.append(node.id)
                    pending.extend(classes[node.id].body)   # its bases are no submodules
                elif node.id in functions:
                    reached.append(node.id)
                    pending.append(functions[node.id])
            elif framework == "pytorch" and isinstance(node, ast.Attribute) and node.attr in COMPOSITES.values() \
                    and ast.unparse(node) in COMPOSITES and node.attr not in composites:
                composites.append(node.attr)
    return [n for n in reached if n in classes and _is_module(classes[n], classes, framework)] + composites


def _generated_block_classes(code: str, framework: str, model_class: str) -> list[str]:
    found, optimizers = [], set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.ClassDef):
            if _bases(node) and all(base.startswith(OPTIMIZER_NAMESPACES) or base in optimizers
                                    for base in _bases(node)):
                # the optimizer the source's training code uses, written with its update rule (and its subclass
                # taking twice the step for recurrent layers with two source biases): no block
                optimizers.add(node.name)
                continue
            if node.name == PADDED_EMBEDDING:
                continue  # a generated layer (a PyTorch padding_idx Embedding), not a block of the source
            assert set(_bases(node)) <= GENERATED_BASES[framework], (node.name, _bases(node))
            if node.name != model_class:
                found.append(node.name)
    return found


def _import(entry: dict):
    source, framework = CORPUS / entry["path"], entry["framework"]
    shapes = [spec["shape"] for spec in entry["inputs"]]
    if "model_needed" in entry:
        return import_source(source, framework, entry["model"], entry["kwargs"] or None, settings=entry["set"])
    if "set" in entry:
        return import_source(source, framework, input_shapes=shapes if framework == "pytorch" else None,
                             settings=entry["set"])
    return import_source(source, framework, entry["model"], entry["kwargs"], shapes)


def _with_blocks(entry: dict) -> bool:
    return bool(source_block_classes((CORPUS / entry["path"]).read_text(), entry["framework"], entry["model"]))


def _param(entry: dict):
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_SHORT[entry["path"]])] if entry["path"] in KNOWN_SHORT \
        else []
    return pytest.param(entry, id=entry["path"], marks=marks)


WITH_BLOCKS = [e for e in ENTRIES if _with_blocks(e)]


def test_the_measure_covers_the_corpus_files_with_blocks():
    paths = {e["path"] for e in WITH_BLOCKS}
    assert len(paths) >= 25, sorted(paths)
    assert set(KNOWN_SHORT) <= paths   # a listed file that left the corpus leaves the list too
    assert {"keras/script_resnet_custom_blocks.py", "pytorch/cnn_resnet_blocks.py",
            "pytorch/cnn_tiny_unet.py"} <= paths


def test_source_block_classes_are_the_modules_the_model_reaches():
    text = '''
import torch.nn as nn

class Base(nn.Module):
    pass

class Unused(nn.Module):
    pass

class Config:
    width = 8

class Block(Base):
    def __init__(self, width):
        super().__init__()
        self.inner = nn.Linear(width, width)

def make_stage(n):
    return nn.Sequential(*[Block(Config.width) for _ in range(n)])

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage = make_stage(2)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, batch_first=True), 2)
'''
    assert source_block_classes(text, "pytorch", "Net") == ["Block", "TransformerEncoder", "TransformerEncoderLayer"]


@pytest.mark.parametrize("entry", [_param(e) for e in WITH_BLOCKS])
def test_one_generated_class_per_source_block_class(entry):
    framework = entry["framework"]
    wanted = source_block_classes((CORPUS / entry["path"]).read_text(), framework, entry["model"])
    model, report = _import(entry)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    model_class = class_name(model.name)
    for target, generator in (("pytorch", pytorch_generator), ("keras", keras_generator)):
        generated = _generated_block_classes(generator.generate(model, entry["path"]), target, model_class)
        assert len(generated) == len(wanted), (target, generated, wanted)


# --- constructor mode ---------------------------------------------------------------------------------------

# "path" -> why its generated files still hold another number of block classes (strict xfail).
KNOWN_SHORT_CONSTRUCTED: dict[str, str] = {}


def built_class(text: str, model: str) -> str:
    """The class a constructor-mode model is built as: the model itself when it is a class, else the class
    its builder function returns (through builders returning builders' results)."""
    tree = ast.parse(text)
    classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    seen = set()
    while model in functions and model not in seen:
        seen.add(model)
        returned = [n.value for n in ast.walk(functions[model]) if isinstance(n, ast.Return)]
        called = [r.func.id for r in returned if isinstance(r, ast.Call) and isinstance(r.func, ast.Name)]
        if len(called) != 1:
            break
        model = called[0]
    return model if model in classes else ""


def constructed_block_classes(entry: dict) -> list[str]:
    text = (CORPUS / entry["path"]).read_text()
    built = built_class(text, entry["model"])
    return [c for c in source_block_classes(text, entry["framework"], entry["model"]) if c != built]


CONSTRUCTED_WITH_BLOCKS = [e for e in CONSTRUCTED if constructed_block_classes(e)]


def _constructed_param(entry: dict):
    marks = [pytest.mark.torch, pytest.mark.tensorflow]
    if entry["path"] in KNOWN_SHORT_CONSTRUCTED:
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_SHORT_CONSTRUCTED[entry["path"]]))
    return pytest.param(entry, id=entry["path"], marks=marks)


def test_the_constructor_mode_measure_covers_its_files_with_block_classes():
    assert {e["path"] for e in CONSTRUCTED_WITH_BLOCKS} == {
        "pytorch/ctor_resnet_make_layer.py", "pytorch/ctor_mobilenet_inverted_residual.py",
        "pytorch/ctor_densenet_blocks.py", "pytorch/ctor_gpt_config.py"}
    # the Keras constructor-mode files build functional graphs from helper functions: no class to count
    assert all(e["framework"] == "pytorch" for e in CONSTRUCTED_WITH_BLOCKS)
    assert set(KNOWN_SHORT_CONSTRUCTED) <= {e["path"] for e in CONSTRUCTED_WITH_BLOCKS}
    assert built_class((CORPUS / "pytorch/ctor_resnet_make_layer.py").read_text(), "resnet14") == "ResNet"
    assert constructed_block_classes(next(e for e in CONSTRUCTED if e["model"] == "resnet14")) == ["BasicBlock"]


@pytest.mark.parametrize("entry", [_constructed_param(e) for e in CONSTRUCTED_WITH_BLOCKS])
def test_constructor_mode_generates_one_class_per_source_block_class(entry):
    wanted = constructed_block_classes(entry)
    shapes = [spec["shape"] for spec in entry["inputs"]]
    model, report = import_source(CORPUS / entry["path"], entry["framework"], entry["model"], entry["kwargs"] or None,
                                  shapes, run_constructor=True)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    model_class = class_name(model.name)
    for target, generator in (("pytorch", pytorch_generator), ("keras", keras_generator)):
        generated = _generated_block_classes(generator.generate(model, entry["path"]), target, model_class)
        assert len(generated) == len(wanted), (target, generated, wanted)


def _users_checkpoint(entry: dict, path: Path):
    """The original as its users build it, saved as they save it: its own initialisation, where that is one
    constant (zero biases, fresh BatchNorm statistics, zero-initialised residual scales) made lively around it
    (variances stay positive)."""
    import torch

    module, _ = execute_definitions(CORPUS / entry["path"])
    torch.manual_seed(0)
    original = getattr(module, entry["model"])(**entry["kwargs"]).eval()
    with torch.no_grad():
        for name, tensor in [*original.named_parameters(), *original.named_buffers()]:
            if tensor.is_floating_point() and tensor.numel() > 1 and bool((tensor == tensor.flatten()[0]).all()):
                lively = torch.rand_like(tensor) + 0.5 if name.endswith("running_var") else \
                    tensor + 0.2 * torch.randn_like(tensor)
                tensor.copy_(lively)
    torch.save(original.state_dict(), path)
    return original


def _second_size(spec: dict) -> list[int]:
    """Another size of an image input: odd, unequal sizes along its free axes (strides meet odd sizes)."""
    return [size + 11 + 8 * axis if axis in spec.get("free_axes", ()) else size
            for axis, size in enumerate(spec["shape"])]


EXACT_CONSTRUCTED = [e for e in CONSTRUCTED_WITH_BLOCKS if e["path"] not in KNOWN_SHORT_CONSTRUCTED
                     and all(spec.get("free_axes") for spec in e["inputs"])]


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("entry", EXACT_CONSTRUCTED, ids=[e["path"] for e in EXACT_CONSTRUCTED])
def test_a_constructed_file_with_its_blocks_as_classes_migrates_exactly(entry, target, tmp_path):
    import keras
    import torch

    checkpoint = tmp_path / "original.pt"
    original = _users_checkpoint(entry, checkpoint)
    code = tmp_path / "migrated.py"
    weights = tmp_path / ("migrated.pt" if target == "pytorch" else "migrated.weights.h5")
    result = migrate(CORPUS / entry["path"], target, code, model_name=entry["model"],
                     model_args=entry["kwargs"] or None, weights=checkpoint, weights_out=weights,
                     run_constructor=True)
    assert result.ok, result.report_text()
    text = code.read_text()
    name = class_name(result.model.name)
    assert len(_generated_block_classes(text, target, name)) == len(constructed_block_classes(entry))
    namespace: dict = {"__name__": "migrated"}
    exec(compile(text, str(code), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    migrated = namespace[name]()
    rng = np.random.default_rng(0)
    worst = 0.0
    for sizes in ([spec["shape"] for spec in entry["inputs"]], [_second_size(spec) for spec in entry["inputs"]]):
        arrays = [rng.standard_normal((2, *size)).astype("float32") for size in sizes]
        with torch.no_grad():
            expected = original(*[torch.from_numpy(a) for a in arrays]).numpy()
        if target == "pytorch":
            if migrated.training:
                migrated.load_state_dict(torch.load(weights))   # strict: every key of the file, no other
                migrated.eval()
            with torch.no_grad():
                got = migrated(*[torch.from_numpy(a) for a in arrays]).numpy()
        else:
            channels_last = [np.transpose(a, (0, *range(2, a.ndim), 1)) for a in arrays]
            if not migrated.weights:
                migrated(channels_last[0] if len(arrays) == 1 else channels_last)   # builds it, as its users do
                migrated.load_weights(str(weights))
            got = keras.ops.convert_to_numpy(migrated(channels_last[0] if len(arrays) == 1 else channels_last,
                                                      training=False))
        assert got.shape == expected.shape, (sizes, got.shape, expected.shape)
        worst = max(worst, float(np.abs(got - expected).max()))
    assert worst <= 1e-5
