"""What the source importers know of each kind comes from its kind module.

The importers' class and reader tables are built from the kinds' framework mappings; what they hold of their
own is listed as no one kind (wrappers, arbitrary code, layers of training only). These tests fail when an
importer table names a class no kind and no listed construct explains, when a kind names a reader the
importer lacks, and (with the framework) when a positional signature a kind declares is not the framework's.
"""
import ast
import inspect

import pytest

from nnpivot.diagnostics import NNPivotError
from nnpivot.importers import keras as keras_importer
from nnpivot.importers import pytorch as torch_importer
from nnpivot.kinds import KINDS
from nnpivot.kinds.core import PADDED_EMBEDDING
from nnpivot.kinds.torch_mapping import HELPERS

KERAS_MAPPINGS = {keyword: kind.mappings["keras"] for keyword, kind in KINDS.items()}
TORCH_MAPPINGS = {keyword: kind.mappings["pytorch"] for keyword, kind in KINDS.items()}
# Kinds the PyTorch importer reads without an argument reader: subscripts (x[:, 1:3], x[:, 0]) are read by the
# interpreter's indexing, global pooling from torch.mean/amax over the spatial axes and adaptive pooling to one
# cell, and a learned tensor from the nn.Parameter it adds.
TORCH_READ_ELSEWHERE = {"slice", "index", "global_avg_pool", "global_max_pool", "add_learned"}


def kind_keras_classes() -> dict[str, set[str]]:
    """Keras class -> the keywords whose mapping writes it, reads it, or gives it another name."""
    found: dict[str, set[str]] = {}
    for keyword, mapping in KERAS_MAPPINGS.items():
        for cls, _, _, aliases in keras_importer._keras_classes(mapping):
            for name in (cls, *aliases):
                found.setdefault(name, set()).add(keyword)
    return found


def test_every_keras_importer_class_is_a_kinds_or_a_listed_construct():
    kinds = kind_keras_classes()
    constructs = set(keras_importer.CONSTRUCTS) | set(keras_importer.CONSTRUCT_SIGNATURES)
    assert not constructs & set(kinds), "a construct the importer lists is a kind's class: say it in the kind"
    for table in ("POSITIONAL", "SPECIAL_LAYERS", "TABLE_CLASSES"):
        unexplained = set(getattr(keras_importer, table)) - set(kinds) - constructs
        assert not unexplained, f"{table} names classes of no kind: {sorted(unexplained)}"
    assert set(keras_importer.CLASS_ALIASES) <= set(kinds)


def test_every_keras_class_of_a_kind_has_its_signature_and_every_reader_is_named():
    """The importer names a class's positional arguments by the signature its kind declares (the framework test
    below checks it against Keras) and applies the reader the kind names, else the generic one."""
    for cls, keywords in keras_importer.TABLE_CLASSES.items():
        assert cls in keras_importer.KIND_SIGNATURES, f"{cls} ({sorted(keywords)}) has no positional signature"
    named = {m.reader for m in KERAS_MAPPINGS.values() if m.reader} | {
        r.reader for m in KERAS_MAPPINGS.values() for r in m.reads if r.reader}
    assert named == set(keras_importer.READERS), "a reader a kind names is missing, or a reader no kind names"
    assert {cls for cls, reader in keras_importer.SPECIAL_LAYERS.items()
            if reader not in keras_importer.CONSTRUCTS.values()} == set(keras_importer.READER_NAMES)


def test_every_keras_function_the_importer_reads_is_a_kinds_or_a_listed_construct():
    """``keras.ops``/``tf`` functions are read as the kind whose mapping lists them, by the reader it names."""
    functions = {path: keyword for keyword, mapping in KERAS_MAPPINGS.items() for path in mapping.functions}
    assert not set(functions) & set(keras_importer.OP_CONSTRUCTS)
    assert set(keras_importer.OPS) == set(functions) | set(keras_importer.OP_CONSTRUCTS)
    assert keras_importer.FUNCTION_KINDS == functions
    named = {reader for mapping in KERAS_MAPPINGS.values() for reader in mapping.functions.values()}
    assert named == set(keras_importer.OP_READERS), "a function reader a kind names is missing, or one no kind names"


def test_keras_classes_shared_by_kinds_are_read_alike():
    kinds = kind_keras_classes()
    shared = {cls: keywords for cls, keywords in kinds.items() if len(keywords) > 1}
    assert {"ReLU", "BatchNormalization", "GroupNormalization", "Activation"} <= set(shared)
    for cls, keywords in shared.items():
        readings = {(signature, reader) for k in keywords
                    for name, signature, reader, _ in keras_importer._keras_classes(KERAS_MAPPINGS[k]) if name == cls}
        assert len(readings) == 1, f"{cls}: {sorted(keywords)} read it differently: {readings}"


