"""Keras source code to the pivot: a static importer (the code is read with ``ast``, never run).

``import_keras(path)`` finds the network in a Python file (a ``keras.Model``
subclass, a ``Sequential`` or functional model held by a variable or returned
by a builder function), interprets its definition abstractly and builds the
pivot model, with the training configuration of a plain ``compile``/``fit``.

How Keras spellings become pivot attributes is read BACKWARDS from the Keras
generator's mapping table (``kind.mappings["keras"]``: class names, argument
renames, Keras defaults, conversions such as BatchNorm momentum ``1 - m``), which
also says how each kind is recognised in source: the Keras positional signatures,
other names of one class (``MaxPool2D``), other classes read as the kind and the
names of their readers. This module adds the readers and what is no one kind
(wrappers such as ``Bidirectional``, ``Lambda``) and functions of ``keras.ops``/``tf``.
The Python of the file (statements, functions, classes, comprehensions...) is
evaluated by the interpreter the importers share (``importers/interpreter.py``);
the ``Interpreter`` here is its Keras front-end: Keras values and what Python
code does with them.

Layout. Keras code is channels_last; the pivot is channels-first. Every value
of the interpreted code is a pivot node plus a permutation ``perm`` with
``keras_tensor = transpose(pivot_tensor, perm)`` (see ``nnpivot.kinds.layout``).
An image input (H, W, C) becomes a pivot input (C, H, W); each layer states
the layout it needs (the table's ``layout`` field) and a pivot ``permute`` is
inserted only where the layout must really change (before a Flatten of
feature maps, around a Conv1D on (T, C) sequences). Keras transposes and
``layers.Permute`` only change ``perm``. The result computes exactly what the
Keras code computes; the report gives each input's and output's ``perm``.
"""
from __future__ import annotations

import ast
import functools
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnpivot.compare import sharing_difference
from nnpivot.diagnostics import NOTE, Diagnostic, Location, NNPivotError, error, location_of, set_location, warning
from nnpivot.graph import new_node
from nnpivot.importers.block_templates import class_constants, parameterise
from nnpivot.importers.interpreter import BoundMethod, Function, Object, free_message
from nnpivot.importers.interpreter import Class as ClassDef
from nnpivot.importers.interpreter import Function as FunctionDef
from nnpivot.importers.interpreter import Interpreter as SourceInterpreter
from nnpivot.importers.pysource import (
    ImportReport,
    ImportTable,
    as_argument,
    canonicalise,
    describe_training,
    dotted,
    embedding_inputs_hold_ids,
    location,
    read_source,
    slice_attributes,
)
from nnpivot.importers.scripts import saved_variables, trained_sites
from nnpivot.kinds import KINDS, PER_AXIS, camel, canonical_per_axis, kind_of, snake
from nnpivot.kinds import layout as L
from nnpivot.kinds import training as vocabulary
from nnpivot.kinds.core import PADDED_EMBEDDING
from nnpivot.kinds.keras_mapping import RESERVED, TARGET, UNSET, emit_op
from nnpivot.kinds.recurrent import FRAMES_LAST
from nnpivot.metamodel import eclass, eenum, is_kind
from nnpivot.metamodel.shapes import ShapeError, per_axis, window_out
from nnpivot.passes import FOLD_RECURRENT_STACKS, Stack, run_pass

Perm = tuple
MAPPINGS = {keyword: kind.mappings[TARGET] for keyword, kind in KINDS.items()}  # keyword -> Keras mapping


class _Abort(Exception):
    """Stops the import after a diagnostic that leaves nothing to translate."""


# =============================================================================
# What the table says, read backwards
# =============================================================================

def _short(layer: str) -> str:
    return layer.split(".", 1)[1] if layer and "." in layer else layer


def _keras_classes(mapping) -> list[tuple[str, tuple[str, ...], str | None, tuple[str, ...]]]:
    """(class, positional parameters, reader name, other names) of each Keras class a mapping writes or reads."""
    own = mapping.signature if mapping.signature is not None else tuple(a.keras for a in mapping.args if a.positional)
    found = [(_short(mapping.layer), own, mapping.reader, mapping.aliases)] \
        if mapping.layer and mapping.layer.startswith("layers.") else []
    return found + [(read.name, own if read.signature is None else read.signature, read.reader, read.aliases)
                    for read in mapping.reads]


def _classes_from_table() -> tuple[dict[str, list[str]], dict[str, tuple[str, ...]], dict[str, str], dict[str, str]]:
    """What the kinds say about the Keras classes: class (``Conv2D``) -> the pivot keywords whose mapping writes or
    reads it, -> its positional parameters, -> the name of its reader; and other name -> class (``MaxPool2D``).
    Kinds written with one class must read it alike."""
    kinds: dict[str, list[str]] = {}
    signatures: dict[str, tuple[str, ...]] = {}
    readers: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for keyword, mapping in MAPPINGS.items():
        for cls, signature, reader, names in _keras_classes(mapping):
            if kinds.setdefault(cls, []) and (signatures[cls], readers.get(cls)) != (signature, reader):
                raise RuntimeError(f"kind {keyword} reads Keras {cls} unlike {kinds[cls][0]}: give them one "
                                   "signature and reader")
            kinds[cls].append(keyword)
            signatures[cls] = signature
            if reader is not None:
                readers[cls] = reader
            for name in names:
                if aliases.setdefault(name, cls) != cls:
                    raise RuntimeError(f"Keras name {name} is given to both {aliases[name]} and {cls}")
    return kinds, signatures, readers, aliases


TABLE_CLASSES, KIND_SIGNATURES, READER_NAMES, CLASS_ALIASES = _classes_from_table()
# ``ops`` functions a kind is written as by the generic emitter: keras path -> pivot keyword.
TABLE_OPS = {mapping.layer: keyword for keyword, mapping in MAPPINGS.items() if mapping.emit is emit_op}

# Keras positional parameters of the constructs that are no one kind (the kinds' are in their mappings).
CONSTRUCT_SIGNATURES = {"Bidirectional": ("layer", "merge_mode"), "TimeDistributed": ("layer",),
                        "InputLayer": ("shape",), "Input": ("shape",)}
POSITIONAL: dict[str, tuple[str, ...]] = {**KIND_SIGNATURES, **CONSTRUCT_SIGNATURES}
# Old (tf.keras 2) keyword spellings.
RENAMED_KWARGS = {"alpha": "negative_slope", "input_shape": "input_shape", "lr": "learning_rate",
                  "epsilon": "epsilon"}
# Arguments that do not change what the network computes at inference.
TRAINING_ONLY = re.compile(r".*_(initializer|regularizer|constraint)$|^(name|trainable|seed|dtype|input_length|"
                           r"use_cudnn|unroll|autocast|noise_shape|data_format|input_shape|input_dim|"
                           r"batch_input_shape|batch_size)$")
# Keras arguments of any layer (or of a wrapper) with the value under which the translation is exact; the kinds'
# own are their mappings' ``defaults``.
KERAS_DEFAULTS = {"merge_mode": "concat", "activation": None, "lora_rank": None}
APPROXIMATE_KWARGS = {"dropout": "dropout inside the recurrent cell (training only)",
                      "recurrent_dropout": "recurrent dropout (training only)"}


def canonical_class(name: str) -> str:
    """The class a Keras layer name really makes (``MaxPool2D`` is ``MaxPooling2D``)."""
    return CLASS_ALIASES.get(name, name)


