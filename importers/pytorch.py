"""PyTorch source importer: ``nn.Module`` code to a pivot model, statically.

The file is parsed with :mod:`ast` and interpreted symbolically, never
executed: Python constants are evaluated (constructor defaults, ``--model-args``,
loops and conditions over them), layers constructed in ``__init__`` become
symbolic modules, and running ``forward`` on symbolic tensors builds the
dataflow graph. What a layer means comes from the PyTorch generator's mapping
table (``kind.mappings["pytorch"]``) read backwards: its class and function
spellings find the kind, its constructor arguments (in the constructor's order,
with torch's defaults) give the pivot attributes. Tensor operations whose call
signature is not a constructor's (``torch.cat``, ``x.view``, ``F.pad``...) are read
by the argument reader their mapping names (``reader="concat"``), one of ``OPERATIONS`` below. The Python itself is
evaluated by the interpreter the importers share (``importers/interpreter.py``);
``Importer`` is its PyTorch front-end.

Structure:

* helper ``nn.Module`` classes called on
  tensors become pivot blocks (one block per distinct structure and input
  shape, named after the class: ``BasicBlock``, ``BasicBlock2``...) and
  ``BlockCall`` nodes (with or without weights; an argument may be a flat tuple of tensors, which the
  block unpacks); helpers fed other values are inlined;
* ``nn.Sequential``/``ModuleList``/``ModuleDict`` are unrolled; their layers are
  named after their state_dict path (``features.0`` -> ``features_0``);
* a recurrent layer whose last step is taken (``out[:, -1, :]`` or ``h_n[-1]``,
  unidirectional; ``cat((h_n[-2], h_n[-1]), 1)``, bidirectional) becomes the
  pivot's ``return_sequences=false``, which is what the generators write back.

Names: a layer node is named after its attribute path, an operation after the
variable it is assigned to when that name is free, else after its kind
(``relu``, ``relu_1``...). Generated PyTorch code uses the node names as
attribute and variable names, so source -> pivot -> code -> pivot keeps them.

Everything that cannot be translated is a located diagnostic; the rest of the
model is still built. ``ImportReport`` tells what was translated exactly,
approximately (and why) and not at all.
"""
from __future__ import annotations

import ast
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

from pyecore.ecore import BadValueError, EEnum

from nnpivot.diagnostics import NOTE, Diagnostic, Location, NNPivotError, error, has_errors, set_location, warning
from nnpivot.graph import new_node
from nnpivot.kinds import KINDS, PER_AXIS, Kind, camel, canonical_per_axis, kind_of, snake
from nnpivot.kinds import training as vocabulary
from nnpivot.kinds.recurrent import one_bias_freeze
from nnpivot.kinds.tensor_ops import PAD_CLASSES
from nnpivot.kinds.torch_mapping import HELPERS, REQUIRED, SAME_PADDED, SAME_PADDED_CODE
from nnpivot.metamodel import (
    Argument,
    AttributeBinding,
    Block,
    BlockCall,
    BlockParameter,
    ListExpression,
    Model,
    Optimizer,
    PackedInput,
    Parameter,
    ParameterRef,
    Select,
    TrainingConfig,
    eclass,
    eenum,
    is_kind,
)
from nnpivot.metamodel.blocks import literal_of
from nnpivot.metamodel.shapes import ShapeError
from nnpivot.passes import FOLD_LAST_STEPS, run_pass
from nnpivot.shapes import infer_shapes

from .block_templates import ConstructorRecords, class_constants, parameterise
from .interpreter import BINARY, ArgParser, BoundMethod, Free, Function, Interpreter, Object, PyMethod, target_names
from .interpreter import Class as ClassInfo
from .pysource import (
    ImportReport,
    ImportTable,
    Refused,
    ReturnValue,
    as_argument,
    canonicalise,
    describe,
    describe_training,
    dotted,
    embedding_inputs_hold_ids,
    location,
    pinned_sizes,
    read_source,
    slice_attributes,
)
from .scripts import SAME_MODEL_METHODS, TrainedSite, saved_state_dicts, statements_before, trained_sites

SOURCE = "pytorch"
OPEN_END = 2 ** 31 - 1          # a slice without an end
IGNORED_ARGUMENTS = frozenset({"inplace", "device", "dtype"})
MODULE_ROLE = "module"           # the role of an nn.Module subclass (interpreter.Class.role)


# --- the mapping table, read backwards ------------------------------------------------------

def _canonical(qualified: str) -> str:
    """The table's spelling of a qualified torch name: torch.nn.functional.relu -> F.relu."""
    for prefix, short in (("torch.nn.functional.", "F."), ("torch.nn.modules.", "nn."), ("torch.nn.", "nn.")):
        if qualified.startswith(prefix):
            rest = qualified[len(prefix):]
            return short + (rest.rsplit(".", 1)[-1] if short == "nn." else rest)
    return qualified


def _spellings() -> tuple[dict[str, Kind], dict[str, Kind], dict[str, list[Kind]]]:
    """Spelling -> kind for classes and functions, and the kinds that refine a class by its arguments."""
    classes, functions, refinements = {}, {}, {}
    for kind in KINDS.values():
        mapping = kind.mappings.get(SOURCE)
        if mapping is None:
            continue
        spellings = ([mapping.module] if isinstance(mapping.module, str) else []) + list(mapping.classes)
        for spelling in spellings:
            if mapping.recognise is None:
                classes.setdefault(spelling, kind)
            else:
                refinements.setdefault(spelling, []).append(kind)
        for spelling in mapping.functions:
            functions.setdefault(spelling, kind)
    return classes, functions, refinements


CLASSES, FUNCTIONS, REFINEMENTS = _spellings()
CONTAINERS = ("nn.Sequential", "nn.ModuleList", "nn.ModuleDict")
MODULE_BASE = "nn.Module"
# Spellings that leave a tensor as it is (no node).
PASSTHROUGH = frozenset({"Tensor.contiguous", "Tensor.detach", "Tensor.clone", "Tensor.cpu", "Tensor.cuda",
                         "Tensor.requires_grad_"})
# Casts, by method and by dtype: a cast to the dtype a tensor already has leaves it as it is (the pivot computes
# in float32; an input cast to integers holds ids); any other is refused, the pivot having no cast kind.
CAST_METHODS = {"Tensor.float": "float32", "Tensor.long": "int64", "Tensor.int": "int32", "Tensor.double": "float64",
                "Tensor.half": "float16", "Tensor.bool": "bool"}
DTYPES = {"torch.float32": "float32", "torch.float": "float32", "torch.FloatTensor": "float32",
          "torch.int64": "int64", "torch.long": "int64", "torch.LongTensor": "int64", "torch.int32": "int32",
          "torch.int": "int32", "torch.IntTensor": "int32", "torch.float64": "float64", "torch.double": "float64",
          "torch.float16": "float16", "torch.half": "float16", "torch.bool": "bool"}
TENSOR_CLASSES = frozenset({"torch.Tensor", "nn.Parameter"})
NEW_TENSORS = frozenset({"torch.zeros", "torch.randn", "torch.rand", "torch.empty"})  # an nn.Parameter's content
# Calls that only matter outside the function the pivot computes: answers that hold for an eager model on the CPU
# (is_scripting() is False), and devices, profiler ranges and grad modes, which forward may use but not compute.
STATIC_ANSWERS = {"torch.jit.is_scripting": False, "torch.jit.is_tracing": False, "torch.cuda.is_available": False,
                  "torch.backends.mps.is_available": False, "torch.compiler.is_compiling": False,
                  "torch.onnx.is_in_onnx_export": False, "torch.cuda.device_count": 0}
PLUMBING = frozenset({"torch.device", "torch.autograd.profiler.record_function", "torch.profiler.record_function",
                      "torch.no_grad", "torch.enable_grad", "torch.inference_mode", "torch.autocast",
                      "torch.cuda.amp.autocast", "torch.amp.autocast", "torch.set_grad_enabled"})
# torch modules that are compositions of pivot kinds, written as the module source PyTorch documents (the same
# submodule names, so a checkpoint's state_dict keys fit). They are read like the file's own helper classes and
# become blocks; their names are prefixed so that they cannot meet the file's own names.
COMPOSITE_PREFIX = "_nnpivot_"
COMPOSITES_SOURCE = '''
class TransformerEncoderLayer(_nnpivot_nn.Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        self.arguments = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                          norm_first, bias)
        self.self_attn = _nnpivot_nn.MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                        batch_first=batch_first)
        self.linear1 = _nnpivot_nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = _nnpivot_nn.Dropout(dropout)
        self.linear2 = _nnpivot_nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = _nnpivot_nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = _nnpivot_nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = _nnpivot_nn.Dropout(dropout)
        self.dropout2 = _nnpivot_nn.Dropout(dropout)
        self.gelu = activation == "gelu"

    def forward(self, src):
        # pre-norm normalises each sub-layer's input, post-norm its residual sum: one choice per place, so
        # the layers of one model make one parameterised block whatever their norm_first and activation
        x = src
        x = x + self.dropout1(self.self_attention(self.norm1(x) if self.norm_first else x))
        x = x if self.norm_first else self.norm1(x)
        x = x + self.dropout2(self.feed_forward(self.norm2(x) if self.norm_first else x))
        x = x if self.norm_first else self.norm2(x)
        return x

    def self_attention(self, x):
        attended, _ = self.self_attn(x, x, x, need_weights=False)
        return attended

    def feed_forward(self, x):
        hidden = self.linear1(x)
        hidden = _nnpivot_F.gelu(hidden) if self.gelu else _nnpivot_F.relu(hidden)
        return self.linear2(self.dropout(hidden))


class TransformerEncoder(_nnpivot_nn.Module):
    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _nnpivot_nn.ModuleList(
            [_nnpivot_TransformerEncoderLayer(*encoder_layer.arguments) for _ in range(num_layers)])
        self.norm = norm

    def forward(self, src):
        output = src
        for layer in self.layers:
            output = layer(output)
        if self.norm is not None:
            output = self.norm(output)
        return output
'''
COMPOSITES = {"nn.TransformerEncoderLayer": "TransformerEncoderLayer", "nn.TransformerEncoder": "TransformerEncoder"}
# --- symbolic values ------------------------------------------------------------------------

class Unknown:
    """The value of code that could not be translated (already reported)."""


UNKNOWN = Unknown()


@dataclass(frozen=True, eq=False)
class Tensor:
    """Output ``index`` of a pivot node; ``hint`` names the variable it was unpacked into."""
    node: Any
    index: int = 0
    hint: str | None = None


class CallValue(int):
    """A number a block's forward takes beside its tensors (``steps``), as given at this call: read into an
    attribute, the attribute is bound to ``parameter`` (a per-call BlockParameter) instead of the number."""

    def __new__(cls, value: int, parameter):
        number = super().__new__(cls, value)
        number.parameter = parameter
        return number


class BatchSize:
    """``x.size(0)``: the batch size, known only at run time."""


@dataclass(frozen=True)
class BatchMultiple:
    """``b * t`` with ``b`` the batch size: the batch axis of ``t`` steps folded into it (``x.view(b * t, ...)``)."""
    factor: int


BATCH = BatchSize()


@dataclass(frozen=True)
class Zeros:
    """``torch.zeros(...)``: accepted as an RNN's initial state (the default) and, of fixed ``sizes`` in
    ``__init__``, as an ``nn.Parameter``'s content."""
    where: ast.AST
    sizes: tuple = ()


@dataclass(frozen=True)
class Filled:
    """``torch.zeros/randn/rand/empty(sizes)`` in ``__init__``: the content of an ``nn.Parameter`` (its starting
    values are weight initialisation, which the checkpoint replaces)."""
    where: ast.AST
    sizes: tuple


@dataclass(frozen=True)
class Opaque:
    """A value the pivot has no counterpart for (argmax indices); an error when used."""
    what: str


@dataclass(frozen=True)
class Plumbing:
    """A device, a profiler range or a grad mode: accepted where forward passes it on, and without effect."""
    spelling: str


@dataclass(frozen=True)
class TorchRef:
    """A torch API object named in the source: ``torch.nn.Conv2d``, ``torch.cat``..."""
    qualified: str

    @property
    def spelling(self) -> str:
        return _canonical(self.qualified)


@dataclass(frozen=True)
class TensorMethod:
    tensor: Tensor
    name: str


class Module:
    """Base of the symbolic modules: owned by a container or instance under a path."""
    owner: Module | None = None
    path: str = ""

    def adopt(self, child, key) -> None:
        if isinstance(child, Module) and child.owner is None and child is not self:
            child.owner, child.path = self, str(key)


class Layer(Module):
    """``nn.Conv2d(...)`` in ``__init__``: a kind and its pivot attributes, made a node when called."""

    def __init__(self, kind: Kind, attrs: dict, torch_args: dict, where: Location, notes: list[str]):
        self.kind, self.attrs, self.torch_args, self.where, self.notes = kind, attrs, torch_args, where, notes
        self.calls = 0
        self.first_node = None  # the node of its first call: later calls share its weights (weightsOf)

    @property
    def label(self) -> str:
        return self.kind.keyword


class LearnedTensor(Layer):
    """``self.pos = nn.Parameter(torch.zeros(1, n, d))``: a tensor trained with the model, made an ``add_learned``
    node where forward adds it to an activation (its attributes depend on that activation's rank)."""

    def __init__(self, sizes: tuple, where: Location, notes: list[str]):
        super().__init__(KINDS["add_learned"], {}, {}, where, notes)
        self.sizes = sizes

    def attributes_for(self, rank: int) -> dict | None:
        """The pivot attributes when added to an activation of ``rank`` axes (batch included), None when the
        tensor cannot be added without widening it."""
        sizes = list(self.sizes)
        if len(sizes) == rank and sizes[0] == 1:
            return {"shape": sizes[1:], "batchAxis": True}
        return {"shape": sizes} if 0 < len(sizes) < rank else None


class Container(Module):
    """``nn.Sequential``, ``nn.ModuleList`` or ``nn.ModuleDict`` (items: list or dict)."""

    def __init__(self, spelling: str, items):
        self.spelling, self.items = spelling, items
        for key, item in self.entries():
            self.adopt(item, key)

    def entries(self):
        return list(self.items.items()) if isinstance(self.items, dict) else list(enumerate(self.items))

    def modules(self) -> list:
        return [item for _, item in self.entries()]

    @property
    def label(self) -> str:
        return self.spelling.split(".")[-1].lower()


def _is_module(info: ClassInfo) -> bool:
    return info.role == MODULE_ROLE


class Instance(Module):
    """An instance of a user ``nn.Module`` class: its attributes as set by ``__init__``."""

    def __init__(self, cls: ClassInfo, args_text: str):
        self.cls, self.attrs, self.args_text = cls, {}, args_text
        self.first_call = None  # (BlockCall, input shapes) of its first call; alike later calls share it
        self.first_numbers: list = []   # the per-call numbers of that call (a later call must give the same)
        self.constructor: tuple = ([], {})  # the arguments __init__ was called with

    @property
    def label(self) -> str:
        return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", self.cls.name).lower()


# --- errors ------------------------------------------------------------------------------------

class PyTorchImportError(NNPivotError):
    """The import found errors; ``model`` and ``report`` hold what could be built."""

    def __init__(self, diagnostics, model=None, report: ImportReport | None = None):
        super().__init__(diagnostics)
        self.model, self.report = model, report


# --- graphs under construction -----------------------------------------------------------------

class GraphBuilder:
    """One pivot graph (the model or a block) being built, with the shapes of its nodes."""

    def __init__(self, graph, root, importer: Importer):
        self.graph, self.root, self.importer = graph, root, importer
        self.shapes: dict = {}
        self.names: set[str] = set()
        self.next_number: dict[str, int] = {}
        self.selects: dict = {}
        self.choice_base = len(importer.choices)   # the choices of the code around the graph are not its own

    def unique(self, base: str) -> str:
        base = re.sub(r"\W", "_", base) or "node"
        if base[0].isdigit():
            base = f"n{base}"
        name, n = base, self.next_number.get(base, 0)  # where the last search for this base stopped: not quadratic
        while name in self.names:
            n += 1
            name = f"{base}_{n}"
        self.next_number[base] = n
        self.names.add(name)
        return name

    def free(self, name: str | None) -> bool:
        return bool(name) and name.isidentifier() and name not in self.names

    def add_input(self, name: str, shape) -> Tensor:
        node = new_node("Input", self.unique(name))
        if shape is not None:
            node.shape.extend([int(d) for d in shape])
        self.graph.nodes.append(node)
        self.shapes[node] = [None if shape is None else (None, *(None if d < 0 else d for d in shape))]
        return Tensor(node)

    def operand(self, value: Tensor):
        """The node a consumer references for ``value`` (a Select for outputs other than 0)."""
        if value.index == 0:
            return value.node
        key = (value.node, value.index)
        if key not in self.selects:
            select = Select(name=self.unique(value.hint or f"{value.node.name}_{value.index}"), index=value.index)
            select.inputs.append(value.node)
            self.graph.nodes.append(select)
            self.shapes[select] = [self.shape(value)]
            self.selects[key] = select
        return self.selects[key]

    def shape(self, value: Tensor):
        shapes = self.shapes.get(value.node)
        return shapes[value.index] if shapes and value.index < len(shapes) else None

    def add(self, kind: Kind, name: str, inputs: list[Tensor], attrs: dict, where: Location,
            notes: list[str] = (), source_path: str | None = None, weights_of=None):
        node = new_node(kind.eclass_name, name)
        for key, value in list(attrs.items()):   # a per-call number read into an attribute: bound to its parameter
            if isinstance(value, CallValue) or isinstance(value, (list, tuple)) and \
                    any(isinstance(v, CallValue) for v in value):
                node.bindings.append(AttributeBinding(feature=key, value=_expression_of(value)))
                attrs = {**attrs, key: [int(v) for v in value] if isinstance(value, (list, tuple)) else int(value)}
        for key, value in attrs.items():
            try:
                _set_attribute(node, key, value)
            except (BadValueError, TypeError, ValueError):   # the source passed a value of another type
                raise Refused(error("bad-value", f"{kind.keyword} '{name}': {snake(key)} cannot be "
                                                 f"{value!r}", where)) from None
        node.weightsOf = weights_of
        node.inputs.extend([self.operand(v) for v in inputs])
        set_location(node, where)
        self.graph.nodes.append(node)
        self.importer.node_choices[node] = tuple(self.importer.choices[self.choice_base:])
        operands = [self.shape(v) for v in inputs]
        self.shapes[node] = [None] * kind.outputs(node)
        if all(s is not None for s in operands):
            low, high = kind.arity
            try:
                if len(operands) < low or (high is not None and len(operands) > high):
                    raise ShapeError(f"takes {low} to {high} inputs, got {len(operands)}")
                self.shapes[node] = [tuple(s) for s in kind.shape(node, operands)]
            except ShapeError as exc:
                self.importer.problem(getattr(exc, "code", "shape-mismatch"),
                                      f"{kind.keyword} '{name}': {exc}", where)
            except (ValueError, TypeError, ZeroDivisionError, IndexError) as exc:
                self.importer.problem("shape-mismatch", f"{kind.keyword} '{name}': cannot infer its shape ({exc})",
                                      where)
        self.importer.record(self, node, kind.keyword, where, notes, source_path)
        return node

    def tensors(self, node) -> Any:
        """What calling a node's module returns in PyTorch: a tensor, or a tuple like (out, (h, c))."""
        count = len(self.shapes[node])
        if count == 1:
            return Tensor(node)
        outputs = [Tensor(node, i) for i in range(count)]
        if node.eClass.name == "LSTM":
            return (outputs[0], (outputs[1], outputs[2]))
        return tuple(outputs)


def _set_attribute(node, key: str, value) -> None:
    feature = node.eClass.findEStructuralFeature(key)
    if feature is None:
        raise KeyError(f"{node.eClass.name} has no attribute {key}")
    if feature.many:
        getattr(node, key).extend(value)
    elif isinstance(feature.eType, EEnum):
        setattr(node, key, feature.eType.getEEnumLiteral(str(value)))
    else:
        setattr(node, key, value)


# --- argument conversion -----------------------------------------------------------------------

