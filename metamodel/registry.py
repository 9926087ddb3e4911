"""The one registry of layer kinds.

Each entry says how a kind is written (DSL keyword, positional arguments),
what it needs (inputs, required attributes), how its shape is computed, and
carries examples every per-kind test runs. Attribute names, types and defaults
are not repeated here: they are read from the EClass in ``nn.ecore``.
Framework mappings (``pytorch``, ``keras``) are filled in by the generator
modules, so this module imports neither torch nor TensorFlow.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pyecore.ecore import EAttribute, EEnum

from . import concrete_node_classes, eclass
from . import shapes as S

MANY = None  # no upper bound on the number of inputs

# Per-spatial-axis attributes. Canonical form: one value when every axis agrees
# (kernel_size [3, 3] is stored as [3]); an empty list means the documented default.
PER_AXIS = frozenset({"kernelSize", "stride", "dilation", "outputPadding", "outputSize"})


def canonical_per_axis(values: list) -> list:
    values = list(values)
    return values[:1] if len(values) > 1 and len(set(values)) == 1 else values


@dataclass(frozen=True)
class Example:
    """A one-kind model used by tests: input declarations and the node's call."""
    call: str                      # DSL right-hand side, e.g. "conv2d(x, 8, kernel_size=3)"
    inputs: tuple[str, ...] = ("x: float32[3, 16, 16]",)


@dataclass
class Kind:
    keyword: str
    eclass_name: str
    shape: Callable
    summary: str
    examples: tuple[Example, ...]
    positional: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    arity: tuple[int, int | None] = (1, 1)
    category: str = "layer"
    mappings: dict[str, Any] = field(default_factory=dict)  # target name -> framework mapping
    output_count: int | Callable[[Any], int] = 1  # outputs of a node: a number, or a function of the node

    @property
    def eclass(self):
        return eclass(self.eclass_name)

    def attributes(self) -> list[EAttribute]:
        """The kind's hyper-parameters in pyecore's order (DSL keyword arguments are printed in it)."""
        return list(hyper_parameters(self.eclass))

    def attribute(self, name: str) -> EAttribute | None:
        return next((a for a in hyper_parameters(self.eclass) if a.name == name), None)

    @property
    def spatial_dims(self) -> int | None:
        """Number of spatial axes of a 1d/2d/3d kind (conv2d -> 2); None for the others."""
        match = re.search(r"(\d)d$", self.eclass_name)
        return int(match.group(1)) if match else None

    def outputs(self, node) -> int:
        """How many outputs a node of this kind has."""
        return self.output_count(node) if callable(self.output_count) else self.output_count


@cache
def hyper_parameters(cls) -> tuple[EAttribute, ...]:
    """The attributes of an EClass but its name and inferred shape, in pyecore's order.

    Cached per EClass: ``eAllStructuralFeatures()`` walks the supertypes on every
    call, and generators ask once per node and attribute.
    """
    skip = {"name", "inferredShape"}
    return tuple(f for f in cls.eAllStructuralFeatures() if isinstance(f, EAttribute) and f.name not in skip)