def keras_snake(name: str) -> str:
    """Keras' automatic layer names: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _activation_names() -> dict[str, str]:
    """Keras activation function name -> pivot keyword (from the table's activation entries)."""
    names = {}
    for keyword, kind in KINDS.items():
        if kind.category != "activation":
            continue
        names[keyword] = keyword
        mapping = MAPPINGS[keyword]
        if mapping.layer == "layers.Activation" and mapping.note:
            names[mapping.note.split(";")[0].strip()] = keyword
        names.update(dict.fromkeys(mapping.activations, keyword))
    return names


ACTIVATIONS = _activation_names()
# Keras activation functions whose parameters differ from the pivot defaults.
ACTIVATION_DEFAULTS = {name: attrs for mapping in MAPPINGS.values() for name, attrs in mapping.activations.items()
                       if attrs}


# =============================================================================
# Values of the interpreted code
# =============================================================================

@dataclass
class T:
    """A Keras tensor: output ``index`` of a pivot node, laid out as ``perm``."""
    node: Any
    perm: Perm
    shape: tuple  # pivot shape, batch axis first (None where unknown)
    name: str | None = None  # the variable a transpose was assigned to: the name of a permute it may need

    @property
    def rank(self) -> int:
        return len(self.perm)


@dataclass
class Unknown:
    """A value the importer cannot know statically; using it in the network is a diagnostic."""
    why: str
    loc: Location | None
    code: str = "dynamic-value"


@dataclass
class ZeroState:
    """``ops.zeros((batch, units))``: a recurrent cell's zero state, which the pivot states by leaving it out."""
    units: int
    loc: Location | None


@dataclass
class CountMask:
    """``ops.ones_like(x)`` padded: the cells an average pooling counts (the Keras generator's divisor of an
    average over the cells PyTorch counts). ``pads``: (value, {pivot axis: (begin, end)}) per ``ops.pad``."""
    of: T
    pads: list


@dataclass
class PooledMask:
    """A pooling layer applied to a :class:`CountMask`: the divisor of ``pool(ops.pad(x)) / pool(mask)``."""
    layer: Any
    mask: CountMask


@dataclass
class LayerObj:
    cls: str                       # canonical class name, "Conv2D"
    args: list
    kwargs: dict
    loc: Location | None
    name: str | None = None        # name= or attribute name
    uses: int = 0
    original: str = ""             # the class as written, "MaxPool2D"
    runtime_name: str | None = None  # the layer's name when the source runs in a fresh Keras session
    first_call: tuple | None = None  # ([nodes with weights], graph builder) made by its first call
    tensor: tuple | None = None    # (attribute, LearnedWeight) a bare layers.Layer holds (add_weight)

    @property
    def inner_cls(self) -> str:
        inner = self.kwargs.get("layer", self.args[0] if self.args else None)
        return inner.cls if isinstance(inner, LayerObj) else ""


@dataclass
class LearnedWeight:
    """``self.add_weight(shape=...)``: a trainable tensor, an add_learned node where it is added to a tensor."""
    shape: tuple
    loc: Location | None
    holder: Any = None   # the LayerObj or Instance holding it
    index: int = 0       # its place among the holder's own variables (add_weight order)
    attribute: str | None = None
    node: Any = None     # the add_learned node of its first use


@dataclass
class SequentialObj:
    layers: list
    loc: Location | None
    name: str | None = None
    input_shape: tuple | None = None
    input_dtype: str | None = None
    input_name: str | None = None


@dataclass
class FunctionalModel:
    inputs: list
    outputs: Any
    loc: Location | None
    name: str | None = None


@dataclass
class Instance:
    cls: ClassDef
    attrs: dict
    loc: Location | None
    name: str | None = None
    uses: int = 0
    first_call: tuple | None = None  # (BlockCall, graph builder, block key) of its first call
    runtime_name: str | None = None  # the literal name= it was made with: its Keras layer's name
    arguments: tuple = ((), {})      # the constructor's arguments


@dataclass
class ObjectMethod:
    """``model.add``, ``model.compile``, ``layer.__call__``... on a Keras object."""
    target: Any
    name: str


# =============================================================================
# Graph building
# =============================================================================

class GraphBuilder:
    """Creates the pivot nodes of one graph with unique names and located diagnostics."""

    def __init__(self, importer: KerasImporter, graph_name: str = ""):
        self.importer = importer
        self.graph_name = graph_name  # the block being built; "" for the model
        self.nodes: list = []
        self.names: set[str] = set()
        self.next_number: dict[str, int] = {}
        self.choice_base = len(importer.choices)   # the choices of the code around the graph are not its own

    def name(self, *candidates: str | None) -> str:
        for candidate in candidates:
            if candidate and re.fullmatch(r"[A-Za-z_]\w*", candidate) and candidate not in self.names \
                    and candidate not in AVOIDED_NAMES:
                self.names.add(candidate)
                return candidate
        base = next((c for c in reversed(candidates) if c), "node")
        base = re.sub(r"\W", "_", base).strip("_") or "node"
        if base[0].isdigit() or base in AVOIDED_NAMES:
            base = "n_" + base
        number = self.next_number.get(base, 1)  # where the last search for this base stopped: linear, not quadratic
        while f"{base}_{number}" in self.names:
            number += 1
        self.next_number[base] = number + 1
        self.names.add(f"{base}_{number}")
        return f"{base}_{number}"

    def add(self, eclass_name: str, names: tuple | str, inputs: list, loc: Location | None, **attrs):
        """A new node named by the first free candidate of ``names`` (a str: a name reserved already).

        An attribute the pivot holds as integers given anything else (a float, a nested tuple) is a located
        ``bad-value`` and left unset: never truncated, never an internal error."""
        for key in [k for k, v in attrs.items() if not _integers_fit(eclass_name, k, v)]:
            self.importer.error("bad-value", f"{snake(key)} expects integers, got {attrs.pop(key)!r}", loc)
        node = new_node(eclass_name, names if isinstance(names, str) else self.name(*names), [t.node if isinstance(t, T) else t for t in inputs],
                        **attrs)
        set_location(node, loc)
        self.nodes.append(node)
        self.importer.node_choices[node] = tuple(self.importer.choices[self.choice_base:])
        return node

    def shape_of(self, node, index: int = 0) -> tuple:
        """The pivot shape of a node's output, inferred on the spot from its operands."""
        return self.importer.shape_of(node, index)

    def tensor(self, node, perm: Perm, index: int = 0) -> T:
        return T(node, tuple(perm), self.shape_of(node, index))

    def permuted(self, t: T, wanted: Perm, names: tuple, loc) -> T:
        """``t`` with layout ``wanted``: a pivot permute making the Keras tensor unchanged."""
        wanted = tuple(wanted)
        if t.perm == wanted:
            return t
        inverse = L.inverse(wanted)
        dims = [t.perm[inverse[k]] for k in range(t.rank)]
        node = self.add("Permute", names, [t], loc, dims=dims)
        self.importer.note(node, loc, "to the layout the Keras code computes in")
        return self.tensor(node, wanted)


AVOIDED_NAMES = frozenset(RESERVED | {"input", "output", "model", "block", "training", "optimizer", "loss",
                                      "epochs", "batch_size", "metrics"})


def channel_at(rank: int, keras_axis: int) -> Perm:
    """The layout whose Keras axis ``keras_axis`` holds the pivot channel axis 1."""
    keras_axis %= rank
    others = [a for a in range(rank) if a != 1]
    return tuple(others[:keras_axis] + [1] + others[keras_axis:])


# =============================================================================
# The importer
# =============================================================================

class KerasImporter:
    def __init__(self, path: Path, text: str, input_shapes=None, model_args=None):
        self.model_args = dict(model_args or {})
        self.path = path
        self.text = text
        self.file = str(path)
        self.input_shapes = input_shapes
        # keras.Input calls (by location) whose shape a given input shape replaces, found by a first reading
        self.input_overrides: dict[Location, tuple] = {}
        self.pending_overrides: dict[Location, tuple] = {}
        self.report = ImportReport(self.file, "keras")
        self.diagnostics = self.report.diagnostics
        self.imports: ImportTable | None = None   # the names that stand for Keras or TensorFlow
        self.module_env: dict[str, Any] = {}
        self.compiles: list[tuple[str | None, ast.Call]] = []
        self.fits: list[tuple[str | None, ast.Call]] = []
        self.builds: dict[str, Any] = {}
        self.builder: GraphBuilder | None = None
        self.blocks: dict = {}
        self.model = None
        self._shapes: dict = {}
        self.explicit_dtype: set = set()
        self.automatic_names: dict[str, int] = {}   # Keras' per-class counters of unnamed layers
        self.names_at_import: dict[str, int] | None = None   # the counters before the ``__main__`` block ran
        self.layer_of_node: dict = {}               # pivot node -> the LayerObj that made it
        self.two_bias_layers: tuple = ((), None)    # generated training's two_bias_layers and where it is written
        self.remarks: dict = {}                     # pivot node -> what its report entry says instead of the class
        self.weight_parts: dict = {}                # pivot node -> the part of its layer's weights it holds
        self.learned_of_node: dict = {}             # add_learned node -> the LearnedWeight it adds
        self.learned_counts: dict = {}              # id(holder) -> how many add_weight calls it made
        self.instance_of_call: dict = {}            # BlockCall node -> the custom layer (Instance) it calls
        self.block_builder: dict = {}               # Block -> the Instance whose call built its nodes
        self.nested_outputs: dict = {}              # Block of a functional model called as a layer -> outputs
        self.nested_first_call: dict = {}           # id of that functional model -> its first BlockCall
        self.node_choices: dict = {}                # node of a graph -> the (test, value) choices it was made under

    # --- diagnostics and report --------------------------------------------------
    def loc(self, node) -> Location | None:
        return location(self.file, node) if hasattr(node, "lineno") else None

    def error(self, code: str, message: str, loc) -> None:
        """A construct that is not translated (reported once)."""
        self.diagnose(error(code, message, loc))

    def warn(self, code: str, message: str, loc) -> None:
        """An approximation (reported once)."""
        self.diagnose(warning(code, message, loc))

    def diagnose(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    def _latest_entries(self) -> dict:
        """(node name, graph) -> the latest report entry of that node, indexed as entries are added (a
        search per note was quadratic in large sources); rebuilt when the entry list was replaced or cut."""
        entries = self.report.entries
        cached = getattr(self, "_entry_index", None)
        if cached is None or cached[0] is not entries or cached[1] > len(entries):
            cached = (entries, 0, {})
        _, indexed, index = cached
        for entry in entries[indexed:]:
            index[(entry.node, entry.graph)] = entry
        self._entry_index = (entries, len(entries), index)
        return index

    def note(self, node, loc, remark: str = "") -> None:
        """``node`` of the graph being built is an exact translation; a second remark joins the first."""
        graph = self.builder.graph_name
        entry = self._latest_entries().get((node.name, graph))
        if entry is not None and (entry.node, entry.graph) == (node.name, graph):
            entry.note = "; ".join(filter(None, (entry.note, remark)))
            return
        kind = kind_of(node)
        label = kind.keyword if kind else f"block {node.block.name}" if is_kind(node, "BlockCall") else \
            node.eClass.name.lower()
        self.report.add(node.name, label, loc, remark, graph=graph)

    # --- names ------------------------------------------------------------------------
    def qualname(self, expr) -> str | None:
        """A dotted name with its import aliases resolved and the Keras package prefixes removed.

        ``tf.keras.layers.Conv2D``, ``layers.Conv2D`` after ``from keras import layers``, ``Conv2D``
        after ``from keras.layers import Conv2D`` all give ``layers.Conv2D``; TensorFlow functions
        give ``tf.<name>``.
        """
        qualified = self.imports.qualified(expr)
        return normalize_path(qualified) if qualified else None

    # --- shapes -------------------------------------------------------------------------
    def shape_of(self, node, index: int = 0):
        key = (node, index)
        if key in self._shapes:
            return self._shapes[key]
        if is_kind(node, "Input"):
            shapes = [(None, *(None if d < 0 else d for d in node.shape))]
        elif is_kind(node, "Select"):
            shapes = [self.shape_of(node.inputs[0], node.index)]
        else:
            operands = [self.shape_of(dep) for dep in node.inputs]
            if any(s is None for s in operands):
                shapes = None
            else:
                try:
                    shapes = [tuple(s) for s in kind_of(node).shape(node, operands)]
                except (ShapeError, ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
                    self.error(getattr(exc, "code", "shape-mismatch"),
                               f"{kind_of(node).keyword} '{node.name}': {exc}", location_of(node))
                    shapes = None
        for i, shape in enumerate(shapes or [None]):
            self._shapes[(node, i)] = shape
        return self._shapes.get(key)


PIVOT_DTYPES = frozenset({"float32", "float64", "float16", "int32", "int64", "bool"})
# Keras dtype spellings that are not pivot names: the pivot dtype that holds their values.
DTYPE_ALIASES = {"float": "float32", "int": "int64", "int8": "int32", "int16": "int32", "uint8": "int32"}


def pivot_dtype_of(dtype) -> str | None:
    """The pivot name of a Keras dtype string (None when it is not a string)."""
    return DTYPE_ALIASES.get(dtype, dtype) if isinstance(dtype, str) else None


def normalize_path(path: str) -> str:
    for prefix in ("tensorflow.keras.", "tf.keras.", "keras.src.", "keras."):
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    else:
        if path in ("keras", "tensorflow.keras"):
            return "keras"
        if path.startswith("tensorflow."):
            return "tf." + path[len("tensorflow."):]
        if path == "tensorflow":
            return "tf"
    path = re.sub(r"^(models|engine|engine\.training|src\.models)\.", "", path)
    path = re.sub(r"^layers\.(core|convolutional|pooling|recurrent|normalization|merge)\.", "layers.", path)
    return {"layers.Input": "Input", "Sequential": "Sequential", "Model": "Model",
            "layers.InputLayer": "layers.InputLayer"}.get(path, path)


@dataclass
class InputSpec:
    """``keras.Input(...)``/``InputLayer``: becomes a pivot Input node when first used."""
    shape: tuple | None
    dtype: str | None
    name: str | None
    loc: Location | None
    tensor: T | None = None
    free: Unknown | None = None    # the value from data its shape is made of (``x_train.shape[1:]``)


@dataclass
class ModulePath:
    """A function or class of keras/tensorflow named by its canonical path (``layers.Conv2D``)."""
    path: str


@dataclass
class ConfigObj:
    """An optimizer, loss or metric object built in the training code."""
    path: str
    args: list
    kwargs: dict
    loc: Location | None


CONST_TYPES = (int, float, str, bool, type(None))
GENERIC_MODEL_NAMES = {"model", "net", "network", "m", "clf", "classifier", "keras_model", "nn"}
BINARY_KINDS = {ast.Add: "Add", ast.Sub: "Sub", ast.Mult: "Mul", ast.Div: "Div"}   # tensor operators


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@functools.cache
def _holds_integers(eclass_name: str, key: str) -> bool:
    """Attribute ``key`` of the class holds integers (cached: pyecore's lookup walks every feature)."""
    feature = eclass(eclass_name).findEStructuralFeature(camel(key))
    return feature is not None and feature.eType.name == "EInt"


def _integers_fit(eclass_name: str, key: str, value) -> bool:
    """``value`` may be given to attribute ``key``: anything when it does not hold integers, else integers."""
    if not _holds_integers(eclass_name, key):
        return True
    return all(_is_int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))  # True is no size


def is_const(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(is_const(v) for v in value)
    return isinstance(value, CONST_TYPES)


def camel_name(name: str) -> str:
    if re.fullmatch(r"[A-Z]\w*", name) and "_" not in name:
        return name
    parts = [p for p in re.split(r"[_\W]+", name) if p]
    text = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return text if text[0].isalpha() else "M" + text


class Interpreter(KerasImporter, SourceInterpreter):
    """The Keras front-end of the source interpreter: Keras values and what Python code does with them.

    What cannot be known statically becomes an ``Unknown`` value, reported where the network needs it;
    ``strict`` says whether the code running is the network's own (its constructs are reported) or
    module-level and constructor code (read for what it defines, silently).
    """

    hint_through_conditional = True

    def __init__(self, path: Path, text: str, input_shapes=None, model_args=None, settings=None):
        SourceInterpreter.__init__(self, path)
        KerasImporter.__init__(self, path, text, input_shapes, model_args)
        self.globals = self.module_env
        self.settings = dict(settings or {})
        self.strict = False
        self.models_at: dict[int, Any] = {}    # id of an assignment -> the model it bound (while the script ran)
        self.calls_at: dict[int, tuple] = {}   # id of a call of the file's function or class -> (args, kwargs)
        self.names_before: dict[int, dict] = {}   # id of such a call -> Keras' name counters when it ran

    def run_function(self, fn: ast.FunctionDef, self_value, args, kwargs, strict: bool):
        """Run a function (a method with ``self_value``) of the source, reporting its constructs when strict."""
        cls = None
        if isinstance(self_value, Instance):
            found = self_value.cls.method(fn.name)
            cls = found[1] if found else self_value.cls
        outer, self.strict = self.strict, strict
        try:
            return self.call_function(Function(fn), [self_value, *args] if self_value is not None else list(args),
                                      kwargs, fn, cls=cls)
        finally:
            self.strict = outer

    # --- policy: unknown values instead of refusals -------------------------------------------------------
    def fail(self, code: str, message: str, node):
        return Unknown(message, self.loc(node))

    def is_unknown(self, value) -> bool:
        return isinstance(value, Unknown)

    def unknown_used(self, value, node):
        if isinstance(value, Unknown) and value.code == "free-value":
            return value   # the cause stays the value the script computes from data
        return Unknown(f"'{ast.unparse(node)}' is not known statically", self.loc(node))

    def make_free(self, name, origin, where):
        return Unknown(free_message(name, origin, where), where, "free-value")

    def exec_AnnAssign(self, stmt, scope):
        super().exec_AnnAssign(stmt, scope)
        if stmt.value is not None and isinstance(stmt.target, ast.Name) and isinstance(
                scope.get(stmt.target.id), (SequentialObj, FunctionalModel, Instance)):
            self.models_at[id(stmt)] = scope[stmt.target.id]   # ``model: keras.Model = build(...)``

    def exec_Assign(self, stmt, scope):
        super().exec_Assign(stmt, scope)
        target = stmt.targets[0]
        if not isinstance(target, ast.Name):
            return
        value = scope.get(target.id)
        if isinstance(value, (SequentialObj, FunctionalModel, Instance)):
            self.models_at[id(stmt)] = value
        elif isinstance(value, Unknown) and value.code != "free-value" and not self.strict \
                and scope.get("__self__") is None:   # script code, not a model's own: a value from data
            scope[target.id] = self.free_value(target.id, ast.unparse(stmt.value), stmt.value)

    def truth(self, value, node):
        if isinstance(value, Object) and not any(value.cls.method(m) for m in ("__bool__", "__len__")):
            return True   # a config object: ``config = config or Config()``
        if isinstance(value, Unknown) or not is_const(value) and not isinstance(value, (list, tuple, dict, set)):
            return None
        return bool(value)

    def comparable(self, value) -> bool:
        return is_const(value)

    def sequence(self, value, node):
        if isinstance(value, (list, tuple, range, dict, set, str)):
            return self.bounded_items(value, node)
        return None

    def unpackable(self, value, target):
        return list(value) if isinstance(value, (list, tuple)) else None

    def unpack_failed(self, target, value, items):
        if self.strict:
            self.error("unsupported-construct", f"cannot unpack into {ast.unparse(target)}: the value has "
                       f"{len(value) if isinstance(value, (list, tuple)) else 'no'} items", self.loc(target))
        return Unknown(f"cannot unpack {ast.unparse(target)}", self.loc(target))

    def spread(self, value, node) -> list:
        return list(value) if isinstance(value, (list, tuple)) else [value]

    def spread_keywords(self, value, node) -> dict:
        return value if isinstance(value, dict) else {}

    # --- modules of the project (sibling files) ------------------------------------------------------------
    def new_module_state(self, tree: ast.Module) -> dict:
        return {"imports": ImportTable(tree, KERAS_MODULES)}

    def module_state(self) -> dict:
        return {"imports": self.imports}

    def set_module_state(self, state: dict) -> None:
        self.imports = state["imports"]

    def import_failed(self, missing, node):
        self.diagnose(missing.diagnostic)   # the cause, at the import statement
        return Unknown(missing.diagnostic.message, missing.diagnostic.location)

    def lookup_missing(self, name, node):
        if name in self.imports.names:
            return ModulePath(normalize_path(self.imports.names[name]))
        return super().lookup_missing(name, node)

    def builtin_arguments(self, name, args, node):
        if any(isinstance(a, (T, InputSpec, LayerObj, SequentialObj, FunctionalModel, Instance, Unknown,
                              ModulePath, ConfigObj)) for a in args):
            return None
        return args

    # --- statements -----------------------------------------------------------------------------------------
    def exec(self, stmt, scope):
        if not hasattr(self, f"exec_{type(stmt).__name__}"):
            if self.strict:
                self.error("unsupported-construct", f"{type(stmt).__name__.lower()} statement "
                           f"'{ast.unparse(stmt).splitlines()[0]}' is not translated", self.loc(stmt))
            return
        super().exec(stmt, scope)

    def exec_If(self, stmt, scope):
        if not self.strict and self.is_main_guard(stmt.test):
            if self.names_at_import is None and scope is self.module_env:
                self.names_at_import = dict(self.automatic_names)
            self.exec_body(stmt.body, scope)
            return
        super().exec_If(stmt, scope)

    def known_only_at_run_time(self, stmt) -> None:
        if not self.strict:
            return
        if isinstance(stmt, ast.If):
            self.error("dynamic-value", "an if whose condition is known only at run time "
                       f"({ast.unparse(stmt.test)}) cannot be translated", self.loc(stmt))
        else:
            self.error("dynamic-value", f"a loop over {ast.unparse(stmt.iter)}, known only at run time, "
                       "cannot be unrolled", self.loc(stmt))

    @staticmethod
    def is_main_guard(test) -> bool:
        return isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"

    def define_class(self, node: ast.ClassDef, scope) -> None:
        rule_class = vocabulary.KERAS_RULE_CLASSES.get(node.name)
        if rule_class is not None and any(self.qualname(b) == f"optimizers.{rule_class.keras_name}"
                                          for b in node.bases):
            # generated code's optimizer with PyTorch's update rule: read as that optimizer (optimizer())
            scope[node.name] = ModulePath(f"optimizers.{node.name}")
            return
        base = vocabulary.KERAS_TWO_BIAS_BASES.get(node.name)
        if base is not None and self.subclasses(node, f"optimizers.{base}", scope):
            # generated code's optimizer stepping two-bias layers' bias twice: read as its base (optimizer() reads
            # its two_bias_layers)
            scope[node.name] = ModulePath(f"optimizers.{base}")
            return
        base = vocabulary.KERAS_ONE_CYCLE_BASES.get(node.name)
        if base is not None and self.subclasses(node, f"optimizers.{base}", scope) or \
                node.name == vocabulary.ONE_CYCLE_SCHEDULE and \
                self.subclasses(node, "optimizers.schedules.LearningRateSchedule", scope):
            # generated code's OneCycleLR schedule and its optimizers cycling the momentum: read by optimizer()
            prefix = "optimizers.schedules" if node.name == vocabulary.ONE_CYCLE_SCHEDULE else "optimizers"
            scope[node.name] = ModulePath(f"{prefix}.{node.name}")
            return
        if node.name == PADDED_EMBEDDING and self.subclasses(node, "layers.Embedding", scope):
            # generated code's Embedding keeping its padding row out of training: read as the Embedding it is
            scope[node.name] = ModulePath(f"layers.{node.name}")
            return
        role = self.class_role(node, scope)
        if not role and not node.bases:   # a plain class of the script: a config object
            SourceInterpreter.define_class(self, node, scope)
        if role:
            bases = [self.lookup(b.id, scope, b) if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
            bases = [b if isinstance(b, ClassDef) else ast.unparse(n) for b, n in zip(bases, node.bases)]
            scope[node.name] = ClassDef(node.name, node, bases, role)

    def subclasses(self, node: ast.ClassDef, path: str, scope) -> bool:
        """Whether the class ``node`` names ``path`` (``optimizers.SGD``) or a class read as it among its bases."""
        return any(self.qualname(b) == path or isinstance(b, ast.Name) and scope.get(b.id) == ModulePath(path)
                   for b in node.bases)

    def class_role(self, node: ast.ClassDef, env) -> str | None:
        for base in node.bases:
            path = self.qualname(base)
            if path in ("Model", "models.Model"):
                return "model"
            if path in ("layers.Layer", "Layer"):
                return "layer"
            if isinstance(base, ast.Name) and isinstance(env.get(base.id, self.module_env.get(base.id)), ClassDef):
                return env.get(base.id, self.module_env.get(base.id)).role
        return None

    def bind_name(self, name, value, scope) -> None:
        scope[name] = value
        if isinstance(value, (LayerObj, SequentialObj)) and value.name is None:
            value.name = name if name not in GENERIC_MODEL_NAMES or isinstance(value, LayerObj) else None
        if isinstance(value, Instance) and value.name is None:
            value.name = name

    def set_attribute(self, owner, name, value, node) -> None:
        if isinstance(value, LearnedWeight) and value.attribute is None:
            value.attribute = name
        if isinstance(owner, LayerObj) and isinstance(value, LearnedWeight):
            owner.tensor = (name, value)   # self.k.tensor = self.k.add_weight(...)
            return
        if isinstance(owner, Instance):
            if isinstance(value, (LayerObj, SequentialObj, Instance)) and value.name is None:
                value.name = name
            owner.attrs[name] = value

    def set_item(self, owner, key, value, node) -> None:
        if isinstance(owner, (list, dict)) and is_const(key):
            super().set_item(owner, key, value, node)
        elif self.strict:
            self.error("unsupported-construct", f"assignment to {ast.unparse(node)} is not translated", self.loc(node))

    # --- expressions ------------------------------------------------------------------------------------------
    def foreign_unary(self, op, value, node):
        if isinstance(value, T):
            if isinstance(op, ast.USub):
                return self.arithmetic("Mul", [value], self.hint_for(node), self.loc(node), scalar=-1.0)
            if isinstance(op, ast.UAdd):
                return value
        return Unknown(f"'{ast.unparse(node)}' is not known statically", self.loc(node))

    def foreign_binary(self, op, left, right, node):
        loc, hint = self.loc(node), self.hint_for(node)
        if isinstance(left, T) and isinstance(right, T) and isinstance(op, ast.MatMult):
            return op_matmul(self, "ops.matmul", [left, right], {}, hint, loc)
        if isinstance(op, ast.Div) and isinstance(left, T) and isinstance(right, PooledMask):
            return average_over_counted(self, left, right, loc)
        if isinstance(op, ast.Add) and isinstance(right, LearnedWeight) and isinstance(left, T):
            return self.add_learned(left, right, hint, loc)
        if isinstance(op, ast.Add) and isinstance(left, LearnedWeight) and isinstance(right, T):
            return self.add_learned(right, left, hint, loc)
        kind = BINARY_KINDS.get(type(op))
        if kind and (isinstance(left, T) or isinstance(right, T)):
            if isinstance(left, T) and isinstance(right, T):
                return self.arithmetic(kind, [left, right], hint, loc)
            if isinstance(left, T) and isinstance(right, (int, float)):
                return self.arithmetic(kind, [left], hint, loc, scalar=float(right))
            if isinstance(right, T) and isinstance(left, (int, float)):
                return self.arithmetic(kind, [right], hint, loc, scalar=float(left), scalar_first=True)
        if isinstance(left, T) or isinstance(right, T):
            self.error("unsupported-construct", f"operator in '{ast.unparse(node)}' is not translated", loc)
        return Unknown(f"'{ast.unparse(node)}' is not known statically", loc)

    def eval_Attribute(self, expr, env):
        path = self.qualname(expr)
        head, _ = dotted(expr)
        if path is not None and not self.defined(head.id, env):
            return ModulePath(path)
        owner = self.eval(expr.value, env)
        if isinstance(owner, Instance):
            if expr.attr in owner.attrs:
                return owner.attrs[expr.attr]
            found = owner.cls.method(expr.attr)
            if found is not None:
                return BoundMethod(owner, found[0], found[1])
            if expr.attr in ("compile", "fit", "build", "add_weight"):
                return ObjectMethod(owner, expr.attr)
            return Unknown(f"'{ast.unparse(expr)}' is not set in __init__", self.loc(expr))
        if isinstance(owner, LayerObj) and owner.tensor is not None and expr.attr == owner.tensor[0]:
            return owner.tensor[1]
        if isinstance(owner, LayerObj) and expr.attr == "add_weight":
            return ObjectMethod(owner, expr.attr)
        if isinstance(owner, T) and expr.attr == "shape":
            return tuple(owner.shape[a] for a in owner.perm)
        if isinstance(owner, ClassDef) and owner.role is None:   # a plain class: Config.epochs, a dataclass default
            return self.attribute(owner, expr.attr, expr)
        if isinstance(owner, FunctionalModel) and expr.attr in ("output_shape", "input_shape"):
            return functional_shape(owner, expr.attr, self.loc(expr))   # encoder.output_shape[1:]
        if isinstance(owner, (SequentialObj, FunctionalModel, ClassDef, Function, LayerObj)):
            return ObjectMethod(owner, expr.attr)
        if isinstance(owner, (Unknown, T, InputSpec, ModulePath, ConfigObj)):
            return Unknown(f"'{ast.unparse(expr)}' is not known statically", self.loc(expr))
        return self.attribute(owner, expr.attr, expr)

    def foreign_attribute(self, owner, name, node):
        return Unknown(f"'{ast.unparse(node)}' is not known statically", self.loc(node))

    def eval_Subscript(self, expr, env):
        value = self.eval(expr.value, env)
        if isinstance(value, T):
            return self.tensor_subscript(value, expr.slice, env, self.hint_for(expr), self.loc(expr))
        return super().eval_Subscript(expr, env)

    def foreign_subscript(self, owner, key, node):
        return Unknown(f"'{ast.unparse(node)}' is not known statically", self.loc(node))

    # --- calls -----------------------------------------------------------------------------------------------
    def call(self, func, args, kwargs, expr):
        loc, hint, hints = self.loc(expr), self.hint_for(expr), self.hints_for(expr)
        if isinstance(func, ModulePath):
            return self.call_path(func.path, args, kwargs, expr, hint, hints)
        if isinstance(func, (LayerObj, SequentialObj, Instance, FunctionalModel)):
            return self.apply(func, args, kwargs, hint, hints, loc, self.strict)
        if isinstance(func, (Function, ClassDef)) and not self.strict and isinstance(expr, ast.Call):
            args, kwargs = self.free_arguments(func, args, kwargs, expr)
            self.calls_at[id(expr)] = (func, args, kwargs, len(self.diagnostics))
            self.names_before[id(expr)] = dict(self.automatic_names)
        if isinstance(func, ClassDef) and func.role is None:
            return SourceInterpreter.instantiate(self, func, args, kwargs, expr)   # a config object
        if isinstance(func, Function):
            outer, self.strict = self.strict, self.strict and self.has_tensor(args, kwargs)
            try:
                value = self.call_function(func, args, kwargs, expr)
            finally:
                self.strict = outer
            if isinstance(value, (FunctionalModel, SequentialObj)) and not hasattr(value, "origin"):
                value.origin = func.name
            if id(expr) in self.calls_at:   # what the script's own build reported: dropped if it is built again
                self.calls_at[id(expr)] += (len(self.diagnostics),)
            return value
        if isinstance(func, ClassDef):
            return self.instantiate(func, args, kwargs, loc)
        if isinstance(func, ObjectMethod):
            return self.call_bound(func, args, kwargs, expr)
        # unknown arguments go on to the callee: Keras code is read on past what is not known
        return self.call_known(func, args, kwargs, expr)

    def free_arguments(self, func, args, kwargs, expr):
        """Arguments the script computes from data, passed to its own function or class: free values named
        by the parameter they fill (``--set``), where they are not named already."""
        if not isinstance(func.node, (ast.FunctionDef, ast.ClassDef)):
            return args, kwargs
        names = list(by_parameter(self, func, list(range(len(args))), {}))
        args = [self.free_value(names[i], ast.unparse(expr.args[i]), expr.args[i])
                if isinstance(a, Unknown) and a.code != "free-value" and i < len(names) and i < len(expr.args)
                and not isinstance(expr.args[i], ast.Starred) else a for i, a in enumerate(args)]
        nodes = {k.arg: k.value for k in expr.keywords}
        kwargs = {k: self.free_value(k, ast.unparse(nodes[k]), nodes[k])
                  if isinstance(v, Unknown) and v.code != "free-value" and k in nodes else v for k, v in kwargs.items()}
        return args, kwargs

    def foreign_call(self, func, args, kwargs, expr):
        if isinstance(func, Unknown) and self.strict and self.has_tensor(args, kwargs):
            self.error("unsupported-construct", f"call of '{ast.unparse(expr.func)}' is not translated",
                       self.loc(expr))
        return Unknown(f"result of '{ast.unparse(expr)}'", self.loc(expr))

    @staticmethod
    def has_tensor(args, kwargs=None) -> bool:
        def walk(v):
            return isinstance(v, (T, InputSpec, CountMask)) or (isinstance(v, (list, tuple)) and
                                                                any(walk(i) for i in v))
        return any(walk(a) for a in [*args, *(kwargs or {}).values()])

    def call_bound(self, func, args, kwargs, expr):
        target, name, loc = func.target, func.name, self.loc(expr)
        if name == "add" and isinstance(target, SequentialObj) and args:
            target.layers.append(args[0])
            return None
        if name == "compile":
            self.compiles.append((target, args, kwargs, loc))
            return None
        if name == "fit":
            self.fits.append((target, args, kwargs, loc))
            return Unknown("training history", loc)
        if name == "build" and args and isinstance(args[0], (list, tuple)):
            self.builds[id(target)] = args[0]
            return None
        if isinstance(target, LayerObj) and name == "__call__":
            return self.apply(target, args, kwargs, None, None, loc, self.strict)
        if name == "add_weight":
            return self.learned_weight(target, args, kwargs, loc)
        if name == "build" and isinstance(target, LayerObj) and target.tensor is not None:
            return None   # a bare Layer holding a tensor marked built: nothing to compute
        return Unknown(f"result of '{ast.unparse(expr)}'", loc)

    def unexpected_keyword(self, func, key, node) -> bool:
        return True   # Keras layers and models take keyword arguments their subclasses pass on

    def missing_argument(self, func, param, node):
        return Unknown(f"parameter '{param.arg}' of {getattr(func, 'name', '<lambda>')} has no default",
                       self.loc(param))

    def method_of(self, cls: ClassDef, name: str):
        found = cls.method(name)
        return found[0] if found else None

    def instantiate(self, cls: ClassDef, args, kwargs, loc):
        literal_name = kwargs.get("name") if isinstance(kwargs.get("name"), str) else None
        instance = Instance(cls, {}, loc, name=literal_name, runtime_name=literal_name)
        instance.ctor = (tuple(map(repr, args)),   # name= changes no computation: objects differing by it share a block
                         tuple(sorted((k, repr(v)) for k, v in kwargs.items() if k != "name")))
        instance.arguments = (list(args), dict(kwargs))   # the values: a parameterised block's calls pass them
        init = self.method_of(cls, "__init__")
        if init is not None:
            self.run_function(init, instance, args, kwargs, strict=False)
        return instance

    # --- values into tensors -------------------------------------------------------------------
    def tensor(self, value, loc, what="input") -> T | None:
        if isinstance(value, T):
            return value
        if isinstance(value, InputSpec):
            return self.materialize_input(value)
        if isinstance(value, Unknown):
            self.error(value.code, f"{what}: {value.why}", value.loc or loc)
        else:
            self.error("unsupported-construct", f"{what} is not a tensor of the network", loc)
        return None

    def materialize_input(self, spec: InputSpec) -> T | None:
        if spec.tensor is None:
            if spec.free is not None and (spec.shape is None or not all(isinstance(d, int) or d is None
                                                                        for d in spec.shape)):
                self.error(spec.free.code, f"input '{spec.name or 'x'}': {spec.free.why}", spec.free.loc or spec.loc)
                return None
            if spec.shape is None:
                self.error("missing-input-shape", f"input '{spec.name or 'x'}' has no shape: give shape= "
                           "or an input shape on the command line", spec.loc)
                return None
            spec.tensor = self.make_input(spec.name, spec.shape, spec.dtype, spec.loc)
        return spec.tensor

    def make_input(self, name, keras_shape, dtype, loc) -> T | None:
        shape = [(-1 if d is None else d) for d in keras_shape]
        free = next((d for d in shape if isinstance(d, Unknown) and d.code == "free-value"), None)
        if free is not None:   # the script computes it from data: --set gives it
            self.error(free.code, f"input '{name}': {free.why}", free.loc or loc)
            return None
        if not all(_is_int(d) for d in shape):  # True is an int to Python, not a size
            self.error("dynamic-value", f"input '{name}': shape {tuple(keras_shape)} is not known statically", loc)
            return None
        rank = len(shape) + 1
        perm = L.channels_last(rank) if rank >= 4 else L.identity(rank)
        pivot = [0] * (rank - 1)
        for j, axis in enumerate(perm[1:], start=1):
            pivot[axis - 1] = shape[j - 1]
        pivot_dtype = pivot_dtype_of(dtype) or "float32"
        if pivot_dtype not in PIVOT_DTYPES:
            self.warn("unsupported-construct", f"input '{name}': dtype {dtype} becomes float32", loc)
            pivot_dtype = "float32"
        node = self.builder.add("Input", (name, "x", "inputs_0"), [], loc, shape=pivot, dtype=pivot_dtype)
        if dtype:
            self.explicit_dtype.add(node)
        self.note(node, loc, f"Keras shape {tuple(keras_shape)}" + (
            "" if L.is_identity(perm) else f", pivot (channels first) {tuple(pivot)}"))
        return self.builder.tensor(node, perm)

    def input_spec(self, args, kwargs, loc, shape_key="shape") -> InputSpec:
        shape = kwargs.get(shape_key, kwargs.get("input_shape", args[0] if args else None))
        if isinstance(kwargs.get("batch_shape"), (list, tuple)):
            shape = kwargs["batch_shape"][1:]
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else (
            (shape,) if isinstance(shape, int) else None)
        dtype = kwargs.get("dtype") if isinstance(kwargs.get("dtype"), str) else None
        name = kwargs.get("name") if isinstance(kwargs.get("name"), str) else None
        given = kwargs.get(shape_key, kwargs.get("input_shape", args[0] if args else None))
        free = next((d for d in (given if isinstance(given, (list, tuple)) else [given])
                     if isinstance(d, Unknown) and d.code == "free-value"), None)
        if loc in self.input_overrides:   # --input-shape gave the size the data would have
            shape, free = self.input_overrides[loc], None
        return InputSpec(shape, dtype, name, loc, free=free)

    # --- applying layers, models and blocks -------------------------------------------------------
    def apply(self, callee, args, kwargs, hint, hints, loc, strict):
        if not self.has_tensor(args):
            if isinstance(callee, (SequentialObj, FunctionalModel, Instance)) and args and \
                    isinstance(args[0], (list, tuple)) and args[0] and all(isinstance(d, int) for d in args[0]):
                self.builds.setdefault(id(callee), args[0])
            if strict and args:
                self.tensor(args[0], loc)
            return Unknown("a model or layer called on data", loc)
        recurrent = isinstance(callee, LayerObj) and callee.cls in RECURRENT_LAYERS
        for key in ("mask",) if recurrent else ("mask", "initial_state"):
            if kwargs.get(key) is not None:
                self.error("unsupported-construct", f"{key}= is not translated", loc)
        if isinstance(callee, SequentialObj):
            x = args[0]
            for layer in callee.layers:
                if isinstance(layer, InputSpec):
                    continue
                x = self.apply(layer, [x], {}, None, None, loc, strict)
            return x
        if isinstance(callee, Instance):
            return apply_instance(self, callee, args, kwargs, hint, loc)
        if isinstance(callee, FunctionalModel):
            return apply_functional(self, callee, args, hint, loc)
        if not isinstance(callee, LayerObj):  # an unknown name or a value: reported where it was made
            what = callee.why if isinstance(callee, Unknown) else type(callee).__name__
            self.error("unknown-layer", f"{what} is used as a layer but is not a Keras layer nnpivot knows",
                       getattr(callee, "loc", None) or loc)
            return Unknown(f"output of {what}", loc)
        return self.apply_layer(callee, args, kwargs, hint, hints, loc)

    def apply_layer(self, layer: LayerObj, args, kwargs, hint, hints, loc):
        handler = SPECIAL_LAYERS.get(layer.cls)
        if handler is None and layer.cls not in TABLE_CLASSES:
            self.error("unknown-layer", f"Keras layer {layer.original} has no pivot equivalent", layer.loc)
            return pass_through(args)
        names = self.layer_names(layer, hint)
        layer.uses += 1
        where = layer.loc or loc
        operands = args[0]
        self.pending_operands, self.pending_kwargs = list(args), dict(kwargs)
        self.pending_hints = list(hints or [])  # the names a tuple assignment unpacks the results into
        before = len(self.builder.nodes)
        result = (handler or Interpreter.layer_generic)(self, layer, operands, names, where)
        # what the layer made: not a layout permute, nor an input first used here (made lazily)
        made = [n for n in self.builder.nodes[before:] if not is_kind(n, "Permute") and not is_kind(n, "Input")]
        self.share_weights(layer, made, loc)
        self.layer_of_node.update({n: layer for n in made})
        for node in made:
            self.note(node, where, self.remarks.pop(node, f"from {layer.original}"))
        return result

    def share_weights(self, layer: LayerObj, made: list, loc) -> None:
        """A layer object called again computes with the weights of its first call (``weightsOf``).

        The nodes with weights this call made are paired in order with those of the first call;
        where they are not the same layers (another graph, or a layout that changes an attribute)
        the pivot keeps a copy of the weights per call and says so.
        """
        weighted = [n for n in made if kind_of(n) is not None and MAPPINGS[kind_of(n).keyword].weights]
        if layer.first_call is None:
            layer.first_call = (weighted, self.builder)
            return
        owners, builder = layer.first_call
        if not weighted:
            return
        if builder is self.builder and len(owners) == len(weighted) and not any(
                sharing_difference(node, owner) for node, owner in zip(weighted, owners)):
            for node, owner in zip(weighted, owners):
                node.weightsOf = owner
            return
        self.warn("shared-weights", f"layer '{layer.name or layer.original}' is called again in another graph or "
                  "layout: the pivot gives this call weights of its own (Keras shares them)", loc)

    def automatic_name(self, cls: str) -> str:
        """The name Keras gives the next unnamed layer of class ``cls`` (``dense``, ``dense_1``...).

        Keras numbers unnamed layers per class over every layer the process has made since it started or
        since ``keras.backend.clear_session()`` (``keras.src.utils.naming.uniquify``); named layers do not
        count. The importer counts in the order Python runs the script (``python script.py``: top level,
        ``__main__`` block included), so a model the script builds, trains and saves gets the names of that
        build, earlier builds counted. A model built again here (``--model-args``, or a build not bound to a
        name) is numbered from the counters of the script's own call of its builder, else from those of a
        plain import of the module (top level only)."""
        counts = self.automatic_names
        base = keras_snake(cls)
        counts[base] = counts.get(base, 0) + 1
        return base if counts[base] == 1 else f"{base}_{counts[base] - 1}"

    def layer_names(self, layer: LayerObj, hint) -> tuple:
        auto = keras_snake(layer.original)
        if layer.uses:
            base = layer.name or auto
            return (f"{base}_{layer.uses}",)
        return (layer.name, hint, auto)

    # --- arguments ---------------------------------------------------------------------------------
    def given(self, layer: LayerObj) -> dict:
        """The layer's arguments by Keras keyword (positional ones named from the Keras signature)."""
        names = POSITIONAL.get(layer.cls, ())
        given = {}
        for i, value in enumerate(layer.args):
            if i >= len(names):
                self.error("unsupported-construct", f"{layer.original}: positional argument {i + 1} is not "
                           "translated (use its keyword)", layer.loc)
                break
            given[names[i]] = value
        renamed = {old: new for keyword in TABLE_CLASSES.get(layer.cls, ()) for old, new in MAPPINGS[keyword].renamed.items()}
        for key, value in layer.kwargs.items():
            given[renamed.get(key, key)] = value
        for key, value in given.items():
            if isinstance(value, Unknown):
                self.error(value.code, f"{layer.original} argument {key}: {value.why}", value.loc or layer.loc)
        return {k: v for k, v in given.items() if not isinstance(v, Unknown)}

    def attributes(self, layer: LayerObj, keyword: str, given: dict, handled=()) -> dict:
        """Pivot attributes of ``keyword`` read backwards from the Keras mapping's arguments."""
        kind, mapping = KINDS[keyword], MAPPINGS[keyword]
        attrs: dict = {}
        consumed = set(handled) | {"activation"}
        for arg in mapping.args:
            if arg.pivot is None:
                continue
            if arg.keras in given and given[arg.keras] is not None:
                value = given[arg.keras]
            elif arg.default is None and arg.keras not in given:   # the attribute left unset
                consumed.add(arg.keras)
                continue
            elif arg.default is not UNSET and arg.keras not in given:
                value = arg.default
            elif arg.keras in mapping.defaults and arg.keras not in given:
                value = mapping.defaults[arg.keras]
            else:
                continue
            consumed.add(arg.keras)
            if arg.from_keras is not None:
                value = arg.from_keras(value)
            value = self.attribute_value(kind, arg.pivot, value, layer)
            if value is UNSET:
                continue
            if arg.pivot in attrs and attrs[arg.pivot] != value:
                self.error("unsupported-construct", f"{layer.original}: {arg.keras}={given.get(arg.keras)!r} "
                           f"differs from the other argument setting {arg.pivot}; the pivot has one flag",
                           layer.loc)
            attrs[arg.pivot] = value
        self.check_rest(layer, given, consumed)
        return canonical(kind, attrs)

    def check_rest(self, layer: LayerObj, given: dict, consumed) -> None:
        exact = dict(KERAS_DEFAULTS)
        for keyword in TABLE_CLASSES.get(layer.cls, ()):
            exact.update(MAPPINGS[keyword].defaults)
        for key, value in given.items():
            if key in consumed or TRAINING_ONLY.match(key):
                if re.search(r"_(regularizer|constraint)$", key) and value is not None:
                    self.warn("unsupported-construct", f"{layer.original}: {key} is left out (it changes "
                              "training only)", layer.loc)
                continue
            if key in exact and value == exact[key]:
                continue
            if key in APPROXIMATE_KWARGS:
                self.warn("unsupported-construct", f"{layer.original}: {APPROXIMATE_KWARGS[key]} {key}={value!r} "
                          "is left out", layer.loc)
                continue
            self.error("unsupported-construct", f"{layer.original}: argument {key}={value!r} is not translated",
                       layer.loc)

    def attribute_value(self, kind, name, value, layer):
        feature = kind.eclass.findEStructuralFeature(name)
        if feature.many:
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if not all(isinstance(v, (int, float)) for v in values):
                self.error("unsupported-construct", f"{layer.original}: {name}={value!r} is not translated",
                           layer.loc)
                return UNSET
            if feature.eType.name == "EInt" and not all(_is_int(v) for v in values):
                self.error("bad-value", f"{layer.original}: {snake(name)} expects integers, got {value!r}", layer.loc)
                return UNSET
            return canonical_per_axis(values) if name in PER_AXIS else values
        if hasattr(feature.eType, "getEEnumLiteral"):
            literal = feature.eType.getEEnumLiteral(str(value).lower()) if isinstance(value, str) else None
            if literal is None:
                self.error("unsupported-construct", f"{layer.original}: {value!r} is not translated", layer.loc)
                return UNSET
            return literal.name
        type_name = feature.eType.name
        if type_name == "EInt" and not _is_int(value):
            self.error("bad-value", f"{layer.original}: {snake(name)} expects an integer, got {value!r}", layer.loc)
            return UNSET
        try:
            return bool(value) if type_name == "EBoolean" else float(value) if type_name == "EDouble" else (
                int(value) if type_name == "EInt" else value)
        except (TypeError, ValueError):
            self.error("unsupported-construct", f"{layer.original}: {name}={value!r} is not translated", layer.loc)
            return UNSET

    # --- the generic, table-driven layer ---------------------------------------------------------------
    def layer_generic(self, layer, x, names, loc, keyword=None, attrs=None, given=None):
        given = self.given(layer) if given is None else given
        keyword = keyword or self.choose(layer, x)
        x = self.tensor(x, loc)
        if x is None:
            return Unknown(f"output of {layer.original}", loc)
        attrs = self.attributes(layer, keyword, given) if attrs is None else attrs
        wanted = self.wanted(MAPPINGS[keyword].layout, x, given, attrs)
        name = self.builder.name(*names)
        x = self.builder.permuted(x, wanted, (f"{name}_in",), loc)
        node = self.builder.add(KINDS[keyword].eclass_name, name, [x], loc, **attrs)
        out = self.out_tensor(node, x.perm)
        return self.activation(given.get("activation"), out, node.name, loc)

    def choose(self, layer: LayerObj, x) -> str:
        keywords = TABLE_CLASSES[layer.cls]
        if len(keywords) == 1:
            return keywords[0]
        preferred = [k for k in keywords if not k.startswith(("adaptive_", "instance_"))]
        return (preferred or keywords)[0]

    def wanted(self, rule, x: T, given: dict, attrs: dict) -> Perm:
        rank = x.rank
        if given.get("data_format") == "channels_first":
            return L.identity(rank)
        if rule == "channels_last" or (rule == "dropout" and attrs.get("spatial")):
            return L.channels_last(rank)
        if rule in ("pivot", "sequence", "flatten"):
            return L.identity(rank)
        if rule == "frames" and rank == 5:
            return FRAMES_LAST   # (N, T, H, W, C) maps are the pivot's (N, T, C, H, W)
        if rule in ("last_axis", "layer_norm"):
            return x.perm if x.perm[-1] == rank - 1 else L.identity(rank)
        return x.perm

    def out_tensor(self, node, in_perm: Perm, index: int = 0) -> T:
        shape = self.shape_of(node, index)
        if shape is None:
            return T(node, tuple(in_perm), tuple([None] * len(in_perm)))
        perm = in_perm if len(shape) == len(in_perm) else L.identity(len(shape))
        return T(node, tuple(perm), shape)

    def activation(self, name, x: T, base: str, loc, hint=None):
        """A Keras activation (string or function) as a pivot node after ``x``."""
        if name is None or name == "linear":
            return x
        if isinstance(name, ModulePath):
            name = name.path.rsplit(".", 1)[-1]
        if not isinstance(name, str) or name not in ACTIVATIONS:
            self.error("unsupported-construct", f"activation {name!r} has no pivot equivalent", loc)
            return x
        keyword = ACTIVATIONS[name]
        attrs = dict(ACTIVATION_DEFAULTS.get(name, {}))
        if keyword in ("softmax", "log_softmax"):
            attrs["axis"] = self.pivot_axis(x, -1)
        node = self.builder.add(KINDS[keyword].eclass_name, (hint, f"{base}_{keyword}"), [x], loc, **attrs)
        return self.out_tensor(node, x.perm)

    @staticmethod
    def pivot_axis(x: T, keras_axis: int) -> int:
        """The pivot axis of Keras axis ``keras_axis``; -1 when it is the pivot's last axis."""
        axis = x.perm[keras_axis % x.rank]
        return -1 if axis == x.rank - 1 else axis

    # --- calls of keras/tensorflow names ---------------------------------------------------------------
    def call_path(self, path, args, kwargs, expr, hint, hints):
        loc = self.loc(expr)
        if path in ("backend.clear_session", "utils.clear_session"):
            self.automatic_names = {}   # Keras numbers unnamed layers from scratch again
            return None
        if path in ("Sequential", "models.Sequential"):
            items = args[0] if args else kwargs.get("layers", [])
            name = kwargs.get("name") if isinstance(kwargs.get("name"), str) else None
            return SequentialObj(list(items) if isinstance(items, (list, tuple)) else [], loc, name)
        if path in ("Model", "models.Model"):
            inputs = kwargs.get("inputs", args[0] if args else None)
            outputs = kwargs.get("outputs", args[1] if len(args) > 1 else None)
            if inputs is None or outputs is None:
                return Unknown("keras.Model without inputs and outputs", loc)
            name = kwargs.get("name") if isinstance(kwargs.get("name"), str) else None
            return FunctionalModel(inputs if isinstance(inputs, (list, tuple)) else [inputs], outputs, loc, name)
        if path in ("Input", "layers.Input"):
            spec = self.input_spec(args, kwargs, loc)
            spec.name = spec.name or (hint if hint not in AVOIDED_NAMES else None)
            return spec
        if path == "layers.InputLayer":
            return self.input_spec(args, kwargs, loc)
        if path.startswith("layers.") and path[7:8].isupper():
            original = path[7:]
            layer = LayerObj(canonical_class(original), list(args), dict(kwargs), loc, original=original)
            if isinstance(kwargs.get("name"), str):
                layer.name = kwargs["name"]
            if layer.name or "name" not in kwargs:   # a name= not known statically: Keras' counter not used
                layer.runtime_name = layer.name or self.automatic_name(canonical_class(original))
            if "input_shape" in kwargs or "input_dim" in kwargs:
                shape = kwargs.get("input_shape", (kwargs.get("input_dim"),))
                layer.input_shape = tuple(shape) if isinstance(shape, (list, tuple)) else None
            return layer
        if path.split(".")[0] in ("optimizers", "losses", "metrics", "initializers", "callbacks"):
            return ConfigObj(path, args, kwargs, loc)
        handler = OPS.get(function_key(path))
        if handler is None and path in TABLE_OPS:
            handler = op_table
        if handler is None:
            name = path.rsplit(".", 1)[-1]
            if path.split(".")[0] in ("ops", "activations", "tf") and name in ACTIVATIONS:
                handler = op_activation
        if handler is not None and (self.has_tensor(args, kwargs) or handler in (op_arange, op_zeros)):
            self.pending_hints = list(hints or [])  # the names a tuple assignment unpacks the results into
            return handler(self, path, args, kwargs, hint or None, loc)
        if self.has_tensor(args, kwargs):
            self.error("unsupported-construct", f"{path} is not translated", loc)
        return Unknown(f"result of {path}", loc)

    # --- operations ---------------------------------------------------------------------------------------
    def learned_weight(self, holder, args, kwargs, loc):
        """``add_weight(shape=(...), initializer=..., trainable=True)``: the initializer is weight initialisation,
        which the checkpoint replaces; a weight not trained, or of sizes not known statically, is refused."""
        shape = kwargs.get("shape", args[0] if args else None)
        if not isinstance(shape, (tuple, list)) or not shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            self.error("unsupported-construct", "add_weight needs a shape of fixed positive sizes", loc)
            return Unknown("add_weight of unknown shape", loc)
        if kwargs.get("trainable", True) is not True:
            self.error("unsupported-construct", "a weight that is not trained (trainable=False) has no pivot "
                       "counterpart", loc)
            return Unknown("untrained weight", loc)
        index = self.learned_counts.get(id(holder), 0)
        self.learned_counts[id(holder)] = index + 1
        return LearnedWeight(tuple(shape), loc, holder, index=index)

    def add_learned(self, x: T, weight: LearnedWeight, hint, loc):
        """``x + weight``: the add_learned node; the weight's Keras axes follow ``x``'s layout."""
        rank, shape = x.rank, weight.shape
        if not L.is_identity(x.perm):
            # the weight's axes are the Keras tensor's: the sum is made on the tensor in that order (a pivot
            # permute), so the checkpoint's variable keeps its axes
            x = self.builder.permuted(x, L.identity(x.rank), (f"{hint or 'sum'}_in",), loc)
        if len(shape) == rank and shape[0] == 1:
            batch_axis = True
        elif len(shape) < rank:
            batch_axis = False
        else:
            self.error("unsupported-construct", f"a weight of shape {shape} added to a tensor of rank {rank}", loc)
            return Unknown("sum with a weight", loc)
        declared = list(shape[1:] if batch_axis else shape)
        tensor = self.tensor(x, loc)
        holder = weight.holder
        names = (holder.name if isinstance(holder, LayerObj) else weight.attribute, hint, "add_learned")
        node = self.builder.add("AddLearned", names, [tensor], loc, shape=declared, batch_axis=batch_axis)
        if weight.node is None:
            weight.node = node
        elif weight.node.eContainer() is node.eContainer():
            node.weightsOf = weight.node
        if isinstance(holder, LayerObj):
            self.layer_of_node[node] = holder
        self.learned_of_node[node] = weight
        return self.out_tensor(node, tensor.perm)

    def arithmetic(self, eclass_name, operands, hint, loc, scalar=None, scalar_first=False):
        tensors = [self.tensor(t, loc) for t in operands]
        if any(t is None for t in tensors):
            return Unknown("operand", loc)
        keyword = eclass_name.lower()
        tensors = self.match_layouts(tensors, hint or keyword, loc)
        attrs = {} if scalar is None else {"scalar": scalar, "scalar_first": scalar_first}
        node = self.builder.add(eclass_name, (hint, keyword), tensors, loc, **attrs)
        return self.out_tensor(node, tensors[0].perm)

    def match_layouts(self, tensors: list, base: str, loc) -> list:
        """Operands of an elementwise or joining operation in the first operand's layout."""
        first = tensors[0]
        if not all(t.rank == first.rank for t in tensors):
            return [self.builder.permuted(t, L.identity(t.rank), (f"{base}_in{i}",), loc)
                    for i, t in enumerate(tensors)]
        return [first] + [self.builder.permuted(t, first.perm, (f"{base}_in{i}",), loc)
                          for i, t in enumerate(tensors[1:], start=1)]

    def chain(self, eclass_name, operands, hint, loc):
        result = operands[0]
        for i, operand in enumerate(operands[1:], start=1):
            name = hint if i == len(operands) - 1 else f"{hint or eclass_name.lower()}_{i}"
            result = self.arithmetic(eclass_name, [result, operand], name, loc)
        return result

    def join(self, keyword, operands, axis, hint, loc):
        tensors = [self.tensor(t, loc) for t in operands]
        if any(t is None for t in tensors) or not tensors:
            return Unknown("operand", loc)
        tensors = self.match_layouts(tensors, hint or keyword, loc)
        if not isinstance(axis, int):
            self.error("dynamic-value", f"{keyword} axis {axis!r} is not known statically", loc)
            return Unknown("axis", loc)
        first = tensors[0]
        if keyword == "concat":
            # A negative Keras axis is a negative pivot axis (the generator writes the pivot's sign), except the
            # pivot's default axis 1.
            pivot_axis = first.perm[axis % first.rank]
            pivot_axis -= first.rank if axis < 0 and pivot_axis != 1 else 0
            node = self.builder.add("Concat", (hint, "concatenate"), tensors, loc, axis=pivot_axis)
            return self.out_tensor(node, first.perm)
        rank = first.rank + 1
        keras_axis = axis % rank
        # Keras stacks along ``axis`` of its own tensors: the pivot axis whose new place in the layout is that
        # axis (the generator's reading, ``insert_axis``); otherwise the operands are put in pivot order.
        placed = [a for a in range(rank) if L.insert_axis(first.perm, a).index(a) == keras_axis]
        if not placed:
            tensors = [self.builder.permuted(t, L.identity(t.rank), (f"{hint or 'stack'}_in{i}",), loc)
                       for i, t in enumerate(tensors)]
            placed, first = [keras_axis], tensors[0]
        node = self.builder.add("Stack", (hint, "stack"), tensors, loc,
                                axis=-1 if axis < 0 and placed[0] == rank - 1 else placed[0])
        return self.out_tensor(node, L.insert_axis(first.perm, placed[0]))

    def tensor_subscript(self, x: T, index_expr, env, hint, loc):
        items = index_expr.elts if isinstance(index_expr, ast.Tuple) else [index_expr]
        values = [self.eval(item, env) for item in items]
        if len(values) > x.rank or any(not isinstance(v, (int, slice)) for v in values):
            self.error("unsupported-construct", f"indexing with [{ast.unparse(index_expr)}] is not translated", loc)
            return Unknown("index", loc)
        # The batch axis is the first of unknown size: axis 1 of recurrent states (layers * directions, N, H).
        batch = x.perm.index(next((a for a, d in enumerate(x.shape) if d is None), 0))
        if len(values) > batch and values[batch] != slice(None):
            self.error("unsupported-construct", f"indexing the batch axis [{ast.unparse(index_expr)}] is not "
                       "translated", loc)
            return Unknown("index", loc)
        axes, starts, ends, steps, picks = [], [], [], [], []
        for keras_axis, value in enumerate(values):
            if isinstance(value, int):
                picks.append((keras_axis, value))
            elif value != slice(None):
                axes.append(x.perm[keras_axis])
                starts.append(value.start or 0)
                ends.append(2 ** 31 - 1 if value.stop is None else value.stop)
                steps.append(value.step or 1)
        result = x
        if axes:
            node = self.builder.add("Slice", (hint if not picks else None, "slice"), [x], loc,
                                    **slice_attributes(axes, starts, ends, steps))
            result = self.out_tensor(node, x.perm)
        for count, (keras_axis, value) in enumerate(reversed(picks)):
            pivot_axis = result.perm[keras_axis]
            last = count == len(picks) - 1
            node = self.builder.add("Index", (hint if last else None, "index"), [result], loc,
                                    axis=pivot_axis, index=value)
            result = self.out_tensor(node, L.drop_axes(result.perm, [pivot_axis]))
        return result


def canonical(kind, attrs: dict) -> dict:
    """Drop per-axis values that only restate the default (stride 1, a pooling stride equal to its window)."""
    pooling = hasattr(kind.eclass, "eAllStructuralFeatures") and kind.eclass.findEStructuralFeature("ceilMode")
    for name, implicit in (("stride", attrs.get("kernelSize") if pooling else [1]), ("dilation", [1]),
                           ("outputPadding", [0])):
        if name in attrs and implicit is not None and list(attrs[name]) == list(implicit):
            del attrs[name]
    return attrs


# --- special layers: what the generic path cannot read from the table ------------------------------------------

def operand_layer(handler):
    """A special layer applied to one tensor: its Keras arguments are read (and checked) first, then the
    operand; an operand that is not a tensor of the network was reported already and the result is Unknown."""
    @functools.wraps(handler)
    def read_operand(self, layer, x, names, loc, **options):
        given = self.given(layer)
        x = self.tensor(x, loc)
        if x is None:
            return Unknown("operand", loc)
        return handler(self, layer, x, given, names, loc, **options)
    return read_operand


@operand_layer
def layer_activation(self, layer, x, given, names, loc):
    name = given.get("activation")
    result = self.activation(name, x, names[0] or "activation", loc, hint=names[0] or names[1])
    self.check_rest(layer, given, {"activation"})
    return result


def layer_relu(self, layer, x, names, loc):
    given = self.given(layer)
    max_value, slope = given.get("max_value"), given.get("negative_slope", 0.0)
    threshold = given.get("threshold", 0.0)
    if threshold:
        self.error("unsupported-construct", f"ReLU threshold={threshold} has no pivot equivalent", loc)
    if max_value is None and not slope:
        keyword, attrs = "relu", {}
    elif max_value == 6 and not slope:
        keyword, attrs = "relu6", {}
    elif max_value is None:
        keyword, attrs = "leaky_relu", {"negativeSlope": float(slope)}
    else:
        self.error("unsupported-construct", f"ReLU(max_value={max_value}, negative_slope={slope}) has no pivot "
                   "equivalent", loc)
        keyword, attrs = "relu", {}
    self.check_rest(layer, given, {"max_value", "negative_slope", "threshold"})
    return self.layer_generic(layer, x, names, loc, keyword=keyword, attrs=attrs, given={})


@operand_layer
def layer_softmax(self, layer, x, given, names, loc):
    axis = given.get("axis", -1)
    if not isinstance(axis, int):
        self.error("unsupported-construct", f"Softmax over several axes {axis!r} is not translated", loc)
        axis = -1
    self.check_rest(layer, given, {"axis"})
    return self.layer_generic(layer, x, names, loc, keyword="softmax", attrs={"axis": self.pivot_axis(x, axis)},
                              given={})


@operand_layer
def layer_batch_norm(self, layer, x, given, names, loc):
    axis = given.get("axis", -1)
    if not isinstance(axis, int) or x.rank < 2:
        self.error("unsupported-construct", f"BatchNormalization over axis {axis!r} is not translated", loc)
        return x
    keyword = {2: "batch_norm1d", 3: "batch_norm1d", 4: "batch_norm2d", 5: "batch_norm3d"}.get(x.rank)
    if keyword is None:
        self.error("unsupported-construct", f"BatchNormalization of a rank-{x.rank} tensor is not translated", loc)
        return x
    return channel_layer(self, layer, keyword, x, axis, given, names, loc)


@operand_layer
def layer_normalization(self, layer, x, given, names, loc):
    """Normalization(axis): (x - mean) / max(sqrt(variance), epsilon) over one axis, the pivot's channel axis; its
    statistics are weights (adapted on data, then saved with the model)."""
    axis = given.get("axis", -1)
    if not isinstance(axis, int) or x.rank < 2:
        self.error("unsupported-construct", f"Normalization over axis {axis!r} (one axis only) is not translated",
                   loc)
        return Unknown("normalization", loc)
    constants = [key for key in ("mean", "variance") if given.get(key) is not None]
    if constants or given.get("invert"):
        what = f"{' and '.join(constants)} given in the code" if constants else "invert=True"
        self.error("unsupported-construct", f"Normalization with {what} is not translated (an adapted "
                   "Normalization, whose statistics are saved with the weights, is)", loc)
        return Unknown("normalization", loc)
    self.check_rest(layer, given, {"axis", "mean", "variance", "invert"})
    return channel_layer(self, layer, "normalization", x, axis, given, names, loc)


@operand_layer
def layer_group_norm(self, layer, x, given, names, loc):
    if given.get("groups") == -1:  # Keras' "a group per channel" is instance normalization
        return channel_layer(self, layer, "instance_norm", x, given.get("axis", -1), given, names, loc)
    return channel_layer(self, layer, "group_norm", x, given.get("axis", -1), given, names, loc)


def channel_layer(self, layer, keyword, x, axis, given, names, loc):
    """A layer normalizing over the channel axis Keras names by ``axis`` (pivot axis 1)."""
    attrs = self.attributes(layer, keyword, given, handled={"axis", "groups"} if keyword == "instance_norm" else {"axis"})
    name = self.builder.name(*names)
    x = self.builder.permuted(x, channel_at(x.rank, axis), (f"{name}_in",), loc)
    node = self.builder.add(KINDS[keyword].eclass_name, name, [x], loc, **attrs)
    return self.out_tensor(node, x.perm)




@operand_layer
def layer_layer_norm(self, layer, x, given, names, loc):
    axis = given.get("axis", -1)
    keras_axes = sorted(a % x.rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])
                        if isinstance(a, int))
    pivot_axes = [x.perm[a] for a in keras_axes]
    count = len(pivot_axes)
    # The pivot normalizes its trailing axes: the Keras axes must be those, in a layout keeping them last.
    if not count or count != len(axis if isinstance(axis, (list, tuple)) else [axis]) or \
            sorted(pivot_axes) != list(range(x.rank - count, x.rank)) or (count > 1 and pivot_axes != sorted(pivot_axes)):
        self.error("unsupported-construct", f"LayerNormalization over axis {axis!r} is not translated "
                   "(only the trailing axes)", loc)
        count = 1
    attrs = self.attributes(layer, "layer_norm", given, handled={"axis"})
    sizes = x.shape[x.rank - count:]
    if None not in sizes:
        attrs["normalizedShape"] = list(sizes)  # stated, as PyTorch states it
    if count > 1:
        x = self.builder.permuted(x, L.identity(x.rank), tuple(f"{n}_in" for n in names if n) or ("layer_norm_in",),
                                  loc)
    return self.layer_generic(layer, x, names, loc, keyword="layer_norm", attrs=attrs, given={})


@operand_layer
def layer_recurrent(self, layer, x, given, names, loc, bidirectional=False):
    keyword = TABLE_CLASSES[layer.cls][0]
    activation = given.pop("activation", "tanh")
    if keyword != "simple_rnn" and activation != "tanh":
        self.error("unsupported-construct", f"{layer.original} activation={activation!r} is not translated "
                   "(the pivot's LSTM/GRU use tanh)", loc)
    elif keyword == "simple_rnn":
        given["activation"] = activation
    attrs = self.attributes(layer, keyword, given, handled={"return_state"})
    attrs.pop("activation", None)
    if bidirectional:
        attrs["bidirectional"] = True
    if keyword in ("simple_rnn", "lstm") and attrs.get("bias", True):
        attrs["oneBias"] = True   # Keras trains one bias where PyTorch's layers have two (a GRU's two are Keras's)
    name = self.builder.name(*names)
    x = self.builder.permuted(x, L.identity(x.rank), (f"{name}_in",), loc)
    states = initial_states(self, keyword, 2 if bidirectional else 1, name, loc)
    if states is None:
        return Unknown(f"output of {layer.original}", loc)
    node = self.builder.add(KINDS[keyword].eclass_name, name, [x, *states], loc, **attrs)
    output = self.out_tensor(node, x.perm)
    if not given.get("return_state"):
        return output
    states = ["h", "c"] if keyword == "lstm" else ["h"]
    directions = ["", "_bw"] if bidirectional else [""]
    result = [output]
    selects = {}
    for slot, letter in enumerate(states, start=1):
        selects[letter] = self.builder.add("Select", (f"{node.name}_{letter}n",), [node], loc, index=slot)
        self.shape_of(selects[letter])
    # Keras returns each direction's final states, (N, H): the pivot's states (directions, N, H) indexed.
    hints = self.pending_hints[1:] if len(self.pending_hints) == 1 + len(directions) * len(states) else []
    for d, direction in enumerate(directions):
        for letter in states:
            hint = hints[len(result) - 1] if hints else None
            index = self.builder.add("Index", (hint, f"{node.name}_{letter}{direction}"), [selects[letter]], loc,
                                     axis=0, index=d)
            result.append(self.out_tensor(index, L.identity(2)))
    return result


def layer_cell(self, layer, x, names, loc):
    """``cell(x, [h, c])`` of a Keras LSTMCell/GRUCell: one step; Keras returns (h, [h, c]) or (h, [h])."""
    keyword = TABLE_CLASSES[layer.cls][0]
    given = self.given(layer)
    for key, default in (("activation", "tanh"), ("recurrent_activation", "sigmoid"), ("reset_after", True)):
        if given.pop(key, default) != default:
            self.error("unsupported-construct", f"{layer.original} {key}={given.get(key)!r} is not translated "
                       f"(the pivot's cells use {default!r})", loc)
    operands = self.pending_operands
    states = operands[1] if len(operands) > 1 else self.pending_kwargs.get("states")
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    count = KINDS[keyword].arity[1] - 1
    units = given.get("units")
    if len(states) != count:
        self.error("unsupported-construct", f"{layer.original} called with {len(states)} state(s), it takes "
                   f"{count}", loc)
        return Unknown(f"output of {layer.original}", loc)
    if all(isinstance(s, ZeroState) for s in states):
        if any(s.units != units for s in states):
            self.error("shape-mismatch", f"{layer.original}'s zero states must have its {units} units", loc)
        states = []   # the zero states the pivot's cell starts from without any
    tensors = [self.tensor(t, loc, "cell input") for t in [x, *states]]
    if any(t is None for t in tensors):
        return Unknown(f"output of {layer.original}", loc)
    attrs = self.attributes(layer, keyword, given)
    name = self.builder.name(*names)
    tensors = [self.builder.permuted(t, L.identity(t.rank), (f"{name}_in{i}",), loc) for i, t in enumerate(tensors)]
    node = self.builder.add(KINDS[keyword].eclass_name, name, tensors, loc, **attrs)
    hidden = self.out_tensor(node, L.identity(2))
    if count == 1:
        return hidden, [hidden]
    cell = self.builder.add("Select", (f"{name}_c",), [node], loc, index=1)
    self.shape_of(cell)
    return hidden, [hidden, self.out_tensor(cell, L.identity(2))]


@operand_layer
def layer_conv_lstm(self, layer, x, given, names, loc):
    """ConvLSTM2D over (N, T, H, W, C) maps: the pivot's (N, T, C, H, W) sequence of maps."""
    for key, default in (("activation", "tanh"), ("recurrent_activation", "sigmoid"), ("strides", 1),
                         ("dilation_rate", 1), ("return_state", False), ("go_backwards", False),
                         ("data_format", None)):
        value = given.pop(key, default)
        if value != default and not (key in ("strides", "dilation_rate") and value in ((1, 1), [1, 1])):
            self.error("unsupported-construct", f"{layer.original} {key}={value!r} is not translated", loc)
            return Unknown(f"output of {layer.original}", loc)
    if x.rank != 5:
        self.error("shape-mismatch", f"{layer.original} reads (N, T, H, W, C) sequences of maps, got rank {x.rank}",
                   loc)
        return Unknown(f"output of {layer.original}", loc)
    attrs = self.attributes(layer, "conv_lstm2d", given)
    name = self.builder.name(*names)
    x = self.builder.permuted(x, FRAMES_LAST, (f"{name}_in",), loc)
    node = self.builder.add("ConvLSTM2d", name, [x], loc, **attrs)
    # Keras returns (N, T, H', W', F) maps, or the last step's (N, H', W', F)
    return self.out_tensor(node, FRAMES_LAST if attrs.get("returnSequences") else L.channels_last(4))


RNN_OF_CELL = {"LSTMCell": "LSTM", "GRUCell": "GRU", "SimpleRNNCell": "SimpleRNN"}


def layer_rnn(self, layer, x, names, loc):
    """``layers.RNN(cell, ...)`` of one LSTM, GRU or SimpleRNN cell: the recurrent layer of that cell."""
    cell = layer.kwargs.get("cell", layer.args[0] if layer.args else None)
    if not isinstance(cell, LayerObj) or cell.cls not in RNN_OF_CELL or len(layer.args) > 1:
        self.error("unsupported-construct", "layers.RNN is translated for one LSTMCell, GRUCell or SimpleRNNCell "
                   "only (a list of cells or a custom cell is not)", loc)
        return Unknown("RNN", loc)
    options = {key: value for key, value in layer.kwargs.items() if key not in ("cell", "name")}
    merged = LayerObj(RNN_OF_CELL[cell.cls], list(cell.args), {**cell.kwargs, **options}, loc, name=layer.name,
                      original=f"RNN({cell.original})")
    return layer_recurrent(self, merged, x, names, loc)


RECURRENT_LAYERS = frozenset({*(cls for cls, name in READER_NAMES.items() if name == "recurrent"), "Bidirectional",
                              "RNN"})


def initial_states(self, keyword: str, directions: int, name: str, loc) -> list | None:
    """The pivot's initial states of a recurrent call's ``initial_state=[h, c]`` (or its second argument).

    Keras takes each direction's (N, H) states, forward first; the pivot takes (directions, N, H) per state,
    PyTorch's h0/c0: the states an encoder returned are used as they are, others are stacked. None after an
    error; [] without initial states."""
    given = self.pending_kwargs.get("initial_state")
    if given is None and len(self.pending_operands) > 1:
        given = self.pending_operands[1]
    if given is None:
        return []
    per_direction = 2 if keyword == "lstm" else 1
    given = list(given) if isinstance(given, (list, tuple)) else [given]
    if len(given) != per_direction * directions:
        self.error("unsupported-construct", f"initial_state holds {len(given)} state(s); this layer takes "
                   f"{per_direction * directions} ((N, units) each{', forward first' if directions == 2 else ''})",
                   loc)
        return None
    tensors = [self.tensor(t, loc, "initial state") for t in given]
    if any(t is None for t in tensors):
        return None
    states = []
    for slot, letter in enumerate("hc"[:per_direction]):
        parts = [tensors[d * per_direction + slot] for d in range(directions)]
        parts = [self.builder.permuted(t, L.identity(t.rank), (f"{name}_{letter}0_in",), loc) for t in parts]
        rows = [t.node for t in parts]
        whole = rows[0].inputs[0] if all(is_kind(r, "Index") for r in rows) else None
        if whole is not None and all(r.inputs[0] is whole and r.axis == 0 and r.index == d for d, r in
                                     enumerate(rows)) and (self.shape_of(whole) or (None,))[0] == directions:
            states.append(T(whole, L.identity(3), self.shape_of(whole)))   # an encoder's states as returned
        elif directions == 1:
            node = self.builder.add("Unsqueeze", (f"{name}_{letter}0",), parts, loc, axis=0)
            states.append(self.out_tensor(node, L.identity(3)))
        else:
            node = self.builder.add("Stack", (f"{name}_{letter}0",), parts, loc, axis=0)
            states.append(self.out_tensor(node, L.identity(3)))
    return states


def layer_bidirectional(self, layer, x, names, loc):
    given = self.given(layer)
    inner = given.get("layer")
    if not isinstance(inner, LayerObj) or inner.cls not in ("LSTM", "GRU", "SimpleRNN"):
        self.error("unsupported-construct", "Bidirectional of something other than LSTM, GRU or SimpleRNN is "
                   "not translated", loc)
        return Unknown("bidirectional", loc)
    if given.get("merge_mode", "concat") != "concat":
        self.error("unsupported-construct", f"Bidirectional merge_mode={given['merge_mode']!r} is not translated "
                   "(the pivot concatenates both directions)", loc)
        return pass_through([x])
    if given.get("backward_layer") is not None:
        self.error("unsupported-construct", "Bidirectional with its own backward_layer is not translated", loc)
    inner.uses += 1
    return layer_recurrent(self, inner, x, names, loc, bidirectional=True)


@operand_layer
def layer_flatten(self, layer, x, given, names, loc):
    result = self.layer_generic(layer, x, names, loc, keyword="flatten", attrs={}, given=given)
    if x.rank > 2 and not L.is_identity(x.perm) and isinstance(result, T):
        self.remarks[result.node] = ("from Flatten of channels-last maps: the permute to channels-last before it "
                                     "keeps Keras' feature order (approximately idiomatic, exact)")
    return result


@operand_layer
def layer_time_distributed(self, layer, x, given, names, loc):
    """``TimeDistributed(Flatten())`` (nested once per leading axis kept): a flatten of the trailing axes."""
    inner, kept = given.get("layer"), 1
    while isinstance(inner, LayerObj) and inner.cls == "TimeDistributed":
        inner.uses += 1
        inner, kept = inner.kwargs.get("layer", inner.args[0] if inner.args else None), kept + 1
    self.check_rest(layer, given, {"layer"})
    merged = [x.perm[a] for a in range(1 + kept, x.rank)]
    if not isinstance(inner, LayerObj) or inner.cls != "Flatten" or inner.args or set(inner.kwargs) - {"name"} \
            or len(merged) < 2 or merged != list(range(merged[0], merged[0] + len(merged))):
        self.error("unsupported-construct", "TimeDistributed is translated only around a Flatten of axes in the "
                   "pivot's order", loc)
        return Unknown("time distributed", loc)
    inner.uses += 1
    start, end = merged[0], merged[-1]
    node = self.builder.add("Flatten", names, [x], loc, startDim=start, endDim=-1 if end == x.rank - 1 else end)
    return self.out_tensor(node, tuple(a if a <= start else a - len(merged) + 1 for a in x.perm
                                       if a not in merged[1:]))


def layer_reshape(self, layer, x, names, loc):
    given = self.given(layer)
    target = given.get("target_shape")
    x = self.tensor(x, loc)
    if x is None or not isinstance(target, (list, tuple)):
        if x is not None:
            self.error("dynamic-value", f"Reshape target {target!r} is not known statically", loc)
        return Unknown("reshape", loc)
    name = self.builder.name(*names)
    x = self.builder.permuted(x, L.identity(x.rank), (f"{name}_in",), loc)
    node = self.builder.add("Reshape", name, [x], loc, shape=list(target))
    self.check_rest(layer, given, {"target_shape"})
    return self.out_tensor(node, L.identity(len(target) + 1))


def layer_permute(self, layer, x, names, loc):
    given = self.given(layer)
    dims = given.get("dims")
    x = self.tensor(x, loc)
    if x is None or not isinstance(dims, (list, tuple)):
        return Unknown("permute", loc)
    if not all(_is_int(d) for d in dims) or sorted(dims) != list(range(1, x.rank)):
        self.error("bad-value", f"Permute dims must order the axes 1 to {x.rank - 1}, got {tuple(dims)}", loc)
        return Unknown("permute", loc)
    self.check_rest(layer, given, {"dims"})
    return transpose(self, x, (0, *dims))


def transpose(self, x: T, axes) -> T:
    """A Keras transpose only changes which pivot axis each Keras axis holds."""
    return T(x.node, tuple(x.perm[a] for a in axes), x.shape)


def layer_zero_padding(self, layer, x, names, loc):
    given = self.given(layer)
    dims = int(layer.cls[-2])
    padding = given.get("padding", 1)
    if not (_is_int(padding) or isinstance(padding, (list, tuple)) and all(
            _is_int(p) or isinstance(p, (list, tuple)) and all(_is_int(q) for q in p) for p in padding)):
        self.error("bad-value", f"{layer.cls} padding must be integers, got {padding!r}", loc)
        return Unknown("operand", loc)
    if isinstance(padding, int):
        pads = [(padding, padding)] * dims
    elif all(isinstance(p, int) for p in padding):
        pads = [tuple(padding)] if dims == 1 else [(p, p) for p in padding]
    else:
        pads = [tuple(p) for p in padding]
    x = self.tensor(x, loc)
    if x is None:
        return Unknown("operand", loc)
    self.check_rest(layer, given, {"padding"})
    flat = [v for pair in pads for v in pair]
    return self.layer_generic(layer, x, names, loc, keyword="pad", attrs={"pads": flat}, given={})


# Layers that change their input only in training (augmentation, noise): the identity at inference. The migration
# leaves them out, which is exact for inference, with a note naming them; the training pipeline is the user's to rebuild.
TRAINING_ONLY_LAYERS = ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                        "RandomBrightness", "RandomErasing", "RandomGrayscale", "RandomHue", "RandomSaturation",
                        "RandomSharpness", "RandomShear", "RandomColorJitter", "RandomPerspective",
                        "RandomElasticTransform", "RandomInvert", "RandomPosterization", "RandomGaussianBlur",
                        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization")


def layer_training_only(self, layer, x, names, loc):
    x = self.tensor(x, loc)
    if x is None:
        return Unknown("operand", loc)
    self.diagnose(Diagnostic(NOTE, "training-only-layer", f"{layer.original} changes its input only in training "
                             "(augmentation or noise); it is left out, and the model computes the same at inference",
                             loc))
    return x


@operand_layer
def layer_rescaling(self, layer, x, given, names, loc):
    """Rescaling(scale, offset): x * scale + offset, as a product and a sum by constants."""
    scale, offset = given.get("scale"), given.get("offset", 0.0)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (scale, offset)):
        self.error("unsupported-construct", f"Rescaling by {scale!r} + {offset!r} (per-channel or not constant) is "
                   "not translated", loc)
        return Unknown("rescaling", loc)
    self.check_rest(layer, given, {"scale", "offset"})
    name = self.builder.name(*names, "rescaling")
    node = self.builder.add("Mul", (f"{name}_scaled",) if offset else name, [x], loc, scalar=float(scale))
    if offset:
        node = self.builder.add("Add", name, [self.out_tensor(node, x.perm)], loc, scalar=float(offset))
    return self.out_tensor(node, x.perm)


def layer_repeat_vector(self, layer, x, names, loc):
    """RepeatVector(n): (N, F) to (N, n, F), a new axis copied n times."""
    given = self.given(layer)
    count = given.get("n")
    x = self.tensor(x, loc)
    if x is None or not isinstance(count, int) or x.rank != 2:
        if x is not None:
            self.error("unsupported-construct", f"RepeatVector of {count!r} copies of a rank-{x.rank} tensor is not "
                       "translated", loc)
        return Unknown("repeat_vector", loc)
    self.check_rest(layer, given, {"n"})
    name = self.builder.name(*names)
    steps = self.builder.add("Unsqueeze", (f"{name}_steps",), [x], loc, axis=1)
    node = self.builder.add("Tile", name, [steps], loc, repeats=[count, 1])
    return self.out_tensor(node, L.identity(3))


def layer_join(self, layer, operands, names, loc):
    given = self.given(layer)
    if not isinstance(operands, (list, tuple)):
        self.error("unsupported-construct", f"{layer.original} expects a list of tensors", loc)
        return Unknown("join", loc)
    self.check_rest(layer, given, {"axis"})
    keyword = TABLE_CLASSES[layer.cls][0]
    if keyword == "concat":
        return self.join("concat", list(operands), given.get("axis", -1), names[0] or names[1], loc)
    return self.chain(KINDS[keyword].eclass_name, list(operands), names[0] or names[1], loc)


@operand_layer
def layer_upsample(self, layer, x, given, names, loc):
    size = given.get("size", 2)
    dims = x.rank - 2
    sizes = [size] * dims if isinstance(size, int) else list(size)
    attrs = {"scaleFactor": [float(s) for s in canonical_per_axis(sizes)],
             "mode": given.get("interpolation", "nearest")}
    if attrs["mode"] not in ("nearest", "bilinear"):
        self.error("unsupported-construct", f"UpSampling interpolation={attrs['mode']!r} is not translated", loc)
        attrs["mode"] = "nearest"
    self.check_rest(layer, given, {"size", "interpolation"})
    return self.layer_generic(layer, x, names, loc, keyword="upsample", attrs=attrs, given={})


def layer_dropout(self, layer, x, names, loc):
    given = self.given(layer)
    attrs = self.attributes(layer, "dropout", given)
    if layer.original.startswith("SpatialDropout"):
        attrs["spatial"] = True
    return self.layer_generic(layer, x, names, loc, keyword="dropout", attrs=attrs, given={})


def layer_conv(self, layer, x, names, loc):
    given = self.given(layer)
    if given.get("padding") == "causal":
        keyword = TABLE_CLASSES[layer.cls][0]
        given = dict(given, padding="valid")
        attrs = self.attributes(layer, keyword, given)
        kernel = attrs["kernelSize"][0]
        dilation = attrs.get("dilation", [1])[0]
        attrs.update(padding="explicit", pads=[dilation * (kernel - 1), 0])
        return self.layer_generic(layer, x, names, loc, keyword=keyword, attrs=attrs, given=given)
    padded = x if isinstance(x, T) and layer.cls in TABLE_CLASSES and given.get("padding", "valid") == "valid" else None
    pad = padded.node if padded is not None else None
    if pad is not None and is_kind(pad, "Pad") and str(pad.mode) == "constant" and not pad.value \
            and len(pad.pads) == 2 * (padded.rank - 2) and padded.perm == L.channels_last(padded.rank):
        # ZeroPadding then a valid convolution: the convolution's explicit padding (the pad node is left
        # to whatever else reads it, and dropped when nothing does)
        keyword = TABLE_CLASSES[layer.cls][0]
        attrs = self.attributes(layer, keyword, given)
        attrs.update(padding="explicit", pads=list(pad.pads))
        source = self.builder.tensor(pad.inputs[0], padded.perm)
        return self.layer_generic(layer, source, names, loc, keyword=keyword, attrs=attrs, given=given)
    return self.layer_generic(layer, x, names, loc, given=given)


@operand_layer
def layer_separable_conv(self, layer, x, given, names, loc):
    """SeparableConv{1,2}D: a depthwise convolution, then a 1x1 (pointwise) convolution with the bias.

    The 2-D depthwise half is the pivot's depthwise_conv2d; the 1-D one a conv1d with a group per input
    channel. Both nodes are computed by the one Keras layer, whose weight list (depthwise_kernel,
    pointwise_kernel, bias) they share out through ``weight_parts``.
    """
    dims = int(layer.cls[-2])
    filters, use_bias = given.get("filters"), given.get("use_bias", True)
    depthwise_given = {k: v for k, v in given.items() if k not in ("filters", "use_bias", "activation")}
    channel_axis = 1 if given.get("data_format") == "channels_first" else x.rank - 1
    channels = x.shape[x.perm[channel_axis]] if x.rank == dims + 2 else None
    if dims == 2:
        keyword = "depthwise_conv2d"
        depthwise = self.attributes(layer, keyword, dict(depthwise_given, use_bias=False),
                                    handled={"filters", "use_bias"})
    else:
        if not isinstance(channels, int):
            self.error("unsupported-construct", f"{layer.original} needs a known number of input channels", loc)
            return x
        multiplier = depthwise_given.pop("depth_multiplier", 1)
        keyword = "conv1d"
        depthwise = self.attributes(layer, keyword, dict(depthwise_given, filters=channels * multiplier,
                                                         groups=channels, use_bias=False),
                                    handled={"filters", "use_bias", "depth_multiplier"})
    pointwise = self.attributes(layer, f"conv{dims}d", {"filters": filters, "kernel_size": 1, "use_bias": use_bias})
    name = self.builder.name(*names)
    x = self.builder.permuted(x, self.wanted("channels_last", x, given, depthwise), (f"{name}_in",), loc)
    first = self.builder.add(KINDS[keyword].eclass_name, name, [x], loc, **depthwise)
    second = self.builder.add(KINDS[f"conv{dims}d"].eclass_name, (f"{name}_pointwise",),
                              [self.out_tensor(first, x.perm)], loc, **pointwise)
    # Keras' depthwise kernel of a 1-D layer is (k, C, m); the grouped conv1d's is (k, 1, C * m).
    depthwise_shape = None if dims == 2 or not isinstance(depthwise.get("kernelSize"), list) else \
        (depthwise["kernelSize"][0], 1, depthwise["filters"])
    self.weight_parts[first] = ((0, depthwise_shape),)
    self.weight_parts[second] = ((1, None), (2, None)) if pointwise.get("bias", True) else ((1, None),)
    out = self.out_tensor(second, x.perm)
    return self.activation(given.get("activation"), out, second.name, loc)


def pooling_pads(attrs: dict, sizes, pads: list) -> tuple[list, bool]:
    """Pivot pads and ceil_mode of a valid pooling (``attrs``) over an input of ``sizes`` padded by ``pads``
    ((begin, end) per spatial axis): symmetric pads with ceil_mode where the longer end pads only make room for
    the windows PyTorch's ceil_mode lets overhang the input (the Keras generator's spelling), else ``pads``."""
    dims = len(pads)
    kernel = per_axis(attrs.get("kernelSize", []), dims, 1, "kernel_size")
    stride = per_axis(attrs.get("stride") or kernel, dims, 1, "stride")
    symmetric = [(b, b) for b, _ in pads]
    if symmetric == pads or any(e < b for b, e in pads) or any(n is None for n in sizes):
        return pads, False
    try:
        same = all(window_out(n, k, s, 1, sym, True) == window_out(n, k, s, 1, full)
                   for n, k, s, sym, full in zip(sizes, kernel, stride, symmetric, pads))
    except ShapeError:
        return pads, False
    return (symmetric, True) if same else (pads, False)


def _pairs(flat) -> list:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def layer_pool(self, layer, x, names, loc):
    """Max/AveragePooling, and the spellings of PyTorch's padded pooling the Keras generator writes.

    A valid pooling of a constant pad of the spatial axes takes those pads as its own: padded with -inf for a
    max pooling (ceil_mode where the end pads only make room for overhanging windows), with zeros for an average
    pooling (the padding counted, PyTorch's count_include_pad). An average pooling of a :class:`CountMask` is
    the divisor of an average over the cells PyTorch counts, read with the division (``average_over_counted``).
    """
    if isinstance(x, CountMask):
        return PooledMask(layer, x)
    given = self.given(layer)
    is_max = layer.cls.startswith("Max")
    pad = x.node if isinstance(x, T) else None
    if pad is not None and is_kind(pad, "Pad") and str(pad.mode) == "constant" \
            and pad.value == (float("-inf") if is_max else 0.0) and given.get("padding", "valid") == "valid" \
            and len(pad.pads) == 2 * (x.rank - 2):
        keyword = TABLE_CLASSES[layer.cls][0]
        attrs = self.attributes(layer, keyword, given)
        source = self.builder.tensor(pad.inputs[0], x.perm)
        pads, ceil = pooling_pads(attrs, source.shape[2:], _pairs(list(pad.pads))) if is_max else \
            (_pairs(list(pad.pads)), False)
        attrs.update(pooling_padding(pads, ceil))
        return self.layer_generic(layer, source, names, loc, keyword=keyword, attrs=attrs, given=given)
    return self.layer_generic(layer, x, names, loc, given=given)


def pooling_padding(pads: list, ceil: bool) -> dict:
    """The pivot attributes of pads ((begin, end) per spatial axis) and ceil_mode."""
    attrs = {"padding": "explicit", "pads": [v for pair in pads for v in pair]} if any(map(any, pads)) else {}
    return attrs | ({"ceilMode": True} if ceil else {})


def average_over_counted(self, total: T, divisor: PooledMask, loc):
    """``pool(ops.pad(x)) / pool(counted cells of x)``: PyTorch's average pooling with explicit pads and
    ceil_mode or count_include_pad=False, as the Keras generator writes it. The numerator's pooling becomes
    that average pooling of x: the numerator's pads, counting the cells the mask counts."""
    node, mask = total.node, divisor.mask
    rank = total.rank
    # the numerator: the layer's valid pooling of x, zero pads read as its own (layer_pool)
    if not is_kind(node, "AvgPooling") or self.layer_of_node.get(node) is not divisor.layer \
            or node.inputs[0] is not mask.of.node or total.perm != mask.of.perm or node.ceilMode \
            or str(node.padding) not in ("valid", "explicit") \
            or any(axis < 2 for _, widths in mask.pads for axis, w in widths.items() if w != (0, 0)):
        self.error("unsupported-construct", "a division by a pooled ops.ones_like is translated only as an average "
                   "pooling of the same padded input (the Keras generator's spelling)", loc)
        return Unknown("average over counted cells", loc)
    full = _pairs(list(node.pads)) if str(node.padding) == "explicit" else [(0, 0)] * (rank - 2)
    values = [value for value, _ in mask.pads]
    ones = [mask.pads[0][1].get(a, (0, 0)) for a in range(2, rank)] if values[:1] == [1.0] else None
    zeros = [mask.pads[-1][1].get(a, (0, 0)) for a in range(2, rank)] if values[-1:] == [0.0] else None
    counted = (ones or [(0, 0)] * (rank - 2), zeros or [(0, 0)] * (rank - 2))
    if values not in ([1.0], [0.0], [1.0, 0.0]) or \
            [(b1 + b0, e1 + e0) for (b1, e1), (b0, e0) in zip(*counted)] != full:
        self.error("unsupported-construct", "the counted cells do not cover the padded input", loc)
        return Unknown("average over counted cells", loc)
    sizes = mask.of.shape[2:]
    attrs = {"kernelSize": list(node.kernelSize), "stride": list(node.stride)}
    if ones is not None:  # padding counted: the ones are the pads, the zeros after them the overhang
        pads, ceil = ones, any(e for _, e in counted[1])
        if any(b for b, _ in counted[1]) or (ceil and pooling_pads(attrs, sizes, full) != (ones, True)):
            self.error("unsupported-construct", "the uncounted cells are not the windows' overhang", loc)
            return Unknown("average over counted cells", loc)
    else:
        pads, ceil = pooling_pads(attrs, sizes, full)
    padding = pooling_padding(pads, ceil)
    node.padding, node.ceilMode, node.countIncludePad = padding.get("padding", "valid"), ceil, ones is not None
    node.pads.clear()
    node.pads.extend(padding.get("pads", []))
    for key in [k for k in self._shapes if k[0] is node]:
        del self._shapes[key]
    return self.out_tensor(node, total.perm)


def layer_conv_transpose(self, layer, x, names, loc):
    """Conv{d}DTranspose: ``output_padding`` is the pivot's ``output_padding`` (Keras then computes
    (i - 1) * stride + kernel + output_padding, as PyTorch does)."""
    given = self.given(layer)
    output_padding = given.pop("output_padding", None)
    keyword = TABLE_CLASSES[layer.cls][0]
    attrs = self.attributes(layer, keyword, given)
    if output_padding is not None:
        dims = KINDS[keyword].spatial_dims
        values = [output_padding] * dims if isinstance(output_padding, int) else list(output_padding)
        if any(values):
            attrs["outputPadding"] = canonical_per_axis(values)
    return self.layer_generic(layer, x, names, loc, keyword=keyword, attrs=attrs, given=given)


def _crops(cropping, dims: int) -> list:
    """Keras' cropping argument (an int, one int per axis, or (begin, end) per axis) as (begin, end) pairs."""
    if isinstance(cropping, int):
        return [(cropping, cropping)] * dims
    if all(isinstance(c, int) for c in cropping):
        return [tuple(cropping)] if dims == 1 else [(c, c) for c in cropping]
    return [tuple(c) for c in cropping]


@operand_layer
def layer_cropping(self, layer, x, given, names, loc):
    """Cropping{d}D: a slice of the spatial axes. Right after a transposed convolution nothing else reads, the
    fold-transposed-crops pass makes it that convolution's explicit padding (PyTorch's ``padding`` of a
    transposed convolution crops its output)."""
    dims = int(layer.cls[-2])
    crops = _crops(given.get("cropping", 1), dims)
    self.check_rest(layer, given, {"cropping"})
    if len(crops) != dims or x.rank != dims + 2 or any(b < 0 or e < 0 for b, e in crops):
        self.error("bad-value", f"{layer.original} crops {dims} spatial axes of a tensor with {x.rank} axes "
                   f"by non-negative counts, got {given.get('cropping', 1)!r}", loc)
        return x
    cropped = [(x.perm[1 + j], b, e) for j, (b, e) in enumerate(crops) if b or e]   # Keras is channels-last
    if not cropped:
        return x
    node = self.builder.add("Slice", names, [x], loc, **slice_attributes(
        [a for a, _, _ in cropped], [b for _, b, _ in cropped], [-e if e else 2 ** 31 - 1 for _, _, e in cropped],
        [1] * len(cropped)))
    return self.out_tensor(node, x.perm)


@operand_layer
def layer_center_crop(self, layer, x, given, names, loc):
    """CenterCrop(height, width): the middle height x width window, a slice whose offsets depend on the input size;
    Keras resizes (instead of cropping) an input smaller than the window, which has no exact counterpart."""
    size = (given.get("height"), given.get("width"))
    channels_first = given.get("data_format") == "channels_first"
    self.check_rest(layer, given, {"height", "width", "data_format"})
    if x.rank != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        self.error("unsupported-construct", f"CenterCrop of {size!r} over a rank-{x.rank} tensor is not translated "
                   "(a batch of images and two sizes are)", loc)
        return Unknown("center_crop", loc)
    axes = [x.perm[j] for j in ((2, 3) if channels_first else (1, 2))]
    spatial = [x.shape[a] if x.shape else None for a in axes]
    if any(n is None or n < 0 for n in spatial):
        self.error("input-size-needed", f"CenterCrop({size[0]}, {size[1]}) crops at offsets that depend on the input "
                   "size, which the code leaves open: give it with --input-shape", loc)
        return Unknown("center_crop", loc)
    if any(n < want for n, want in zip(spatial, size)):
        self.error("unsupported-construct", f"CenterCrop({size[0]}, {size[1]}) of a {spatial[0]}x{spatial[1]} input "
                   "resizes it (Keras crops only inputs at least as large as the window), which is not translated",
                   loc)
        return Unknown("center_crop", loc)
    starts = [(n - want) // 2 for n, want in zip(spatial, size)]
    cropped = [(a, b, b + want) for a, b, want, n in zip(axes, starts, size, spatial) if want != n]
    if not cropped:
        return x
    node = self.builder.add("Slice", names, [x], loc, **slice_attributes(
        [a for a, _, _ in cropped], [b for _, b, _ in cropped], [e for _, _, e in cropped], [1] * len(cropped)))
    self.note(node, loc, f"CenterCrop: exact for {spatial[0]}x{spatial[1]} inputs (its offsets depend on the size)")
    return self.out_tensor(node, x.perm)


@operand_layer
def layer_resizing(self, layer, x, given, names, loc):
    """Resizing(height, width): bilinear with half-pixel centres and no antialiasing is exactly F.interpolate's
    bilinear (align_corners=False). Keras' nearest picks the cells of torch's 'nearest-exact', not 'nearest'."""
    size = (given.get("height"), given.get("width"))
    interpolation = given.get("interpolation", "bilinear")
    flags = [key for key in ("crop_to_aspect_ratio", "pad_to_aspect_ratio", "antialias") if given.get(key)]
    self.check_rest(layer, given, {"height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                                   "antialias", "data_format"})
    if x.rank != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        self.error("unsupported-construct", f"Resizing to {size!r} of a rank-{x.rank} tensor is not translated (a "
                   "batch of images and two sizes are)", loc)
        return Unknown("resizing", loc)
    if interpolation != "bilinear" or flags:
        what = ", ".join(f"{key}=True" for key in flags) or f"interpolation={interpolation!r}"
        self.error("unsupported-construct", f"Resizing with {what} is not translated: only bilinear resizing without "
                   "antialiasing or aspect-ratio handling has an exact PyTorch counterpart", loc)
        return Unknown("resizing", loc)
    channels_first = given.get("data_format") == "channels_first"
    name = self.builder.name(*names)
    x = self.builder.permuted(x, L.identity(4) if channels_first else L.channels_last(4), (f"{name}_in",), loc)
    node = self.builder.add("Upsample", name, [x], loc, size=list(size), mode="bilinear")
    return self.out_tensor(node, x.perm)


@operand_layer
def layer_prelu(self, layer, x, given, names, loc):
    shared = given.get("shared_axes")
    shared = sorted(a % x.rank for a in ([shared] if isinstance(shared, int) else shared or []))
    channel = x.perm.index(1) if x.rank > 1 else None
    if shared == list(range(1, x.rank)):
        attrs = {"numParameters": 1}
    elif x.rank > 2 and shared == [a for a in range(1, x.rank) if a != channel] or x.rank == 2 and not shared:
        attrs = {"numParameters": x.shape[1]}
    else:
        self.error("unsupported-construct", "PReLU with a slope per element is not translated (the pivot has "
                   "one slope, or one per channel)", loc)
        return x
    init = given.get("alpha_initializer", "zeros")
    if isinstance(init, ConfigObj) and init.path.endswith(("Constant", "constant")) and \
            isinstance(_arg(init.args, init.kwargs, 0, "value"), (int, float)):
        attrs["init"] = float(_arg(init.args, init.kwargs, 0, "value"))
    else:
        if init not in ("zeros", "Zeros"):
            self.warn("unsupported-construct", "PReLU alpha_initializer is left out (initial slopes 0)", loc)
        attrs["init"] = 0.0
    self.check_rest(layer, given, {"shared_axes", "alpha_initializer"})
    node = self.builder.add("PReLU", names, [x], loc, **attrs)
    return self.out_tensor(node, x.perm)


def layer_attention(self, layer, x, names, loc, call_args=None):
    given = self.given(layer)
    operands = self.pending_operands
    query = self.tensor(operands[0], loc)
    value = self.tensor(operands[1], loc) if len(operands) > 1 else query
    key = self.tensor(self.pending_kwargs["key"], loc) if self.pending_kwargs.get("key") is not None else value
    if query is None or value is None or key is None:
        return Unknown("attention", loc)
    heads, key_dim = given.get("num_heads"), given.get("key_dim")
    value_dim, output_shape = given.get("value_dim"), given.get("output_shape")
    if isinstance(output_shape, (tuple, list)) and len(output_shape) == 1:
        output_shape = output_shape[0]
    embed = query.shape[-1] if L.is_identity(query.perm) else query.shape[query.perm[-1]]
    sizes = {"num_heads": heads, "key_dim": key_dim, "value_dim": value_dim, "output_shape": output_shape}
    wrong = next((f"{key}={value!r}" for key, value in sizes.items() if not (
        _is_int(value) and value > 0 or value is None and key in ("value_dim", "output_shape"))), None)
    if wrong or not _is_int(embed):
        self.error("unsupported-construct", f"MultiHeadAttention with {wrong or f'{embed} query features'}: the "
                   "pivot takes a positive number of heads and head sizes, and a query of known features "
                   "(output_shape: one size)", loc)
        return Unknown("attention", loc)
    if self.pending_kwargs.get("return_attention_scores"):
        self.error("unsupported-construct", "return_attention_scores is not translated", loc)
    attrs = self.attributes(layer, "multi_head_attention", given,
                            handled={"key_dim", "value_dim", "output_shape"})
    attrs.update(embedDim=embed, numHeads=heads)
    # Sizes other than embed_dim split over the heads are the pivot's own head sizes (0: that default).
    key_default = embed // heads if embed % heads == 0 else None
    own = {"keyDim": 0 if key_dim == key_default else key_dim,
           "valueDim": 0 if value_dim in (None, key_dim) else value_dim,
           "outputDim": 0 if output_shape in (None, embed) else output_shape}
    attrs.update({key: value for key, value in own.items() if value})
    name = self.builder.name(*names)
    tensors = [self.builder.permuted(t, L.identity(t.rank), (f"{name}_in{i}",), loc)
               for i, t in enumerate([query, key, value])]
    if key.node is not value.node:
        inputs = tensors
    elif value.node is not query.node:
        inputs = tensors[:1] + tensors[2:]
        inputs = [tensors[0], tensors[2], tensors[2]]
    else:
        inputs = tensors[:1]
    if len(inputs) == 3:
        if key.shape[-1] != embed:
            attrs["kdim"] = key.shape[-1]
        if value.shape[-1] != embed:
            attrs["vdim"] = value.shape[-1]
    node = self.builder.add("MultiHeadAttention", name, inputs, loc, **attrs)
    return self.out_tensor(node, L.identity(3))


def layer_unsupported(self, layer, x, names, loc):
    self.error("unsupported-construct", f"{layer.original} runs arbitrary code and is not translated", loc)
    return pass_through([x])


def pass_through(args):
    """What an untranslated layer hands on, so the layers after it are still checked (the model is reported
    broken by the error already given)."""
    return args[0] if args and isinstance(args[0], (T, InputSpec)) else Unknown("untranslated layer", None)


# The readers a kind's Keras mapping names (``reader="pool"``) for a class the generic reader cannot read.
READERS: dict[str, Callable] = {
    "activation": layer_activation, "relu": layer_relu, "softmax": layer_softmax, "prelu": layer_prelu,
    "batch_norm": layer_batch_norm, "group_norm": layer_group_norm, "layer_norm": layer_layer_norm,
    "normalization": layer_normalization, "recurrent": layer_recurrent, "cell": layer_cell,
    "conv_lstm": layer_conv_lstm, "flatten": layer_flatten, "reshape": layer_reshape, "permute": layer_permute,
    "join": layer_join, "zero_padding": layer_zero_padding, "upsample": layer_upsample, "resizing": layer_resizing,
    "attention": layer_attention, "dropout": layer_dropout, "conv": layer_conv, "conv_transpose": layer_conv_transpose,
    "separable_conv": layer_separable_conv, "pool": layer_pool, "cropping": layer_cropping,
    "center_crop": layer_center_crop, "repeat_vector": layer_repeat_vector, "rescaling": layer_rescaling,
}
# Keras classes that are no one kind: wrappers of another layer, arbitrary code, layers of training only.
CONSTRUCTS: dict[str, Callable] = {
    "Bidirectional": layer_bidirectional, "RNN": layer_rnn, "TimeDistributed": layer_time_distributed,
    "Lambda": layer_unsupported, **dict.fromkeys(TRAINING_ONLY_LAYERS, layer_training_only),
}


def _special_layers() -> dict[str, Callable]:
    unknown = sorted(set(READER_NAMES.values()) - set(READERS))
    if unknown:
        raise RuntimeError(f"kinds name Keras readers the importer does not have: {unknown}")
    return {cls: READERS[name] for cls, name in READER_NAMES.items()} | CONSTRUCTS


SPECIAL_LAYERS = _special_layers()


# --- functions of keras.ops / tf / keras.layers ------------------------------------------------------------

def _arg(args, kwargs, index, *names, default=None):
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return args[index] if len(args) > index else default


def op_concat(self, path, args, kwargs, hint, loc):
    default = 0 if path.startswith(("ops.", "tf.")) else -1
    return self.join("concat", list(_arg(args, kwargs, 0, "xs", "values", "inputs") or []),
                     _arg(args, kwargs, 1, "axis", default=default), hint, loc)


def op_stack(self, path, args, kwargs, hint, loc):
    operands = list(_arg(args, kwargs, 0, "x", "values") or [])
    axis = _arg(args, kwargs, 1, "axis", default=0)
    states = stacked_states(self, operands, axis, hint)
    return states if states is not None else self.join("stack", operands, axis, hint, loc)


def stacked_states(self, operands, axis, hint) -> T | None:
    """``ops.stack([h_0, h_1, ...], axis=0)`` of every final state of one recurrent node, in order.

    That is the pivot's (layers * directions, N, H) states output itself, which the
    Keras generator builds this way from the per-layer states Keras returns.
    """
    if axis != 0 or not operands or not all(isinstance(t, T) and is_kind(t.node, "Index") for t in operands):
        return None
    select = operands[0].node.inputs[0]
    if not (is_kind(select, "Select") and select.index >= 1 and is_kind(select.inputs[0], "Recurrent")):
        return None
    count = self.shape_of(select)[0]
    if [(t.node.inputs[0], t.node.axis, t.node.index) for t in operands] != [(select, 0, i) for i in range(count)]:
        return None
    automatic = f"{select.inputs[0].name}_{'hc'[select.index - 1]}n"
    if hint and select.name == automatic and hint not in self.builder.names and hint not in AVOIDED_NAMES:
        # Named after the variable that holds it, like the other nodes.
        self.builder.names.discard(select.name)
        self.builder.names.add(hint)
        select.name = hint
    return self.builder.tensor(select, L.identity(3))


def op_binary(self, path, args, kwargs, hint, loc):
    """``ops.add(x, y)``, ``tf.multiply(x, 2.0)``, ``layers.add([x, y])``: the arithmetic kind of the function."""
    eclass_name = KINDS[FUNCTION_KINDS[function_key(path)]].eclass_name
    if path.startswith("layers."):
        return self.chain(eclass_name, list(args[0]), hint, loc)
    left, right = _arg(args, kwargs, 0, "x1", "x"), _arg(args, kwargs, 1, "x2", "y")
    if isinstance(right, (int, float)):
        return self.arithmetic(eclass_name, [left], hint, loc, scalar=float(right))
    if isinstance(left, (int, float)):
        return self.arithmetic(eclass_name, [right], hint, loc, scalar=float(left), scalar_first=True)
    return self.arithmetic(eclass_name, [left, right], hint, loc)


def op_reshape(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "tensor"), loc)
    shape = _arg(args, kwargs, 1, "newshape", "new_shape", "shape")
    if x is None or not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) or d is None for d in shape):
        self.error("dynamic-value", f"{path} to a shape known only at run time", loc)
        return Unknown("reshape", loc)
    if shape[0] not in (-1, None):
        self.error("unsupported-construct", f"{path} that changes the batch axis is not translated", loc)
        return Unknown("reshape", loc)
    shuffled = pixel_shuffle_of(self, x, shape, hint, loc)
    if shuffled is not None:
        return shuffled
    x = self.builder.permuted(x, L.identity(x.rank), (f"{hint or 'reshape'}_in",), loc)
    folded = batch_fold_of(self, x, list(shape[1:]), hint, loc)
    if folded is not None:
        return folded
    node = self.builder.add("Reshape", (hint, "reshape"), [x], loc, shape=[-1 if d is None else d for d in shape[1:]])
    return self.out_tensor(node, L.identity(len(shape)))


def batch_fold_of(self, x: T, rest: list, hint, loc) -> T | None:
    """``ops.reshape(x, (-1, ...))`` that moves sizes between the batch and the other axes, on a tensor in the
    pivot layout: (N, T, C, H, W) to (-1, C, H, W) folds the T steps into the batch, (N*T, F) to (-1, T, F)
    unfolds them."""
    shape = list(x.shape)
    if None in shape[1:] or None in rest or -1 in rest or math.prod(rest) == math.prod(shape[1:]):
        return None
    if len(shape) >= 3 and rest == shape[2:]:
        node = self.builder.add("Flatten", (hint, "flatten"), [x], loc, startDim=0, endDim=1)
    elif len(rest) >= 2 and rest[1:] == shape[1:]:
        node = self.builder.add("Unflatten", (hint, "unflatten"), [x], loc, axis=0, shape=[-1, rest[0]])
    else:
        return None
    return self.out_tensor(node, L.identity(len(rest) + 1))


def pixel_shuffle_of(self, x: T, shape, hint, loc) -> T | None:
    """PyTorch's pixel_shuffle as the Keras generator spells it (its channels are ordered (c, i, j), unlike
    depth_to_space): (N, H, W, C*r*r) reshaped to (N, H, W, C, r, r), transposed (0, 1, 4, 2, 5, 3), reshaped to
    (N, H*r, W*r, C). The reshapes between become unused and are dropped."""
    blocks = x.node
    if x.perm != (0, 1, 4, 2, 5, 3) or not is_kind(blocks, "Reshape") or len(blocks.shape) != 5 or len(shape) != 4:
        return None
    height, width, channels, r, r_again = blocks.shape
    permute = blocks.inputs[0]
    if r != r_again or not is_kind(permute, "Permute") or list(permute.dims) != [0, 2, 3, 1] or \
            list(shape[1:]) != [height * r, width * r, channels]:
        return None
    source = permute.inputs[0]
    if tuple(self.shape_of(source)[1:]) != (channels * r * r, height, width):
        return None
    node = self.builder.add("PixelShuffle", (hint, "pixel_shuffle"), [source], loc, upscaleFactor=r)
    return self.out_tensor(node, L.channels_last(4))


def op_transpose(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "a"), loc)
    axes = _arg(args, kwargs, 1, "axes", "perm")
    if x is None:
        return Unknown("transpose", loc)
    if axes is not None and not (isinstance(axes, (list, tuple)) and all(_is_int(a) for a in axes) and sorted(
            a % x.rank for a in axes) == list(range(x.rank))):
        self.error("bad-value", f"{path} axes must order the axes 0 to {x.rank - 1}, got {axes!r}", loc)
        return Unknown("transpose", loc)
    axes = tuple(reversed(range(x.rank))) if axes is None else tuple(a % x.rank for a in axes)
    if axes[0] != 0:
        self.error("unsupported-construct", f"{path} that moves the batch axis is not translated", loc)
        return Unknown("transpose", loc)
    result = transpose(self, x, axes)
    result.name = hint
    return result