def _lambda_candidates(numbers: list):
    """The pivot schedules of vocabulary.LAMBDA_SCHEDULES a closed form with ``numbers`` (its constants in source
    order) could be written for; the caller keeps the one whose generated form is the very expression."""
    def built(name, **features):
        schedule = eclass(name)()
        for feature, value in features.items():
            if isinstance(value, list):
                getattr(schedule, feature).extend(value)
            else:
                setattr(schedule, feature, value)
        return schedule

    def rate(value):
        return _number(value) and not isinstance(value, bool)

    try:
        if len(numbers) == 2 and rate(numbers[0]) and _is_int(numbers[1]):   # rate ** (step / steps)
            for staircase in (False, True):
                yield built("ExponentialDecay", decayRate=float(numbers[0]), decaySteps=numbers[1],
                            staircase=staircase)
        if len(numbers) == 6 and rate(numbers[0]) and _is_int(numbers[3]):   # minimum, ..., steps, ...
            yield built("CosineDecay", minimum=float(numbers[0]), decaySteps=numbers[3])
        if len(numbers) % 2 == 1 and len(numbers) >= 3:   # values, then one boundary fewer
            values, boundaries = numbers[:len(numbers) // 2 + 1], numbers[len(numbers) // 2 + 1:]
            if all(rate(v) for v in values) and all(_is_int(b) for b in boundaries):
                yield built("PiecewiseConstantDecay", values=[float(v) for v in values], boundaries=boundaries)
    except BadValueError:
        return


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _not_integers(kind: Kind, attrs: dict) -> str | None:
    """The first attribute of ``attrs`` the pivot holds as integers whose value is not (2.5 is never truncated)."""
    for key, value in attrs.items():
        feature = kind.attribute(key)
        values = value if isinstance(value, (list, tuple)) else [value]
        if feature is not None and feature.eType.name == "EInt" and not all(_is_int(v) for v in values):
            return key
    return None


def _pivot_value(kind: Kind, key: str, value):
    """A torch argument value as the pivot attribute ``key`` holds it; ValueError when it cannot."""
    feature = kind.attribute(key)
    if feature.many:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not all(_number(v) for v in values):
            raise ValueError(f"expects numbers, got {value!r}")
        if feature.eType.name == "EInt":
            if not all(_is_int(v) for v in values):  # never truncated: kernel_size=2.5 is an error
                raise ValueError(f"expects integers, got {value!r}")
        else:
            values = [float(v) for v in values]
        return canonical_per_axis(values) if key in PER_AXIS else values
    if isinstance(feature.eType, EEnum):
        if feature.eType.getEEnumLiteral(str(value)) is None:
            raise ValueError(f"{value!r} is not one of {', '.join(l.name for l in feature.eType.eLiterals)}")
        return str(value)
    kind_name = feature.eType.name
    if kind_name == "EBoolean":
        if not isinstance(value, bool):
            raise ValueError(f"expects True or False, got {value!r}")
        return value
    if kind_name == "EInt":
        if not _is_int(value):
            raise ValueError(f"expects an int, got {value!r}")
        return value
    if kind_name == "EDouble":
        if not _number(value):
            raise ValueError(f"expects a number, got {value!r}")
        return float(value)
    return value


def _pads_value(padding, dims: int) -> dict:
    """A torch ``padding`` of a convolution or pooling layer as pivot padding + pads."""
    if padding in ("same", "valid"):
        return {"padding": padding}
    values = list(padding) if isinstance(padding, (list, tuple)) else [padding] * dims
    if len(values) != dims or not all(_is_int(v) for v in values):
        raise ValueError(f"expects an int or {dims} ints, got {padding!r}")
    if not any(values):
        return {"padding": "valid"}
    return {"padding": "explicit", "pads": [p for v in values for p in (v, v)]}


# --- the importer ----------------------------------------------------------------------------------

class Importer(Interpreter):
    """The PyTorch front-end of the source interpreter: torch values and what Python code does with them."""

    def __init__(self, path, text: str, tree: ast.Module, model_args: dict | None, settings: dict | None = None):
        super().__init__(path)
        self.text, self.tree = text, tree
        self.imports = ImportTable(tree)
        self.read_stdlib_imports(tree)
        self.settings = dict(settings or {})
        self.model_args = dict(model_args or {})
        self.trained: TrainedSite | None = None   # where the script builds the model it trains
        self.script_scopes: dict[int, dict] = {}   # id(function or module) -> the values its statements computed
        self.free_causes: dict = {}   # module-level name -> the free-value diagnostic that kept it unknown
        self.report = ImportReport(self.path, SOURCE)
        self.template_choice, self.template_options = {}, {}   # candidate input shapes (import_pytorch)
        self.left_out: set[ast.stmt] = set()   # construction-time statements that only initialise weights
        self.dropped: list[Diagnostic] = []    # outputs of the model or of a block lost to untranslated code
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.imported_classes: set[str] = set()   # classes of the file that come from the project's other files
        self.builder: GraphBuilder | None = None
        self.model = None
        self.blocks: dict[str, list] = {}          # class name -> [(signature, Block)]
        self.block_uses: list[tuple] = []          # (BlockCall, Instance) of every block call
        self.node_choices: dict = {}               # node of a graph -> the (test, value) choices it was made under
        self.building = 0

    @classmethod
    def of_file(cls, path, model_args: dict | None, settings: dict | None = None, text: str | None = None) -> Importer:
        """An importer of the file ``path`` (or of ``text`` under that name) with its module level read (classes,
        functions, constants)."""
        text, tree = read_source(path) if text is None else (text, ast.parse(text, filename=str(path)))
        importer = cls(path, text, tree, model_args, settings)
        importer.scan_module()
        return importer

    def again(self) -> Importer:
        """A fresh importer of the same file with the same options and picked model (each reading starts clean)."""
        importer = Importer(self.path, self.text, self.tree, self.model_args, self.settings)
        importer.scan_module()
        importer.trained = self.trained   # its places are nodes of the one syntax tree
        return importer

    # -- diagnostics ------------------------------------------------------------------------
    def where(self, node) -> Location:
        return location(self.path, node)

    def exec(self, stmt: ast.stmt, scope: dict) -> None:
        """Statements that only initialise weights or log, outside forward, are recognised and left out: the
        weights come from the checkpoint (a note says so)."""
        if self.builder is None and self.reads_one_bias(stmt, scope):
            return
        if self.builder is None and _initialises_weights(stmt, scope.get("__class__")):
            if _freezes(stmt):   # not the generated one-bias loop: training would differ, so not a mere note
                if stmt not in self.left_out:
                    self.left_out.add(stmt)
                    self.problem("freeze-ignored", f"'{describe(stmt).splitlines()[0]}' freezes parameters at "
                                                   "construction; the pivot trains them all (left out)",
                                 self.where(stmt), warning)
                return
            if stmt not in self.left_out:   # once, however many instances run it
                self.left_out.add(stmt)
                what = describe(stmt).splitlines()[0]
                self.problem("weight-init-ignored", f"'{what}' only initialises weights or logs at construction; "
                                                    "left out (the weights come from the checkpoint)",
                             self.where(stmt), _note)
            return
        super().exec(stmt, scope)

    def reads_one_bias(self, stmt: ast.stmt, scope: dict) -> bool:
        """The loop the PyTorch generator writes after a recurrent layer that trains one bias (Keras's): bias_hh
        zeroed and frozen. Matched in exactly that form, on a layer that has oneBias; it sets oneBias."""
        module = _one_bias_module(stmt)
        if module is None:
            return False
        layer = self.eval(module, scope)
        if not isinstance(layer, Layer) or layer.kind.eclass.findEStructuralFeature("oneBias") is None \
                or layer.attrs.get("bias") is False:
            return False
        layer.attrs["oneBias"] = True
        return True

    def problem(self, code: str, message: str, where: Location | None, severity=error) -> None:
        self.report.diagnostics.append(severity(code, message, where))

    def refuse(self, code: str, message: str, node) -> Refused:
        return Refused(error(code, message, self.where(node)))

    def record(self, builder: GraphBuilder, node, keyword: str, where, notes, source_path) -> None:
        graph = "" if builder.graph is self.model else builder.graph.name
        self.report.add(node.name, keyword, where, "; ".join(notes), exact=not notes, graph=graph)
        if source_path is not None:
            key = node.name if builder.graph is self.model else f"{graph}:{node.name}"
            self.report.state_dict_prefixes[key] = source_path

    # -- module level ---------------------------------------------------------------------------
    def scan_module(self, tree: ast.Module | None = None) -> None:
        for stmt in (tree or self.tree).body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self.exec(stmt, self.globals)   # modules of the project are read here (never run)
            elif isinstance(stmt, ast.ClassDef):
                self.define_class(stmt, self.globals)
            elif isinstance(stmt, ast.FunctionDef):
                self.functions[stmt.name] = stmt
                self.globals[stmt.name] = Function(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                try:
                    value = self.eval(stmt.value, self.globals)
                except Refused as refused:   # module-level code that is not the model: reported only if used
                    named = len(targets) == 1 and isinstance(targets[0], ast.Name)
                    if not named:
                        value = UNKNOWN
                    elif self.makes_modules(stmt.value):   # a network built from a value from data: it is the cause
                        value = UNKNOWN
                        if refused.diagnostic is not None and refused.diagnostic.code == "free-value":
                            self.free_causes[targets[0].id] = refused.diagnostic
                    else:   # a plain value the script computes from data: --set gives it
                        value = self.free_value(targets[0].id, describe(stmt.value), stmt.value)
                for target in targets:
                    try:
                        self.bind(target, value, self.globals)
                    except Refused:
                        pass
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
                    isinstance(stmt.value.func, ast.Attribute) and isinstance(stmt.value.func.value, ast.Name) and \
                    isinstance(self.globals.get(stmt.value.func.value.id), ArgParser):
                try:   # parser.add_argument(...): the options the script's argparse namespace holds
                    self.eval(stmt.value, self.globals)
                except Refused:
                    pass

    # -- modules of the project (sibling files) ------------------------------------------------------------
    def new_module_state(self, tree: ast.Module) -> dict:
        return {"imports": ImportTable(tree), "classes": {}, "functions": {}}

    def module_state(self) -> dict:
        return {"imports": self.imports, "classes": self.classes, "functions": self.functions}

    def set_module_state(self, state: dict) -> None:
        self.imports, self.classes, self.functions = state["imports"], state["classes"], state["functions"]

    def load_definitions(self, tree: ast.Module) -> None:
        self.read_stdlib_imports(tree)
        self.scan_module(tree)

    def bind_import(self, name: str, value, scope: dict) -> None:
        super().bind_import(name, value, scope)
        if isinstance(value, ClassInfo) and scope is self.globals:   # a base, or the model the script trains
            self.classes[name] = value
            if self.module is self.main_module:
                self.imported_classes.add(name)

    def makes_modules(self, expr: ast.AST) -> bool:
        """Whether an expression calls torch or a module class of the file (it builds layers, not a number)."""
        for node in ast.walk(expr):
            if isinstance(node, ast.Call):
                qualified = self.imports.qualified(node.func) or ""
                called = self.classes.get(getattr(node.func, "id", None))
                if qualified.startswith("torch") or (called is not None and _is_module(called)):
                    return True
        return False

    def candidates(self) -> dict[str, tuple[str, ast.AST]]:
        """Network definitions: nn.Module classes, module-level Sequential variables and the builder functions
        the script trains the result of (``model = ConvMixer(**HPARAMS)`` returning an nn.Sequential)."""
        found = {name: ("class", info.node) for name, info in self.classes.items() if _is_module(info)}
        for site in trained_sites(self.tree):
            function = self.functions.get(site.callee)
            if function is not None and any(isinstance(n, ast.Return) and n.value is not None and
                                            self.makes_modules(n.value) for n in ast.walk(function)):
                found[function.name] = ("function", function)
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name) and isinstance(self.globals.get(target.id), Container) \
                            and self.globals[target.id].spelling == "nn.Sequential":
                        found[target.id] = ("variable", stmt)
        return found

    def pick(self, model_name: str | None) -> tuple[str, str]:
        found = self.candidates()
        self.report.candidates = sorted(found)
        file_location = Location(self.path)
        if model_name in self.free_causes:   # the network is built from a value from data
            raise NNPivotError([self.free_causes[model_name]])
        if not found:
            raise NNPivotError([*{str(d): d for d in self.free_causes.values()}.values(), error(
                "no-model-found", "no nn.Module subclass or module-level nn.Sequential in this file", file_location)])
        trained = self.trained_candidates(found)
        if model_name is not None:
            if model_name not in found:
                raise NNPivotError([error("no-model-found", f"no network called '{model_name}' here; found: "
                                                            f"{', '.join(sorted(found))}", file_location)])
            self.trained = trained.get(model_name)
            return model_name, found[model_name][0]
        if len(trained) == 1:   # the one the script trains
            name = next(iter(trained))
            self.trained = trained[name]
            return name, found[name][0]
        kept = [name for name, site in trained.items() if site.variable in saved_state_dicts(site.scope)]
        if len(trained) > 1 and len(kept) == 1:   # a GAN trains two networks and keeps the generator
            self.trained = trained[kept[0]]
            self.problem("model-picked", f"the script trains {', '.join(sorted(trained))} and saves the weights "
                                         f"of {kept[0]} only: {kept[0]} is the model (choose another with --model)",
                         self.where(self.trained.use), _note)
            return kept[0], found[kept[0]][0]
        if len(trained) > 1:
            raise NNPivotError([error("ambiguous-model", "the script trains several networks: " + ", ".join(
                f"{name} ({site.how} at {self.where(site.use)})" for name, site in trained.items()) +
                "; choose one with --model NAME", self.where(trained[sorted(trained)[1]].use))])
        used = set()
        for name, (_, node) in found.items():
            used |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id != name}
            for func in self._functions_called(node):
                used |= {n.id for n in ast.walk(func) if isinstance(n, ast.Name)}
        top = [name for name in found if name not in used and not self._is_loss(name)
               and name not in self.imported_classes]   # an imported block is the model only if trained
        if len(top) != 1:
            names = top or sorted(found)
            raise NNPivotError([error("ambiguous-model", f"several networks could be the model: {', '.join(names)} "
                                      f"(at {', '.join(str(self.where(found[n][1])) for n in names)}); "
                                      "choose one with --model NAME", file_location)])
        return top[0], found[top[0]][0]

    def trained_candidates(self, found: dict) -> dict[str, TrainedSite]:
        """The networks the script trains (compiles, fits, optimizes, trains in a loop), by candidate name."""
        trained = {}
        for site in trained_sites(self.tree):
            name = site.callee if site.callee in found and found[site.callee][0] in ("class", "function") else \
                site.variable if site.scope is self.tree and found.get(site.variable, ("",))[0] == "variable" \
                else None
            if name is not None and not self._is_loss(name):
                trained.setdefault(name, site)
        return trained

    def _is_loss(self, name: str) -> bool:
        """A loss module: named so, or a subclass of a torch loss; never the network."""
        info = self.classes.get(name)
        return info is not None and (name.endswith("Loss") or any(
            isinstance(b, str) and b.rsplit(".", 1)[-1].endswith("Loss") for b in info.bases))

    def site_arguments(self, info: ClassInfo | ast.FunctionDef) -> tuple[list, dict]:
        """The constructor (or builder function) arguments the script passes where it builds the network it
        trains, evaluated statically; values from data are free (``--set``)."""
        site = self.trained
        if site is None or site.call is None or site.callee != info.name or self.model_args:
            return [], dict(self.model_args)   # --model-args are the constructor's arguments, replacing the script's
        at_module = site.scope is self.tree
        scope = self.globals if at_module else {}
        if not at_module:
            for arg in site.scope.args.posonlyargs + site.scope.args.args + site.scope.args.kwonlyargs:
                scope[arg.arg] = self.free_value(arg.arg, f"a parameter of {site.scope.name}()", arg)
        statements, _ = statements_before(site.scope.body, site.binding)
        for stmt in statements:
            if not (at_module and stmt in self.tree.body):   # module level is read already
                self.run_script_statement(stmt, scope)
        self.script_scopes[id(site.scope)] = scope   # the training settings read argparse values from it too
        params = _builder_params(info)
        args, kwargs = [], {}
        for arg in site.call.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.spread(self.script_value("*", arg.value, scope), arg))
            else:
                name = params[len(args)] if len(args) < len(params) else f"arg{len(args)}"
                args.append(self.script_value(name, arg, scope))
        for keyword in site.call.keywords:
            if keyword.arg is None:   # **config
                kwargs.update(self.spread_keywords(self.script_value("**", keyword.value, scope), keyword))
            else:
                kwargs[keyword.arg] = self.script_value(keyword.arg, keyword.value, scope)
        return args, kwargs

    def arguments_by_name(self, info: ClassInfo | ast.FunctionDef, args: list, kwargs: dict) -> dict | None:
        """The constructor arguments the script passes, by parameter, as plain values; None when the script
        does not build the model or passes something a run cannot rebuild."""
        if self.trained is None or self.trained.callee != info.name or self.model_args:
            return None
        params = _builder_params(info)
        if len(args) > len(params):
            return None
        named = {**dict(zip(params, args)), **kwargs}
        plain = {k: as_argument(v, lambda o: isinstance(o, Object)) for k, v in named.items()}
        return None if any(plain[k] is None and named[k] is not None for k in named) else plain

    def script_value(self, name: str, expr: ast.AST, scope: dict):
        """An argument the script computes: its value, or a free value named ``name`` (or by the variable)."""
        try:
            value = self.eval(expr, scope)
        except Refused:
            return self.free_value(name, describe(expr), expr)
        if isinstance(value, Free) and name in self.settings:
            return self.settings[name]
        return value

    def run_script_statement(self, stmt: ast.stmt, scope: dict) -> None:
        """A statement of the script around the model (data loading, argparse): evaluated where it can be;
        the names it binds are free where it cannot."""
        simple = isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Import, ast.ImportFrom,
                                   ast.FunctionDef, ast.ClassDef, ast.Pass))
        if simple:
            reported = len(self.report.diagnostics)
            try:
                self.exec(stmt, scope)
                # a helper whose statements failed (open(path) in read_data()) went on without them: what it
                # returned is not what the script computes (counts of empty dicts), so its targets are free
                if not has_errors(self.report.diagnostics[reported:]):
                    return
            except Refused:
                pass
            del self.report.diagnostics[reported:]   # script code is not the model: nothing of it is reported
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else stmt
        for target in target_names(stmt):
            for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                scope[name] = self.free_value(name, describe(value).splitlines()[0], value)

    def built_by_function(self, name: str):
        """The network a builder function returns, called with the arguments the script passes it (or
        ``--model-args``); a module it returns, never a plain value."""
        function = self.functions[name]
        args, kwargs = self.site_arguments(function)
        self.report.model_arguments = self.arguments_by_name(function, args, kwargs)
        try:
            root = self.call_function(function, args, kwargs, function)
        except Refused as refused:
            raise NNPivotError([*[d for d in self.report.diagnostics if d.code == "free-value"],
                                refused.diagnostic or error("dynamic-value", f"{name}() cannot be evaluated",
                                                            self.where(function))]) from None
        if not isinstance(root, (Layer, Container, Instance)):
            raise NNPivotError([error("no-model-found", f"{name}() does not return a network", self.where(function))])
        return root

    def _functions_called(self, node) -> list[ast.FunctionDef]:
        return [self.functions[n.func.id] for n in ast.walk(node)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.functions]

    # -- building the model ---------------------------------------------------------------------
    def build(self, name: str, how: str, input_shapes) -> Any:
        self.report.model, self.report.model_kind = name, how
        self.model = Model(name=name)
        if how == "class":
            info = self.classes[name]
            self.model.description = (ast.get_docstring(info.node) or "").strip() or None
            args, kwargs = self.site_arguments(info)
            self.report.model_arguments = self.arguments_by_name(info, args, kwargs)
            root = self.instantiate(info, args, kwargs, info.node)
            forward = info.method("forward")
            if forward is None:
                raise NNPivotError([error("unsupported-construct", f"class {name} has no forward method",
                                          self.where(info.node))])
            params = self.forward_params(forward[0])
            where = self.where(forward[0])
            body = forward[0]
        else:
            root = self.built_by_function(name) if how == "function" else self.globals[name]
            params = ["x"]
            where = Location(self.path)
            body = None
        try:
            shapes = self.shapes_for(params, input_shapes, name, where, root, body)
        except NNPivotError as exc:   # the values the script computes from data come first: they are the cause
            free = [d for d in self.report.diagnostics if d.code == "free-value"]
            raise NNPivotError(free + exc.diagnostics) from None
        self.builder = GraphBuilder(self.model, root, self)
        inputs = [self.builder.add_input(p, shapes[p]) for p in params]
        if how == "class":
            result = self.run_forward(root, inputs, {}, self.model.name)
        else:
            result = self.call_module(root, inputs, {}, None)
        self.set_outputs(self.builder, result)
        ranks = [len(self.builder.shapes.get(out, [()])[0] or ()) for out in self.model.outputs]
        self.report.output_layouts = [tuple(range(rank)) for rank in ranks]  # PyTorch's layout is the pivot's
        for block_list in self.blocks.values():
            for _, block in block_list:
                self.model.blocks.append(block)
        return self.model

    def forward_params(self, func: ast.FunctionDef) -> list[str]:
        args = func.args
        if args.vararg or args.kwarg or args.kwonlyargs:
            raise NNPivotError([error("unsupported-construct", "forward with *args, **kwargs or keyword-only "
                                                               "arguments", self.where(func))])
        positional = [a.arg for a in args.posonlyargs + args.args][1:]
        return positional[:len(positional) - len(args.defaults)] if args.defaults else positional

    def shapes_for(self, params: list[str], input_shapes, name: str, where: Location, root=None, body=None) -> dict:
        """Each forward argument's shape (-1 for a size left to run time): given, or what the layer that
        first reads the argument fixes (its channels, features or token ids); ``missing-input-shape`` at
        ``forward`` when neither says."""
        given = input_shapes or {}
        if not isinstance(given, dict):
            given = list(given)
            if given and (_is_int(given[0]) or given[0] is None):
                given = [given]
            given = dict(zip(params, given))
        shapes = {}
        for param in params:
            if param in given:
                shapes[param] = tuple(-1 if d is None else d for d in given[param])
                continue
            options = _templates_for(*_consumer_layer(self, root, param, body))
            self.template_options[param] = len(options)
            if options:
                shapes[param] = options[min(self.template_choice.get(param, 0), len(options) - 1)]
        missing = [p for p in params if p not in shapes]
        if missing:
            raise NNPivotError([error("missing-input-shape",
                                      f"{name}: the input shape of forward argument{'s' if len(missing) > 1 else ''} "
                                      f"{', '.join(repr(m) for m in missing)} is not in the code (no layer reads it "
                                      f"directly); give it with --input-shape (without the batch axis, ? for a "
                                      f"size left to run time)", where)])
        self.report.input_shapes = shapes
        self.report.input_layouts = [tuple(range(len(shape) + 1)) for shape in shapes.values()]  # pivot = PyTorch
        return shapes

    def set_outputs(self, builder: GraphBuilder, result) -> None:
        for position, value in enumerate(_flatten(result)):
            if isinstance(value, Tensor):
                builder.graph.outputs.append(builder.operand(value))
            elif isinstance(value, Unknown):   # leaving it out would write a model computing something else
                what = "the model" if builder.graph is self.model else f"block {builder.graph.name.split('.')[0]}"
                self.dropped.append(error("output-not-translated", f"output {position} of {what} comes from code "
                                          "that could not be translated (above); no file is written rather than "
                                          "one without it", Location(self.path)))
            elif value is not UNKNOWN:
                self.problem("unsupported-construct", f"{builder.graph.name} returns {type(value).__name__}, not a "
                                                      "tensor", Location(self.path))

    # -- user classes -----------------------------------------------------------------------------
    def instantiate(self, info: ClassInfo, args: list, kwargs: dict, where_node) -> Instance:
        if not _is_module(info) and not any(isinstance(b, str) for b in info.bases):
            return super().instantiate(info, args, kwargs, where_node)   # a plain class: a config object
        if not _is_module(info):
            raise self.refuse("unsupported-construct", f"class {info.name} is not an nn.Module", where_node)
        generated = GENERATED_MODULES.get(info.name)
        if generated is not None and ast.dump(info.node) == generated[0]:
            # a module nnpivot's PyTorch code holds for a kind torch lacks: that kind
            return self.make_layer(KINDS[generated[1]], info.name, args, {**kwargs, **generated[2]}, where_node)
        instance = Instance(info, ", ".join(map(repr, args)))
        instance.constructor = (list(args), dict(kwargs))
        init = info.method("__init__")
        if init is not None:
            self.call_function(init[0], [instance, *args], kwargs, where_node, cls=init[1])
        return instance

    def run_forward(self, instance: Instance, args: list, kwargs: dict, label: str):
        forward = instance.cls.method("forward")
        if forward is None:
            raise self.refuse("unsupported-construct", f"{instance.cls.name} has no forward method", instance.cls.node)
        return self.call_function(forward[0], [instance, *args], kwargs, forward[0], cls=forward[1])

    def call_instance(self, instance: Instance, args: list, kwargs: dict, node):
        """A helper module called in forward: a block call when it takes tensors (each alone, or a flat tuple of
        them: what a recurrent layer returns, handed on whole), with weights or not, so the source's class stays
        a class; else inlined."""
        tensors = [a for a in args if isinstance(a, Tensor) or _tensor_tuple(a)]
        if not kwargs and tensors and (len(tensors) == len(args) or _per_call_numbers(instance, args)):
            return self.block_call(instance, args, node)
        label = f"{instance.cls.name} (called with non-tensors)"
        if label not in self.report.inlined:
            self.report.inlined.append(label)
        return self.run_forward(instance, args, kwargs, instance.cls.name)

    def block_call(self, instance: Instance, args: list, node):
        outer = self.builder
        operands = [t for a in args for t in (a if isinstance(a, tuple) else (a,) if isinstance(a, Tensor) else ())]
        numbers = [a for a in args if not isinstance(a, (Tensor, tuple))]
        shapes = [outer.shape(a) for a in operands]
        if instance.first_call is not None:
            first, first_shapes = instance.first_call
            if first.eContainer() is outer.graph and first_shapes == shapes and instance.first_numbers == numbers:
                # the same module called again on alike inputs: the same block, its weights shared
                return self.add_call(instance, first.block, operands, outer.shapes[first], node, weights_of=first,
                                     numbers=numbers)
        self.building += 1
        block = Block(name=f"{instance.cls.name}.building{self.building}")
        inner = GraphBuilder(block, instance, self)
        found = instance.cls.method("forward")
        if found is None:
            raise self.refuse("unsupported-construct", f"{instance.cls.name} is called but defines no forward "
                                                       "method", node)
        forward = found[0]
        params = [a.arg for a in forward.args.posonlyargs + forward.args.args][1:]
        if len(params) < len(args):
            raise self.refuse("unsupported-construct", f"{instance.cls.name}.forward takes {len(params)} inputs, "
                                                       f"called with {len(args)}", node)
        inputs = []
        for param, arg in zip(params, args):
            if isinstance(arg, tuple):   # one argument holding several tensors: an input each, packed as given
                names = _unpacked_names(forward, param, len(arg))
                items = tuple(inner.add_input(name, None) for name in names)
                for item, given in zip(items, arg):
                    inner.shapes[item.node] = [outer.shape(given)]
                block.packs.append(PackedInput(name=param, items=[item.node for item in items]))
                inputs.append(items)
                continue
            if not isinstance(arg, Tensor):   # a number forward takes beside the tensors (_per_call_numbers)
                parameter = BlockParameter(name=param, type=eenum("ParameterType").getEEnumLiteral("int"),
                                           perCall=True)
                block.parameters.append(parameter)
                inputs.append(CallValue(arg, parameter))
                continue
            value = inner.add_input(param, None)
            inner.shapes[value.node] = [outer.shape(arg)]
            inputs.append(value)
        mark = len(self.report.entries)
        self.builder = inner
        try:
            result = self.run_forward(instance, inputs, {}, block.name)
            self.set_outputs(inner, result)
        finally:
            self.builder = outer
        if not block.outputs:
            raise Refused()
        out_shapes = [inner.shapes.get(o, [None])[0] for o in block.outputs]
        block = self.register_block(instance.cls.name, block, shapes, mark)
        return self.add_call(instance, block, operands, out_shapes, node, numbers=numbers)

    def add_call(self, instance: Instance, block, args: list[Tensor], out_shapes: list, node, weights_of=None,
                 numbers: list = ()):
        """The BlockCall node of ``instance`` called on ``args`` (sharing the weights of ``weights_of``), giving
        its per-call parameters ``numbers``."""
        outer = self.builder
        name = self.layer_name(instance, outer) or outer.unique(instance.label)
        call = BlockCall(name=name, block=block, weightsOf=weights_of)
        call.inputs.extend([outer.operand(a) for a in args])
        for parameter, number in zip(block.parameters, numbers):
            call.arguments.append(Argument(parameter=parameter, value=_expression_of(number)))
        set_location(call, self.where(node))
        outer.graph.nodes.append(call)
        self.node_choices[call] = tuple(self.choices[outer.choice_base:])
        outer.shapes[call] = out_shapes
        if instance.first_call is None:
            instance.first_call = (call, [outer.shape(a) for a in args])
            instance.first_numbers = list(numbers)
        self.block_uses.append((call, instance))
        self.record(outer, call, f"block {block.name}", self.where(node), [], self.source_path(instance, outer))
        if len(block.outputs) == 1:
            return Tensor(call)
        return tuple(Tensor(call, i) for i in range(len(block.outputs)))

    def register_block(self, class_name: str, block, shapes: list, mark: int):
        """The block for this structure: an equal one built before, or this one under a fresh name."""
        temporary = block.name
        signature = (_signature(block), tuple(shapes))
        entries = self.blocks.setdefault(class_name, [])
        for existing_signature, existing in entries:
            if existing_signature == signature:
                self.rename_entries(mark, temporary, None)
                return existing
        taken = {b.name for blocks in self.blocks.values() for _, b in blocks} | (set(self.classes) - {class_name})
        name, n = class_name, 1
        while name in taken:
            n += 1
            name = f"{class_name}{n}"
        self.rename_entries(mark, temporary, name)
        block.name = name
        entries.append((signature, block))
        self.report.blocks.append(name)
        return block

    def rename_entries(self, mark: int, old: str, new: str | None) -> None:
        """Report entries of a block built under a temporary name: renamed, or dropped (None) for a duplicate."""
        kept = []
        for entry in self.report.entries[mark:]:
            if entry.graph == old:
                if new is None:
                    continue
                entry.graph = new
            kept.append(entry)
        self.report.entries[mark:] = kept
        prefixes = self.report.state_dict_prefixes
        for key in [k for k in prefixes if k.startswith(f"{old}:")]:
            path = prefixes.pop(key)
            if new is not None:
                prefixes[f"{new}:{key[len(old) + 1:]}"] = path

    # -- names ----------------------------------------------------------------------------------------
    def module_path(self, module: Module, root) -> str | None:
        parts, current = [], module
        while current is not None and current is not root:
            parts.append(current.path)
            current = current.owner
        if current is None or not parts:
            return None
        return ".".join(reversed(parts))

    def layer_name(self, module: Module, builder: GraphBuilder) -> str | None:
        path = self.module_path(module, builder.root)
        if path is None:
            return None
        base = path.replace(".", "_")
        if base[0].isdigit():
            base = f"{module.label}_{base}"
        return builder.unique(base)

    def source_path(self, module: Module, builder: GraphBuilder) -> str | None:
        return self.module_path(module, builder.root)

    def op_name(self, keyword: str, node: ast.AST | None) -> str:
        builder = self.builder
        if node is not None and node is self.statement_value and builder.free(self.statement_target):
            return builder.unique(self.statement_target)
        return builder.unique(keyword)

    # -- calling modules ------------------------------------------------------------------------------
    def call_module(self, module, args: list, kwargs: dict, node):
        if isinstance(module, Layer):
            return self.call_layer(module, args, kwargs, node)
        if isinstance(module, Container):
            if module.spelling != "nn.Sequential":
                raise self.refuse("unsupported-construct", f"an {module.spelling} is not callable", node)
            if len(args) != 1 or kwargs:
                raise self.refuse("unsupported-construct", "nn.Sequential takes one input", node)
            value = args[0]
            for item in module.modules():
                value = self.call_module(item, [value], {}, node)
            return value
        if isinstance(module, Instance):
            return self.call_instance(module, args, kwargs, node)
        raise self.refuse("unsupported-construct", f"cannot call {describe(node) if node else module}", node)

    def call_same_padded(self, args: list, kwargs: dict, node):
        """``same_padded(self.layer, x, ...)``, the generated helper of run-time TensorFlow 'same' padding: the
        layer's call with padding 'same' (the pads the helper computes from the size of ``x``)."""
        names = ("layer", "x", "mode", "value")
        bound = dict(zip(names, args)) | kwargs
        layer, mode = bound.get("layer"), bound.get("mode", "constant")
        if not isinstance(layer, Layer) or layer.kind.attribute("pads") is None or set(bound) - set(names) \
                or mode not in PAD_MODES or "x" not in bound:
            raise self.refuse("unsupported-construct", f"{SAME_PADDED}() is read only as the generated helper's "
                                                       "call on a convolution or pooling layer and a tensor", node)
        padding = {"padding": "same", "pads": []}
        if mode != "constant":
            padding["paddingMode"] = PAD_MODES[mode]
        return self.call_layer(layer, [bound["x"]], {}, node, padding)

    def call_layer(self, layer: Layer, args: list, kwargs: dict, node, padding: dict | None = None):
        keyword = layer.kind.keyword
        tensors = [a for a in args if not isinstance(a, Zeros)]
        if any(isinstance(a, tuple) and all(isinstance(z, Zeros) for z in a) for a in tensors):
            tensors = [a for a in tensors if not isinstance(a, tuple)]   # (h0, c0) zero initial states
        for key in kwargs:
            if key != "need_weights":
                raise self.refuse("unsupported-construct", f"{keyword} called with {key}=", node)
        pairs = layer.kind.eclass_name in ("LSTMCell", "LSTM")   # called with (h, c)
        if not tensors or not all(isinstance(t, Tensor) or pairs and isinstance(t, tuple) for t in tensors):
            raise self.refuse("unsupported-construct", f"{keyword} called with {len(args)} argument(s) that are not "
                                                       "all tensors", node)
        if layer.kind.eclass_name == "MultiHeadAttention":
            tensors = _attention_operands(tensors)
        elif pairs and len(tensors) == 2 and isinstance(tensors[1], tuple) and \
                len(tensors[1]) == 2 and all(isinstance(t, Tensor) for t in tensors[1]):
            tensors = [tensors[0], *tensors[1]]   # cell(x, (h, c)), lstm(x, (h0, c0))
        elif layer.kind.eclass_name in ("GRUCell", "GRU", "SimpleRNN") and len(tensors) == 2 and \
                isinstance(tensors[1], Tensor):
            pass   # cell(x, h), gru(x, h0)
        elif len(tensors) > 1:
            raise self.refuse("unsupported-construct", f"{keyword} called with {len(tensors)} inputs", node)
        layer.calls += 1
        notes = list(layer.notes)
        owner = layer.first_node if layer.kind.mappings[SOURCE].parameters is not None else None
        if owner is not None and owner.eContainer() is not self.builder.graph:
            # first called in another graph (a block and the model): the pivot cannot point across graphs
            notes.append("the source calls this layer again with the same weights; the pivot gives this call "
                         "weights of its own")
            self.problem("shared-weights", f"{keyword} layer called in two graphs (a block and its caller) shares "
                                           "its weights in the source; the pivot has one copy per graph",
                         self.where(node), warning)
            owner = None
        name = self.layer_name(layer, self.builder) or self.op_name(keyword, node)
        if padding is None:
            tensors, padding = self.inline_zero_pad(layer, tensors, node)
        created = self.builder.add(layer.kind, name, tensors, {**layer.attrs, **padding}, layer.where, notes,
                                   self.source_path(layer, self.builder), weights_of=owner)
        if layer.first_node is None:
            layer.first_node = created
        return self.builder.tensors(created)

    def inline_zero_pad(self, layer: Layer, tensors: list, node) -> tuple[list, dict]:
        """``conv(F.pad(x, pads))``, a constant zero pad written inside the call of an unpadded convolution: the
        convolution's explicit padding (asymmetric pads, which torch convolutions cannot state). The pad, read by
        nothing else, is no node of its own."""
        graph = self.builder.graph
        pad = tensors[0].node if len(tensors) == 1 else None
        if (layer.kind.attribute("pads") is None or "padding" in layer.attrs or "paddingMode" in layer.attrs
                or not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Call)
                or pad is None or tensors[0].index or not is_kind(pad, "Pad") or graph.nodes[-1] is not pad
                or pad.mode.name != "constant" or pad.value or len(pad.pads) != 2 * layer.kind.spatial_dims):
            return tensors, {}
        graph.nodes.pop()  # the pad is the last node: pop is O(1) where remove rebuilds the ordered set's index
        if self.report.entries and self.report.entries[-1].node == pad.name:
            self.report.entries.pop()
        return [Tensor(pad.inputs[0])], {"padding": "explicit", "pads": list(pad.pads)}

    # -- the interpreter's hooks: what PyTorch values do in Python code ---------------------------------------
    def call_function(self, func, args: list, kwargs: dict, node, cls: ClassInfo | None = None):
        if isinstance(func, ast.AST):
            func = Function(func)
        if func.name == SAME_PADDED and cls is None and ast.dump(func.node) == SAME_PADDED_TREE:
            return self.call_same_padded(args, kwargs, node)
        return super().call_function(func, args, kwargs, node, cls=cls)

    def unexpected_keyword(self, func, key: str, node) -> bool:
        if key in self.model_args and getattr(func, "name", None) == "__init__":
            return True   # a --model-args value the constructor does not take
        return super().unexpected_keyword(func, key, node)

    def missing_argument(self, func, param, node):
        name = getattr(func, "name", "<lambda>")
        if param.arg in self.settings:
            return self.settings[param.arg]
        if param in func.args.kwonlyargs:
            return self.fail("dynamic-value", f"{name}() needs '{param.arg}'", node)
        return self.fail("dynamic-value", f"{name}() needs a value for '{param.arg}' (give it with --model-args)",
                         node)

    def assigned_name(self, stmt: ast.Assign) -> str | None:
        single = stmt.targets[0] if len(stmt.targets) == 1 else None
        if isinstance(single, (ast.Tuple, ast.List)) and single.elts:
            single = single.elts[0]   # a, b = torch.split(...): the node is named after its first output
        return single.id if isinstance(single, ast.Name) else None

    def restore(self, outer) -> None:
        # After a statement, no name is pending: an operation computed after a call of a helper (whose
        # statements ran in between) keeps its kind's name, as the generated code and golden files expect.
        self.statement_target = self.statement_targets = self.statement_value = None

    def exec_body(self, body: list[ast.stmt], scope: dict) -> None:
        for stmt in body:
            try:
                self.exec(stmt, scope)
            except Refused as refused:
                if refused.diagnostic is not None and str(refused.diagnostic) not in map(str, self.report.diagnostics):
                    self.report.diagnostics.append(refused.diagnostic)
                if isinstance(stmt, ast.Return):   # the function's value is unknown, not None: never dropped
                    raise ReturnValue(UNKNOWN) from None
                for target in target_names(stmt):
                    try:
                        self.bind(target, UNKNOWN, scope)
                    except Refused:
                        pass

    def define_class(self, node: ast.ClassDef, scope: dict) -> None:
        bases = []
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self.classes:
                bases.append(self.classes[base.id])
            else:
                bases.append(self.imports.qualified(base) or ast.unparse(base))
        is_module = any((isinstance(b, ClassInfo) and _is_module(b)) or
                        (isinstance(b, str) and _canonical(b) == MODULE_BASE) for b in bases)
        info = ClassInfo(node.name, node, bases, MODULE_ROLE if is_module else None)
        if scope is self.globals:
            self.classes[node.name] = info
        scope[node.name] = info

    def augment_in_place(self, current, stmt, scope) -> bool:
        if isinstance(current, Container) and isinstance(stmt.op, ast.Add):
            for item in self.iterate(self.eval(stmt.value, scope), stmt.value):
                self.container_add(current, item)
            return True
        return False

    def bind_name(self, name: str, value, scope: dict) -> None:
        if isinstance(value, Tensor) and value.index and value.hint is None:
            value = Tensor(value.node, value.index, name)
        scope[name] = value

    def set_attribute(self, owner, name: str, value, node) -> None:
        if not isinstance(owner, Instance):
            raise self.refuse("unsupported-construct", f"assignment to {describe(node)}", node)
        owner.attrs[name] = value
        owner.adopt(value, name)

    def set_item(self, owner, key, value, node) -> None:
        if isinstance(owner, Container):
            owner.items[key] = value
            owner.adopt(value, key)
        else:
            super().set_item(owner, key, value, node)

    def is_unknown(self, value) -> bool:
        return value is UNKNOWN or isinstance(value, Free)

    def unknown_used(self, value, node):
        raise Refused(value.diagnostic() if isinstance(value, Free) else None)

    def plain(self, value) -> bool:
        return not isinstance(value, (Tensor, BatchSize, Module, _DynamicSize))

    def comparable(self, value) -> bool:
        return not isinstance(value, (Tensor, BatchSize))

    def truth(self, value, node) -> bool:
        if isinstance(value, (Tensor, BatchSize, Unknown, Opaque)):
            if value is UNKNOWN:
                raise Refused()
            raise self.refuse("dynamic-value", f"the condition '{describe(node)}' depends on tensor values", node)
        if isinstance(value, Module):
            return True
        return bool(value)

    def sequence(self, value, node):
        if isinstance(value, Container):
            return value.modules() if not isinstance(value.items, dict) else list(value.items)
        return super().sequence(value, node)

    iterate = sequence

    def lookup_missing(self, name: str, node):
        if name in self.imports.names:
            return TorchRef(self.imports.names[name])
        return super().lookup_missing(name, node)

    def eval(self, node: ast.AST, scope: dict):
        value = super().eval(node, scope)
        if value is UNKNOWN and not isinstance(node, ast.Attribute):
            raise Refused()   # depends on code already reported
        return value

    def foreign_unary(self, op, value, node):
        if isinstance(value, Tensor):
            if isinstance(op, ast.USub):
                return self.make("mul", [value], {"scalar": -1.0}, node)
            if isinstance(op, ast.UAdd):
                return value
        return super().foreign_unary(op, value, node)

    def foreign_binary(self, op, left, right, node):
        if isinstance(op, ast.Mult) and (isinstance(left, BatchSize) and _is_int(right) or
                                         isinstance(right, BatchSize) and _is_int(left)):
            return BatchMultiple(right if isinstance(left, BatchSize) else left)
        if isinstance(left, BatchSize) or isinstance(right, BatchSize):
            raise self.refuse("dynamic-value", f"'{describe(node)}' computes with the batch size", node)
        if isinstance(op, ast.Add) and isinstance(right, LearnedTensor):
            return self.add_learned(right, left, node)
        if isinstance(op, ast.Add) and isinstance(left, LearnedTensor):
            return self.add_learned(left, right, node)
        tensor_left, tensor_right = isinstance(left, Tensor), isinstance(right, Tensor)
        if not tensor_left and not tensor_right:
            try:
                return BINARY[type(op)](left, right)
            except (TypeError, KeyError, ZeroDivisionError, ValueError) as exc:
                raise self.refuse("unsupported-construct", f"'{describe(node)}' ({exc})", node) from None
        if isinstance(op, ast.MatMult) and tensor_left and tensor_right:
            return self.make("matmul", [left, right], {}, node)
        keyword = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}.get(type(op))
        if keyword is None:
            raise self.refuse("unsupported-construct", f"the operator in '{describe(node)}' has no pivot kind", node)
        if tensor_left and tensor_right:
            return self.make(keyword, [left, right], {}, node)
        constant = right if tensor_left else left
        if not _number(constant):
            raise self.refuse("unsupported-construct", f"'{describe(node)}' mixes a tensor with "
                                                       f"{type(constant).__name__}", node)
        attrs = {"scalar": float(constant)} | ({} if tensor_left else {"scalarFirst": True})
        return self.make(keyword, [left if tensor_left else right], attrs, node)

    def attribute(self, owner, name: str, node):
        if isinstance(owner, TorchRef):
            return TorchRef(f"{owner.qualified}.{name}")
        if isinstance(owner, Instance):
            if name == "training" and name not in owner.attrs and not owner.cls.method(name):
                return False   # self.training: the pivot is the model at inference
            return self.instance_attribute(owner, name, node)
        if isinstance(owner, Tensor):
            if name in ("shape",):
                return self.sizes(owner, node)
            if name == "ndim":
                return len(self.tensor_shape(owner, node))
            if name == "T":
                raise self.refuse("unsupported-construct", "x.T (use permute)", node)
            if name == "device":
                return Plumbing("Tensor.device")
            return TensorMethod(owner, name)
        if isinstance(owner, Layer):
            if name in owner.torch_args:
                return owner.torch_args[name]
            raise self.refuse("unsupported-construct", f"{owner.kind.keyword} layer attribute '{name}'", node)
        if isinstance(owner, tuple) and name in ("values", "indices") and len(owner) == 2:
            return owner[0 if name == "values" else 1]
        if isinstance(owner, Container) and name in ("append", "extend", "add_module"):
            return PyMethod(owner, name)
        return super().attribute(owner, name, node)

    def subscript(self, owner, key, node):
        if isinstance(owner, Tensor):
            return self.tensor_index(owner, key, node)
        if isinstance(owner, Container):
            items = owner.items
            if isinstance(key, slice):
                return Container(owner.spelling, items[key])
            try:
                return items[key]
            except (KeyError, IndexError, TypeError):
                raise self.refuse("dynamic-value", f"'{describe(node)}' is not in the container", node) from None
        if isinstance(owner, (list, tuple, dict, str, range)) and isinstance(key, (Tensor, BatchSize)):
            raise self.refuse("dynamic-value", f"'{describe(node)}' indexes with a tensor", node)
        return super().subscript(owner, key, node)

    def make_super(self, scope, node):
        if not isinstance(scope.get("__self__"), Instance) or scope.get("__class__") is None:
            raise self.refuse("unsupported-construct", "super() outside a module method", node)
        return super().make_super(scope, node)

    def call(self, func, args: list, kwargs: dict, node):
        free = next((v for v in (func, *args, *kwargs.values()) if isinstance(v, Free)), None)
        if free is not None:
            raise Refused(free.diagnostic())   # the script computes it from data: --set gives it
        if func is UNKNOWN or any(a is UNKNOWN for a in args) or any(v is UNKNOWN for v in kwargs.values()):
            raise Refused()   # depends on code already reported
        if isinstance(func, (Layer, Container, Instance)):
            return self.call_module(func, args, kwargs, node)
        if isinstance(func, TorchRef):
            return self.call_torch(func, args, kwargs, node)
        if isinstance(func, TensorMethod):
            return self.call_tensor_method(func, args, kwargs, node)
        if isinstance(func, BoundMethod):
            if func.node.name == "forward":
                return self.call_instance(func.instance, args, kwargs, node)
            label = f"{func.cls.name}.{func.node.name}"
            if label not in self.report.inlined and func.node.name != "__init__":
                self.report.inlined.append(label)
        return super().call(func, args, kwargs, node)

    def call_py_method(self, method: PyMethod, args, kwargs, node):
        target = method.target
        if isinstance(target, Container):
            if method.name == "append":
                self.container_add(target, args[0])
            elif method.name == "extend":
                for item in self.iterate(args[0], node):
                    self.container_add(target, item)
            else:   # add_module(name, module)
                target.items[args[0]] = args[1] if isinstance(target.items, dict) else None
                target.adopt(args[1], args[0])
            return None
        if any(isinstance(a, (Tensor, Module)) for a in args) and not isinstance(target, list):
            raise self.refuse("unsupported-construct", f"'{describe(node)}'", node)
        if isinstance(target, list):   # lists hold tensors and modules
            try:
                return getattr(target, method.name)(*args, **kwargs)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
                raise self.refuse("dynamic-value", f"'{describe(node)}': {exc}", node) from None
        return super().call_py_method(method, args, kwargs, node)

    def builtin_arguments(self, name: str, args: list, node):
        if any(isinstance(a, (Tensor, BatchSize, _DynamicSize)) for a in args):
            return None
        return [a.modules() if isinstance(a, Container) and not isinstance(a.items, dict) else
                list(a.items) if isinstance(a, Container) else a for a in args]

    def container_add(self, container: Container, item) -> None:
        if isinstance(container.items, dict):
            raise Refused(error("unsupported-construct", "appending to an nn.ModuleDict", Location(self.path)))
        container.items.append(item)
        container.adopt(item, len(container.items) - 1)

    def call_torch(self, ref: TorchRef, args, kwargs, node):
        spelling = ref.spelling
        if spelling in CONTAINERS:
            return self.make_container(spelling, args, node)
        if spelling in COMPOSITES:
            return self.make_composite(spelling, args, kwargs, node)
        if spelling in CLASSES:
            return self.make_layer(CLASSES[spelling], spelling, args, kwargs, node)
        if spelling == "nn.Parameter":
            return self.make_learned(args, kwargs, node)
        if spelling in NEW_TENSORS and self.builder is None:
            sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
            if sizes and all(_is_int(d) and d > 0 for d in sizes) and set(kwargs) <= {"dtype", "requires_grad"}:
                return Filled(node, sizes) if spelling != "torch.zeros" else Zeros(node, sizes)
        if spelling == "torch.zeros" or spelling == "torch.zeros_like":
            return Zeros(node)
        if spelling in ("collections.OrderedDict",):
            return dict(args[0]) if args else {}
        if ref.qualified.startswith("math."):
            function = getattr(math, ref.qualified[5:], None)
            if callable(function) and all(_number(a) or isinstance(a, (list, tuple)) for a in args):
                return self.call_math(ref.qualified[5:], args, kwargs, node)
        if spelling in FUNCTIONS:
            tensor_args = args
            return self.functional(FUNCTIONS[spelling], spelling, tensor_args, kwargs, node)
        if spelling in STATIC_ANSWERS:
            return STATIC_ANSWERS[spelling]
        if spelling in PLUMBING:
            return Plumbing(spelling)
        if spelling.startswith("nn.") and spelling[3:4].isupper():
            raise self.refuse("unknown-layer", f"{spelling} has no pivot kind", node)
        raise self.refuse("unknown-function", f"{spelling}() has no pivot counterpart", node)

    def make_learned(self, args, kwargs, node):
        """``nn.Parameter(torch.zeros(...))``: a learned tensor of fixed sizes, trained (requires_grad)."""
        if len(args) != 1 or not isinstance(args[0], (Filled, Zeros)) or not args[0].sizes or kwargs.get("requires_grad", True) is not True \
                or set(kwargs) - {"requires_grad"}:
            raise self.refuse("unknown-layer", f"'{describe(node)}': a parameter is read only as "
                                               "nn.Parameter(torch.zeros/randn/empty(fixed sizes))", node)
        return LearnedTensor(args[0].sizes, self.where(node), [])

    def add_learned(self, learned: LearnedTensor, tensor, node):
        """``x + self.pos``: the add_learned node of ``learned`` on ``tensor``."""
        if not isinstance(tensor, Tensor):
            raise self.refuse("unsupported-construct", f"'{describe(node)}' adds a parameter to "
                                                       f"{type(tensor).__name__}", node)
        attrs = learned.attributes_for(len(self.tensor_shape(tensor, node)))
        if attrs is None or learned.attrs and attrs != learned.attrs:
            raise self.refuse("unsupported-construct", f"'{describe(node)}': a parameter of sizes "
                                                       f"{learned.sizes} added to a tensor of rank "
                                                       f"{len(self.tensor_shape(tensor, node))}", node)
        learned.attrs = attrs
        return self.call_layer(learned, [tensor], {}, node)

    def call_tensor_method(self, method: TensorMethod, args, kwargs, node):
        name, tensor = method.name, method.tensor
        spelling = f"Tensor.{name}"
        if spelling in PASSTHROUGH:
            return tensor
        if spelling in CAST_METHODS:
            return self.cast(tensor, CAST_METHODS[spelling], node)
        if spelling in ("Tensor.to", "Tensor.type"):
            dtypes = [DTYPES.get(a.spelling) for a in [*args, *kwargs.values()] if isinstance(a, TorchRef)]
            if any(d is None for d in dtypes) or not all(isinstance(a, (TorchRef, Plumbing, Tensor, str, bool))
                                                         for a in [*args, *kwargs.values()]):
                raise self.refuse("unsupported-construct", f"'{describe(node)}' is not a device or dtype change", node)
            return self.cast(tensor, dtypes[0], node) if dtypes else tensor
        if name == "size":
            sizes = self.sizes(tensor, node)
            if args and not (_is_int(args[0]) and -len(sizes) <= args[0] < len(sizes)):
                raise self.refuse("bad-value", f"'{describe(node)}': no dimension {args[0]!r} in a tensor of rank "
                                               f"{len(sizes)}", node)
            return sizes if not args else sizes[args[0]]
        if name == "dim":
            return len(self.tensor_shape(tensor, node))
        if name in ("new_zeros",):
            return Zeros(node)
        if spelling in FUNCTIONS:
            return self.functional(FUNCTIONS[spelling], spelling, [tensor, *args], kwargs, node)
        raise self.refuse("unknown-function", f"tensor method .{name}() has no pivot counterpart", node)

    def isinstance_of(self, args: list, node):
        """``isinstance(x, torch.Tensor)`` on a tensor is True; on a tensor, every other class is False."""
        if len(args) == 2 and isinstance(args[0], Tensor):
            classes = args[1] if isinstance(args[1], tuple) else (args[1],)
            return any(isinstance(c, TorchRef) and c.spelling in TENSOR_CLASSES for c in classes)
        return super().isinstance_of(args, node)

    def cast(self, tensor: Tensor, dtype: str, node):
        """A cast that changes nothing: to float32 (what the pivot computes in), or an input cast to integer
        ids (the input then holds them)."""
        source = tensor.node
        if source.eClass.name == "Input" and dtype in ("int64", "int32"):
            source.dtype = source.dtype.eEnum.getEEnumLiteral(dtype)
            return tensor
        if dtype == "float32" and not (source.eClass.name == "Input" and source.dtype.name != "float32"):
            return tensor
        raise self.refuse("unsupported-construct", f"'{describe(node)}' casts to {dtype}, and the pivot has no "
                                                   "cast kind (only casts that change nothing are read)", node)

    def make_composite(self, spelling: str, args, kwargs, node):
        """A torch module that is a composition of pivot kinds (``COMPOSITES_SOURCE``), built as a helper."""
        if spelling == "nn.TransformerEncoderLayer":
            batch_first = kwargs.get("batch_first", args[6] if len(args) > 6 else False)
            activation = kwargs.get("activation", args[4] if len(args) > 4 else "relu")
            if batch_first is not True:
                raise self.refuse("unsupported-construct", f"{spelling} without batch_first=True takes (T, N, E) "
                                  "sequences; the pivot's are batch-major", node)
            if activation not in ("relu", "gelu"):
                raise self.refuse("unsupported-construct", f"{spelling} with activation={activation!r} (only "
                                  "'relu' and 'gelu' are read)", node)
        if f"{COMPOSITE_PREFIX}{COMPOSITES[spelling]}" not in self.globals:
            self.globals.update({f"{COMPOSITE_PREFIX}nn": TorchRef("torch.nn"),
                                 f"{COMPOSITE_PREFIX}F": TorchRef("torch.nn.functional")})
            for definition in ast.parse(COMPOSITES_SOURCE).body:
                self.globals[f"{COMPOSITE_PREFIX}{definition.name}"] = ClassInfo(
                    definition.name, definition, ["torch.nn.Module"], MODULE_ROLE)
        return self.instantiate(self.globals[f"{COMPOSITE_PREFIX}{COMPOSITES[spelling]}"], args, kwargs, node)

    def make_container(self, spelling: str, args, node):
        if spelling == "nn.ModuleDict":
            items = dict(args[0]) if args else {}
        elif spelling == "nn.Sequential" and len(args) == 1 and isinstance(args[0], dict):
            items = dict(args[0])
        elif spelling == "nn.ModuleList":
            items = list(self.iterate(args[0], node)) if args else []
        else:
            items = list(args)
        for item in (items.values() if isinstance(items, dict) else items):
            if not isinstance(item, Module):
                raise self.refuse("unsupported-construct", f"{spelling} holds {type(item).__name__}, not a module",
                                  node)
        return Container(spelling, items)

    # -- layers --------------------------------------------------------------------------------------
    def make_layer(self, kind: Kind, spelling: str, args, kwargs, node):
        mapping = kind.mappings[SOURCE]
        if mapping.module is None:
            attrs, notes = self.operation_attributes(kind, spelling, None, args, kwargs, node)
            return Layer(kind, attrs, dict(kwargs), self.where(node), notes)
        bound = self.bind_layer_arguments(kind, spelling, args, kwargs, node)
        kind = next((refined for refined in REFINEMENTS.get(spelling, ())
                     if refined.mappings[SOURCE].recognise(bound)), kind)
        attrs = self.layer_attributes(kind, spelling, bound, node)
        return Layer(kind, attrs, bound, self.where(node), [])

    def bind_layer_arguments(self, kind: Kind, spelling: str, args, kwargs, node) -> dict:
        mapping = kind.mappings[SOURCE]
        names = [a.name for a in mapping.args]
        positional = mapping.signatures.get(spelling, names)
        bound = {}
        for i, value in enumerate(args):
            if i < len(positional):
                if positional[i] not in names:
                    raise self.refuse("unsupported-construct", f"{spelling}: argument '{positional[i]}' (positional "
                                                               f"argument {i + 1}) has no pivot counterpart", node)
                bound[positional[i]] = value
            elif isinstance(value, bool) and i == len(args) - 1:
                continue   # a trailing positional inplace flag: nn.ReLU(True), nn.LeakyReLU(0.2, True)
            else:
                raise self.refuse("unsupported-construct", f"{spelling}: positional argument {i + 1} has no pivot "
                                                           "counterpart", node)
        for key, value in kwargs.items():
            if key in IGNORED_ARGUMENTS:
                continue
            if key not in names:
                raise self.refuse("unsupported-construct", f"{spelling}: argument '{key}' has no pivot counterpart",
                                  node)
            bound[key] = value
        return bound

    def layer_attributes(self, kind: Kind, spelling: str, bound: dict, node) -> dict:
        attrs = {}
        for arg in kind.mappings[SOURCE].args:
            key = arg.pivot or camel(arg.name)
            given = arg.name in bound
            value = bound.get(arg.name, arg.default)
            if not given and (value is REQUIRED):
                raise self.refuse("unsupported-construct", f"{spelling} needs '{arg.name}'", node)
            if value is None or value is REQUIRED:
                continue
            if isinstance(value, (Tensor, BatchSize, Opaque, Zeros, Module)):
                raise self.refuse("dynamic-value", f"{spelling}: '{arg.name}' must be a constant", node)
            if arg.name == "padding" and kind.attribute("pads") is not None:
                if not given:
                    continue
                dims = kind.spatial_dims
                try:
                    attrs.update(_pads_value(value, dims))
                except ValueError as exc:
                    raise self.refuse("unsupported-construct", f"{spelling}: padding {exc}", node) from None
                continue
            if kind.attribute(key) is None:
                if arg.name == "batch_first" and value is not True:
                    raise self.refuse("unsupported-construct", f"{spelling} without batch_first=True (the pivot's "
                                                               "attention reads (N, L, E))", node)
                continue
            if not given and arg.derive is not None:
                continue   # inferred from the input shape
            if arg.read is not None:
                value = arg.read(bound)
            if arg.from_torch is not None:
                value = arg.from_torch(value)
            try:
                attrs[key] = _pivot_value(kind, key, value)
            except ValueError as exc:
                raise self.refuse("unsupported-construct", f"{spelling}: {arg.name} {exc}", node) from None
            if key in PER_AXIS and _is_int(arg.default) and attrs[key] == [arg.default]:
                del attrs[key]   # stride=1, dilation=1: the pivot's empty default says the same
        if kind.attribute("spatial") is not None and re.search(r"\dd$", spelling):
            attrs["spatial"] = True
        return attrs

    def functional(self, kind: Kind, spelling: str, args, kwargs, node):
        mapping = kind.mappings[SOURCE]
        if mapping.module is None:
            attrs, notes = self.operation_attributes(kind, spelling, args, args, kwargs, node)
            if isinstance(attrs, _Done):
                return attrs.value
            inputs, pair = attrs.pop("__inputs__"), attrs.pop("__pair__", False)
            keyword, reshape = attrs.pop("__kind__", kind.keyword), attrs.pop("__reshape__", None)
            result = self.make(keyword, inputs, attrs, node, notes)
            if reshape is not None:
                result = self.make("reshape", [result], {"shape": reshape}, node)
            return (result, Opaque(f"the indices of {spelling}")) if pair else result
        if mapping.parameters is not None:
            raise self.refuse("unsupported-construct", f"{spelling}() takes its weights as tensors; use the "
                                                       f"module form", node)
        tensor, rest = (args[0], args[1:]) if args else (kwargs.pop("input", None), [])
        if not isinstance(tensor, Tensor):
            raise self.refuse("unsupported-construct", f"{spelling}() of a non-tensor", node)
        notes = []
        if "training" in kwargs or kind.keyword == "dropout":
            training = kwargs.pop("training", True)
            if training is not False:
                notes.append(f"{spelling} without training=self.training drops at inference too; the pivot "
                             "dropout is off at inference")
        if kind.category == "activation" and kind.attribute("axis") is not None and not rest and "dim" not in kwargs:
            rank = len(self.tensor_shape(tensor, node))
            kwargs["dim"] = 0 if rank in (0, 1, 3) else 1
            notes.append(f"{spelling} without dim: PyTorch's implicit dim {kwargs['dim']} was taken")
        bound = self.bind_layer_arguments(kind, spelling, rest, kwargs, node)
        attrs = self.layer_attributes(kind, spelling, bound, node)
        return self.make(kind.keyword, [tensor], attrs, node, notes)

    def batch_source(self) -> Tensor:
        """A tensor whose batch axis is the batch: the first input of the graph being built."""
        if self.builder is None:   # in __init__: a tensor computed at construction (a buffer's content)
            raise ValueError("a tensor computed in __init__ has no pivot counterpart")
        first = next((n for n in self.builder.graph.nodes if n.eClass.name == "Input"), None)
        if first is None:
            raise ValueError("needs an input of the network first")
        return Tensor(first)

    def folded_steps(self, tensor: Tensor) -> int | None:
        """How many time steps the batch axis of ``tensor`` holds, folded in by a flatten from the batch axis
        and not yet unflattened (None when its batch axis is the batch)."""
        pending, seen = [tensor.node], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            if is_kind(current, "Flatten") and current.startDim == 0 and current.endDim == 1:
                operand = self.builder.shapes.get(current.inputs[0])
                return operand[0][1] if operand else None
            if is_kind(current, "Unflatten") and current.axis == 0:
                continue
            pending.extend(current.inputs[:1])
        return None

    def make(self, keyword: str, tensors: list, attrs: dict, node, notes=()):
        for t in tensors:
            if not isinstance(t, Tensor):
                raise self.refuse("unsupported-construct", f"{keyword} of {type(t).__name__} in '{describe(node)}'",
                                  node)
        kind = KINDS[keyword]
        created = self.builder.add(kind, self.op_name(keyword, node), tensors, attrs, self.where(node), list(notes))
        return self.builder.tensors(created)

    # -- shapes seen by the code ------------------------------------------------------------------
    def tensor_shape(self, tensor: Tensor, node) -> tuple:
        shape = self.builder.shape(tensor)
        if shape is None:
            raise self.refuse("dynamic-value", f"'{describe(node)}' needs the shape of a tensor that could not be "
                                               "inferred", node)
        return shape

    def sizes(self, tensor: Tensor, node) -> tuple:
        shape = self.tensor_shape(tensor, node)
        return tuple(BATCH if i == 0 else (d if d is not None else _DynamicSize(node)) for i, d in enumerate(shape))

    def tensor_index(self, tensor: Tensor, key, node):
        shape = self.tensor_shape(tensor, node)
        keys = list(key) if isinstance(key, tuple) else [key]
        if any(k is Ellipsis for k in keys):
            i = keys.index(Ellipsis)
            fill = len(shape) - (len(keys) - 1 - sum(k is None for k in keys))
            keys = keys[:i] + [slice(None)] * fill + keys[i + 1:]
        axes, starts, ends, steps, picks, news = [], [], [], [], [], []
        axis = 0
        for k in keys:
            if k is None:
                news.append(axis + len(news))
                continue
            if isinstance(k, slice):
                start, stop, step = k.start, k.stop, k.step
                if not all(v is None or _is_int(v) for v in (start, stop, step)) or (step or 1) <= 0:
                    raise self.refuse("dynamic-value", f"slice in '{describe(node)}' is not constant", node)
                if (start, stop, step) != (None, None, None):
                    axes.append(axis)
                    starts.append(start or 0)
                    ends.append(OPEN_END if stop is None else stop)
                    steps.append(step or 1)
            elif _is_int(k):
                picks.append((axis, k))
            else:
                raise self.refuse("unsupported-construct", f"index '{describe(node)}' (only constant ints, "
                                                           "slices, None and ...)", node)
            axis += 1
        value = tensor
        if axes:
            value = self.make("slice", [value], slice_attributes(axes, starts, ends, steps), node)
        for offset, (axis, index) in enumerate(picks):
            value = self.make("index", [value], {"axis": axis - offset, "index": index}, node)
        for axis in news:
            value = self.make("unsqueeze", [value], {"axis": axis}, node)
        return value

    # -- operations --------------------------------------------------------------------------------
    def operation_attributes(self, kind, spelling, inputs, args, kwargs, node):
        reader = OPERATIONS.get(kind.mappings[SOURCE].reader)
        if reader is None:
            raise self.refuse("unsupported-construct", f"{spelling} has no argument reader", node)
        call = _OperationCall(self, kind.keyword, spelling, list(args or []), dict(kwargs), node,
                              module=inputs is None)
        try:
            result = reader(call)
        except (ValueError, TypeError, IndexError) as exc:
            raise self.refuse("unsupported-construct", f"{spelling}: {exc}", node) from None
        if isinstance(result, _Done):
            return result, []
        attrs = {k: v for k, v in result.items() if v is not None}
        wrong = _not_integers(kind, attrs)
        if wrong is not None:
            raise self.refuse("unsupported-construct", f"{spelling}: {snake(wrong)} expects integers, got "
                                                       f"{attrs[wrong]!r}", node)
        call.check_used()
        if inputs is None:
            return attrs, call.notes
        attrs["__inputs__"] = call.tensors
        return attrs, call.notes