def snake(name: str) -> str:
    """DSL spelling of a metamodel feature: kernelSize -> kernel_size."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def is_enum(attribute: EAttribute) -> bool:
    return isinstance(attribute.eType, EEnum)


IMG = ("x: float32[3, 16, 16]",)
SEQ = ("x: float32[7, 12]",)
VEC = ("x: float32[20]",)
TWO_MAPS = ("x: float32[4, 8, 8]", "y: float32[4, 8, 8]")
VOLUME = ("x: float32[2, 6, 8, 8]",)
SIGNAL = ("x: float32[3, 20]",)

_ENTRIES: list[Kind] = []


def kind(keyword, eclass_name, shape, summary, examples, **kw) -> None:
    _ENTRIES.append(Kind(keyword, eclass_name, shape, summary, tuple(examples), **kw))


def ex(call, inputs=IMG) -> Example:
    return Example(call, tuple(inputs))


# --- layers with parameters --------------------------------------------------
kind("dense", "Dense", S.dense, "Fully connected layer on the last axis.",
     [ex("dense(x, 5)", VEC), ex("dense(x, 4, bias=false)", SEQ)], positional=("units",), required=("units",))
_conv_inputs = {1: SIGNAL, 2: IMG, 3: VOLUME}
for d in (1, 2, 3):
    kind(f"conv{d}d", f"Conv{d}d", S.conv(d), f"{d}-D convolution.",
         [ex(f"conv{d}d(x, 4, kernel_size=3)", _conv_inputs[d]),
          ex(f"conv{d}d(x, 4, kernel_size=2, stride=2, padding=same)", _conv_inputs[d]),
          ex(f"conv{d}d(x, 6, kernel_size=3, padding=same, dilation=2, bias=false)", _conv_inputs[d])]
         + ([ex("conv2d(x, 6, kernel_size=4, stride=3, padding=same, groups=3)"),
             ex("conv2d(x, 4, kernel_size=[3, 2], padding=[[1, 0], [2, 1]])")] if d == 2 else []),
         positional=("filters",), required=("filters", "kernelSize"))
for d in (1, 2, 3):
    kind(f"conv_transpose{d}d", f"ConvTranspose{d}d", S.conv_transpose(d), f"{d}-D transposed convolution.",
         [ex(f"conv_transpose{d}d(x, 4, kernel_size=3, stride=2)", _conv_inputs[d]),
          ex(f"conv_transpose{d}d(x, 4, kernel_size=2, stride=2, padding=same)", _conv_inputs[d])]
         + ([ex("conv_transpose2d(x, 4, kernel_size=3, stride=2, padding=1, output_padding=1)")] if d == 2 else []),
         positional=("filters",), required=("filters", "kernelSize"))
for d in (1, 2, 3):
    for op in ("max", "avg"):
        kind(f"{op}_pool{d}d", f"{op.capitalize()}Pool{d}d", S.pool(d), f"{d}-D {op} pooling.",
             [ex(f"{op}_pool{d}d(x, 2)", _conv_inputs[d]),
              ex(f"{op}_pool{d}d(x, 3, stride=2, padding=same)", _conv_inputs[d])]
             + ([ex(f"{op}_pool2d(x, 3, stride=2, padding=1, ceil_mode=true)")] if d == 2 else []),
             positional=("kernelSize",), required=("kernelSize",))
for d in (1, 2):
    for op in ("avg", "max"):
        kind(f"adaptive_{op}_pool{d}d", f"Adaptive{op.capitalize()}Pool{d}d", S.adaptive_pool(d),
             f"{d}-D adaptive {op} pooling to a fixed output size.",
             [ex(f"adaptive_{op}_pool{d}d(x, {'4' if d == 1 else '[4, 4]'})", _conv_inputs[d]),
              ex(f"adaptive_{op}_pool{d}d(x, 1)", _conv_inputs[d])],
             positional=("outputSize",), required=("outputSize",))
for op in ("avg", "max"):
    kind(f"global_{op}_pool", f"Global{op.capitalize()}Pool", S.global_pool,
         f"Global {op} pooling over all spatial axes.",
         [ex(f"global_{op}_pool(x)"), ex(f"global_{op}_pool(x, keepdims=true)", SIGNAL)])
for d, inp in ((1, SEQ), (2, IMG), (3, VOLUME)):
    kind(f"batch_norm{d}d", f"BatchNorm{d}d", S.batch_norm(d), f"Batch normalization over the channel axis ({d}-D).",
         [ex(f"batch_norm{d}d(x)", inp if d != 1 else SIGNAL), ex(f"batch_norm{d}d(x, eps=0.001, momentum=0.01)",
                                                                   inp if d != 1 else ("x: float32[6]",))])
kind("instance_norm", "InstanceNorm", S.channel_norm("numFeatures"),
     "Instance normalization: per sample and channel over the spatial axes.",
     [ex("instance_norm(x)"), ex("instance_norm(x, affine=true, eps=0.001)", SIGNAL)])
kind("layer_norm", "LayerNorm", S.layer_norm, "Layer normalization over the trailing axes.",
     [ex("layer_norm(x, 12)", SEQ), ex("layer_norm(x, [3, 16, 16], eps=0.001)")],
     positional=("normalizedShape",))
kind("group_norm", "GroupNorm", S.channel_norm("numChannels"), "Group normalization over channel groups.",
     [ex("group_norm(x, 2)", TWO_MAPS[:1]), ex("group_norm(x, 3, affine=false)")],
     positional=("numGroups",), required=("numGroups",))
kind("dropout", "Dropout", S.same_shape, "Dropout (identity at inference).",
     [ex("dropout(x, 0.3)", VEC), ex("dropout(x, 0.2, spatial=true)")], positional=("rate",))
kind("embedding", "Embedding", S.embedding, "Lookup table of vectors for integer indices.",
     [ex("embedding(x, 50, 8)", ("x: int64[10]",)), ex("embedding(x, 30, 6, padding_idx=0)", ("x: int64[9]",))],
     positional=("numEmbeddings", "embeddingDim"), required=("numEmbeddings", "embeddingDim"))
for keyword, name in (("simple_rnn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")):
    kind(keyword, name, S.recurrent, f"{name} recurrent layer, stacked and/or bidirectional.",
         [ex(f"{keyword}(x, 8)", SEQ), ex(f"{keyword}(x, 6, return_sequences=false)", SEQ),
          ex(f"{keyword}(x, 5, num_layers=2, bidirectional=true)", SEQ)]
         + ([ex("simple_rnn(x, 4, nonlinearity=relu, bias=false)", SEQ)] if name == "SimpleRNN" else []),
         positional=("hiddenSize",), required=("hiddenSize",),
         output_count=3 if name == "LSTM" else 2)  # sequence, hidden states (, cell states)
kind("multi_head_attention", "MultiHeadAttention", S.attention, "Multi-head scaled dot-product attention.",
     [ex("multi_head_attention(x, 12, 3)", SEQ),
      ex("multi_head_attention(x, y, y, 12, 2)", ("x: float32[5, 12]", "y: float32[7, 12]"))],
     positional=("embedDim", "numHeads"), required=("embedDim", "numHeads"), arity=(1, 3),
     output_count=2)  # attended values, attention weights

# --- activations ---------------------------------------------------------------
for keyword, name, extra in (
        ("relu", "ReLU", ()), ("relu6", "ReLU6", ()), ("selu", "SELU", ()), ("silu", "SiLU", ()),
        ("mish", "Mish", ()), ("sigmoid", "Sigmoid", ()), ("hardsigmoid", "Hardsigmoid", ()),
        ("hardswish", "Hardswish", ()), ("tanh", "Tanh", ()),
        ("leaky_relu", "LeakyReLU", ("leaky_relu(x, 0.2)",)), ("elu", "ELU", ("elu(x, 0.5)",)),
        ("gelu", "GELU", ("gelu(x, approximate=tanh)",)),
        ("softplus", "Softplus", ("softplus(x, beta=2.0, threshold=10.0)",))):
    positional = {"LeakyReLU": ("negativeSlope",), "ELU": ("alpha",)}.get(name, ())
    kind(keyword, name, S.same_shape, f"{name} activation.", [ex(f"{keyword}(x)")] + [ex(e) for e in extra],
         positional=positional, category="activation")
kind("prelu", "PReLU", S.prelu, "PReLU activation with learned slopes (one, or one per channel).",
     [ex("prelu(x)"), ex("prelu(x, num_parameters=3)")], category="activation")
for keyword, name in (("softmax", "Softmax"), ("log_softmax", "LogSoftmax")):
    kind(keyword, name, S.softmax, f"{name} along an axis.",
         [ex(f"{keyword}(x)", VEC), ex(f"{keyword}(x, axis=1)")], positional=("axis",), category="activation")

# --- tensor operations ---------------------------------------------------------
OP = "operation"
kind("flatten", "Flatten", S.flatten, "Merges the axes start_dim..end_dim.",
     [ex("flatten(x)"), ex("flatten(x, start_dim=2)")], category=OP)
kind("reshape", "Reshape", S.reshape, "Reshapes each sample (batch axis kept).",
     [ex("reshape(x, [12, 64])"), ex("reshape(x, [4, -1])", SEQ)], positional=("shape",), required=("shape",),
     category=OP)
kind("permute", "Permute", S.permute, "Reorders the axes (batch included).",
     [ex("permute(x, [0, 2, 1])", SEQ), ex("permute(x, [0, 1, 3, 2])")], positional=("dims",),
     required=("dims",), category=OP)
kind("concat", "Concat", S.concat, "Joins tensors along an existing axis.",
     [ex("concat(x, y)", TWO_MAPS), ex("concat(x, y, axis=-1)", TWO_MAPS)], arity=(2, MANY), category=OP)
kind("stack", "Stack", S.stack, "Joins tensors along a new axis.",
     [ex("stack(x, y)", TWO_MAPS), ex("stack(x, y, axis=-1)", TWO_MAPS)], arity=(2, MANY), category=OP)
kind("split", "Split", S.split, "Cuts a tensor into parts along an axis (one output per part).",
     [ex("split(x, [1, 2])"), ex("split(x, [5, 7], axis=2)", SEQ)], positional=("sizes",), required=("sizes",),
     category=OP, output_count=lambda node: max(len(node.sizes), 1))
for keyword, name in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div")):
    kind(keyword, name, S.broadcast, f"Elementwise {keyword} of two tensors, or of a tensor and a constant.",
         [ex(f"{keyword}(x, y)", TWO_MAPS), ex(f"{keyword}(x, scalar=2.0)"),
          ex(f"{keyword}(x, scalar=3.0, scalar_first=true)")], arity=(1, 2), category=OP)
kind("matmul", "MatMul", S.matmul, "Matrix product (batched).",
     [ex("matmul(x, y)", ("x: float32[5, 6]", "y: float32[6, 3]"))], arity=(2, 2), category=OP)
for keyword, name in (("mean", "ReduceMean"), ("sum", "ReduceSum"), ("max", "ReduceMax"), ("min", "ReduceMin")):
    kind(keyword, name, S.reduction, f"{name[6:]} over axes.",
         [ex(f"{keyword}(x, [2, 3])"), ex(f"{keyword}(x, 1, keepdims=true)", SEQ)], positional=("axes",),
         category=OP)
kind("squeeze", "Squeeze", S.squeeze, "Removes axes of size one.",
     [ex("squeeze(x, 1)", ("x: float32[1, 6]",))], positional=("axes",), category=OP)
kind("unsqueeze", "Unsqueeze", S.unsqueeze, "Inserts an axis of size one.",
     [ex("unsqueeze(x, 1)", VEC)], positional=("axis",), required=("axis",), category=OP)
kind("slice", "Slice", S.slice_, "Takes a strided range along axes.",
     [ex("slice(x, axes=[2], starts=[1], ends=[9], steps=[2])"),
      ex("slice(x, axes=[1, 2], starts=[0, -4], ends=[3, 12])", SEQ)],
     required=("axes", "starts", "ends"), category=OP)
kind("index", "Index", S.index, "Picks one position along an axis, dropping that axis.",
     [ex("index(x, axis=1, index=-1)", SEQ), ex("index(x, axis=1, index=0)")],
     required=("axis", "index"), category=OP)
kind("normalize", "Normalize", S.same_shape, "Divides by the p-norm along an axis.",
     [ex("normalize(x)", VEC), ex("normalize(x, p=1.0, axis=-1)", SEQ)], category=OP)
kind("pad", "Pad", S.pad, "Constant, reflect or replicate padding of the trailing axes.",
     [ex("pad(x, [1, 1, 2, 0])"), ex("pad(x, [2, 1], mode=reflect)", SIGNAL),
      ex("pad(x, [1, 2, 1, 2], value=0.5)")], positional=("pads",), required=("pads",), category=OP)
kind("upsample", "Upsample", S.upsample, "Nearest or bilinear resize of the spatial axes.",
     [ex("upsample(x, scale_factor=2.0)"), ex("upsample(x, scale_factor=2.0, mode=bilinear)")], category=OP)
kind("pixel_shuffle", "PixelShuffle", S.pixel_shuffle, "Moves channel blocks into space (depth to space).",
     [ex("pixel_shuffle(x, 2)", ("x: float32[8, 5, 5]",))], positional=("upscaleFactor",),
     required=("upscaleFactor",), category=OP)
kind("identity", "Identity", S.same_shape, "Passes its input through.", [ex("identity(x)")], category=OP)

KINDS: dict[str, Kind] = {k.keyword: k for k in _ENTRIES}
BY_ECLASS: dict[str, Kind] = {k.eclass_name: k for k in _ENTRIES}


def kind_of(node) -> Kind | None:
    """The registry entry of a node, None for Input, Select and BlockCall."""
    return BY_ECLASS.get(node.eClass.name)


def by_keyword(keyword: str) -> Kind | None:
    return KINDS.get(keyword)


def _check_registry() -> None:
    """Every concrete node EClass except the structural ones has exactly one entry."""
    structural = {"Input", "Select", "BlockCall"}
    classes = {c.name for c in concrete_node_classes()} - structural
    missing, extra = classes - set(BY_ECLASS), set(BY_ECLASS) - classes
    if missing or extra:
        raise RuntimeError(f"registry and metamodel disagree: missing {sorted(missing)}, unknown {sorted(extra)}")
    for k in _ENTRIES:
        for name in (*k.positional, *k.required):
            if k.attribute(name) is None:
                raise RuntimeError(f"{k.keyword}: {name} is not an attribute of {k.eclass_name}")


_check_registry()