def op_reduce(self, path, args, kwargs, hint, loc):
    """``ops.mean(x, axis)``, ``tf.reduce_max(x, axis, keepdims)``: the reduction kind of the function."""
    eclass_name = KINDS[FUNCTION_KINDS[function_key(path)]].eclass_name
    x = self.tensor(_arg(args, kwargs, 0, "x", "input_tensor"), loc)
    if x is None:
        return Unknown("reduction", loc)
    axis = _arg(args, kwargs, 1, "axis")
    keep = bool(_arg(args, kwargs, 2, "keepdims", "keep_dims", default=False))
    keras_axes = list(range(1, x.rank)) if axis is None else [axis] if isinstance(axis, int) else list(axis)
    pivot_axes = sorted(x.perm[a % x.rank] for a in keras_axes)
    if 0 in pivot_axes:
        self.error("unsupported-construct", f"{path} over the batch axis is not translated", loc)
        return Unknown("reduction", loc)
    node = self.builder.add(eclass_name, (hint, eclass_name[6:].lower()), [x], loc, axes=pivot_axes,
                            keepdims=keep)
    return self.out_tensor(node, x.perm if keep else L.drop_axes(x.perm, pivot_axes))


def op_split(self, path, args, kwargs, hint, loc):
    """``ops.split(x, cut indices or a count, axis)`` / ``tf.split(x, sizes or a count, axis)``: one pivot
    split; its output 0 is the node itself, the others are selected (and kept only when used)."""
    x = self.tensor(_arg(args, kwargs, 0, "x", "value"), loc)
    how = _arg(args, kwargs, 1, "indices_or_sections", "num_or_size_splits")
    axis = _arg(args, kwargs, 2, "axis", default=0)
    if x is None or not isinstance(axis, int):
        return Unknown("split", loc)
    pivot_axis = x.perm[axis % x.rank]
    size = x.shape[pivot_axis]
    if pivot_axis == 0:
        self.error("unsupported-construct", f"{path} of the batch axis is not translated", loc)
        return Unknown("split", loc)
    if isinstance(how, int) and size is not None and how > 0 and size % how == 0:
        sizes = [size // how] * how
    elif isinstance(how, (list, tuple)) and all(isinstance(v, int) for v in how) and path.startswith("tf."):
        sizes = list(how)
    elif isinstance(how, (list, tuple)) and all(isinstance(v, int) for v in how) and size is not None:
        cuts = [0, *how, size]
        sizes = [end - start for start, end in itertools.pairwise(cuts)]
    else:
        self.error("dynamic-value", f"{path} into parts known only at run time", loc)
        return Unknown("split", loc)
    hints = list(self.pending_hints) if len(self.pending_hints) == len(sizes) else [None] * len(sizes)
    node = self.builder.add("Split", (hints[0] or hint, "split"), [x], loc, sizes=sizes, axis=pivot_axis)
    parts = [self.out_tensor(node, x.perm)]
    for index in range(1, len(sizes)):
        select = self.builder.add("Select", (hints[index], f"{node.name}_{index}"), [node], loc, index=index)
        parts.append(self.out_tensor(select, x.perm))
    return tuple(parts)


def op_normalize(self, path, args, kwargs, hint, loc):
    """``ops.normalize(x, axis, order, epsilon)``: x / max(||x||_order, epsilon), the pivot's normalize."""
    x = self.tensor(_arg(args, kwargs, 0, "x"), loc)
    axis = _arg(args, kwargs, 1, "axis", default=-1)
    order = _arg(args, kwargs, 2, "order", default=2)
    epsilon = _arg(args, kwargs, 3, "epsilon")
    if x is None or not isinstance(axis, int) or not isinstance(order, int) or \
            not isinstance(epsilon, (int, float, type(None))):
        if x is not None:
            self.error("dynamic-value", f"{path} with arguments known only at run time", loc)
        return Unknown("normalize", loc)
    # Keras' default epsilon is its backend's, 1e-7
    node = self.builder.add("Normalize", (hint, "normalize"), [x], loc, p=float(order),
                            axis=self.pivot_axis(x, axis) if axis < 0 else x.perm[axis % x.rank],
                            eps=1e-7 if epsilon is None else float(epsilon))
    return self.out_tensor(node, x.perm)


@dataclass
class Condition:
    """``ops.greater(x, c)``: known by what it compares, so ``ops.where`` can recognise the kind it spells."""
    tensor: T
    threshold: float


def op_greater(self, path, args, kwargs, hint, loc):
    x, threshold = _arg(args, kwargs, 0, "x1", "x"), _arg(args, kwargs, 1, "x2", "y")
    if isinstance(x, T) and isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return Condition(x, float(threshold))
    self.error("unsupported-construct", f"{path} is not translated (only as the condition of a softplus)", loc)
    return Unknown(f"result of {path}", loc)


def _scale_of(node, x) -> float | None:
    """The constant ``beta`` when ``node`` is ``x * beta``, else None."""
    if is_kind(node, "Mul") and len(node.inputs) == 1 and node.inputs[0] is x and node.eIsSet("scalar"):
        return node.scalar
    return None


def op_where(self, path, args, kwargs, hint, loc):
    """PyTorch's Softplus(beta, threshold) as the Keras generator writes it (linear where beta * x exceeds the
    threshold): ``ops.where(ops.greater(x * beta, threshold), x, ops.softplus(x * beta) / beta)``."""
    condition, x, other = (_arg(args, kwargs, i, name) for i, name in ((0, "condition"), (1, "x1"), (2, "x2")))
    if isinstance(condition, Condition) and isinstance(x, T) and isinstance(other, T) \
            and condition.tensor.perm == x.perm == other.perm:
        beta = _scale_of(condition.tensor.node, x.node)
        divided, softplus = other.node, other.node.inputs[0] if other.node.inputs else None
        if beta is not None and is_kind(divided, "Div") and len(divided.inputs) == 1 and \
                not divided.scalarFirst and divided.scalar == beta and is_kind(softplus, "Softplus") and \
                softplus.beta == 1.0 and _scale_of(softplus.inputs[0], x.node) == beta:
            node = self.builder.add("Softplus", (hint, "softplus"), [x], loc, beta=beta,
                                    threshold=condition.threshold)
            return self.out_tensor(node, x.perm)
    self.error("unsupported-construct", f"{path} is not translated (only the softplus with beta and threshold "
               "that the Keras generator writes)", loc)
    return Unknown(f"result of {path}", loc)


def op_squeeze(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    axis = _arg(args, kwargs, 1, "axis")
    if x is None or axis is None:
        if x is not None:
            self.error("unsupported-construct", f"{path} without an axis is not translated", loc)
        return Unknown("squeeze", loc)
    keras_axes = [axis] if isinstance(axis, int) else list(axis)
    pivot_axes = sorted(x.perm[a % x.rank] for a in keras_axes)
    node = self.builder.add("Squeeze", (hint, "squeeze"), [x], loc, axes=pivot_axes)
    return self.out_tensor(node, L.drop_axes(x.perm, pivot_axes))


def op_expand_dims(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    axis = _arg(args, kwargs, 1, "axis")
    if x is None or not isinstance(axis, int):
        return Unknown("expand_dims", loc)
    if is_kind(x.node, "Arange") and axis == 0:   # the batch axis of position ids: per sample in the pivot already
        return x
    x = self.builder.permuted(x, L.identity(x.rank), (f"{hint or 'unsqueeze'}_in",), loc)
    node = self.builder.add("Unsqueeze", (hint, "unsqueeze"), [x], loc, axis=axis % (x.rank + 1))
    return self.out_tensor(node, L.identity(x.rank + 1))


def op_matmul(self, path, args, kwargs, hint, loc):
    tensors = [self.tensor(_arg(args, kwargs, i, name), loc) for i, name in ((0, "x1"), (1, "x2"))]
    if any(t is None for t in tensors):
        return Unknown("matmul", loc)
    tensors = [self.builder.permuted(t, L.identity(t.rank), (f"{hint or 'matmul'}_in{i}",), loc)
               for i, t in enumerate(tensors)]
    node = self.builder.add("MatMul", (hint, "matmul"), tensors, loc)
    return self.out_tensor(node, L.identity(len(self.shape_of(node) or tensors[0].perm)))


def op_ones_like(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    if x is None or _arg(args, kwargs, 1, "dtype") is not None:
        return Unknown(f"result of {path}", loc)
    return CountMask(x, [])


def op_arange(self, path, args, kwargs, hint, loc):
    """ops.arange(maxlen) / arange(0, maxlen): position ids, the same for every sample of the network's input."""
    first = _arg(args, kwargs, 0, "start")
    end = _arg(args, kwargs, 1, "stop", "limit")
    start, end = (0, first) if end is None else (first, end)
    source = next((n for n in self.builder.nodes if is_kind(n, "Input")), None)
    if _arg(args, kwargs, 2, "step", "delta", default=1) != 1 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (start, end)) or source is None:
        self.error("unsupported-construct", f"{path} other than constant position ids (step 1) is not translated",
                   loc)
        return Unknown("arange", loc)
    node = self.builder.add("Arange", (hint, "arange"), [source], loc, start=start, end=end)
    return self.out_tensor(node, L.identity(2))


def op_broadcast_to(self, path, args, kwargs, hint, loc):
    """ops.broadcast_to of position ids over the batch: they are per sample in the pivot already."""
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    if x is None or not is_kind(x.node, "Arange"):
        if x is not None:
            self.error("unsupported-construct", f"{path} is translated only for position ids", loc)
        return Unknown("broadcast_to", loc)
    return x


def op_tile(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    repeats = _arg(args, kwargs, 1, "repeats", "multiples")
    if x is None or not isinstance(repeats, (list, tuple)) or not all(isinstance(r, int) for r in repeats):
        return Unknown("tile", loc)
    repeats = [1] * (x.rank - len(repeats)) + list(repeats)   # numpy's tile fills leading counts with 1
    if len(repeats) != x.rank or repeats[0] != 1:
        self.error("unsupported-construct", f"{path} of the batch axis or into new axes is not translated", loc)
        return Unknown("tile", loc)
    per_pivot = {x.perm[j]: r for j, r in enumerate(repeats)}
    node = self.builder.add("Tile", (hint, "tile"), [x], loc, repeats=[per_pivot[a] for a in range(1, x.rank)])
    return self.out_tensor(node, x.perm)


def op_repeat(self, path, args, kwargs, hint, loc):
    """``ops.repeat(x, n, axis)`` of an axis one cell long is that axis tiled n times (how edge cells are repeated
    for a replicate pad); repeating each cell of a longer axis has no pivot kind."""
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    repeats, axis = _arg(args, kwargs, 1, "repeats"), _arg(args, kwargs, 2, "axis")
    if x is None:
        return Unknown("repeat", loc)
    if not (_is_int(repeats) and repeats > 0 and _is_int(axis) and -x.rank <= axis < x.rank and axis % x.rank
            and x.shape[x.perm[axis % x.rank]] == 1):
        self.error("unsupported-construct", f"{path} is translated only along a non-batch axis one cell long", loc)
        return Unknown("repeat", loc)
    pivot_axis = x.perm[axis % x.rank]
    node = self.builder.add("Tile", (hint, "tile"), [x], loc,
                            repeats=[repeats if a == pivot_axis else 1 for a in range(1, x.rank)])
    return self.out_tensor(node, x.perm)


# keras.ops.pad's (numpy's) modes by their pivot name; tf.pad's upper-case names lower-cased.
PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular",
             "circular": "circular"}


def op_pad(self, path, args, kwargs, hint, loc):
    operand = _arg(args, kwargs, 0, "x", "tensor")
    widths = _arg(args, kwargs, 1, "pad_width", "paddings")
    written = str(_arg(args, kwargs, 2, "mode", default="constant")).lower()
    value = _arg(args, kwargs, 3, "constant_values", default=0) or 0
    if isinstance(operand, CountMask):  # the cells an average pooling counts, padded with counted (1) or not (0)
        of = operand.of
        if written != "constant" or value not in (0, 1) or not isinstance(widths, (list, tuple)) or len(widths) != of.rank:
            self.error("unsupported-construct", f"{path} of a mask of ones is translated only with 0 or 1", loc)
            return Unknown("pad", loc)
        return CountMask(of, [*operand.pads, (float(value), {of.perm[j]: tuple(w) for j, w in enumerate(widths)})])
    x = self.tensor(operand, loc)
    if x is None or not isinstance(widths, (list, tuple)) or len(widths) != x.rank:
        return Unknown("pad", loc)
    mode = PAD_MODES.get(written)
    if mode is None:
        self.error("unsupported-construct", f"{path} with mode={written!r} has no pivot counterpart", loc)
        return Unknown("pad", loc)
    per_pivot = {x.perm[j]: tuple(w) for j, w in enumerate(widths)}
    if per_pivot.get(0, (0, 0)) != (0, 0):
        self.error("unsupported-construct", f"{path} of the batch axis is not translated", loc)
        return Unknown("pad", loc)
    padded = [a for a in range(x.rank) if per_pivot[a] != (0, 0)] or [x.rank - 1]
    first = min(padded)
    pads = [v for a in range(first, x.rank) for v in per_pivot[a]]
    node = self.builder.add("Pad", (hint, "pad"), [x], loc, pads=pads, mode=mode, value=float(value))
    return self.out_tensor(node, x.perm)


def op_activation(self, path, args, kwargs, hint, loc):
    x = self.tensor(_arg(args, kwargs, 0, "x", "features", "logits"), loc)
    if x is None:
        return Unknown("activation", loc)
    name = path.rsplit(".", 1)[-1]
    keyword = ACTIVATIONS[name]
    attrs = dict(ACTIVATION_DEFAULTS.get(name, {}))
    axis = _arg(args, kwargs, 1, "axis", default=-1)
    if keyword in ("softmax", "log_softmax"):
        attrs["axis"] = self.pivot_axis(x, axis)
    elif keyword == "leaky_relu":
        attrs["negativeSlope"] = float(_arg(args, kwargs, 1, "negative_slope", "alpha", default=0.2))
    elif keyword == "gelu" and _arg(args, kwargs, 1, "approximate", default=False):
        attrs["approximate"] = "tanh"
    node = self.builder.add(KINDS[keyword].eclass_name, (hint, keyword), [x], loc, **attrs)
    return self.out_tensor(node, x.perm)


def op_table(self, path, args, kwargs, hint, loc):
    """An ``ops`` function some kind is written as (``TABLE_OPS``): its arguments read from the mapping."""
    keyword = TABLE_OPS[path]
    x = self.tensor(_arg(args, kwargs, 0, "x"), loc)
    if x is None:
        return Unknown(path, loc)
    positional = [arg.keras for arg in MAPPINGS[keyword].args if arg.positional]
    given = dict(zip(positional, args[1:])) | {key: value for key, value in kwargs.items() if key != "x"}
    attrs = self.attributes(LayerObj(path, [], {}, loc, original=path), keyword, given)
    node = self.builder.add(KINDS[keyword].eclass_name, (hint, keyword), [x], loc, **attrs)
    return self.out_tensor(node, x.perm)


def op_cast(self, path, args, kwargs, hint, loc):
    """``ops.cast`` of a model input gives the input its dtype.

    That is how a subclassed model (the Keras generator's output among them)
    declares an integer input, as ``keras.Input(dtype=...)`` does in a
    functional one; the pivot has no cast of intermediate tensors.
    """
    x = self.tensor(_arg(args, kwargs, 0, "x"), loc)
    if x is None:
        return Unknown("cast", loc)
    dtype = _arg(args, kwargs, 1, "dtype")
    dtype = pivot_dtype_of(dtype.path.rsplit(".", 1)[-1] if isinstance(dtype, ModulePath) else dtype)
    node = x.node
    if not is_kind(node, "Input") or dtype not in PIVOT_DTYPES or (
            node in self.explicit_dtype and node.dtype.name != dtype):
        what = "a model input to a known dtype" if dtype in PIVOT_DTYPES else f"to one of {sorted(PIVOT_DTYPES)}"
        self.error("unsupported-construct", f"{path} is translated only as the cast of {what}", loc)
        return x
    node.dtype = node.dtype.eEnum.getEEnumLiteral(dtype)
    self.explicit_dtype.add(node)
    self.note(node, loc, f"dtype {dtype} from {path}")
    return x


def op_flatten(self, path, args, kwargs, hint, loc):
    x = self.tensor(args[0] if args else None, loc)
    if x is None:
        return Unknown("flatten", loc)
    x = self.builder.permuted(x, L.identity(x.rank), (f"{hint or 'flatten'}_in",), loc)
    node = self.builder.add("Flatten", (hint, "flatten"), [x], loc)
    return self.out_tensor(node, L.identity(2))


def op_zeros(self, path, args, kwargs, hint, loc):
    """Zeros of (the batch size, n): the zero state a recurrent cell starts from; other zeros have no pivot kind."""
    shape = _arg(args, kwargs, 0, "shape")
    if isinstance(shape, (list, tuple)) and len(shape) == 2 and shape[0] is None and _is_int(shape[1]):
        return ZeroState(shape[1], loc)
    self.error("unsupported-construct", f"{path} is translated only as a recurrent cell's zero state, of the "
               "shape (batch size, units)", loc)
    return Unknown("zeros", loc)


def op_shape(self, path, args, kwargs, hint, loc):
    """``ops.shape(x)``: the sizes of the Keras tensor as the shapes know them (None where unknown)."""
    x = self.tensor(_arg(args, kwargs, 0, "x", "input"), loc)
    if x is None:
        return Unknown("shape", loc)
    return tuple(x.shape[a] for a in x.perm)


# The readers a kind's Keras mapping names for the functions it is read from (``functions={"tf.concat": "concat"}``).
OP_READERS: dict[str, Callable] = {
    "concat": op_concat, "stack": op_stack, "binary": op_binary, "reshape": op_reshape, "transpose": op_transpose,
    "reduce": op_reduce, "squeeze": op_squeeze, "split": op_split, "normalize": op_normalize, "greater": op_greater,
    "where": op_where, "expand_dims": op_expand_dims, "matmul": op_matmul, "pad": op_pad, "tile": op_tile,
    "repeat": op_repeat, "arange": op_arange, "broadcast_to": op_broadcast_to, "flatten": op_flatten,
}
# Functions that make no one kind: a model input's dtype, static sizes, a recurrent cell's zero state, a count mask.
OP_CONSTRUCTS: dict[str, Callable] = {
    "ops.ones_like": op_ones_like, **{p: op_cast for p in ("ops.cast", "tf.cast")},
    **{p: op_shape for p in ("ops.shape", "tf.shape")}, **{p: op_zeros for p in ("ops.zeros", "tf.zeros")},
}


def _functions_from_table() -> tuple[dict[str, str], dict[str, Callable]]:
    """Function path -> the keyword of the kind it is read as, and -> its reader (the kinds' and the constructs')."""
    kinds: dict[str, str] = {}
    readers: dict[str, Callable] = dict(OP_CONSTRUCTS)
    for keyword, mapping in MAPPINGS.items():
        for path, reader in mapping.functions.items():
            if path in readers:
                raise RuntimeError(f"Keras function {path} is read as {keyword} and as {kinds.get(path, 'a construct')}")
            if reader not in OP_READERS:
                raise RuntimeError(f"kind {keyword} names a Keras function reader the importer does not have: {reader}")
            kinds[path], readers[path] = keyword, OP_READERS[reader]
    return kinds, readers


FUNCTION_KINDS, OPS = _functions_from_table()


def function_key(path: str) -> str:
    """The spelling ``OPS`` knows a function by: ``tf.math.reduce_mean`` is ``tf.reduce_mean``."""
    return path if path in OPS else re.sub(r"^tf\.(math|nn)\.", "tf.", path)


# --- blocks: custom layers and nested models ------------------------------------------------------------------

def apply_instance(self, instance: Instance, args, kwargs, hint, loc):
    call = self.method_of(instance.cls, "call")
    if call is None:
        self.error("unsupported-construct", f"{instance.cls.node.name} has no call method", loc)
        return Unknown("block", loc)
    operands = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    tensors = [self.tensor(t, loc) for t in operands]
    if any(t is None for t in tensors):
        return Unknown("block", loc)
    instance.uses += 1
    key = (instance.cls.node.name, instance.ctor, tuple(t.perm for t in tensors))
    owner = None
    if instance.first_call is not None:
        first, first_builder, first_key = instance.first_call
        if first_builder is self.builder and first_key == key:
            owner = first  # the same layer object called again on alike inputs: one set of weights
        else:
            self.warn("shared-weights", f"{instance.name or instance.cls.node.name} is called again in another "
                      "graph or layout: the pivot gives this call weights of its own (Keras shares them)", loc)
    block_info = self.blocks.get(key)
    if block_info is None:
        block_info = build_block(self, instance, call, tensors, args, loc)
        self.blocks[key] = block_info
    block, in_perms, out_perms, out_shapes = block_info
    tensors = [self.builder.permuted(t, p, (f"{instance.name or 'block'}_in{i}",), loc)
               for i, (t, p) in enumerate(zip(tensors, in_perms))]
    base = instance.name if instance.uses == 1 else f"{instance.name}_{instance.uses - 1}"
    node = self.builder.add("BlockCall", (base, hint, keras_snake(instance.cls.node.name)), tensors, loc)
    node.block = block
    node.weightsOf = owner
    self.instance_of_call[node] = instance
    if instance.first_call is None:
        instance.first_call = (node, self.builder, key)
    for i, shape in enumerate(out_shapes):
        self._shapes[(node, i)] = shape
    self.note(node, loc)
    if len(out_perms) == 1:
        return T(node, out_perms[0], out_shapes[0])
    results = []
    for i, (perm, shape) in enumerate(zip(out_perms, out_shapes)):
        select = node if i == 0 else self.builder.add("Select", (f"{node.name}_{i}",), [node], loc, index=i)
        self._shapes[(select, 0)] = shape
        results.append(T(select, perm, shape))
    return results


def functional_shape(model: FunctionalModel, which: str, loc):
    """``model.output_shape``/``input_shape`` of a functional model: the Keras shapes (batch None) of its
    outputs or inputs, a tuple for one, a list for several."""
    ends = model.outputs if which == "output_shape" else [getattr(s, "tensor", s) for s in model.inputs]
    ends = ends if isinstance(ends, (list, tuple)) else [ends]
    if not all(isinstance(t, T) for t in ends):
        return Unknown(f"{which} of a model whose graph is not known", loc)
    shapes = [tuple(None if d is None or d < 0 else d for d in (t.shape[a] for a in t.perm)) for t in ends]
    return shapes[0] if len(shapes) == 1 else shapes


def apply_functional(self, nested: FunctionalModel, args, hint, loc):
    """A functional model called as a layer (``decoder(encoder(x))``): its graph, made when it was built, moves
    into a block the outer graph calls; called again, the call shares the first call's weights, as Keras does."""
    operands = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    tensors = [self.tensor(t, loc) for t in operands]
    inputs = [getattr(s, "tensor", None) for s in nested.inputs]
    outputs = nested.outputs if isinstance(nested.outputs, (list, tuple)) else [nested.outputs]
    if any(t is None for t in tensors) or not all(isinstance(t, T) for t in [*inputs, *outputs]) or \
            len(tensors) != len(inputs):
        if all(t is not None for t in tensors):
            self.error("unsupported-construct", "a functional model whose graph is not known is used as a layer",
                       loc)
        return Unknown("nested functional model", loc)
    first = self.nested_first_call.get(id(nested))
    if first is None:
        block = eclass("Block")(name=unique_block_name(self, camel_name(nested.name or "functional")))
        set_location(block, nested.loc)
        finished = [finish_output(self, t, loc) for t in outputs]
        inner = reachable(self.builder.nodes, [t.node for t in finished], [t.node for t in inputs])
        moved = set(inner)
        self.builder.nodes[:] = [n for n in self.builder.nodes if n not in moved]
        block.nodes.extend(inner)
        block.outputs.extend([t.node for t in finished])
        for t in inputs:   # a block's inputs take their sizes from each call, as a custom layer's do
            self._shapes[(t.node, 0)] = t.shape
            t.node.shape.clear()
        self.model.blocks.append(block)
        self.nested_outputs[block] = [(t.perm, t.shape) for t in finished]
    else:
        block = first.block
    tensors = [self.builder.permuted(t, i.perm, (f"{nested.name or 'model'}_in{k}",), loc)
               for k, (t, i) in enumerate(zip(tensors, inputs))]
    node = self.builder.add("BlockCall", (nested.name, hint, "functional"), tensors, loc)
    node.block = block
    if first is None:
        self.nested_first_call[id(nested)] = node
    else:
        node.weightsOf = first
    self.instance_of_call[node] = nested
    self.note(node, loc)
    results = []
    for i, (perm, shape) in enumerate(self.nested_outputs[block]):
        select = node if i == 0 else self.builder.add("Select", (f"{node.name}_{i}",), [node], loc, index=i)
        self._shapes[(select, 0)] = shape
        results.append(T(select, perm, shape))
    return results[0] if len(results) == 1 else results


def build_block(self, instance, call, tensors, args, loc):
    outer = self.builder
    params = [a.arg for a in call.args.args[1:]]
    block = eclass("Block")(name=unique_block_name(self, instance.cls.node.name))
    self.builder = GraphBuilder(self, block.name)
    set_location(block, self.loc(instance.cls.node))
    block_inputs = []
    packed = len(args) != len(tensors)   # one list of tensors: named as call unpacks it (``a, b = inputs``)
    unpacked = unpacked_names(call, params[0], len(tensors)) if packed and params else None
    for i, t in enumerate(tensors):
        name = unpacked[i] if unpacked else params[i] if i < len(params) and not packed else f"x{i}"
        node = self.builder.add("Input", (name, f"x{i}"), [], loc)
        self._shapes[(node, 0)] = t.shape
        block_inputs.append(T(node, t.perm, t.shape))
    call_args = block_inputs if len(args) == len(tensors) else [block_inputs]
    result = self.run_function(call, instance, call_args, {}, strict=True)
    outputs = result if isinstance(result, (list, tuple)) else [result]
    out_tensors = [self.tensor(o, loc, "block output") for o in outputs]
    out_tensors = [finish_output(self, t, loc) for t in out_tensors if t is not None]
    block.nodes.extend(reachable(self.builder.nodes, [t.node for t in out_tensors], [t.node for t in block_inputs]))
    block.outputs.extend([t.node for t in out_tensors])
    self.model.blocks.append(block)
    self.block_builder[block] = instance
    self.builder = outer
    return block, [t.perm for t in tensors], [t.perm for t in out_tensors], [t.shape for t in out_tensors]


def unique_block_name(self, name):
    taken = {b.name for b in self.model.blocks}
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}{number}"
    return candidate


def finish_output(self, t: T, loc) -> T:
    """A Keras model returns rank >= 4 tensors channels-last and lower ranks in the pivot's order (the
    contract of generated code): an output computed in another layout gets a pivot permute."""
    return self.builder.permuted(t, L.keras_boundary(t.rank), (t.name, f"{t.node.name}_out"), loc)


def reachable(nodes: list, outputs: list, inputs: list) -> list:
    """``nodes`` (in creation order) that the outputs depend on, with every declared input."""
    keep, stack = set(inputs), list(outputs)
    while stack:
        node = stack.pop()
        if node in keep:
            continue
        keep.add(node)
        stack.extend(node.inputs)
    kept = [n for n in nodes if n in keep]
    # A shared layer whose first application is left out (it fed something else): its first kept
    # application becomes the owner of the weights.
    promoted: dict = {}
    for node in kept:
        owner = node.weightsOf
        if owner is not None and owner not in keep:
            node.weightsOf = promoted.get(owner)
            promoted.setdefault(owner, node)
    return kept


# =============================================================================
# Finding the model, building it, training configuration
# =============================================================================

KERAS_MODULES = ("keras", "tensorflow")


@dataclass
class Candidate:
    name: str
    kind: str          # "class", "function" or "variable"
    loc: Location | None
    value: Any = None
    built: Any = None        # the model the script built with it, where it trains it
    arguments: dict | None = None   # the arguments the script built it with, by parameter
    how: str = ""            # how the script trains it ("compiled", "fitted"...)
    reported: tuple | None = None   # the diagnostics the script's build of it made: (first, end)
    names_before: dict | None = None   # Keras' name counters when the script built it (see ``automatic_name``)


def find_candidates(self, tree) -> list[Candidate]:
    found: list[Candidate] = []
    origins = set()
    for name, value in self.module_env.items():
        if isinstance(value, ClassDef) and value.role == "model":
            found.append(Candidate(name, "class", self.loc(value.node), value))
        elif isinstance(value, FunctionDef) and builds_model(self, value.node):
            found.append(Candidate(name, "function", self.loc(value.node), value))
    for name, value in self.module_env.items():
        origin = getattr(value, "origin", None)
        if isinstance(value, Instance) and value.cls.role == "model":
            origins.add(value.cls.node.name)
            self.aliases_of.setdefault(value.cls.node.name, []).append(name)
        elif origin is not None:
            self.aliases_of.setdefault(origin, []).append(name)
        elif isinstance(value, (SequentialObj, FunctionalModel)):
            found.append(Candidate(name, "variable", value.loc, value))
    return found


def builds_model(self, fn: ast.FunctionDef) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and self.qualname(node.func) in ("Sequential", "models.Sequential", "Model",
                                                                       "models.Model"):
            return True
    return False


def used_by_others(self, candidates: list[Candidate]) -> set[str]:
    """Candidates instantiated or called inside another candidate (sub-models, not the network)."""
    names = {c.name for c in candidates}
    used = set()
    for c in candidates:
        if c.kind in ("class", "function"):
            for node in ast.walk(c.value.node):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names \
                        and node.func.id != c.name:
                    used.add(node.func.id)
    return used


def trained_candidates(self, candidates: list[Candidate]) -> dict[str, Candidate]:
    """The models the script compiles, fits or trains, by name: the builder function or class that built
    them (with the arguments the script passed), else the variable itself."""
    by_name = {c.name: c for c in candidates}
    trained, saved_builds = {}, set()
    for site in trained_sites(self.tree):
        built = self.models_at.get(id(site.binding))
        known = by_name.get(site.callee)
        if known is not None and known.kind in ("function", "class"):
            recorded = self.calls_at.get(id(site.call))
            arguments = by_parameter(self, known.value, *recorded[1:3]) if recorded else None
            found = Candidate(known.name, known.kind, known.loc, known.value, built, arguments, site.how,
                              recorded[3:5] if recorded and len(recorded) == 5 else None,
                              self.names_before.get(id(site.call)))
        elif site.variable in by_name and site.scope is self.tree:
            found = by_name[site.variable]
        elif built is not None:
            found = Candidate(site.variable, "variable", self.loc(site.binding), built, built, None, site.how)
        else:
            continue
        # the build the script saves is the one a weights file comes from (a baseline trained first is not)
        saved = site.variable in saved_variables(site.scope)
        replaces = found.name in trained and saved and found.name not in saved_builds
        if (found.name not in trained or replaces) and not is_augmentation(self, found):
            if saved:
                saved_builds.add(found.name)
            trained[found.name] = found
            found.how = found.how or site.how
            found.loc = found.loc or self.loc(site.binding)
            self.trained_uses[found.name] = self.loc(site.use)
    return trained


def by_parameter(self, definition, args: list, kwargs: dict) -> dict:
    """A call's arguments by the parameter names of the function or class ``__init__`` it calls."""
    node = definition.node
    if isinstance(node, ast.ClassDef):
        init = self.method_of(definition, "__init__")
        params = [a.arg for a in init.args.args[1:]] if init is not None else []
    else:
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
    return {**dict(zip(params, args)), **kwargs}


def is_augmentation(self, candidate: Candidate) -> bool:
    """A Sequential of preprocessing and augmentation layers only (used in a data pipeline, not trained)."""
    value = candidate.built if candidate.built is not None else candidate.value
    if isinstance(value, SequentialObj):
        layers = [l for l in value.layers if isinstance(l, LayerObj)]
        return bool(layers) and all(preprocessing(l.original) for l in layers)
    if candidate.kind == "function":
        called = [self.qualname(n.func) or "" for n in ast.walk(candidate.value.node) if isinstance(n, ast.Call)]
        named = [c.rsplit(".", 1)[-1] for c in called if c.startswith(("layers.", "keras.layers."))
                 or c.rsplit(".", 1)[-1][:1].isupper()]
        layers = [n for n in named if n not in ("Sequential", "Model", "Input")]
        return bool(layers) and all(preprocessing(n) for n in layers)
    return False


def preprocessing(layer_class: str) -> bool:
    return layer_class.startswith("Random") or layer_class in PREPROCESSING_LAYERS


PREPROCESSING_LAYERS = frozenset({"Rescaling", "Resizing", "CenterCrop", "Normalization", "TextVectorization",
                                  "StringLookup", "IntegerLookup", "CategoryEncoding", "Discretization", "Hashing",
                                  "AutoContrast", "Solarization", "AugMix", "RandAugment", "MixUp", "CutMix"})


def select(self, candidates: list[Candidate], model_name: str | None) -> Candidate:
    self.report.candidates = [c.name for c in candidates]
    trained = trained_candidates(self, candidates)
    if model_name:
        if model_name in trained:
            return trained[model_name]
        for c in candidates:
            if model_name == c.name or model_name in self.aliases_of.get(c.name, []):
                return c
        listing = ", ".join(c.name for c in candidates) or "none"
        self.error("no-model-found", f"no model called '{model_name}' in {self.file} (found: {listing})",
                   Location(self.file))
        raise _Abort
    if len(trained) == 1:
        return next(iter(trained.values()))
    if len(trained) > 1:
        listing = ", ".join(f"{c.name} ({c.how} at {self.trained_uses[c.name]})" for c in trained.values())
        self.error("ambiguous-model", f"the script trains {len(trained)} models: {listing}; choose one by name "
                   "(--model)", list(self.trained_uses.values())[1])
        raise _Abort
    if not candidates:
        self.error("no-model-found", "no Keras model found: expected a keras.Model subclass, a Sequential or a "
                   "functional keras.Model", Location(self.file))
        raise _Abort
    used = used_by_others(self, candidates)
    top = [c for c in candidates if c.name not in used and not is_augmentation(self, c)]
    if len(top) > 1:
        self.error("ambiguous-model", f"{len(top)} models in {self.file}: {', '.join(c.name for c in top)} (at "
                   f"{', '.join(str(c.loc) for c in top)}); choose one by name (--model)", top[1].loc)
        raise _Abort
    return top[0] if top else candidates[0]


def shapes_given(self, count: int, names: list[str]):
    shapes = self.input_shapes
    if shapes is None:
        return None
    if isinstance(shapes, dict):
        if len(shapes) == 1 and count == 1 and not any(n in shapes for n in names):
            return list(shapes.values())   # the one input, under the name of its variable
        return [shapes.get(n) for n in names]
    if shapes and isinstance(shapes[0], int):
        shapes = [shapes]
    return list(shapes) + [None] * (count - len(shapes))


def materialize(self, candidate: Candidate):
    """The network's inputs (T) and outputs (structure of T) for the chosen candidate."""
    value = candidate.value
    self.report.keras_name_counters = candidate.names_before
    if candidate.built is None or self.model_args:
        # built here again: unnamed layers are numbered as in the script's own build of it, else as in a build
        # right after the module is imported (top level run, ``__main__`` block not)
        self.automatic_names = dict(candidate.names_before if candidate.names_before is not None else
                                    self.names_at_import if self.names_at_import is not None else
                                    self.automatic_names)
        if candidate.kind in ("function", "class"):
            self.report.keras_name_counters = dict(self.automatic_names)
    if candidate.built is not None and not self.model_args:
        value = candidate.built   # as the script built it (the builder ran with the script's arguments)
    elif candidate.kind == "function" and candidate.reported is not None:
        # built again, with --model-args (they replace the script's arguments) or the script's own: the
        # script's build and what it reported are dropped
        del self.diagnostics[slice(*candidate.reported)]
        value = self.run_function(candidate.value.node, None, [], self.model_args or candidate.arguments or {},
                                  strict=True)
    elif candidate.kind == "function":
        value = None if self.model_args else next(
            (v for v in self.module_env.values() if getattr(v, "origin", None) == candidate.name), None)
        if value is None:
            value = self.run_function(candidate.value.node, None, [], self.model_args, strict=True)
    if candidate.kind == "class" and value is candidate.value:
        existing = None if self.model_args else next(
            (v for v in self.module_env.values() if isinstance(v, Instance) and v.cls is candidate.value), None)
        value = existing or self.instantiate(candidate.value, [], self.model_args, candidate.loc)
    self.model_value = value
    if isinstance(value, FunctionalModel):
        return functional_io(self, value)
    if isinstance(value, SequentialObj):
        return sequential_io(self, value, candidate)
    if isinstance(value, Instance):
        return subclass_io(self, value, candidate)
    why = value.why if isinstance(value, Unknown) else "it does not build a Keras model"
    self.error("no-model-found", f"{candidate.name}: {why}", candidate.loc)
    raise _Abort


def functional_io(self, value: FunctionalModel):
    given = shapes_given(self, len(value.inputs), [getattr(s, "name", None) for s in value.inputs])
    inputs = []
    for i, spec in enumerate(value.inputs):
        if isinstance(spec, InputSpec) and given and given[i] is not None:
            shape = tuple(-1 if d is None else d for d in given[i])
            if spec.tensor is None:
                spec.shape = shape
            elif tuple(-1 if d is None else d for d in spec.shape or ()) != shape and spec.loc is not None:
                self.pending_overrides[spec.loc] = shape   # layers already read it: read the file again
        tensor = self.tensor(spec, value.loc, "model input")
        if tensor is None:
            raise _Abort
        inputs.append(tensor)
    return inputs, value.outputs


def sequential_io(self, value: SequentialObj, candidate):
    layers = list(value.layers)
    spec = layers[0] if layers and isinstance(layers[0], InputSpec) else None
    first = next((l for l in layers if isinstance(l, LayerObj)), None)
    given = shapes_given(self, 1, [None])
    shape = (tuple(given[0]) if given and given[0] is not None else
             spec.shape if spec else getattr(first, "input_shape", None) or (
                 tuple(self.builds[id(value)][1:]) if id(value) in self.builds else None))
    if shape is None and getattr(first, "cls", None) in TOKEN_READERS:
        shape = (None,)   # token ids of any length
    if shape is None and spec is not None and spec.free is not None:   # keras.Input(shape=x_train.shape[1:])
        self.error(spec.free.code, f"input '{spec.name or 'x'}': {spec.free.why}", spec.free.loc or spec.loc)
        raise _Abort
    if shape is None:
        self.error("missing-input-shape", f"{candidate.name}: the Sequential's input has no shape: add "
                   "keras.Input(shape=...) or input_shape=, or give an input shape", value.loc)
        raise _Abort
    x = self.make_input(spec.name if spec and spec.name else "x", shape, spec.dtype if spec else None,
                        spec.loc if spec else value.loc)
    if x is None:
        raise _Abort
    return [x], self.apply(value, [x], {}, None, None, value.loc, True)


def subclass_io(self, instance: Instance, candidate):
    call = self.method_of(instance.cls, "call")
    if call is None:
        held = [f"self.{attr} ({getattr(value, 'origin', None) or getattr(getattr(value, 'cls', None), 'name', '')})"
                .replace(" ()", "") for attr, value in instance.attrs.items()
                if isinstance(value, (SequentialObj, FunctionalModel, Instance))]
        trains = f": it trains the models it is given, {', '.join(held)}; choose one with --model" if held else ""
        self.error("no-model-found", f"{candidate.name} has no call method{trains}", candidate.loc)
        raise _Abort
    params = [a for a in call.args.args[1:]]
    required = params[:len(params) - len(call.args.defaults)] or params[:1]
    given = shapes_given(self, len(required), [p.arg for p in required])
    built = self.builds.get(id(instance))
    shapes = given or ([tuple(built[1:])] if built else [None] * len(required))
    if len(required) == 1 and shapes and len(shapes) > 1 and given:
        names = unpacked_names(call, required[0].arg, len(shapes))
        packed = True
    else:
        names, packed = [p.arg for p in required], False
    inputs = []
    for name, shape in zip(names, shapes):
        if shape is None and _first_layer_reading(instance, call, name) in TOKEN_READERS:
            shape = (None,)   # token ids of any length (an Embedding takes its input size from no weight)
        if shape is None:
            self.error("missing-input-shape", f"input '{name}' of {candidate.name}.call needs a shape (the code "
                       "does not give one, and its first layer takes its input size from the first call): pass "
                       "an input shape (without the batch axis, ? for a size left to run time)", self.loc(call))
            raise _Abort
        tensor = self.make_input(name, tuple(shape), None, self.loc(call))
        if tensor is None:
            raise _Abort
        inputs.append(tensor)
    args = [inputs] if packed else inputs
    outputs = self.run_function(call, instance, args, {}, strict=True)
    return inputs, outputs


TOKEN_READERS = frozenset({"Embedding"})


def _first_layer_reading(instance: Instance, call: ast.FunctionDef, param: str) -> str | None:
    """The class of the ``self.<layer>`` that the first statement of ``call`` mentioning ``param`` applies to
    it directly (innermost call first), or None."""
    for stmt in call.body:
        if not any(isinstance(n, ast.Name) and n.id == param for n in ast.walk(stmt)):
            continue
        for node in reversed(list(ast.walk(stmt))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "self" and \
                    any(isinstance(a, ast.Name) and a.id == param for a in node.args):
                layer = instance.attrs.get(node.func.attr)
                return layer.cls if isinstance(layer, LayerObj) else None
        return None
    return None


def unpacked_names(call: ast.FunctionDef, param: str, count: int) -> list[str]:
    """``a, b = inputs`` in ``call`` names the inputs packed in one parameter."""
    for stmt in ast.walk(call):
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and stmt.value.id == param and \
                isinstance(stmt.targets[0], (ast.Tuple, ast.List)) and len(stmt.targets[0].elts) == count and \
                all(isinstance(e, ast.Name) for e in stmt.targets[0].elts):
            return [e.id for e in stmt.targets[0].elts]
    return [f"x{i}" for i in range(count)]


def training_config(self, candidate: Candidate):
    def matches(target):
        return target is self.model_value or (isinstance(target, Instance) and target.cls is candidate.value) or \
            getattr(target, "origin", None) == candidate.name
    compiles = [c for c in self.compiles if matches(c[0])]
    if not compiles:
        run_training_functions(self)
        compiles = [c for c in self.compiles if matches(c[0])]
    if not compiles:
        return None
    _, args, kwargs, loc = compiles[-1]
    config = eclass("TrainingConfig")()
    set_location(config, loc)
    given_optimizer = _arg(args, kwargs, 0, "optimizer")
    if given_optimizer is not None:
        config.optimizer = optimizer(self, given_optimizer, loc, config)
    given_loss = _arg(args, kwargs, 1, "loss")
    if given_loss is not None:
        config.loss = loss(self, given_loss, loc, config)
    for given_metric in _arg(args, kwargs, 2, "metrics") or []:
        name = metric(self, given_metric, loc)
        if name:
            config.metrics.append(name)
    fits = [f for f in self.fits if matches(f[0])]
    if fits:
        fit_epochs(self, config, fits)
        _, fit_args, fit_kwargs, fit_loc = fits[-1]
        value = _arg(fit_args, fit_kwargs, 2, "batch_size")
        if isinstance(value, int) and not isinstance(value, bool):
            config.batchSize = value
        elif value is not None:
            self.warn("dynamic-value", f"fit batch_size={value!r} is not known statically; the default is kept",
                      fit_loc)
        callbacks = fit_kwargs.get("callbacks") or []
        for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:   # Keras flattens one
            fit_callback(self, config, callback, fit_loc)
    return config


def fit_epochs(self, config, fits) -> None:
    """The epochs of every ``fit`` the script runs, added up: a loop around ``fit(epochs=2)`` three times trains
    six (``initial_epoch`` counts as already trained)."""
    total = 0
    for _, fit_args, fit_kwargs, fit_loc in fits:
        epochs, initial = _arg(fit_args, fit_kwargs, 3, "epochs"), fit_kwargs.get("initial_epoch", 0)
        epochs = 1 if epochs is None else epochs
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (epochs, initial)):
            self.warn("dynamic-value", f"fit epochs={epochs!r} is not known statically; the default is kept",
                      fit_loc)
            return
        total += max(epochs - initial, 0)
    if len(fits) > 1 or _arg(fits[0][1], fits[0][2], 3, "epochs") is not None:
        config.epochs = total


# Callbacks that do not change how the model trains
NEUTRAL_CALLBACKS = frozenset({"ModelCheckpoint", "TensorBoard", "CSVLogger", "History", "ProgbarLogger",
                               "BackupAndRestore", "TerminateOnNaN", "RemoteMonitor"})


def fit_callback(self, config, callback, loc) -> None:
    """A ``fit`` callback: ReduceLROnPlateau becomes the pivot's schedule; one that changes training otherwise is
    a warning."""
    name = callback.path.rsplit(".", 1)[-1] if isinstance(callback, ConfigObj) else None
    where = callback.loc if isinstance(callback, ConfigObj) and callback.loc is not None else loc
    if name in NEUTRAL_CALLBACKS:
        return
    if name == "ReduceLROnPlateau":
        schedule = plateau_schedule(self, callback, where)
        if schedule is not None and config.schedule is not None:
            self.warn("unsupported-construct", "ReduceLROnPlateau on top of a learning-rate schedule has no pivot "
                      "counterpart; the callback is left out", where)
        elif schedule is not None:
            config.schedule = schedule
        return
    what = name or "a callback not known statically"
    self.warn("unsupported-construct", f"the fit callback {what} changes training and has no pivot counterpart; "
              "it is left out", where)


_PLATEAU = (("monitor", "monitor", "val_loss"), ("factor", "factor", 0.1), ("patience", "patience", 10),
            ("min_delta", "threshold", 1e-4), ("cooldown", "cooldown", 0), ("min_lr", "minimum", 0.0))


def plateau_schedule(self, callback, where):
    schedule = eclass("ReduceOnPlateau")()
    set_location(schedule, where)
    schedule.thresholdMode = eenum("ThresholdMode").getEEnumLiteral("absolute")
    given = dict(callback.kwargs)
    for (keyword, _, _), value in zip(_PLATEAU, callback.args):
        given[keyword] = value
    for keyword, value in given.items():
        known = next((p for p in _PLATEAU if p[0] == keyword), None)
        if known is None and (keyword == "verbose" or keyword == "mode" and value in ("auto", "min")):
            continue
        if known is None or not isinstance(value, (int, float, str)) or isinstance(value, bool) or \
                (keyword == "monitor") != isinstance(value, str):
            self.warn("unsupported-construct", f"ReduceLROnPlateau argument {keyword}={value!r} has no pivot "
                      "counterpart; the callback is left out", where)
            return None
    for keyword, feature, default in _PLATEAU:
        value = given.get(keyword, default)
        if keyword == "patience":   # Keras reduces after patience epochs without improvement, the pivot after
            value = max(value - 1, 0)  # patience + 1 (PyTorch's count)
        setattr(schedule, feature, float(value) if feature in ("factor", "threshold", "minimum") else value)
    if schedule.monitor not in ("loss", "val_loss"):
        self.warn("unsupported-construct", f"ReduceLROnPlateau watches '{schedule.monitor}'; the pivot watches the "
                  "loss or val_loss, the callback is left out", where)
        return None
    return schedule


def run_training_functions(self):
    """Run ``def train(model, ...)``-style functions (never called at module level) on the model."""
    for value in list(self.module_env.values()):
        if not isinstance(value, FunctionDef) or not value.node.args.args:
            continue
        first = value.node.args.args[0].arg
        compiles = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "compile"
                       and isinstance(n.func.value, ast.Name) and n.func.value.id == first
                       for n in ast.walk(value.node))
        if compiles:
            rest = [Unknown(a.arg, self.loc(a)) for a in value.node.args.args[1:]]
            try:
                self.run_function(value.node, None, [self.model_value, *rest], {}, strict=False)
            except _Abort:
                pass


def optimizer(self, value, loc, config=None):
    result = eclass("Optimizer")()
    set_location(result, loc)
    if isinstance(value, str):
        spelling, kwargs = value, {}
    elif isinstance(value, ConfigObj):
        spelling, kwargs = value.path.rsplit(".", 1)[-1], dict(value.kwargs)
        if value.args:
            kwargs.setdefault("learning_rate", value.args[0])
    else:
        self.warn("dynamic-value", "the optimizer is not known statically; it is left out", loc)
        return None
    # generated code's optimizer cycling a OneCycle schedule's momentum updates as its base otherwise
    cycled, spelling = spelling, vocabulary.KERAS_ONE_CYCLE_BASES.get(spelling, spelling)
    entry = _OPTIMIZERS_BY_KERAS_NAME.get(spelling.lower()) or vocabulary.KERAS_RULE_CLASSES.get(spelling)
    if entry is None:
        self.warn("unsupported-construct", f"optimizer '{spelling.lower()}' is not in the pivot's vocabulary; "
                  "it is left out", loc)
        return None
    result.kind = entry.name
    result.learningRate = float(entry.keras_learning_rate)
    for key, item in kwargs.items():
        key = vocabulary.KERAS_OPTIMIZER_ALIASES.get(key, key)
        parameter = entry.parameter_of_keras(key)
        if key == "learning_rate" and isinstance(item, (int, float)):
            result.learningRate = float(item)
        elif key == "learning_rate" and isinstance(item, ConfigObj) and config is not None:
            initial = keras_schedule(self, item, config)
            if initial is not None:
                result.learningRate = float(initial)
            if initial is not None and config.schedule.eClass.name == "OneCycle" and \
                    cycled not in vocabulary.KERAS_ONE_CYCLE_BASES:
                # only generated code's one-cycle classes take their momentum from the schedule
                config.schedule.cycleMomentum = False
        elif key in vocabulary.CLIPPINGS_BY_KERAS and isinstance(item, (int, float)) and \
                not isinstance(item, bool) and item > 0 and config is not None:
            setattr(config, vocabulary.CLIPPINGS_BY_KERAS[key].feature, float(item))
        elif key in vocabulary.CLIPPINGS_BY_KERAS and item is None:
            continue
        elif key == vocabulary.TWO_BIAS_KEYWORD and cycled in vocabulary.KERAS_TWO_BIAS_BASES.values() and \
                isinstance(item, (tuple, list)) and all(isinstance(path, str) for path in item):
            self.two_bias_layers = (tuple(item), loc)   # marked on their nodes once the model is read
        elif parameter is not None and isinstance(item, (int, float, bool)):
            if entry.name == "adam" and key == "weight_decay" and item and spelling not in vocabulary.KERAS_RULE_CLASSES:
                # Keras decouples Adam's weight decay, as PyTorch's AdamW does: the same update, exactly
                entry = vocabulary.OPTIMIZERS["adamw"]
                result.kind = entry.name
            result.parameters.append(eclass("Parameter")(key=parameter.name, value=float(item)))
        elif key not in vocabulary.KERAS_OPTIMIZER_IGNORED:
            self.warn("unsupported-construct", f"optimizer {entry.name} argument {key}={item!r} is left out", loc)
    # Keras's defaults where PyTorch has others (epsilon...): the migrated model trains with them
    given = {p.key for p in result.parameters}
    result.parameters.extend(eclass("Parameter")(key=p.name, value=float(default))
                             for p, default in vocabulary.source_defaults(entry, "keras") if p.name not in given)
    # Keras's update rule, where it can make a difference (the model is read apart: whether it has an Embedding is
    # rule_of's to tell) or where a norm clipping scales as Keras's; a rule class of generated code has PyTorch's
    # (a schedule too: a callback read later may set one); generated code's one-cycle SGD keeps PyTorch's buffer
    clips_norm = config is not None and any(getattr(config, f) for f in vocabulary.NORM_CLIPPINGS)
    schedulable = not (entry.name == "sgd" and cycled in vocabulary.KERAS_ONE_CYCLE_BASES)
    if spelling not in vocabulary.KERAS_RULE_CLASSES and (vocabulary.rule_matters(
            entry, {p.key: p.value for p in result.parameters}, vocabulary.squares_gradient(entry),
            schedulable) or clips_norm):
        result.rule = eenum("UpdateRule").getEEnumLiteral(vocabulary.RULE_KERAS)
    return result


_OPTIMIZERS_BY_KERAS_NAME = {name.lower(): entry for name, entry in vocabulary.OPTIMIZERS_BY_KERAS_NAME.items()}


def keras_schedule(self, value: ConfigObj, config):
    """A keras.optimizers.schedules object as the optimizer's learning rate: the pivot's per-step schedule.
    Returns the initial learning rate (None when the schedule is not carried over; a warning says why)."""
    name = value.path.rsplit(".", 1)[-1]
    where = value.loc
    known = vocabulary.KERAS_SCHEDULES.get(name)
    if known is None:
        self.warn("unsupported-construct", f"the learning-rate schedule {name} has no pivot counterpart; the "
                  "migrated training keeps the learning rate constant", where)
        return None
    pivot_class, arguments = known
    given = {arguments[i][0]: arg for i, arg in enumerate(value.args[:len(arguments)])}
    given.update(value.kwargs)
    for keyword, item in given.items():
        if keyword == "name":
            continue
        spec = next((a for a in arguments if a[0] == keyword), None)
        plain = isinstance(item, (int, float, bool)) or isinstance(item, (list, tuple)) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in item) or \
            isinstance(item, str) and spec is not None and _enum_literal(pivot_class, spec[1], item) is not None
        if spec is None or not plain or spec[1] is None and spec[0] not in (
                "initial_learning_rate", "alpha", "boundaries") and item != spec[2]:
            self.warn("unsupported-construct", f"{name} argument {keyword}={item!r} has no pivot counterpart; the "
                      "migrated training keeps the learning rate constant", where)
            return None
    schedule = eclass(pivot_class)()
    set_location(schedule, where)
    if pivot_class not in vocabulary.PER_STEP_ONLY:
        schedule.interval = eenum("ScheduleInterval").getEEnumLiteral("step")
    for keyword, feature, default in arguments:
        item = given.get(keyword, default)
        if feature is None:
            continue
        if item is None:
            self.warn("unsupported-construct", f"{name}: {keyword} is not given; the migrated training keeps the "
                      "learning rate constant", where)
            return None
        feature_type = schedule.eClass.findEStructuralFeature(feature).eType
        if isinstance(item, (list, tuple)):
            getattr(schedule, feature).extend([float(v) for v in item])
        elif isinstance(item, str):
            setattr(schedule, feature, _enum_literal(pivot_class, feature, item))
        else:
            setattr(schedule, feature, float(item) if feature_type.name == "EDouble" else item)
    if pivot_class == "PiecewiseConstantDecay":
        boundaries = given.get("boundaries")
        if not isinstance(boundaries, (list, tuple)) or not all(isinstance(b, int) for b in boundaries) or \
                len(schedule.values) != len(boundaries) + 1:
            self.warn("unsupported-construct", f"{name}: the boundaries are not integers, one fewer than the "
                      "values; the migrated training keeps the learning rate constant", where)
            return None
        schedule.boundaries.extend(b + 1 for b in boundaries)   # Keras switches after a boundary, the pivot at it
        initial = schedule.values[0]
    elif pivot_class == "OneCycle":   # the rate of the first step
        initial = schedule.maxLearningRate / schedule.divFactor
    else:
        initial = given.get("initial_learning_rate")
    if not isinstance(initial, (int, float)):
        self.warn("unsupported-construct", f"{name}: the initial learning rate is not known statically; the "
                  "migrated training keeps the learning rate constant", where)
        return None
    if pivot_class == "CosineDecay":
        schedule.minimum = float(given.get("alpha", 0.0)) * initial
    config.schedule = schedule
    return initial