class _Done:
    """An operation that gives an existing value (a passthrough) rather than a new node."""

    def __init__(self, value):
        self.value = value


class _DynamicSize:
    def __init__(self, node):
        self.node = node


def _flatten(value):
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    elif value is not None:
        yield value


def _attention_operands(tensors):
    """Self-attention (one tensor three times) is the pivot's one operand; otherwise query, key and value as
    written, as the Keras importer reads them (a key that is also the value stays twice)."""
    query = tensors[0]
    key = tensors[1] if len(tensors) > 1 else query
    value = tensors[2] if len(tensors) > 2 else key
    if all(t.node is query.node and t.index == query.index for t in (key, value)):
        return [query]
    return [query, key, value]


def parameterise_blocks(importer: Importer, model, report: ImportReport,
                        records: ConstructorRecords | None = None) -> None:
    """One parameterised block per source class whose blocks differ only in constructor arguments (in
    constructor mode, ``records`` give the user's arguments and ``__init__`` of each written class)."""
    graphs = {model, *model.blocks}
    for class_name, entries in importer.blocks.items():
        blocks = [block for _, block in entries]
        if len(blocks) < 2 or any(len(block.parameters) for block in blocks):
            continue   # one block already, or blocks taking per-call numbers (the templates know no such thing)
        uses = [(call, instance) for call, instance in importer.block_uses
                if call.block in blocks and call.eContainer() in graphs]
        prefixes = [{k.split(":", 1)[1]: v for k, v in report.state_dict_prefixes.items()
                     if k.startswith(f"{block.name}:")} for block in blocks]
        shared = set.intersection(*(set(p) for p in prefixes))
        if any(p[key] != prefixes[0][key] for p in prefixes for key in shared):   # the weights would be elsewhere
            continue
        init = uses[0][1].cls.method("__init__") if uses else None
        init, cls, arguments = init[0] if init else None, uses[0][1].cls.node if uses else None, \
            [instance.constructor for _, instance in uses]
        recorded = records.of_uses(class_name, arguments) if records is not None else None
        if recorded is not None:
            init, cls, arguments = recorded
        called = [call.block for call, _ in uses]
        matched: dict = {}
        template = parameterise(blocks, [(call, *given) for (call, _), given in zip(uses, arguments)], init,
                                prefixes, class_constants(cls, init) if cls is not None else {}, cls,
                                importer.node_choices, matched)
        if template is None:
            continue
        _weights_per_call(model, report, uses, called, blocks, prefixes, template, matched)
        old, name = template.name, blocks[0].name
        gone = {block.name for block in blocks if block is not template}
        for block in blocks:
            if block is not template:
                model.blocks.remove(block)
        template.name = name
        report.blocks[:] = list(dict.fromkeys(name if b == old else b for b in report.blocks if b not in gone - {name}))
        report.entries[:] = [entry for entry in report.entries if entry.graph not in gone or entry.graph == old]
        for entry in report.entries:
            if entry.graph == old:
                entry.graph = name
        state = report.state_dict_prefixes
        for key in [k for k in state if ":" in k and k.split(":", 1)[0] in gone | {old}]:
            path = state.pop(key)
            if key.startswith(f"{old}:"):
                state[f"{name}:{key.split(':', 1)[1]}"] = path
        entries[:] = [(signature, block) for signature, block in entries if block is template]
        own = prefixes[blocks.index(template)]
        for node, origin in matched.get(id(template), {}).items():
            if "#" in node and origin in own:   # a loop's node at one iteration: where the template's use has it
                state[f"{name}:{node}"] = own[origin]


