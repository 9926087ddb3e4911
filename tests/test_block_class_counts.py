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
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.importers.pytorch import COMPOSITES
from nnpivot.migrate import import_source

CORPUS = Path(__file__).resolve().parent.parent / "samples" / "corpus"
ENTRIES = [e for e in json.loads((CORPUS / "manifest.json").read_text())["entries"]
           if "refused" not in e and not e.get("run_constructor")]
MODULE_BASES = {"pytorch": {"Module"}, "keras": {"Layer", "Model"}}
GENERATED_BASES = {"pytorch": {"nn.Module"}, "keras": {"keras.layers.Layer", "keras.Model"}}

# "path" -> why its generated files still hold another number of block classes (strict xfail).
KNOWN_SHORT = {
    "pytorch/conv1d_dilated_tcn.py": "CausalBlock's uses differ in a padding bound to the dilation "
                                     "((kernel_size - 1) * dilation), and paddings bound to expressions are "
                                     "being built separately: one class per dilation until then",
    "pytorch/script_lstm_anomaly_autoencoder.py": "Decoder.forward takes a non-tensor argument (steps), so the "
                                                  "importer inlines its layers into the model instead of a block",
    "pytorch/rnn_sequential_helpers.py": "LastOutput's forward unpacks the RNN's (output, state) tuple, which no "
                                         "block input holds: the importer inlines its slice into the model",
}


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
    found = []
    for node in ast.parse(code).body:
        if isinstance(node, ast.ClassDef):
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