def _enum_literal(pivot_class: str, feature: str | None, name: str):
    """The literal ``name`` of the enum feature ``feature`` of ``pivot_class`` (None when there is none)."""
    found = eclass(pivot_class).findEStructuralFeature(feature) if feature else None
    literals = getattr(found.eType, "eLiterals", None) if found is not None else None
    return found.eType.getEEnumLiteral(name) if literals and name in [x.name for x in literals] else None


KERAS_REDUCTIONS = {"sum_over_batch_size": "mean", "sum": "sum"}


def loss(self, value, loc, config=None):
    if isinstance(value, str):
        name, logits = value, False
    elif isinstance(value, ConfigObj):
        name, logits = value.path.rsplit(".", 1)[-1], bool(value.kwargs.get("from_logits", False))
    elif isinstance(value, (list, tuple, dict)):
        self.warn("unsupported-construct", "one loss per output (a list or dict of losses) has no pivot counterpart; "
                  "it is left out, and the generated training code uses one default loss", loc)
        return None
    else:
        self.warn("dynamic-value", "the loss is not known statically; it is left out", loc)
        return None
    found = vocabulary.keras_loss(name)
    if found is None:
        self.warn("unsupported-construct", f"loss '{name.lower()}' is not in the pivot's vocabulary; it is left out",
                  loc)
        return None
    entry, spelling = found
    for key, item in (value.kwargs.items() if isinstance(value, ConfigObj) else ()):
        if config is not None and key == "reduction" and item in KERAS_REDUCTIONS:
            config.lossReduction = eenum("LossReduction").getEEnumLiteral(KERAS_REDUCTIONS[item])
            continue
        if config is not None and key == "label_smoothing" and isinstance(item, (int, float)) and \
                not isinstance(item, bool) and 0 <= item <= 1:
            config.labelSmoothing = float(item)
            continue
        if key not in vocabulary.KERAS_LOSS_IGNORED and vocabulary.KERAS_LOSS_NEUTRAL.get(key, ...) != item:
            self.warn("unsupported-construct", f"loss {name} argument {key}={item!r} is left out: the pivot loss "
                      "has no such setting", loc)
    outputs = list(self.output_nodes)
    while len(outputs) == 1 and is_kind(outputs[0], "BlockCall"):   # a nested model's or custom layer's output
        outputs = list(outputs[0].block.outputs)
    kind = kind_of(outputs[0]) if len(outputs) == 1 else None
    problem = vocabulary.mismatch(entry, spelling, vocabulary.ending_of_keyword(kind.keyword if kind else None),
                                  from_logits=logits)
    if problem:
        self.warn("approximate-translation", f"loss {name.lower()} with from_logits={logits}: {problem}", loc)
    return entry.name