def _weights_per_call(model, report: ImportReport, uses: list, called: list, blocks: list, prefixes: list,
                      template, matched: dict) -> None:
    """Where a template's node has its weights at a call whose block named it otherwise (matched by role: a
    list position shifted by an optional layer before it): ``"<call key>><block>:<node>"`` gives that call's
    own prefix (:func:`nnpivot.migrate.source_key` reads it before the block's)."""
    if not matched:
        return
    own = prefixes[blocks.index(template)]
    for (call, _), block in zip(uses, called):
        if block is template:
            continue
        graph = call.eContainer()
        call_key = call.name if graph is model else f"{graph.name}:{call.name}"
        for node, origin in matched.get(id(block), {}).items():
            path = prefixes[blocks.index(block)].get(origin)
            if path is not None and path != own.get(node):
                report.state_dict_prefixes[f"{call_key}>{blocks[0].name}:{node}"] = path


def _expression_of(value):
    """The expression a block attribute or argument holds for ``value``: a per-call number is its parameter."""
    if isinstance(value, (list, tuple)):
        return ListExpression(items=[_expression_of(v) for v in value])
    if isinstance(value, CallValue):
        return ParameterRef(parameter=value.parameter)
    return literal_of(int(value) if _is_int(value) and not isinstance(value, bool) else value)