def test_every_torch_expression_kind_names_an_argument_reader():
    """A kind written as an expression (no module) is read by the reader its mapping names; each reader some
    kind names exists and each reader is named by a kind."""
    for keyword, mapping in TORCH_MAPPINGS.items():
        if mapping.module is None and keyword not in TORCH_READ_ELSEWHERE:
            assert mapping.reader in torch_importer.OPERATIONS, f"{keyword} names no PyTorch argument reader"
    named = {m.reader for m in TORCH_MAPPINGS.values() if m.reader}
    assert named == set(torch_importer.OPERATIONS)


def test_generated_torch_modules_come_from_the_kinds():
    generated = {m.generated: k for k, m in TORCH_MAPPINGS.items() if m.generated}
    assert set(generated) <= set(HELPERS)
    assert {name: entry[1] for name, entry in torch_importer.GENERATED_MODULES.items()} == generated


def torch_parameters(spelling: str):
    """The parameters of a torch.nn class or a generated helper class that can be given by position."""
    helper = HELPERS.get(spelling)
    if helper is not None:
        init = next(n for n in ast.walk(ast.parse(helper)) if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        return [a.arg for a in init.args.args[1:]]
    import torch  # the framework is imported by the test that needs it
    cls = getattr(torch.nn, spelling.split(".", 1)[1])
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return None   # nn.LSTM(*args, **kwargs): its documented order is the mapping's
    return [p.name for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD]


@pytest.mark.torch
def test_torch_positional_signatures_are_torchs():
    """The importer binds positional arguments of a module by the kind's signature for that spelling, else by the
    order of the mapping's args: either must be the constructor's own order."""
    checked = 0
    for keyword, mapping in TORCH_MAPPINGS.items():
        modules = ([mapping.module] if isinstance(mapping.module, str) else []) + list(mapping.classes)
        for spelling in [*modules, *(s for s in mapping.signatures if s not in modules)]:
            if not (spelling.startswith("nn.") or spelling in HELPERS):
                continue
            expected = torch_parameters(spelling)
            if expected is None:
                continue
            positional = list(mapping.signatures.get(spelling, [a.name for a in mapping.args]))
            assert positional == expected[:len(positional)], f"{keyword}: {spelling}{tuple(expected)}"
            checked += 1
    assert checked > 40


@pytest.mark.tensorflow
def test_keras_positional_signatures_and_aliases_are_keras():
    import keras  # the framework is imported by the test that needs it
    signatures = {**keras_importer.KIND_SIGNATURES, **keras_importer.CONSTRUCT_SIGNATURES}
    for cls, signature in signatures.items():
        # the generated PaddedEmbedding subclasses keras.layers.Embedding and keeps its positional arguments
        real = keras.layers.Embedding if cls == PADDED_EMBEDDING else getattr(keras.layers, cls)
        if not inspect.isclass(real):
            continue   # keras.Input is a function; its shape argument is read by the importer's input reader
        parameters = [p.name for p in list(inspect.signature(real.__init__).parameters.values())[1:]
                      if p.kind == p.POSITIONAL_OR_KEYWORD]
        assert list(signature) == parameters[:len(signature)], f"{cls}{tuple(parameters)}"
    for alias, cls in keras_importer.CLASS_ALIASES.items():
        assert getattr(keras.layers, alias) is getattr(keras.layers, cls), f"{alias} is not Keras' {cls}"


POOLED_STEM = '''
"""A stem whose layers are built with positional arguments, as older code writes them."""
import torch.nn as nn


class Stem(nn.Module):
    def __init__(self, channels=8):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, 1, 1)
        self.norm = nn.InstanceNorm2d(channels, 1e-3)
        self.pool = nn.MaxPool2d(3, 2, 1, 1, True)

    def forward(self, x):
        return self.pool(self.norm(self.conv(x)))
'''


def test_a_positional_argument_without_pivot_counterpart_is_refused(tmp_path):
    """nn.MaxPool2d takes return_indices before ceil_mode: its fifth positional argument is return_indices (the
    indices as a second output), which has no pivot counterpart, given by position as by keyword; it was read
    as ceil_mode. The positional arguments before it are read by the constructor's order."""
    path = tmp_path / "stem.py"
    path.write_text(POOLED_STEM, encoding="utf-8")
    with pytest.raises(NNPivotError) as caught:
        torch_importer.import_pytorch(path, input_shapes=[[3, 15, 15]])
    first = caught.value.diagnostics[0]
    assert first.code == "unsupported-construct" and "'return_indices' (positional argument 5)" in first.message
    assert first.location.line == 11