def metric(self, value, loc):
    name = value if isinstance(value, str) else (
        value.path.rsplit(".", 1)[-1] if isinstance(value, ConfigObj) else None)
    entry = vocabulary.keras_metric(name) if name else None
    if entry is None:
        self.warn("unsupported-construct", f"metric {name.lower() if name else value!r} is left out", loc)
        return None
    return entry.name




def run(self, wanted: str | None):
    tree = self.tree
    self.imports = ImportTable(tree, KERAS_MODULES)
    self.aliases_of: dict[str, list[str]] = {}
    self.model = eclass("Model")(name="Model")
    self.builder = GraphBuilder(self)
    self.strict = False
    self.exec_body(tree.body, self.module_env)
    self.trained_uses: dict[str, Location | None] = {}
    candidate = select(self, find_candidates(self, tree), wanted)
    self.report.model, self.report.model_kind = candidate.name, candidate.kind
    if candidate.arguments is not None and not self.model_args:
        named = candidate.arguments
        plain = {k: as_argument(v, lambda o: isinstance(o, Object)) for k, v in named.items()}
        if not any(plain[k] is None and named[k] is not None for k in named):
            self.report.model_arguments = plain
    inputs, outputs = materialize(self, candidate)
    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    tensors = [self.tensor(o, candidate.loc, "model output") for o in flat]
    if any(t is None for t in tensors):
        raise _Abort
    tensors = [finish_output(self, t, candidate.loc) for t in tensors]
    model = self.model
    model.name = model_name(self, candidate)
    set_location(model, candidate.loc)
    declared = [t.node for t in inputs]
    rest = reachable(all_nodes(self, inputs), [t.node for t in tensors], declared)
    model.nodes.extend(declared + [n for n in rest if n not in declared])
    model.outputs.extend([t.node for t in tensors])
    self.layer_order = functional_layer_order(self, model) if isinstance(self.model_value, FunctionalModel) else None
    stacks = fold_stacks(self, model)
    for change in canonicalise(model, self.report):   # the layer that made a node made its canonical spelling
        if change.before in self.layer_of_node:
            self.layer_of_node[change.after] = self.layer_of_node.pop(change.before)
    self._shapes.clear()   # the passes may have changed what a node computes (a crop folded into it)
    self.output_nodes = list(model.outputs)
    embedding_inputs_hold_ids(model, self.explicit_dtype)
    model.training = training_config(self, candidate)
    mark_two_biases(self, model, stacks)
    report = self.report
    report.training = describe_training(model.training)
    report.input_layouts = [t.perm for t in inputs]
    # The shapes as the Keras code states them: keras_tensor = transpose(pivot_tensor, perm), batch axis left out.
    report.input_shapes = {t.node.name: tuple((None, *t.node.shape)[a] for a in t.perm)[1:] for t in inputs}
    report.output_layouts = [t.perm for t in tensors]
    report.keras_layer_names = {n.name: self.layer_of_node[n].runtime_name for n in model.nodes
                                if n in self.layer_of_node and self.layer_of_node[n].runtime_name}
    report.keras_weight_parts = {n.name: self.weight_parts[n] for n in model.nodes if n in self.weight_parts}
    for stack in stacks:  # the names the Keras generator gives the layers of a stacked node
        if stack.node in model.nodes:
            report.keras_layer_names.pop(stack.node.name, None)
            report.keras_layer_names.update({f"{stack.node.name}_l{i}": self.layer_of_node[layer].runtime_name
                                             for i, layer in enumerate(stack.layers)
                                             if self.layer_of_node[layer].runtime_name})
    report.keras_weight_paths = weight_paths(self, model, stacks)
    report.keras_block_layers = block_layers(self, model)
    parameterise_blocks(self, model)
    return model