def _per_call_numbers(instance: Instance, args: list) -> bool:
    """True when the arguments after a module's tensors are ints its forward only reads as copy counts
    (``x.repeat(1, steps, 1)``, ``torch.tile(x, (1, steps, 1))``) and never assigns: each becomes a per-call
    parameter, bound where the count is read. Any other use (arithmetic, a test, another call) could bake the
    number into the block, so the module is inlined instead."""
    first_number = next(i for i, a in enumerate(args) if not isinstance(a, Tensor) and not _tensor_tuple(a))
    numbers = args[first_number:]
    if not all(_is_int(n) and not isinstance(n, bool) for n in numbers):
        return False
    found = instance.cls.method("forward")
    if found is None:
        return False
    forward = found[0]
    params = [a.arg for a in forward.args.posonlyargs + forward.args.args][1:]
    if forward.args.vararg is not None or len(params) < len(args):
        return False
    names = set(params[first_number:len(args)])
    counts = set()
    for call in ast.walk(forward):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in ("repeat", "tile"):
            for arg in call.args:
                counts.update(id(item) for item in (arg.elts if isinstance(arg, (ast.Tuple, ast.List)) else [arg]))
    return all(id(name) in counts for name in ast.walk(forward) if isinstance(name, ast.Name) and name.id in names)


def _tensor_tuple(value) -> bool:
    """A flat tuple of tensors (an RNN's ``(output, h_n)``), which a block takes as one packed argument."""
    return isinstance(value, tuple) and len(value) > 1 and all(isinstance(v, Tensor) for v in value)


def _unpacked_names(forward: ast.FunctionDef, param: str, count: int) -> list[str]:
    """Names for the inputs packed in argument ``param``: those of the first ``a, b = param`` of ``forward``
    (``param_<i>`` for ``_``, a repeated name or another target)."""
    targets = next((stmt.targets[0].elts for stmt in forward.body if isinstance(stmt, ast.Assign)
                    and isinstance(stmt.value, ast.Name) and stmt.value.id == param
                    and isinstance(stmt.targets[0], (ast.Tuple, ast.List))), [])
    written = [t.id if isinstance(t, ast.Name) else None for t in targets] if len(targets) == count else [None] * count
    names = []
    for index, name in enumerate(written):
        names.append(name if name and name != "_" and name not in names and name != param else f"{param}_{index}")
    return names


def _signature(graph) -> tuple:
    """A block's structure: every node's class, name, attributes and inputs, the outputs and packed inputs."""
    rows = []
    for node in graph.nodes:
        kind = kind_of(node)
        bound = {b.feature: _expression_key(b.value) for b in node.bindings}   # a per-call number's: any value
        values = tuple((a.name, bound[a.name] if a.name in bound else str(node.eGet(a)) if not a.many
                        else tuple(node.eGet(a))) for a in (kind.attributes() if kind else []))
        extra = (node.block.name, tuple((a.parameter.name, _expression_key(a.value)) for a in node.arguments)) \
            if node.eClass.name == "BlockCall" else getattr(node, "index", None)
        rows.append((node.eClass.name, node.name, values, tuple(i.name for i in node.inputs), extra,
                     tuple(getattr(node, "shape", ()) or ()), node.weightsOf.name if node.weightsOf else None))
    packs = tuple((p.name, tuple(i.name for i in p.items)) for p in getattr(graph, "packs", ()))
    parameters = tuple((p.name, p.perCall) for p in getattr(graph, "parameters", ()))
    return tuple(rows), tuple(o.name for o in graph.outputs), packs, parameters


def _expression_key(expression) -> tuple:
    """An expression as comparable data (its classes, values and parameter names)."""
    if expression.eClass.name == "ListExpression":
        return ("list", *(_expression_key(i) for i in expression.items))
    if expression.eClass.name == "ParameterRef":
        return ("parameter", expression.parameter.name)
    return (expression.eClass.name, repr(getattr(expression, "value", None)))


# --- operation argument readers (keyed by pivot kind) -----------------------------------------

class _OperationCall:
    """The arguments of a torch operation call, read by name or position."""

    def __init__(self, importer: Importer, kind, spelling, args, kwargs, node, module=False):
        self.importer, self.spelling, self.node, self.module = importer, spelling, node, module
        self.kind = kind  # the pivot keyword the spelling names
        self.args, self.kwargs = args, kwargs
        for key in IGNORED_ARGUMENTS:
            self.kwargs.pop(key, None)
        self.used: set[str] = set()
        self.tensors: list = []
        self.notes: list[str] = []
        self.position = 0

    @property
    def method(self) -> bool:
        return self.spelling.startswith("Tensor.")

    def tensor(self, name="input"):
        """The operand: the receiver of a method, the first argument of a function."""
        value = self.param(name)
        if not isinstance(value, Tensor):
            raise TypeError(f"expects a tensor, got {type(value).__name__}")
        self.tensors.append(value)
        return value

    def param(self, name, default=REQUIRED):
        self.used.add(name)
        if name in self.kwargs:
            return self.kwargs[name]
        if self.position < len(self.args):
            self.position += 1
            return self.args[self.position - 1]
        if default is REQUIRED:
            raise ValueError(f"needs '{name}'")
        return default

    def rest(self) -> list:
        values = self.args[self.position:]
        self.position = len(self.args)
        return values

    def shape(self, tensor) -> tuple:
        return self.importer.tensor_shape(tensor, self.node)

    def check_used(self) -> None:
        extra = [k for k in self.kwargs if k not in self.used]
        if extra:
            raise self.importer.refuse("unsupported-construct", f"{self.spelling}: argument '{extra[0]}' has no "
                                                                "pivot counterpart", self.node)
        if self.position < len(self.args):
            raise self.importer.refuse("unsupported-construct", f"{self.spelling}: too many arguments", self.node)


def _axes(value) -> list[int]:
    if value is None:
        raise ValueError("reducing every axis (the batch axis too) has no pivot counterpart; give dim")
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(_is_int(v) for v in values):
        raise ValueError(f"dims must be ints, got {value!r}")
    return values


def _sizes(call: _OperationCall) -> list:
    values = call.rest()
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = list(values[0])
    if "shape" in call.kwargs or "size" in call.kwargs:
        values = list(call.param("shape" if "shape" in call.kwargs else "size"))
    return values


def _read_flatten(call):
    if call.module:
        return {"startDim": call.param("start_dim", 1), "endDim": call.param("end_dim", -1)}
    call.tensor()
    return {"startDim": call.param("start_dim", 0), "endDim": call.param("end_dim", -1)}


def _read_reshape(call):
    tensor = call.tensor()
    sizes = _sizes(call)
    if not sizes:
        raise ValueError("needs a shape")
    first, rest = sizes[0], sizes[1:]
    batch_change = _batch_fold(call, tensor, first, rest)
    if batch_change is not None:
        return batch_change
    if any(isinstance(s, (BatchSize, _DynamicSize)) or not _is_int(s) for s in rest):
        raise ValueError("only the first size may be the batch size; the others must be constant")
    if isinstance(first, BatchSize):
        return {"shape": rest}
    if first == -1 and -1 not in rest:
        shape = call.shape(tensor)
        known = shape[1:]
        if None not in known and math.prod(known) != math.prod(rest):
            raise ValueError(f"view(-1, {', '.join(map(str, rest))}) changes the batch size of {shape}")
        return {"shape": rest}
    raise ValueError("the first size must be the batch size (x.size(0)) or -1")


def _batch_fold(call, tensor, first, rest) -> dict | None:
    """Time steps folded into the batch and back, as video and sequence models write it:
    ``x.view(b * t, c, h, w)`` (or ``view(-1, c, h, w)``) of (N, T, C, H, W) is flatten(start_dim=0, end_dim=1);
    ``y.view(b, t, -1)`` of a folded tensor unflattens its batch axis into (N, T), then reshapes the rest."""
    shape = call.shape(tensor)
    steps = call.importer.folded_steps(tensor)
    rest_known = all(_is_int(s) for s in rest)
    if steps is None and rest_known and len(shape) >= 3 and list(rest) == list(shape[2:]) and (
            first == BatchMultiple(shape[1]) or first == -1 and shape[1] not in (None, 1)):
        return {"__kind__": "flatten", "startDim": 0, "endDim": 1}
    if steps is not None and rest and rest[0] == steps and (isinstance(first, BatchSize) or first == -1):
        after = list(rest[1:])
        if not all(_is_int(s) for s in after):
            raise ValueError("the sizes after the time steps must be constant")
        reshape = None if after == list(shape[1:]) or (after == [-1] and len(shape) == 2) else [steps, *after]
        return {"__kind__": "unflatten", "axis": 0, "shape": [-1, steps], "__reshape__": reshape}
    if isinstance(first, BatchMultiple):
        raise TypeError(f"folds {first.factor} steps into the batch, but the tensor is {shape}")
    return None


def _read_unflatten(call):
    if call.module:   # nn.Unflatten(dim, unflattened_size): the operand comes with the call
        dim, sizes = call.param("dim"), list(call.param("unflattened_size"))
    else:
        tensor = call.tensor()
        dim, sizes = call.param("dim"), list(call.param("sizes"))
        dim %= len(call.shape(tensor))
    if dim == 0:
        if not (isinstance(sizes[0], BatchSize) or sizes[0] == -1):
            raise ValueError("splitting the batch axis must keep the batch first (-1 or the batch size)")
        sizes = [-1, *sizes[1:]]
    if not all(_is_int(s) for s in sizes):
        raise ValueError("sizes must be constant")
    return {"axis": dim, "shape": sizes}


def _read_permute(call):
    tensor = call.tensor()
    rank = len(call.shape(tensor))
    if call.spelling.endswith("transpose"):
        a, b = call.param("dim0"), call.param("dim1")
        dims = list(range(rank))
        dims[a % rank], dims[b % rank] = dims[b % rank], dims[a % rank]
        return {"dims": dims}
    dims = _sizes(call) if call.method else list(call.param("dims"))
    return {"dims": [d % rank for d in dims]}


def _tensor_list(call):
    values = call.param("tensors")
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, Tensor) for v in values):
        raise ValueError("expects a list of tensors")
    call.tensors.extend(values)
    return values


def _read_concat(call):
    values = _tensor_list(call)
    axis = call.param("dim", 0)
    if len(values) == 1:
        return _Done(values[0])
    return {"axis": axis}


def _read_stack(call):
    _tensor_list(call)
    return {"axis": call.param("dim", 0)}