def mark_two_biases(self, model, stacks) -> None:
    """The layers the training optimizer steps twice (generated code's ``two_bias_layers``, Keras layer paths in
    the model) train PyTorch's two biases, bias_ih and bias_hh: their one Keras bias is their sum (oneBias false)."""
    paths, loc = self.two_bias_layers
    named: dict = {}
    for node, layer in self.layer_of_node.items():
        named.setdefault(layer.runtime_name, node)
    for stack in stacks:
        for layer in stack.layers:
            if layer in self.layer_of_node:
                named[self.layer_of_node[layer].runtime_name] = stack.node
    for path in paths:
        graph, node = model, None
        for part in path.split("/"):
            node = next((n for n in graph.nodes if n.name == part), None) if graph is not None else None
            node = node or (named.get(part) if graph is model else None)
            graph = node.block if node is not None and is_kind(node, "BlockCall") else None
        if node is not None and node.eClass.name in vocabulary.TWO_BIAS_KINDS and node.bias:
            node.oneBias = False
        else:
            self.warn("unsupported-construct", f"{vocabulary.TWO_BIAS_KEYWORD}: '{path}' names no recurrent layer "
                      "with a bias in the model; it is left out", loc)


def parameterise_blocks(self, model) -> None:
    """One parameterised block per custom layer class whose blocks differ only in constructor arguments."""
    calls_of: dict[str, list] = {}
    for call, instance in self.instance_of_call.items():
        if isinstance(instance, Instance) and call.eContainer() in (model, *model.blocks):
            calls_of.setdefault(instance.cls.node.name, []).append((call, instance))
    for uses in calls_of.values():
        blocks = list(dict.fromkeys(call.block for call, _ in uses))
        if len(blocks) < 2:
            continue
        init = self.method_of(uses[0][1].cls, "__init__")
        prefixes = [attribute_paths(self, block) for block in blocks]
        matched: dict = {}
        called = [call.block for call, _ in uses]
        template = parameterise(blocks, [(call, *instance.arguments) for call, instance in uses], init, prefixes,
                                class_constants(uses[0][1].cls.node, init), uses[0][1].cls.node, self.node_choices,
                                matched)
        if template is None:
            continue
        layers_per_call(self.report, [call for call, _ in uses], called, matched)
        old, name = template.name, blocks[0].name
        gone = {block.name for block in blocks if block is not template}
        for block in blocks:
            if block is not template:
                model.blocks.remove(block)
        template.name = name
        kept = [entry for entry in self.report.entries if entry.graph not in gone or entry.graph == old]
        for entry in kept:
            entry.graph = name if entry.graph == old else entry.graph
        self.report.entries[:] = kept