def _read_split(call):
    tensor = call.tensor()
    shape = call.shape(tensor)
    if call.spelling.endswith("chunk"):
        chunks, axis = call.param("chunks"), call.param("dim", 0)
        if not _is_int(chunks) or chunks <= 0:
            raise ValueError(f"chunks must be a positive int, got {chunks!r}")
        size = shape[axis]
        if size is None:
            raise ValueError("chunk of an axis of unknown size")
        step = -(-size // chunks)
        sizes = [min(step, size - i) for i in range(0, size, step)]
    else:
        split, axis = call.param("split_size_or_sections"), call.param("dim", 0)
        size = shape[axis]
        if _is_int(split):
            if split <= 0:
                raise ValueError(f"split_size_or_sections must be positive, got {split}")
            if size is None:
                raise ValueError("split of an axis of unknown size")
            sizes = [min(split, size - i) for i in range(0, size, split)]
        else:
            sizes = list(split)
    return {"sizes": sizes, "axis": axis}


def _read_binary(call):
    a = call.param("input")
    if call.spelling.endswith(("neg", "negative")):   # -x, spelled as a function or a method
        if not isinstance(a, Tensor):
            raise TypeError("expects a tensor")
        call.tensors.append(a)
        return {"scalar": -1.0}
    b = call.param("other")
    alpha = call.param("alpha", 1) if call.spelling.endswith(("add", "sub", "subtract")) else 1
    if alpha != 1:
        raise ValueError(f"alpha={alpha!r} has no pivot counterpart (write the product)")
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        call.tensors.extend([a, b])
        return {}
    if isinstance(a, Tensor) and _number(b):
        call.tensors.append(a)
        return {"scalar": float(b)}
    raise ValueError("expects a tensor and a tensor or a number")


def _read_matmul(call):
    a, b = call.param("input"), call.param("other" if "bmm" not in call.spelling else "mat2")
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        raise TypeError("expects two tensors")
    call.tensors.extend([a, b])
    return {}


def _read_reduction(call):
    """A mean or maximum over exactly the spatial axes is read as one; the canonical-forms pass makes it the
    global pooling it is (x.mean(dim=(2, 3)) is how PyTorch code writes one)."""
    call.tensor()
    dim = call.param("dim", None)
    keep = call.param("keepdim", False)
    return {"axes": _axes(dim), "keepdims": keep}


def _read_extremum(call):
    """torch.max(x, dim) gives (values, indices); amax gives the values."""
    call.tensor()
    dim = call.param("dim", None)
    if isinstance(dim, Tensor):
        raise TypeError("the elementwise maximum of two tensors has no pivot kind")
    keep = call.param("keepdim", False)
    attrs = {"axes": _axes(dim), "keepdims": keep}
    if call.spelling.endswith(("amax", "amin")):
        return attrs
    attrs["__pair__"] = True
    return attrs


def _read_squeeze(call):
    call.tensor()
    dim = call.param("dim", None)
    return {"axes": [] if dim is None else _axes(dim)}


def _read_unsqueeze(call):
    tensor = call.tensor()
    dim = call.param("dim")
    if dim == 0 and is_kind(tensor.node, "Arange"):
        return _Done(tensor)   # position ids are the pivot's per sample already: the new axis is the batch
    return {"axis": dim}


def _read_arange(call):
    """torch.arange(end) / arange(start, end): position ids, the same for every sample of the graph's input."""
    first = call.param("start")
    end = call.param("end", None)
    start, end = (0, first) if end is None else (first, end)
    if call.param("step", 1) != 1 or not (_is_int(start) and _is_int(end)):
        raise ValueError("only a constant range with step 1 (position ids) has a pivot counterpart")
    call.tensors.append(call.importer.batch_source())
    return {"start": start, "end": end}


def _read_normalize(call):
    call.tensor()
    return {"p": float(call.param("p", 2.0)), "axis": call.param("dim", 1), "eps": float(call.param("eps", 1e-12))}


# The generated helper of run-time 'same' padding, recognised by its exact code (never run).
SAME_PADDED_TREE = ast.dump(ast.parse(SAME_PADDED_CODE).body[0])
# Modules the generated PyTorch code holds for kinds torch lacks (a mapping's ``generated``), read back as those kinds
# when their code is exactly the generated one: class name -> (its tree, kind keyword, arguments implied).
GENERATED_MODULES = {
    mapping.generated: (ast.dump(ast.parse(HELPERS[mapping.generated]).body[0]), kind.keyword, dict(mapping.implied))
    for kind in KINDS.values() if (mapping := kind.mappings.get(SOURCE)) is not None and mapping.generated}
# F.pad's modes -> the pivot's padding modes
PAD_MODES = {"constant": "zeros", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _read_pad(call):
    if call.module:
        dims = int(call.spelling[-2])
        padding = call.param("padding")
        pad = [padding] * 2 * dims if _is_int(padding) else list(padding)
        mode = PAD_CLASSES[call.spelling]
        value = call.param("value", 0.0) if "Constant" in call.spelling else None
    else:
        call.tensor()
        pad = list(call.param("pad"))
        mode = call.param("mode", "constant")
        value = call.param("value", None)
    if len(pad) % 2 or not all(_is_int(p) for p in pad):
        raise ValueError(f"pad must be pairs of ints, got {pad!r}")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    pads = [p for pair in reversed(pairs) for p in pair]
    return {"pads": pads, "mode": mode, "value": None if value is None else float(value)}


def _read_tile(call):
    """x.repeat(1, 2, 3) and torch.tile(x, dims) copy axes; x.expand(-1, 5, -1) copies axes of size 1."""
    tensor = call.tensor()
    shape = call.shape(tensor)
    sizes = list(call.param("dims")) if call.spelling == "torch.tile" else _sizes(call)
    if call.spelling.endswith("tile"):
        sizes = [1] * (len(shape) - len(sizes)) + sizes   # torch.tile fills missing leading counts with 1
    if len(sizes) != len(shape):
        raise ValueError(f"gives {len(sizes)} sizes for a tensor of rank {len(shape)} (new leading axes have no "
                         "pivot counterpart)")
    if call.spelling.endswith("expand"):
        repeats = []
        for axis, (size, current) in enumerate(zip(sizes, shape)):
            if size == -1 or size == current or isinstance(size, BatchSize) and axis == 0:
                repeats.append(1)
            elif current == 1 and _is_int(size) and axis > 0:
                repeats.append(size)
            else:
                raise ValueError(f"expands axis {axis} of size {current} to {size}")
    else:
        if not all(_is_int(s) for s in sizes) or sizes[0] != 1:
            raise ValueError("copies of the batch axis, or counts not known statically, have no pivot counterpart")
        repeats = sizes
    # a per-call count of 1 copies nothing at this call only: the node stays, bound to its parameter
    copies = any(r != 1 or isinstance(r, CallValue) for r in repeats)
    return {"repeats": repeats[1:]} if copies else _Done(tensor)


_LINEAR_MODES = {"linear", "bilinear", "trilinear"}


def _read_upsample(call):
    if not call.module:
        call.tensor()
    size = call.param("size", None)
    scale = call.param("scale_factor", None)
    mode = call.param("mode", "nearest")
    corners = call.param("align_corners", None)
    for ignored in ("recompute_scale_factor", "antialias"):
        if call.kwargs.get(ignored):
            raise ValueError(f"{ignored}=True has no pivot counterpart")
        call.used.add(ignored)
    if mode not in _LINEAR_MODES and mode != "nearest":
        raise ValueError(f"mode {mode!r} has no pivot counterpart (nearest or linear)")
    attrs = {"mode": "nearest" if mode == "nearest" else "bilinear", "alignCorners": bool(corners)}
    if size is not None:
        attrs["size"] = canonical_per_axis(list(size) if isinstance(size, (list, tuple)) else [size])
    if scale is not None:
        attrs["scaleFactor"] = canonical_per_axis(
            [float(s) for s in (scale if isinstance(scale, (list, tuple)) else [scale])])
    return attrs


def _read_pixel_shuffle(call):
    if not call.module:
        call.tensor()
    return {"upscaleFactor": call.param("upscale_factor")}


def _read_identity(call):
    call.rest()
    call.used.update(call.kwargs)
    return {}


def _read_activation(keyword):
    """Tensor methods and torch functions of activations: x.relu(), torch.softmax(x, dim=1)."""
    def read(call):
        call.tensor()
        kind = KINDS[keyword]
        attrs = {}
        for arg in kind.mappings[SOURCE].args:
            value = call.param(arg.name, arg.default)
            if value is not None and value is not REQUIRED:
                attrs[arg.pivot] = _pivot_value(kind, arg.pivot, value)
            elif value is REQUIRED:
                raise ValueError(f"needs {arg.name}")
        return attrs
    return read


# The argument readers a kind's PyTorch mapping names (``reader="binary"``): kinds with one call shape share one.
OPERATIONS = {
    "flatten": _read_flatten, "reshape": _read_reshape, "permute": _read_permute, "concat": _read_concat,
    "stack": _read_stack, "split": _read_split, "binary": _read_binary, "matmul": _read_matmul,
    "reduction": _read_reduction, "extremum": _read_extremum, "squeeze": _read_squeeze, "unsqueeze": _read_unsqueeze,
    "normalize": _read_normalize, "pad": _read_pad, "upsample": _read_upsample,
    "pixel_shuffle": _read_pixel_shuffle, "identity": _read_identity, "tile": _read_tile,
    "unflatten": _read_unflatten, "arange": _read_arange,
}
_UNKNOWN_READERS = sorted({m.reader for k in KINDS.values() if (m := k.mappings.get(SOURCE)) and m.reader} -
                          set(OPERATIONS))
if _UNKNOWN_READERS:
    raise RuntimeError(f"kinds name PyTorch argument readers the importer does not have: {_UNKNOWN_READERS}")


# --- training configuration ---------------------------------------------------------------------------
SCRIPT_SCOPE = "<script scope>"   # a key no Python name can be: the interpreter's values where a scope runs

class _TrainingReader:
    """Plain training settings of a script: optimizer, learning rate, loss, epochs, batch size."""

    def __init__(self, importer: Importer, model_name: str | None = None):
        self.importer = importer
        self.tree = importer.tree
        self.model_name = model_name
        self.functions = {f.name: f for f in ast.walk(self.tree) if isinstance(f, ast.FunctionDef)}
        self.parents = {child: parent for parent in ast.walk(self.tree) for child in ast.iter_child_nodes(parent)}
        self.namespaces: set[str] = set()
        self.class_constants: dict[str, Any] = {}
        self.instances: dict[str, str] = {}   # variable -> the settings class it holds (cfg = Config())
        self.arguments = self.argparse_defaults()
        self.read_settings_classes()
        self.loss_settings: dict[str, Any] = {}

    def constants(self, scope_node) -> dict:
        """Names with constant values where ``scope_node`` runs: module constants, then its own assignments;
        under ``SCRIPT_SCOPE`` what the importer computed there (``args.lr``, ``cfg.epochs``), if it ran it."""
        values = {k: v for k, v in self.importer.globals.items() if _plain_setting(v)}
        values[SCRIPT_SCOPE] = self.importer.script_scopes.get(
            id(scope_node), self.importer.globals if scope_node is self.tree else None)
        if isinstance(scope_node, ast.FunctionDef):
            spec = scope_node.args
            params = spec.posonlyargs + spec.args
            for param, default in zip(params[len(params) - len(spec.defaults):], spec.defaults):
                value = self.literal(default, values)
                if value is not None:
                    values[param.arg] = value
            for call in ast.walk(self.tree):
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == scope_node.name:
                    for i, arg in enumerate(call.args):
                        if i < len(params) and (v := self.literal(arg, values)) is not None:
                            values[params[i].arg] = v
                    for keyword in call.keywords:
                        if keyword.arg and (v := self.literal(keyword.value, values)) is not None:
                            values[keyword.arg] = v
        for node in self.walk(scope_node):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = self.literal(node.value, values)
                if value is not None:
                    values[node.targets[0].id] = value
        return values

    def literal(self, node, values):
        """The constant value of ``node`` (``read_statically``), else what the importer computed for it where
        the model is built (``evaluated``); None when it is not known statically."""
        value = self.read_statically(node, values)
        return value if value is not None else self.evaluated(node, values.get(SCRIPT_SCOPE))

    def read_statically(self, node, values):
        """Literals, names, argparse options (``args.epochs``), settings classes (``Config.EPOCHS``,
        ``cfg.lr``), config dicts (``config["epochs"]``, ``config.get("lr", 0.1)``) and arithmetic on them."""
        if isinstance(node, ast.Name):
            return values.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = node.value.id
            if owner in self.namespaces and node.attr in self.arguments:
                return self.arguments[node.attr]
            return self.class_constants.get(f"{owner}.{node.attr}",
                                            self.class_constants.get(f"{self.instances.get(owner)}.{node.attr}"))
        if isinstance(node, ast.Subscript):
            container, key = self.literal(node.value, values), self.literal(node.slice, values)
            if isinstance(container, dict) and isinstance(key, (str, int)):
                return container.get(key)
            if isinstance(container, (list, tuple)) and _is_int(key) and -len(container) <= key < len(container):
                return container[key]
            return None
        if isinstance(node, ast.Call):
            return self.call_value(node, values)
        if isinstance(node, ast.Dict):
            keys = [self.literal(k, values) if k is not None else None for k in node.keys]
            if any(not isinstance(k, (str, int)) for k in keys):
                return None
            return {k: self.literal(v, values) for k, v in zip(keys, node.values)}
        if isinstance(node, (ast.Tuple, ast.List)):
            items = [self.literal(e, values) for e in node.elts]
            if any(i is None for i in items):
                return None
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = self.literal(node.left, values), self.literal(node.right, values)
            if _number(left) and _number(right):
                try:
                    return _ARITHMETIC[type(node.op)](left, right)
                except (ArithmeticError, ValueError):
                    return None
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.literal(node.operand, values)
            return -value if _number(value) else None
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None

    def evaluated(self, node, scope: dict | None):
        """A setting the script computes from its options or config (``args.lr``, ``CONFIG["lr"]``), by the
        importer's own evaluation of the statements around the model; None when it is not a plain value."""
        if scope is None:
            return None
        reported = len(self.importer.report.diagnostics)
        try:
            value = self.importer.eval(node, scope)
        except (Refused, NNPivotError):
            value = None
        del self.importer.report.diagnostics[reported:]   # reading a setting reports nothing of its own
        if isinstance(value, (tuple, list)):   # betas=(args.beta1, 0.999)
            return value if all(isinstance(v, (int, float)) for v in value) else None
        return value if isinstance(value, (int, float, str, bool)) else None

    def call_value(self, node: ast.Call, values):
        """``int(x)``, ``float(x)``, ``dict(a=1)``, ``config.get(key, default)``."""
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("int", "float") and len(node.args) == 1:
            value = self.literal(node.args[0], values)
            return (int if func.id == "int" else float)(value) if _number(value) else None
        if isinstance(func, ast.Name) and func.id == "dict" and not node.args:
            return {k.arg: self.literal(k.value, values) for k in node.keywords if k.arg}
        if isinstance(func, ast.Attribute) and func.attr == "get" and 1 <= len(node.args) <= 2:
            container, key = self.literal(func.value, values), self.literal(node.args[0], values)
            if isinstance(container, dict) and isinstance(key, (str, int)):
                default = self.literal(node.args[1], values) if len(node.args) == 2 else None
                return container.get(key, default)
        return None

    def argparse_defaults(self) -> dict:
        """Each ``add_argument`` option's destination -> its default; the names holding ``parse_args()``."""
        module = {k: v for k, v in self.importer.globals.items() if isinstance(v, (int, float, str, bool))}
        found = {}
        parsers = {"parse_args", "parse_known_args"}
        # the script's own functions that return the parsed options (def get_args(): return parser.parse_args())
        parsers |= {f.name for f in self.functions.values() if any(
            isinstance(n, ast.Return) and isinstance(n.value, ast.Call) and
            _attribute_name(n.value.func) in ("parse_args", "parse_known_args") for n in ast.walk(f))}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.Subscript)):
                call = node.value.value if isinstance(node.value, ast.Subscript) else node.value
                if isinstance(call, ast.Call) and _attribute_name(call.func) in parsers:
                    for target in node.targets:
                        first = target.elts[0] if isinstance(target, ast.Tuple) and target.elts else target
                        if isinstance(first, ast.Name):
                            self.namespaces.add(first.id)
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and
                    node.func.attr == "add_argument"):
                continue
            flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            dest = self.literal(keywords["dest"], module) if "dest" in keywords else next(
                (f[2:] for f in flags if f.startswith("--")), flags[0].lstrip("-") if flags else None)
            if not isinstance(dest, str):
                continue
            action = self.literal(keywords["action"], module) if "action" in keywords else None
            if "default" in keywords:
                value = self.literal(keywords["default"], module)
            else:
                value = {"store_true": False, "store_false": True}.get(action)
            kind = keywords.get("type")
            if isinstance(value, str) and isinstance(kind, ast.Name) and kind.id in ("int", "float"):
                try:
                    value = (int if kind.id == "int" else float)(value)
                except ValueError:
                    value = None
            if value is not None:
                found.setdefault(dest.replace("-", "_"), value)
        return found

    def read_settings_classes(self) -> None:
        """Class-level constants of the file's plain classes (``class Config: EPOCHS = 5``, dataclass fields with
        defaults), and the variables that hold an instance of one (``cfg = Config()``)."""
        for cls in ast.walk(self.tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            for stmt in cls.body:
                target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
                    stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None
                if isinstance(target, ast.Name):
                    value = self.literal(_field_default(stmt.value), {})
                    if value is not None:
                        self.class_constants[f"{cls.name}.{target.id}"] = value
        classes = {key.split(".")[0] for key in self.class_constants}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and \
                    isinstance(node.value.func, ast.Name) and node.value.func.id in classes and not node.value.args:
                for target in node.targets:
                    if isinstance(target, ast.Name):   # cfg = TrainConfig(channels=args.channels)
                        self.instances[target.id] = node.value.func.id
                        for keyword in node.value.keywords:
                            value = self.literal(keyword.value, {}) if keyword.arg else None
                            if value is not None:
                                self.class_constants[f"{target.id}.{keyword.arg}"] = value

    def scopes(self):
        yield self.tree
        yield from self.functions.values()

    @staticmethod
    def walk(scope):
        """The nodes of a scope, without the bodies of the functions defined in it."""
        pending = list(ast.iter_child_nodes(scope))
        while pending:
            node = pending.pop(0)
            yield node
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                pending.extend(ast.iter_child_nodes(node))

    @staticmethod
    def ending(model) -> str:
        outputs = list(model.outputs)
        kind = kind_of(outputs[0]) if len(outputs) == 1 else None
        return vocabulary.ending_of_keyword(kind.keyword if kind else None)

    def read(self, model=None):
        mine, others = self.model_variables()
        optimizers, schedulers, clips = [], [], []
        loss = epochs = batch = None
        for scope in self.scopes():
            values = None
            for node in self.walk(scope):
                if not isinstance(node, (ast.Call, ast.For)):
                    continue
                if values is None:
                    values = self.constants(scope)
                if isinstance(node, ast.For):
                    if epochs is None and self.is_epoch_loop(node):
                        epochs = self.range_bound(node.iter, values)
                        batch = batch or self.batch_from_loop(node, values)
                    continue
                name = self.importer.imports.qualified(node.func)
                if name is None:
                    if isinstance(node.func, ast.Name) and node.func.id == "DataLoader":
                        name = "torch.utils.data.DataLoader"
                    elif isinstance(node.func, ast.Name) and node.func.id in self.rule_classes():
                        name = f"torch.optim.{node.func.id}"   # generated code's optimizer with Keras's rule
                    elif isinstance(node.func, ast.Name) and node.func.id == vocabulary.KERAS_CLIP_NORM and \
                            self.defines_keras_clip_norm():
                        name = node.func.id   # generated code's norm clipping with Keras's scaling
                    else:
                        continue
                spelling = _canonical(name)
                if re.fullmatch(r"torch\.optim\.[A-Z]\w*", name):
                    optimizers.append((name.split(".")[-1], node, values))
                elif name.startswith("torch.optim.lr_scheduler."):
                    schedulers.append((name.split(".")[-1], node, values))
                elif spelling.split(".")[-1] in ("clip_grad_norm_", "clip_grad_value_", "clip_grad_norm",
                                                 vocabulary.KERAS_CLIP_NORM):
                    clips.append((spelling.split(".")[-1], node, values))
                elif loss is None and spelling in vocabulary.LOSSES_BY_TORCH_SPELLING:
                    entry, written = vocabulary.LOSSES_BY_TORCH_SPELLING[spelling]
                    loss = entry.name
                    self.loss_arguments(node, spelling, values)
                    if model is not None:
                        self.class_axis_read(entry, node, model, functional=spelling.startswith("F."))
                    if model is not None and (problem := vocabulary.mismatch(entry, written, self.ending(model))):
                        self.importer.problem("approximate-translation", problem, self.importer.where(node), warning)
                elif loss is None and (spelling.startswith("nn.") and spelling.endswith("Loss") or
                                       spelling.startswith("F.") and spelling.endswith("_loss")):
                    self.importer.problem("unsupported-construct", f"the loss {spelling} has no pivot counterpart; "
                                          "the training configuration has no loss", self.importer.where(node),
                                          warning)
                    loss = ""
                elif batch is None and name.endswith("DataLoader"):
                    for keyword in node.keywords:
                        if keyword.arg == "batch_size":
                            batch = self.literal(keyword.value, values)
        optimizer = self.pick_optimizer(optimizers, mine, others)
        clips = [c for c in clips if self.parameters_owner(self.parameter_loop(c[1]) or c[1]) not in others]
        if optimizer is None and loss is None and epochs is None and batch is None and not clips:
            return None
        config = TrainingConfig()
        if optimizer is not None and optimizer[0] not in vocabulary.OPTIMIZERS_BY_TORCH_NAME and \
                optimizer[0] not in vocabulary.TORCH_RULE_CLASSES:
            self.importer.problem("unsupported-construct", f"the optimizer torch.optim.{optimizer[0]} has no pivot "
                                  "counterpart; the training configuration has no optimizer",
                                  self.importer.where(optimizer[1]), warning)
        elif optimizer is not None:
            config.optimizer = self.optimizer(*optimizer)
        if loss:
            config.loss = loss
            for feature, value in self.loss_settings.items():
                setattr(config, feature, eenum("LossReduction").getEEnumLiteral(value) if feature == "lossReduction"
                        else value)
        if _is_int(epochs):
            config.epochs = epochs
        if _is_int(batch):
            config.batchSize = batch
        if optimizer is not None:
            config.schedule = self.schedule(schedulers, optimizer[1], config)
        for clip, call, values in clips:
            self.clipping(config, clip, call, values)
        return config

    # -- which optimizer trains the picked network --------------------------------------------------
    def model_variables(self) -> tuple[set[str], set[str]]:
        """The variables (and ``self.`` attributes) bound to the picked network, and those bound to the file's
        other networks (a GAN's generator and discriminator each have their optimizer)."""
        networks = set(self.importer.candidates())
        mine, others = {self.model_name} if self.model_name else set(), set()
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Assign):
                continue
            call = node.value
            while isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and \
                    call.func.attr in SAME_MODEL_METHODS:
                call = call.func.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in networks:
                bound = mine if call.func.id == self.model_name or self.returns_model(call.func.id) else others
                for target in node.targets:
                    if isinstance(target, (ast.Name, ast.Attribute)):
                        bound.add(target.id if isinstance(target, ast.Name) else target.attr)
        return mine, others - mine

    def returns_model(self, function: str) -> bool:
        """Whether the builder ``function`` returns the picked class itself (``return TextClassifier(...)``)."""
        body = self.functions.get(function)
        return body is not None and self.model_name is not None and any(
            isinstance(node, ast.Return) and isinstance(node.value, ast.Call) and
            isinstance(node.value.func, ast.Name) and node.value.func.id == self.model_name
            for node in ast.walk(body))

    @staticmethod
    def parameters_owner(call: ast.Call | ast.For) -> str | None:
        """``model`` of ``Adam(model.parameters())`` / ``clip_grad_norm_(self.net.parameters(), 1.0)`` / ``for p
        in model.parameters():``."""
        first = call.iter if isinstance(call, ast.For) else call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg in ("params", "parameters")), None)
        for node in ast.walk(first) if first is not None else ():
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("parameters", "named_parameters"):
                owner = node.func.value
                return owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) \
                    else None
        return None

    def pick_optimizer(self, optimizers, mine: set[str], others: set[str]):
        """The optimizer of the picked network's parameters; else the first of no other network's."""
        owners = [self.parameters_owner(call) for _, call, _ in optimizers]
        for found, owner in zip(optimizers, owners):
            if owner in mine:
                return found
        return next((found for found, owner in zip(optimizers, owners) if owner not in others), None)

    def rule_classes(self) -> set[str]:
        """The rule classes (kinds.training: a torch.optim subclass updating with Keras's rule) this file
        defines, as generated code does: a module-level class of that name subclassing that torch.optim class."""
        found = set()
        for stmt in self.tree.body:
            entry = vocabulary.TORCH_RULE_CLASSES.get(stmt.name) if isinstance(stmt, ast.ClassDef) else None
            if entry is not None and any(self.importer.imports.qualified(b) == entry.torch_class for b in stmt.bases):
                found.add(stmt.name)
        return found

    def defines_keras_clip_norm(self) -> bool:
        """Whether this file defines the vocabulary's KERAS_CLIP_NORM function, as generated code does (the very
        statements: a function of that name doing anything else is the user's)."""
        wanted = ast.dump(ast.parse(vocabulary.KERAS_CLIP_NORM_CODE).body[0])
        return any(isinstance(stmt, ast.FunctionDef) and ast.dump(stmt) == wanted for stmt in self.tree.body)

    def optimizer(self, cls: str, call: ast.Call, values) -> Optimizer:
        entry = vocabulary.OPTIMIZERS_BY_TORCH_NAME.get(cls) or vocabulary.TORCH_RULE_CLASSES[cls]
        opt = Optimizer(kind=entry.name, learningRate=entry.torch_learning_rate)
        if cls in vocabulary.TORCH_RULE_CLASSES:
            opt.rule = eenum("UpdateRule").getEEnumLiteral(vocabulary.RULE_KERAS)
        set_location(opt, self.importer.where(call))
        for keyword in call.keywords:
            value = self.literal(keyword.value, values)
            parameter = entry.parameter_of_torch(keyword.arg)
            members = entry.torch_tuple(keyword.arg)
            if keyword.arg == vocabulary.RULE_MODEL_KEYWORD and cls in vocabulary.TORCH_RULE_CLASSES:
                continue  # the model whose Embedding layers the rule class trains as Keras's do: not a setting
            if keyword.arg == "lr" and _number(value):
                opt.learningRate = float(value)
            elif keyword.arg == "lr":
                self.importer.problem("dynamic-value", f"the learning rate '{describe(keyword.value)}' is not a "
                                      "constant; the pivot keeps its default", self.importer.where(keyword),
                                      warning)
            elif members and isinstance(value, (tuple, list)) and len(value) == len(members) and \
                    all(_number(v) for v in value):
                opt.parameters.extend([Parameter(key=p.name, value=float(v)) for p, v in zip(members, value)])
            elif parameter is not None and (_number(value) or isinstance(value, bool)):
                opt.parameters.append(Parameter(key=parameter.name, value=float(value)))
            else:
                self.importer.problem("unsupported-construct", f"optimizer argument '{keyword.arg}' is left out",
                                      self.importer.where(keyword), warning)
        if len(call.args) > 1 and _number(self.literal(call.args[1], values)):
            opt.learningRate = float(self.literal(call.args[1], values))
        # PyTorch's defaults where Keras has others (epsilon...): the migrated model trains with them
        given = {p.key for p in opt.parameters}
        opt.parameters.extend(Parameter(key=p.name, value=float(default))
                              for p, default in vocabulary.source_defaults(entry, "torch") if p.name not in given)
        return opt

    # -- learning-rate schedule -------------------------------------------------------------------------
    def bound_name(self, call: ast.AST) -> str | None:
        """The variable or attribute a call's result is assigned to."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
            return target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) \
                else None
        return None

    def schedule(self, schedulers, optimizer_call: ast.Call, config):
        """The pivot schedule of the scheduler built on the picked optimizer (None when there is none)."""
        optimizer_name = self.bound_name(optimizer_call)
        for cls, call, values in schedulers:
            given = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "optimizer"),
                                                        None)
            on = given.id if isinstance(given, ast.Name) else given.attr if isinstance(given, ast.Attribute) else None
            if optimizer_name is not None and on is not None and on != optimizer_name:
                continue
            where = self.importer.where(call)
            if cls == "LambdaLR" and (schedule := self.lambda_schedule(call, optimizer_call)) is not None:
                set_location(schedule, where)
                self.schedule_interval(schedule, cls, call)
                return schedule
            if cls not in vocabulary.TORCH_SCHEDULERS:
                self.importer.problem("unsupported-construct", f"the learning-rate scheduler {cls} has no pivot "
                                      "counterpart; the migrated training keeps the learning rate constant", where,
                                      warning)
                return None
            return self.read_schedule(cls, call, values, config, where)
        return None

    def lambda_schedule(self, call: ast.Call, optimizer_call: ast.Call):
        """The pivot schedule of a LambdaLR whose lambda is the very closed form generated code writes for it
        (vocabulary.lambda_factor) over the optimizer's initial rate, else None: each candidate schedule is
        built from the lambda's numbers and its expression generated again, to compare the two trees."""
        function = call.args[1] if len(call.args) > 1 else next(
            (k.value for k in call.keywords if k.arg == "lr_lambda"), None)
        if not isinstance(function, ast.Lambda) or len(function.args.args) != 1 or \
                not isinstance(function.body, ast.BinOp) or not isinstance(function.body.right, ast.Name):
            return None
        step, initial = function.args.args[0].arg, function.body.right.id
        rate = optimizer_call.args[1] if len(optimizer_call.args) > 1 else next(
            (k.value for k in optimizer_call.keywords if k.arg == "lr"), None)
        if not isinstance(rate, ast.Name) or rate.id != initial:
            return None   # the factor is of another rate than the optimizer's
        numbers = [n.value for n in sorted((n for n in ast.walk(function.body) if isinstance(n, ast.Constant)),
                                           key=lambda n: (n.lineno, n.col_offset))]
        written = ast.dump(function.body)
        for schedule in _lambda_candidates(numbers):
            if ast.dump(ast.parse(vocabulary.lambda_factor(schedule, step, initial), mode="eval").body) == written:
                return schedule
        return None

    def read_schedule(self, cls: str, call: ast.Call, values, config, where: Location):
        pivot_class, arguments = vocabulary.TORCH_SCHEDULERS[cls]
        given = {arguments[i][0]: arg for i, arg in enumerate(call.args[1:len(arguments) + 1])}
        given.update({k.arg: k.value for k in call.keywords if k.arg and k.arg != "optimizer"})
        read = {}
        for keyword, node in given.items():
            value = self.literal(node, values)
            known = next((a for a in arguments if a[0] == keyword), None)
            if known is None or value is None and not _is_none(node):
                self.importer.problem("unsupported-construct", f"{cls} argument {keyword}={describe(node)} is not "
                                      "known statically or has no pivot counterpart; the migrated training keeps the "
                                      "learning rate constant", self.importer.where(node), warning)
                return None
            read[keyword] = value
        schedule = eclass(pivot_class)()
        set_location(schedule, where)
        problem = None
        for keyword, feature, default in arguments:
            value = read.get(keyword, default)
            if feature is None:
                if keyword in ("milestones", "epochs", "steps_per_epoch") or value == default:
                    continue
                problem = f"{keyword}={value!r} has no pivot counterpart"
                break
            if value is None and (cls, keyword) == ("OneCycleLR", "total_steps"):
                continue   # epochs * steps_per_epoch, below
            if value is None:
                problem = f"{keyword} is not given"
                break
            if keyword == "threshold_mode":
                value = vocabulary.THRESHOLD_MODES.get(value)
            if value is None or isinstance(value, (list, tuple)):
                problem = f"{keyword}={read.get(keyword)!r} has no pivot counterpart"
                break
            feature_type = schedule.eClass.findEStructuralFeature(feature).eType
            setattr(schedule, feature, feature_type.getEEnumLiteral(value) if hasattr(feature_type, "eLiterals")
                    else float(value) if feature_type.name == "EDouble" else value)
        if cls == "MultiStepLR" and problem is None:
            milestones, gamma = read.get("milestones"), read.get("gamma", 0.1)
            rate = config.optimizer.learningRate if config.optimizer is not None else None
            if not isinstance(milestones, (list, tuple)) or not all(_is_int(m) for m in milestones) or \
                    rate is None or not _number(gamma):
                problem = "its milestones or the optimizer's learning rate are not known statically"
            else:
                schedule.boundaries.extend(sorted(milestones))
                rates = [rate]
                for _ in milestones:   # multiplied at each milestone, as MultiStepLR does
                    rates.append(rates[-1] * gamma)
                schedule.values.extend(rates)
        if cls == "OneCycleLR" and problem is None and not schedule.totalSteps:
            epochs, steps = read.get("epochs"), read.get("steps_per_epoch")
            if _is_int(epochs) and _is_int(steps):
                schedule.totalSteps = epochs * steps
            else:
                problem = "total_steps (or epochs and steps_per_epoch) is not given"
        if problem is not None:
            self.importer.problem("unsupported-construct", f"{cls}: {problem}; the migrated "
                                  "training keeps the learning rate constant", where, warning)
            return None
        self.schedule_interval(schedule, cls, call)
        if cls == "CosineAnnealingLR" and schedule.interval.name == "epoch" and config.epochs > schedule.decaySteps:
            self.importer.problem("approximate-translation", f"CosineAnnealingLR rises again after T_max="
                                  f"{schedule.decaySteps} epochs of {config.epochs}; the pivot's cosine decay (Keras "
                                  "CosineDecay) stays at eta_min", where, warning)
        return schedule

    def schedule_interval(self, schedule, cls: str, call: ast.Call) -> None:
        """Per step when ``scheduler.step()`` runs in the loop that runs ``optimizer.step()``, else per epoch;
        ReduceLROnPlateau watches what its step is given."""
        name = self.bound_name(call)
        steps = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "step" and n is not call]
        own = [n for n in steps if name is not None and _attribute_name(n.func.value) == name]
        optimizer_loops = {self.loop_of(n) for n in steps if n not in own} - {None}
        if cls == "ReduceLROnPlateau":
            watched = own[0].args[0] if own and own[0].args else None
            if watched is not None and "val" in describe(watched).lower():
                schedule.monitor = "val_loss"
            return
        if cls == "OneCycleLR":
            return
        if own and self.loop_of(own[0]) in optimizer_loops:
            schedule.interval = schedule.eClass.findEStructuralFeature("interval").eType.getEEnumLiteral("step")

    def loop_of(self, node) -> ast.AST | None:
        parent = self.parents.get(node)
        while parent is not None and not isinstance(parent, (ast.For, ast.While, ast.FunctionDef)):
            parent = self.parents.get(parent)
        return parent if isinstance(parent, (ast.For, ast.While)) else None

    def parameter_loop(self, call: ast.Call) -> ast.For | None:
        """The loop ``for p in model.parameters():`` when ``call`` clips its one parameter ``p`` (each parameter
        clipped by its own norm), else None."""
        first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "parameters"), None)
        loop = self.loop_of(call)
        if not isinstance(first, ast.Name) or not isinstance(loop, ast.For) or \
                not isinstance(loop.target, ast.Name) or loop.target.id != first.id:
            return None
        iterated = loop.iter
        if isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Attribute) and \
                iterated.func.attr == "parameters":
            return loop
        return None

    def clipping(self, config, clip: str, call: ast.Call, values) -> None:
        where = self.importer.where(call)
        limit = self.literal(call.args[1], values) if len(call.args) > 1 else self.literal(next(
            (k.value for k in call.keywords if k.arg in ("max_norm", "clip_value")), ast.Constant(None)), values)
        norm_type = self.literal(call.args[2], values) if len(call.args) > 2 else self.literal(next(
            (k.value for k in call.keywords if k.arg == "norm_type"), ast.Constant(2.0)), values)
        if not _number(limit) or not limit > 0:
            self.importer.problem("unsupported-construct", f"{clip}: the limit is not a positive constant; the "
                                  "migrated training does not clip gradients", where, warning)
        elif clip != "clip_grad_value_" and norm_type != 2:
            self.importer.problem("unsupported-construct", f"{clip} with norm_type={norm_type!r} has no pivot "
                                  "counterpart (the pivot clips the L2 norm); the migrated training does not clip",
                                  where, warning)
        elif clip == "clip_grad_value_":
            config.clipValue = float(limit)
            set_location(config, where, feature="clipValue")
        else:
            feature = "clipNormPerVariable" if self.parameter_loop(call) is not None else "clipNorm"
            setattr(config, feature, float(limit))
            set_location(config, where, feature=feature)
            if clip == vocabulary.KERAS_CLIP_NORM and config.optimizer is not None:   # Keras's scaling
                config.optimizer.rule = eenum("UpdateRule").getEEnumLiteral(vocabulary.RULE_KERAS)

    # tensor methods that rearrange a model's output before its loss: the classes are where the code puts them
    REARRANGING = frozenset({"permute", "transpose", "movedim", "moveaxis", "swapaxes", "view", "reshape", "flatten"})

    def class_axis_read(self, entry, made: ast.Call, model, functional: bool) -> None:
        """Warn where a class loss takes a model output of rank 3 as it is: PyTorch then reads the classes on dim 1
        of it, (N, C, T), where the pivot's class loss reads them on the axis Keras has last (kinds.training
        class_axis: T of a sequence). An output rearranged before the loss (``logits.permute(0, 2, 1)``,
        ``logits.reshape(-1, C)``) is read as the pivot reads it."""
        if vocabulary.label_format(entry) not in (vocabulary.CLASS_INDICES, vocabulary.ONE_HOT):
            return
        try:
            table, _ = infer_shapes(model)
            shape = table.operand(next(iter(model.outputs)))
        except (NNPivotError, StopIteration):
            return
        if shape is None or len(shape) != 3:
            return
        for call in [made] if functional else self.loss_calls(made):
            given = call.args[0] if call.args else None
            if given is not None and not self.rearranged(given, call):
                self.importer.problem(
                    "approximate-translation", f"the loss takes the model's (N, C, T) output as it is and reads the "
                    f"classes on dim 1 ({shape[1]} of them); the pivot's {entry.name} reads them on the last axis, as "
                    "Keras does: the migrated training reads the last axis as the classes (permute the output to "
                    "(N, T, C) in the model, and to (N, C, T) before the loss)", self.importer.where(call), warning)
                return

    def loss_calls(self, made: ast.Call) -> list[ast.Call]:
        """The calls of the loss object ``made`` builds: of the name it is bound to (``criterion =
        nn.CrossEntropyLoss()``, then ``criterion(logits, tags)``), or the call of it (``nn.CrossEntropyLoss()(...)``)."""
        bound = self.parents.get(made)
        if isinstance(bound, ast.Call) and bound.func is made:
            return [bound]
        if not isinstance(bound, ast.Assign):
            return []
        names = {_attribute_name(t) for t in bound.targets} - {None}
        return [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and _attribute_name(n.func) in names]

    def rearranged(self, given: ast.AST, call: ast.Call) -> bool:
        """Whether ``given`` (the loss's first argument) is a rearranged tensor: a rearranging method call, or a
        name last assigned one before ``call`` in its function."""
        if isinstance(given, ast.Call) and isinstance(given.func, ast.Attribute):
            return given.func.attr in self.REARRANGING or self.rearranged(given.func.value, call)
        if isinstance(given, ast.Attribute):
            return given.attr == "mT"
        if isinstance(given, ast.Name):
            scope = self.parents.get(call)
            while scope is not None and not isinstance(scope, ast.FunctionDef):
                scope = self.parents.get(scope)
            assigned = [n.value for n in ast.walk(scope or self.tree) if isinstance(n, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == given.id for t in n.targets)
                        and n.lineno < call.lineno]
            return bool(assigned) and self.rearranged(assigned[-1], call)
        return False

    def loss_arguments(self, call: ast.Call, spelling: str, values) -> None:
        """Read the loss's reduction and label smoothing; warn about the arguments the pivot does not hold."""
        extra = call.args[2:] if spelling.startswith("F.") else call.args
        if extra:
            self.importer.problem("unsupported-construct", f"positional arguments of {spelling} are left out",
                                  self.importer.where(call), warning)
        for keyword in call.keywords:
            if keyword.arg in ("input", "target"):
                continue
            literal = self.literal(keyword.value, values)
            if keyword.arg == "reduction" and literal in ("mean", "sum"):
                self.loss_settings["lossReduction"] = literal
                continue
            if keyword.arg == "label_smoothing" and _number(literal) and 0 <= literal <= 1:
                self.loss_settings["labelSmoothing"] = float(literal)
                continue
            neutral = vocabulary.TORCH_LOSS_NEUTRAL.get(keyword.arg, ...)
            if neutral is ... or literal != neutral or (neutral is None and not _is_none(keyword.value)):
                self.importer.problem("unsupported-construct", f"{spelling} argument {keyword.arg}="
                                      f"{describe(keyword.value)} is left out: the pivot loss has no such setting",
                                      self.importer.where(keyword), warning)

    def is_epoch_loop(self, loop: ast.For) -> bool:
        name = loop.target.id if isinstance(loop.target, ast.Name) else ""
        if "epoch" in name.lower():
            return True
        return any(isinstance(n, ast.Attribute) and n.attr == "backward" for n in ast.walk(loop)) and \
            any(isinstance(n, ast.For) and n is not loop for n in ast.walk(loop))

    def range_bound(self, node, values):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            bounds = [self.literal(a, values) for a in node.args]
            if len(bounds) == 1 and _is_int(bounds[0]):
                return bounds[0]
            if len(bounds) >= 2 and _is_int(bounds[0]) and _is_int(bounds[1]):
                return bounds[1] - bounds[0]
        return None

    def batch_from_loop(self, loop, values):
        for node in ast.walk(loop):
            if isinstance(node, ast.For) and node is not loop and isinstance(node.iter, ast.Call) and \
                    isinstance(node.iter.func, ast.Name) and node.iter.func.id == "range" and len(node.iter.args) == 3:
                step = self.literal(node.iter.args[2], values)
                if _is_int(step):
                    return step
        return None


def _plain_setting(value) -> bool:
    """A constant a training setting can come from: a number, string, or a dict / list / tuple of them."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain_setting(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain_setting(v) for v in value)
    return isinstance(value, (int, float, str, bool))


def _field_default(node):
    """The default of a dataclass ``field(default=...)`` / ``field(default_factory=lambda: ...)``, else ``node``."""
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and \
            _attribute_name(node.func) == "field":
        for keyword in node.keywords:
            if keyword.arg == "default":
                return keyword.value
            if keyword.arg == "default_factory" and isinstance(keyword.value, ast.Lambda):
                return keyword.value.body
    return node


def _attribute_name(node) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def _is_none(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Pow: lambda a, b: a ** b if abs(b) <= 64 else None}


# --- construction-time code that only initialises weights ------------------------------------------
WEIGHT_LOOPS = frozenset({"modules", "children", "named_modules", "named_children", "parameters",
                          "named_parameters", "buffers", "named_buffers"})
LOGGERS = frozenset({"logging", "log", "logger", "LOGGER", "_logger", "_log", "warnings"})
INIT_METHOD_DEPTH = 3


def _note(code: str, message: str, where: Location | None = None) -> Diagnostic:
    return Diagnostic(NOTE, code, message, where)


def _initialises_weights(stmt: ast.stmt, cls, depth: int = 0, nested: bool = False) -> bool:
    """Whether ``stmt`` only initialises weights or logs: ``nn.init.*``, in-place ``weight.data.normal_()``,
    ``module.apply(fn)``, a loop over ``self.modules()``/``parameters()`` doing those, a helper method
    (``reset_parameters``, ``_init_weights``) made of them, ``print``/logging calls."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return nested   # a docstring inside a helper
    if isinstance(stmt, ast.Assign) and nested:   # n = m.kernel_size[0] * m.out_channels, inside a loop
        return all(isinstance(t, ast.Name) for t in stmt.targets)
    if isinstance(stmt, ast.If):
        return bool(stmt.body) and _all_initialise(stmt.body + stmt.orelse, cls, depth, nested)
    if isinstance(stmt, ast.With):
        return _all_initialise(stmt.body, cls, depth, nested)
    if isinstance(stmt, ast.For):
        head, parts = dotted(stmt.iter.func) if isinstance(stmt.iter, ast.Call) else (None, [])
        return bool(parts) and parts[-1] in WEIGHT_LOOPS and _all_initialise(stmt.body, cls, depth, True)
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    head, parts = dotted(func)
    name = head.id if isinstance(head, ast.Name) else None
    if name == "print" and not parts or name in LOGGERS and parts:
        return True
    if "init" in ([name] if name else []) + parts[:-1] and parts and parts[-1].endswith("_"):
        return True   # nn.init.kaiming_normal_(...), torch.nn.init.zeros_(...), init.ones_(...)
    if parts and parts[-1].endswith("_") and not parts[-1].endswith("__") and (
            {"weight", "bias", "data"} & set(parts[:-1]) or nested):
        return True   # self.fc.weight.data.normal_(0, 0.02), p.data.zero_(), p.uniform_(-k, k) in a loop
    if parts and parts[-1] == "apply" and len(stmt.value.args) == 1:
        return True   # model.apply(weights_init)
    if name == "self" and len(parts) == 1 and cls is not None and depth < INIT_METHOD_DEPTH:
        method = cls.method(parts[0])
        return method is not None and _all_initialise(method[0].body, cls, depth + 1, True)
    return False