def layers_per_call(report, calls: list, called: list, matched: dict) -> None:
    """The layers of each call (``report.keras_block_layers``) under the names of the template its block became,
    where :func:`parameterise` matched the nodes by role (``matched``: id of the block a call had -> template
    node name -> that block's node name)."""
    for call, block in zip(calls, called):
        inner = report.keras_block_layers.get(call.name)
        renamed = matched.get(id(block))
        if inner is not None and renamed is not None:
            report.keras_block_layers[call.name] = {node: inner[origin] for node, origin in renamed.items()
                                                    if origin in inner}


def attribute_paths(self, block) -> dict[str, str]:
    """node name -> the attribute path (``shortcut.0``) of the layer that made it in the custom layer that built
    ``block``."""
    builder = self.block_builder.get(block)
    path_of = {id(layer): path for path, layer in layers_by_attribute(builder.attrs)} if builder else {}
    found = {}
    for node in block.nodes:
        path = path_of.get(id(self.layer_of_node.get(node)))
        if path:
            found[node.name] = ".".join(map(str, path))
    return found


def layers_by_attribute(value, path=()):
    """``(attribute path, LayerObj)`` of the layers a custom layer holds: its attributes, through Sequentials,
    lists and dicts (``self.ffn = keras.Sequential([...])``, ``self.convs = [...]``)."""
    if isinstance(value, LayerObj):
        yield path, value
    elif isinstance(value, SequentialObj):
        yield from layers_by_attribute(value.layers, path)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from layers_by_attribute(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from layers_by_attribute(item, (*path, key))


def block_layers(self, model) -> dict[str, dict[str, tuple]]:
    """For each call of a custom layer: its weighted inner nodes -> (the run-time name of the Keras layer that
    holds their weights in THAT layer object, the part of the layer's weights or None). A block's nodes are
    made by the first object's call; another object of the class holds the layer at the same attribute."""
    found = {}
    for call, instance in self.instance_of_call.items():
        if call not in model.nodes or call.weightsOf is not None:
            continue
        builder = self.block_builder.get(call.block)
        path_of = {id(layer): path for path, layer in layers_by_attribute(builder.attrs)} if builder else {}
        layer_at = dict(layers_by_attribute(getattr(instance, "attrs", {})))
        inner = {}
        for node in call.block.nodes:
            path = path_of.get(id(self.layer_of_node.get(node)))
            layer = layer_at.get(path) if path is not None else None
            if isinstance(instance, FunctionalModel):   # a nested model's graph: its own layers made its nodes
                layer = self.layer_of_node.get(node)
            if layer is not None and layer.runtime_name:
                inner[node.name] = (layer.runtime_name, self.weight_parts.get(node))
            weight = self.learned_of_node.get(node)
            if weight is not None and isinstance(weight.holder, Instance) and \
                    getattr(instance, "runtime_name", None):
                # the custom layer's own add_weight variables come first in its weights, in the order made
                inner[node.name] = (instance.runtime_name, [(weight.index, None)])
        found[call.name] = inner
    return found


def weight_paths(self, model, stacks) -> dict[str, str]:
    """Where a ``.weights.h5`` saved from the source model keeps each node's layer (Keras 3 layout: a
    Sequential or functional model's layers under ``layers/<class in snake case>[_<n>]``, numbered per class in
    the order of ``model.layers``). Empty for subclassed models, whose files follow their attributes."""
    value = self.model_value
    if isinstance(value, SequentialObj):
        order = [layer for layer in value.layers if isinstance(layer, LayerObj)]
    elif isinstance(value, FunctionalModel):
        order = self.layer_order   # read before the recurrent stacks were folded
    else:
        return {}
    path_of, counters = {}, {}
    for layer in order:
        if id(layer) in path_of:
            continue
        snake = keras_snake(canonical_class(layer.original))
        count = counters.get(snake, 0)
        counters[snake] = count + 1
        path_of[id(layer)] = f"layers/{snake}" + (f"_{count}" if count else "")
    paths = {n.name: path_of[id(self.layer_of_node[n])] for n in model.nodes
             if n in self.layer_of_node and id(self.layer_of_node[n]) in path_of}
    for stack in stacks:
        if stack.node in model.nodes:
            paths.pop(stack.node.name, None)
            paths.update({f"{stack.node.name}_l{i}": path_of[id(self.layer_of_node[layer])]
                          for i, layer in enumerate(stack.layers) if id(self.layer_of_node[layer]) in path_of})
    return paths


def functional_layer_order(self, model) -> list:
    """The layers of a functional model in the order of Keras' ``model.layers``: by depth from the outputs
    (deepest first), ties in the order a depth-first walk from the outputs first meets them."""
    consumers: dict = {}
    for node in model.nodes:
        for source in node.inputs:
            consumers.setdefault(source, []).append(node)
    def same_layer(a, b) -> bool:   # several pivot nodes of one Keras layer call (an activation, an LSTM's states)
        return a in self.layer_of_node and self.layer_of_node.get(b) is self.layer_of_node[a]

    depth: dict = {}
    for node in reversed(model.nodes):   # the nodes are in dataflow order
        depth[node] = max((depth.get(c, 0) + (0 if same_layer(node, c) else 1) for c in consumers.get(node, [])),
                          default=0)
    layer_depth: dict = {}
    for node, value in depth.items():   # a layer is as deep as its deepest node
        if node in self.layer_of_node:
            key = id(self.layer_of_node[node])
            layer_depth[key] = max(layer_depth.get(key, 0), value)
    first_seen: dict = {}
    stack = list(reversed(model.outputs))
    while stack:   # depth first, each node before its inputs, inputs in order
        node = stack.pop()
        if node not in first_seen:
            first_seen[node] = len(first_seen)
            stack.extend(reversed(node.inputs))
    layers = [n for n in first_seen if n in self.layer_of_node]
    layers.sort(key=lambda n: (-layer_depth[id(self.layer_of_node[n])], first_seen[n]))
    return [self.layer_of_node[n] for n in layers]


def fold_stacks(self, model) -> list[Stack]:
    """Fold the stacked recurrent layers of every graph (the pass); the report's entries follow."""
    stacks = []
    changes, problems = run_pass(FOLD_RECURRENT_STACKS, model)
    self.report.diagnostics.extend(problems)
    for graph, folded in changes.items():
        graph_name = "" if graph is model else graph.name
        for stack in folded:
            stacks.append(stack)
            layer = self.layer_of_node[stack.node]
            spelling = f"{layer.original}({layer.inner_cls})" if layer.inner_cls else layer.original
            between = f" with Dropout({stack.rate}) between them" if stack.rate else ""
            how = (f"{len(stack.layers)} stacked Keras {spelling} layers {', '.join(stack.names)}{between} "
                   f"(exact: num_layers={len(stack.layers)}, dropout={stack.rate})")
            qualified = f"{graph_name}.{stack.node.name}" if graph_name else stack.node.name
            self.report.folded[qualified] = how
            for entry in self.report.entries:
                if entry.graph == graph_name and entry.node == stack.names[0]:
                    entry.node, entry.note = stack.node.name, f"folded: {how}"
        if folded:  # the entries of the layers, dropouts and states folded away go too
            alive = {n.name for n in graph.nodes}
            self.report.entries = [e for e in self.report.entries if e.graph != graph_name or e.node in alive]
    return stacks


def all_nodes(self, inputs):
    """Every node of the model's graph made so far, in creation order (``reachable`` keeps the model's)."""
    return list(self.builder.nodes)


def model_name(self, candidate: Candidate) -> str:
    value = self.model_value
    explicit = getattr(value, "name", None) if isinstance(value, (SequentialObj, FunctionalModel)) else None
    if candidate.kind == "class":
        return candidate.name
    if explicit and not isinstance(value, Instance):
        return camel_name(explicit)
    if candidate.kind == "function":
        return camel_name(re.sub(r"^(build|make|create|get)_", "", candidate.name))
    if candidate.name.lower() in GENERIC_MODEL_NAMES:
        return camel_name(self.path.stem)
    return camel_name(candidate.name)




def import_keras(path, model_name: str | None = None, input_shapes=None, model_args: dict | None = None,
                 settings: dict | None = None, source_text: str | None = None):
    """Read the Keras model defined in the Python file ``path`` into a pivot model.

    ``model_name`` picks a class, builder function or variable when the file
    defines several; ``input_shapes`` (Keras layout, without the batch axis: one
    shape, a list of shapes, or a dict by input name) is used where the code
    gives none. Returns ``(model, report)``; raises NNPivotError with located
    diagnostics when no model can be built (a syntax error, no model, an
    ambiguous choice, a missing input shape). Constructs that cannot be
    translated are error diagnostics in ``report.diagnostics``; the rest of
    the model is still built. ``model_args`` are keyword arguments for the
    model class or builder function (their defaults otherwise).
    """
    path = Path(path)
    # file-not-found, unreadable-file and syntax-error diagnostics; ``source_text`` is read under the name ``path``
    text, tree = read_source(path) if source_text is None else (source_text, ast.parse(source_text, str(path)))

    def reading(input_overrides: dict) -> Interpreter:
        importer = Interpreter(path, text, input_shapes, model_args, settings)
        importer.tree, importer.input_overrides = tree, input_overrides
        importer.read_stdlib_imports(tree)
        return importer

    importer = reading({})
    try:
        model = run(importer, model_name)
        if importer.pending_overrides:   # a functional model's inputs, used before the given shapes applied
            importer = reading(importer.pending_overrides)
            model = run(importer, model_name)
    except _Abort:
        raise NNPivotError(importer.diagnostics) from None
    except RecursionError:
        raise NNPivotError(importer.diagnostics + [error("unsupported-construct", "recursion too deep",
                                                         Location(str(path)))]) from None
    return model, importer.report


__all__ = ["ImportReport", "import_keras"]