def _all_initialise(body: list, cls, depth: int, nested: bool) -> bool:
    return all(_initialises_weights(stmt, cls, depth, nested) for stmt in body)


_MODULE_PLACEHOLDER = "_nnpivot_module"
_ONE_BIAS_LOOP = ast.dump(ast.parse("\n".join(one_bias_freeze(_MODULE_PLACEHOLDER))).body[0])


def _one_bias_module(stmt: ast.stmt) -> ast.expr | None:
    """The module of a loop written as kinds/recurrent.py's one_bias_freeze writes it (any spelling of the module),
    else None."""
    if not (isinstance(stmt, ast.For) and isinstance(stmt.iter, ast.Call)
            and isinstance(stmt.iter.func, ast.Attribute)):
        return None
    module = stmt.iter.func.value
    stmt.iter.func.value = ast.Name(_MODULE_PLACEHOLDER, ast.Load())
    try:
        same = ast.dump(stmt) == _ONE_BIAS_LOOP
    finally:
        stmt.iter.func.value = module
    return module if same else None


def _freezes(stmt: ast.stmt) -> bool:
    """Whether ``stmt`` turns training off for a parameter: ``p.requires_grad_(False)``, ``p.requires_grad = False``."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "requires_grad_" \
                and not (len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and node.args[0].value is True):
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad"
                                                for t in node.targets):
            return True
    return False


# --- public API -------------------------------------------------------------------------------------

def import_pytorch(path, model_name: str | None = None, model_args: dict | None = None, input_shapes=None,
                   partial: bool = False, settings: dict | None = None, source_text: str | None = None,
                   records: ConstructorRecords | None = None):
    """Read a PyTorch source file (or ``source_text`` under its name) into a pivot Model, without running it.

    ``model_name`` picks the class or module-level ``nn.Sequential`` variable
    (default: the one network no other uses); ``model_args`` are constructor
    arguments (``--model-args``); ``input_shapes`` gives each ``forward`` input's
    shape without the batch axis, in pivot layout (a list in argument order, a
    dict by argument name, or one shape). Returns ``(model, report)``.

    Raises NNPivotError for fatal problems (``file-not-found``, ``syntax-error``,
    ``no-model-found``, ``ambiguous-model``, ``missing-input-shape``) and
    :class:`PyTorchImportError` (with ``.model`` and ``.report``) when parts
    could not be translated, unless ``partial`` is true. ``settings`` (``--set NAME=VALUE``) give the values the
    script computes from data (a class count, a feature size). ``records`` (constructor mode, with the
    written ``source_text``) give the constructor arguments the user's code gave each block instance.
    """
    importer = Importer.of_file(path, model_args, settings, source_text)
    name, how = importer.pick(model_name)
    try:
        picked, (importer, model) = importer, _build_reading_shapes(importer, name, how, input_shapes)
        importer.report.candidates = picked.report.candidates
        importer.report.diagnostics[:0] = [d for d in picked.report.diagnostics if d.code == "model-picked"]
    except Refused as refused:   # the network itself cannot be set up (its constructor failed)
        problems = [d for d in [*importer.report.diagnostics, refused.diagnostic] if d is not None]
        raise PyTorchImportError(problems, None, importer.report) from None
    report = importer.report
    if importer.dropped:   # fatal even for a partial import: the rest would compute something else
        report.diagnostics.extend(importer.dropped)
        raise PyTorchImportError(report.diagnostics, None, report)
    changes, problems = run_pass(FOLD_LAST_STEPS, model)
    report.diagnostics.extend(problems)
    for graph, folded in changes.items():
        for node_name, construct in folded.items():
            report.folded[f"{graph.name}.{node_name}" if graph is not model else node_name] = construct
    canonicalise(model, report)
    parameterise_blocks(importer, model, report, records)
    embedding_inputs_hold_ids(model)
    model.training = _TrainingReader(importer, name).read(model)
    report.training = describe_training(model.training)
    if has_errors(report.diagnostics) and not partial:
        raise PyTorchImportError(report.diagnostics, model, report)
    return model, report


def _build_reading_shapes(picked: Importer, name: str, how: str, input_shapes):
    """``(importer, model)`` built at the given input shapes, the others read from the code: each input's
    candidate shapes (``_templates_for``) in turn until the graph's shapes fit, then the sizes the code
    pins solved and the model read again at them."""
    choices = list(_choices(picked, name, how, input_shapes))
    failure = first = None
    for choice in choices:
        importer = picked.again()
        importer.template_choice = choice
        try:
            model = importer.build(name, how, input_shapes)
        except (NNPivotError, Refused) as exc:
            failure = failure or exc
            continue
        first = first or (importer, model)
        last = choice is choices[-1]
        fixed = all(d >= 0 for shape in importer.report.input_shapes.values() for d in shape)
        # with run-time sizes, shapes the builder could not compute are the solver's to judge
        untranslated = [d for d in importer.report.diagnostics
                        if d.is_error and (fixed or d.code not in ("shape-mismatch", "dynamic-value"))]
        if untranslated or fixed and has_errors(infer_shapes(model)[1]):
            if last and failure is None:   # no candidate fits: the problems are those of the first, the likeliest
                return first
            continue   # this candidate does not fit the graph; the next one may
        pinned, notes = pinned_sizes(model, importer.report.input_shapes, Location(str(picked.path)))
        if has_errors(notes):
            failure = failure or NNPivotError(notes)
            continue
        if pinned:   # sizes the code fixes: the model is read again at them, as if they had been given
            importer = picked.again()
            model = importer.build(name, how, pinned)
            importer.report.diagnostics.extend(notes)
        return importer, model
    raise failure


def _choices(picked: Importer, name: str, how: str, input_shapes):
    """Which candidate shape each input without a given one takes: every combination, in order of preference."""
    importer = picked.again()
    try:
        importer.build(name, how, input_shapes)
    except (NNPivotError, Refused):
        pass
    options = {param: count for param, count in importer.template_options.items() if count}
    for combination in itertools.islice(itertools.product(*(range(n) for n in options.values())), 16):
        yield dict(zip(options, combination))


# The first layer a forward input meets decides a small legal shape for it.
_GUESS_SIZES = (32, 64, 128, 224)   # spatial sizes tried in turn until the network accepts one


def _guess_for(layer: Layer, size: int):
    kind, args = layer.kind, layer.torch_args
    dims = kind.spatial_dims
    channels = args.get("in_channels", args.get("num_features"))
    if kind.keyword == "embedding":
        return (16,), "int64"
    if dims and _is_int(channels) and "conv" in kind.keyword or kind.keyword.startswith("batch_norm") and dims != 1:
        return (channels, *[size] * dims), "float32"
    if _is_int(args.get("in_features")):
        return (args["in_features"],), "float32"
    if _is_int(args.get("input_size")):
        return (16, args["input_size"]), "float32"
    if _is_int(args.get("embed_dim")):
        return (16, args["embed_dim"]), "float32"
    normalized = args.get("normalized_shape")
    if normalized is not None:
        shape = tuple(normalized) if isinstance(normalized, (list, tuple)) else (normalized,)
        return (8, *shape) if len(shape) == 1 else shape, "float32"
    if kind.keyword == "batch_norm1d" and _is_int(channels):
        return (channels,), "float32"
    return None


def _templates_for(layer: Layer | None, views=frozenset()) -> list[tuple]:
    """Input shapes the first layer reading an input admits, -1 for a size it leaves to run time: the shape
    it fixes (channels, features, token ids), then the views it may be reading the input through (a
    sequence of feature vectors, an unsqueezed channel axis, channels moved last, no size known)."""
    if layer is None:
        return []
    kind, args = layer.kind, layer.torch_args
    if kind.keyword.startswith("embedding"):
        return [(-1,)]   # token ids, any length
    first = None
    for key in ("input_size", "embed_dim", "d_model"):   # a sequence of feature vectors, any length
        if _is_int(args.get(key)):
            first = (-1, args[key])
            break
    normalized = args.get("normalized_shape")
    if first is None and (_is_int(normalized) or isinstance(normalized, (list, tuple)) and len(normalized) == 1):
        first = (-1, normalized if _is_int(normalized) else normalized[0])
    if first is None:
        guess = _guess_for(layer, -1)   # channels then run-time spatial sizes, or the features of a dense layer
        if guess is None:
            return []
        first = tuple(guess[0])
    options = [first]
    if len(first) == 1:
        options.append((-1, *first))
    if len(first) > 1 and first[0] == 1:
        options.append(first[1:])
    if len(first) > 1 and first[0] != -1:
        options.append((*first[1:], first[0]))
    options.append((-1,) * len(first))
    moved = [o for o in options[1:] if views & {"permute", "transpose"} and len(o) == len(first)
             or "unsqueeze" in views and len(o) < len(first) or "joined" in views and o == (-1,) * len(first)]
    return list(dict.fromkeys([*moved, *options]))


def _consumer_layer(importer, root, param: str, body):
    """The layer that first reads forward argument ``param`` (through assignments, helper methods, loops
    over module lists and ``unsqueeze``/``permute``, which the returned layer's view is undone by), or the
    first layer of a Sequential model; None when no layer reads it."""
    if body is None:
        return _first_layer(root), set()
    reader = _FirstReader(importer, root)
    found = reader.statements(body.body, {param}, {}, 0)
    return found, reader.views


class _FirstReader:
    """Follows one forward argument through ``forward`` in evaluation order to the first layer it meets."""

    def __init__(self, importer, root):
        self.importer, self.root = importer, root
        self.views = set()   # the tensor methods that change the argument's view on its way: permute, unsqueeze...

    def statements(self, stmts, tainted: set, loops: dict, depth: int):
        for stmt in stmts:
            if isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
                container = self.module_of(stmt.iter, loops)
                items = container.modules() if isinstance(container, Container) else []
                inner = {**loops, stmt.target.id: items[0]} if items else loops
                found = self.statements(stmt.body, tainted, inner, depth)
                if found is not None:
                    return found
                continue
            if not any(isinstance(n, ast.Name) and n.id in tainted for n in ast.walk(stmt)):
                continue
            found = self.expression(stmt, tainted, loops, depth)
            if found is not None:
                return found
            if isinstance(stmt, ast.Assign):
                tainted |= {n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        return None

    def expression(self, node, tainted: set, loops: dict, depth: int):
        """The first module call, in evaluation order (arguments before the call), with a tainted argument."""
        for child in ast.iter_child_nodes(node):
            found = self.expression(child, tainted, loops, depth)
            if found is not None:
                return found
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                any(isinstance(n, ast.Name) and n.id in tainted for n in ast.walk(node.func.value)):
            self.views.add(node.func.attr)
        if not isinstance(node, ast.Call) or not any(
                isinstance(n, ast.Name) and n.id in tainted for a in node.args for n in ast.walk(a)):
            return None
        module = self.module_of(node.func, loops)
        if module is not None:
            return _first_layer(module)
        if isinstance(node.func, (ast.Attribute, ast.Name)) and len(node.args) == 1 and \
                isinstance(node.args[0], (ast.List, ast.Tuple)):   # torch.cat([a, b]): a layer sees more than a
            self.views.add("joined")
        head, parts = dotted(node.func)
        if isinstance(head, ast.Name) and head.id == "self" and len(parts) == 1 and depth < 3 \
                and isinstance(self.root, Instance):
            method = self.root.cls.method(parts[0])
            if method is not None:   # a helper method: its parameters take the tainted arguments
                params = [a.arg for a in method[0].args.args][1:]
                names = {p for p, a in zip(params, node.args)
                         if any(isinstance(n, ast.Name) and n.id in tainted for n in ast.walk(a))}
                return self.statements(method[0].body, names, loops, depth + 1)
        return None

    def module_of(self, func, loops: dict):
        if isinstance(func, ast.Name):
            return loops.get(func.id)
        if isinstance(func, ast.Subscript) and isinstance(func.slice, ast.Constant):
            container = self.module_of(func.value, loops)
            if isinstance(container, Container):
                key = func.slice.value
                entries = dict(container.entries())
                return entries.get(key, entries.get(str(key)))
            return None
        return _self_attribute(self.importer, self.root, func)


def _builder_params(definition: ClassInfo | ast.FunctionDef) -> list[str]:
    """The parameters a script's call passes positionally: a class's ``__init__`` without self, or a
    builder function's."""
    if isinstance(definition, ast.FunctionDef):
        return [a.arg for a in definition.args.posonlyargs + definition.args.args]
    init = definition.method("__init__")
    return [a.arg for a in init[0].args.posonlyargs + init[0].args.args][1:] if init else []


def _first_layer(value):
    if isinstance(value, Layer) and value.kind.mappings[SOURCE].module is not None:
        return value
    if isinstance(value, Container):
        for item in value.modules():
            found = _first_layer(item)
            if found is not None:
                return found
    if isinstance(value, Instance):
        for item in value.attrs.values():
            found = _first_layer(item)
            if found is not None:
                return found
    return None


def guess_input_shapes(path, model_name: str | None = None, model_args: dict | None = None,
                       settings: dict | None = None) -> dict:
    """Small legal input shapes for a file's network, from the first layer each input meets.

    Returns ``{argument: shape}`` (pivot layout, without the batch axis);
    raises NNPivotError ``missing-input-shape`` when an input cannot be guessed.
    The guess is checked by importing the model with it.
    """
    importer = Importer.of_file(path, model_args, settings)
    name, how = importer.pick(model_name)
    if how == "class":
        info = importer.classes[name]
        try:
            root = importer.instantiate(info, *importer.site_arguments(info), info.node)
        except Refused as refused:
            raise NNPivotError([refused.diagnostic or error("missing-input-shape", f"cannot build {name}",
                                                            Location(str(path)))]) from None
        forward = info.method("forward")
        params = importer.forward_params(forward[0]) if forward else []
        body = forward[0] if forward else info.node
    else:
        root = importer.built_by_function(name) if how == "function" else importer.globals[name]
        params, body = ["x"], None
    layers = {}
    for param in params:
        layer, views = _consumer_layer(importer, root, param, body)
        layer = None if "joined" in views else layer   # joined to other tensors first: the layer says nothing
        layers[param] = layer
        if layer is None or _guess_for(layer, _GUESS_SIZES[0]) is None:
            raise NNPivotError([error("missing-input-shape", f"cannot guess the shape of forward argument '{param}' "
                                                             "of " + name + "; give it with --input-shape",
                                      Location(str(path)))])
    problems = []
    for size in _GUESS_SIZES:
        guesses = {param: _guess_for(layer, size)[0] for param, layer in layers.items()}
        try:
            import_pytorch(path, model_name, model_args, guesses, settings=settings)
            return guesses
        except NNPivotError as exc:
            problems = exc.diagnostics
            if not any(l.kind.spatial_dims for l in layers.values()):
                break
    raise NNPivotError([error("missing-input-shape", f"no guessed input shape fits {name} (last tried "
                                                     f"{', '.join(f'{k}: {list(v)}' for k, v in guesses.items())});"
                                                     " give them with --input-shape", Location(str(path))), *problems])
    return guesses


def _self_attribute(importer: Importer, root, func: ast.AST):
    """The module ``self.a.b`` names in forward, or None."""
    head, parts = dotted(func)
    if not (isinstance(head, ast.Name) and head.id == "self") or not isinstance(root, Instance):
        return None
    value = root
    for part in parts:
        if isinstance(value, Instance) and part in value.attrs:
            value = value.attrs[part]
        else:
            return value if isinstance(value, Module) and value is not root else None
    return value


__all__ = ["ImportReport", "PyTorchImportError", "guess_input_shapes", "import_pytorch"]
