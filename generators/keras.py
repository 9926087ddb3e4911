"""Keras 3 code generator, Keras layouts and Keras weights.

Three parts, all driven by one declarative table, ``MAPPINGS`` (registered into
``kind.mappings["keras"]``):

* **Mapping.** For every pivot kind: the Keras class (``"layers.Conv2D"``) or
  op (``"ops.log_softmax"``) it becomes, its constructor arguments as
  :class:`Arg` entries (Keras keyword, pivot attribute, conversion both ways,
  Keras default), the layout the Keras tensor must have, the emitter that
  writes the code and the weight converter. The Keras importer reads the same
  entries backwards (``Arg.from_keras``).
* **Layout.** Keras code is channels_last. Every tensor carries a permutation
  of the pivot axes (see :mod:`layout`); each kind says what it needs
  (``channels_last``: convolutions, pooling...; ``pivot``: reshapes, RNNs,
  matmul...; ``any``: activations, axis-valued operations whose axes are
  translated). Image and volume inputs take the layout their consumers want, so
  an image input (C, H, W) becomes a Keras input (H, W, C); rank-3 inputs are
  (N, T, F) sequences in both frameworks and stay as they are. ``permute`` nodes never
  emit code: they only change which layout the tensor is known to have. Where a
  conversion is needed an ``ops.transpose`` with a comment is written. A
  Flatten of channels-last maps feeding only Dense layers stays the idiomatic
  ``layers.Flatten`` and the Dense weight rows are reordered (C, H, W) ->
  (H, W, C) by the weight converters.
* **Weights.** ``assign_store``/``store_from_keras`` convert between the pivot
  weight store (PyTorch layouts) and a built Keras model; ``read_weights_h5``/
  ``write_weights_h5`` do the same through ``.weights.h5`` files. TensorFlow
  and Keras are imported lazily inside them.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyecore.ecore import EEnumLiteral

from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import Diagnostic, NNPivotError, error, has_errors, location_of, warning
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.registry import KINDS, kind_of
from nnpivot.metamodel.shapes import ShapeError, explicit_pads, per_axis, same_pads, spatial_geometry
from nnpivot.shapes import infer_shapes
from nnpivot.weights import WeightStore

from . import layout as L
from .codegen import (
    LINE_WIDTH,
    OutputNames,
    Taken,
    class_name,
    environment,
    header,
    identifier,
    literal,
    wrap_call,
    write_atomic,
)

TARGET = "keras"
UNSET = object()
# Attributes of keras.Model a layer attribute must not shadow.
RESERVED = frozenset({
    "self", "layers", "layer", "name", "weights", "input", "output", "inputs", "outputs", "call", "build",
    "trainable", "dtype", "losses", "metrics", "optimizer", "built", "variables", "summary", "compile", "fit",
    "predict", "evaluate", "loss", "training", "mask", "ops", "keras", "kwargs", "super", "state", "path",
})


# =============================================================================
# The mapping table
# =============================================================================

@dataclass(frozen=True)
class Arg:
    """One Keras constructor argument and the pivot attribute it comes from.

    ``pivot`` is the metamodel attribute (camelCase) or None when the value is
    derived from the layout or the shapes (an ``axis``, a ``pool_size``).
    ``to_keras``/``from_keras`` convert the value (BatchNorm momentum is
    ``1 - m`` both ways); the argument is left out when it equals ``default``.
    """
    keras: str
    pivot: str | None = None
    to_keras: Callable[[Any], Any] | None = None
    from_keras: Callable[[Any], Any] | None = None
    default: Any = UNSET
    positional: bool = False
    constant: Any = UNSET  # always written with this value (ReLU6 is ReLU(max_value=6.0))


@dataclass(frozen=True)
class KerasMapping:
    """How one pivot kind is written in Keras 3.

    layer:   the Keras class or op it becomes ("layers.Conv2D", "ops.concatenate");
             variants (padding layers, stacked RNNs) are written by the emitter.
    args:    constructor arguments, in Keras order.
    layout:  what the Keras operand must look like: "channels_last", "pivot"
             (the pivot tensor as is), "any" (axes are translated), "last_axis"
             (the last axis must stay last), "sequence" (N, T, F), "match"
             (all operands in the first operand's layout).
    weights: name of the weight converter in WEIGHT_CONVERTERS, None without weights.
    """
    layer: str | None
    emit: Callable
    args: tuple[Arg, ...] = ()
    layout: str = "any"
    weights: str | None = None
    note: str = ""


def _tuple_or_int(values):
    values = list(values)
    return values[0] if len(set(values)) == 1 else tuple(values)


def _one_minus(value):
    return round(1.0 - value, 12)


# --- emission context --------------------------------------------------------------

@dataclass
class Tensor:
    """A value of the Keras ``call``: its expression, layout and pivot shape.

    ``flat`` is set on the output of a Flatten of non-pivot-layout maps: the
    pivot shape before flattening and the layout it had, so a Dense consumer
    can reorder its weight rows.
    """
    expr: str
    perm: L.Perm
    shape: tuple
    flat: tuple | None = None


class NodeContext:
    """What an emitter sees and can do for one node."""

    def __init__(self, graph_code, node, inputs, out_shapes, out_vars):
        self.graph = graph_code
        self.node = node
        self.inputs: list[Tensor] = inputs
        self.out_shapes = out_shapes
        self.out_vars = list(out_vars)  # an emitter may hand on an operand instead (permute, identity)
        self.mapping: KerasMapping = kind_of(node).mappings[TARGET] if kind_of(node) else None

    @property
    def var(self) -> str:
        return self.out_vars[0]

    @property
    def x(self) -> Tensor:
        return self.inputs[0]

    def attr_name(self, suffix: str = "") -> str:
        return self.graph.attribute(self.node.name + suffix)

    def layer(self, cls: str, args: list[str], suffix: str = "", layer_name: str | None = None) -> str:
        """Declare ``self.<node><suffix> = cls(args..., name=...)`` in ``__init__``; returns ``self.<attr>``.

        A node sharing another's weights (``weightsOf``) gets its owner's layer object, which is
        then called again. That layer must be declared exactly as this node needs it; where a
        layout makes them differ, a weight-free helper (padding, cropping, dropout) gets a layer
        of its own and a layer holding weights is an error (its one set cannot serve both).
        """
        declaration = (cls, tuple(args))
        owner = self.node.weightsOf
        if owner is not None:
            shared = self.graph.declarations.get(owner.name + suffix)
            if shared is not None and shared[1] == declaration:
                return f"self.{shared[0]}"
            if self.mapping.weights and (suffix == "" or re.fullmatch(r"_l\d+", suffix)):
                self.fail(f"shares the weights of '{owner.name}', whose Keras layer is declared "
                          f"{shared[1][0] + '(' + ', '.join(shared[1][1]) + ')' if shared else 'differently'}, "
                          f"but this call needs {cls}({', '.join(args)})")
        attr = self.attr_name(suffix)
        name = layer_name or (self.node.name + suffix)
        self.graph.init.append(wrap_call(f"self.{attr} = {cls}(", [*args, f"name={literal(name)}"], "        "))
        self.graph.layer_names[name] = attr
        self.graph.declarations[name] = (attr, declaration)
        return f"self.{attr}"

    def kwargs(self, **computed) -> list[str]:
        """The mapping's arguments as source: computed values win over converted pivot attributes."""
        out = []
        for arg in self.mapping.args:
            if arg.keras in computed:
                value = computed[arg.keras]
            elif arg.constant is not UNSET:
                out.append(f"{arg.keras}={_source(arg.constant)}")
                continue
            elif arg.pivot is not None:
                value = getattr(self.node, arg.pivot)
                value = value.name if isinstance(value, EEnumLiteral) else value
                if hasattr(value, "__iter__") and not isinstance(value, str):
                    value = list(value)
                if arg.to_keras is not None:
                    value = arg.to_keras(value)
            else:
                continue
            if value is UNSET or (arg.default is not UNSET and _same(value, arg.default)):
                continue
            out.append(literal(value) if arg.positional else f"{arg.keras}={_source(value)}")
        return out

    def assign(self, expression: str, targets: list[str] | None = None) -> None:
        lhs = ", ".join(targets or [self.var])
        self.graph.line(f"{lhs} = {expression}")

    def fail(self, message: str, code: str = "unsupported-for-target") -> None:
        self.graph.diagnostics.append(error(code, f"{kind_of(self.node).keyword} '{self.node.name}': {message}",
                                            location_of(self.node)))

    def pad(self, tensor: Tensor, pads: list[tuple[int, int]], value=0.0, mode: str = "constant",
            layer_cls: str | None = None) -> str:
        """Pad the spatial axes of a channels-last ``tensor``; returns the padded expression."""
        if not any(b or e for b, e in pads):
            return tensor.expr
        if layer_cls and mode == "constant" and value == 0.0:
            spec = _padding_spec(pads)
            padder = self.layer(layer_cls, [f"padding={literal(spec)}"], suffix="_pad")
            padded = f"{padder}({tensor.expr})"
        else:
            widths = pad_widths(tensor.perm, {2 + i: p for i, p in enumerate(pads)})
            padded = f"ops.pad({tensor.expr}, {literal(widths)}{pad_options(mode, value)})"
        variable = self.graph.fresh(self.node.name + "_padded")
        self.graph.line(f"{variable} = {padded}")
        return variable


def _padding_spec(pads):
    """Keras' ZeroPadding/Cropping argument: one int, one int per axis, or (begin, end) per axis."""
    if all(b == e for b, e in pads):
        return _tuple_or_int([b for b, _ in pads])
    return tuple(pads[0]) if len(pads) == 1 else tuple(tuple(p) for p in pads)


def _same(value, default) -> bool:
    if isinstance(value, (list, tuple)) and not isinstance(default, (list, tuple)):
        return False
    return value == default


def _source(value) -> str:
    return value.code if isinstance(value, Code) else literal(value)


@dataclass(frozen=True)
class Code:
    """An argument value that is source code already (an initializer, a nested layer)."""
    code: str


def pad_widths(perm: L.Perm, pivot_pads: dict[int, tuple[int, int]]) -> list[list[int]]:
    """``ops.pad`` widths for a tensor laid out as ``perm`` from pads given per pivot axis."""
    return [list(pivot_pads.get(axis, (0, 0))) for axis in perm]


def pad_options(mode: str, value) -> str:
    keras_mode = {"constant": "constant", "reflect": "reflect"}[mode]
    if keras_mode != "constant":
        return f', mode="{keras_mode}"'
    return f", constant_values={literal(float(value))}" if value else ""


def spatial_dims(node) -> int:
    return int(re.search(r"(\d)d", node.eClass.name).group(1))


# --- emitters ----------------------------------------------------------------------------

def emit_layer(ctx: NodeContext):
    """A plain layer: constructor arguments from the table, one call on the first operand."""
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_activation_fn(ctx: NodeContext):
    """``layers.Activation("<fn>")`` where Keras has no dedicated layer."""
    layer = ctx.layer("layers.Activation", [literal(ctx.mapping.note)])
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_gelu(ctx):
    if ctx.node.approximate.name == "tanh":
        ctx.assign(f"ops.gelu({ctx.x.expr}, approximate=True)")
        return [ctx.x.perm]
    layer = ctx.layer("layers.Activation", ['"gelu"'])
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_softplus(ctx):
    beta, threshold, x = ctx.node.beta, ctx.node.threshold, ctx.x.expr
    if beta == 1.0 and threshold >= 20.0:  # beyond 20, softplus(x) == x in float32
        return emit_activation_fn(ctx)
    # PyTorch's Softplus(beta, threshold): linear where beta * x exceeds the threshold.
    scaled = f"{x} * {literal(beta)}"
    ctx.assign(f"ops.where({scaled} > {literal(threshold)}, {x}, ops.softplus({scaled}) / {literal(beta)})")
    return [ctx.x.perm]


def emit_softmax(ctx):
    axis = L.target_axis(ctx.x.perm, ctx.node.axis)
    axis = -1 if axis == len(ctx.x.perm) - 1 else axis
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs(axis=axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_log_softmax(ctx):
    axis = L.target_axis(ctx.x.perm, ctx.node.axis)
    axis = -1 if axis == len(ctx.x.perm) - 1 else axis
    ctx.assign(f"ops.log_softmax({ctx.x.expr}, axis={axis})")
    return [ctx.x.perm]


def emit_prelu(ctx):
    rank, perm = len(ctx.x.shape), ctx.x.perm
    if ctx.node.numParameters == 1:
        shared = list(range(1, rank))
    else:
        channel = L.target_axis(perm, 1)
        shared = [a for a in range(1, rank) if a != channel]
    init = Code(f"keras.initializers.Constant({literal(ctx.node.init)})")
    layer = ctx.layer("layers.PReLU", ctx.kwargs(alpha_initializer=init, shared_axes=shared or UNSET))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [perm]


def emit_dropout(ctx):
    if ctx.node.spatial:
        rank = len(ctx.x.shape)
        if rank not in (3, 4, 5):
            ctx.fail(f"spatial dropout needs (N, C, spatial...) maps, got rank {rank}")
            return [ctx.x.perm]
        layer = ctx.layer(f"layers.SpatialDropout{rank - 2}D", ctx.kwargs())
    else:
        layer = ctx.layer("layers.Dropout", ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_dense(ctx):
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    owner = ctx.node.weightsOf
    if owner is not None and ctx.x.flat != ctx.graph.dense_rows.get(owner.name):
        ctx.fail(f"shares the weights of '{owner.name}', whose input features come in another order in Keras "
                 "(a Flatten of channels-last maps on one side only)")
    if ctx.x.flat is not None and owner is None:
        ctx.graph.dense_rows[ctx.node.name] = ctx.x.flat
    return [ctx.x.perm]


def emit_embedding(ctx):
    if ctx.node.eIsSet("maxNorm"):
        ctx.fail("max_norm renormalises rows during the lookup; Keras' Embedding has no equivalent")
    emit_layer(ctx)
    return [L.identity(len(ctx.out_shapes[0]))]


def emit_conv(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    kernel, stride, dilation, pads = spatial_geometry(node, x.shape, dims)
    mode, padding_mode = node.padding.name, node.paddingMode.name
    if padding_mode in ("replicate", "circular") and any(b or e for b, e in pads):
        ctx.fail(f"padding_mode={padding_mode} has no Keras equivalent")
    if max(stride) > 1 and max(dilation) > 1:
        ctx.fail("Keras convolutions cannot combine stride > 1 with dilation > 1")
    # Explicit pads that happen to be TensorFlow's 'same' pads (3x3, pad 1, stride 1) are written as such.
    same = [same_pads(n, k, st, d) if n is not None else None
            for n, k, st, d in zip(x.shape[2:], kernel, stride, dilation)]
    is_same = mode == "same" or (mode == "explicit" and [tuple(p) for p in pads] == same)
    keras_padding = "same" if is_same and padding_mode == "zeros" and not (
        max(stride) > 1 and max(dilation) > 1) else "valid"
    source = x.expr if keras_padding == "same" else ctx.pad(
        x, pads, mode="reflect" if padding_mode == "reflect" else "constant",
        layer_cls=f"layers.ZeroPadding{dims}D")
    layer = ctx.layer(f"layers.Conv{dims}D", ctx.kwargs(
        kernel_size=_tuple_or_int(kernel), strides=_tuple_or_int(stride), padding=keras_padding,
        dilation_rate=_tuple_or_int(dilation)))
    ctx.assign(f"{layer}({source})")
    return [x.perm]


def emit_conv_transpose(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    kernel, stride, dilation, _ = spatial_geometry(node, x.shape, dims)
    out_pad = per_axis(node.outputPadding, dims, 0, "output_padding")
    if node.groups != 1:
        ctx.fail("Keras transposed convolutions have no groups")
    mode = node.padding.name
    crops = explicit_pads(node, dims) if mode == "explicit" else [(0, 0)] * dims
    computed = {"kernel_size": _tuple_or_int(kernel), "strides": _tuple_or_int(stride),
                "padding": "same" if mode == "same" else "valid", "dilation_rate": _tuple_or_int(dilation)}
    # Keras' valid output is max(k, s) + (i - 1) s unless output_padding is given; the pivot's is k + (i - 1) s + op.
    if mode != "same" and (any(out_pad) or any(k < s for k, s in zip(kernel, stride))):
        computed["output_padding"] = _tuple_or_int(out_pad)
    layer = ctx.layer(f"layers.Conv{dims}DTranspose", ctx.kwargs(**computed))
    result = f"{layer}({x.expr})"
    if any(b or e for b, e in crops):
        ctx.graph.line(f"{ctx.var} = {result}")
        cropper = ctx.layer(f"layers.Cropping{dims}D", [f"cropping={literal(_padding_spec(crops))}"],
                            suffix="_crop")
        result = f"{cropper}({ctx.var})"
    ctx.assign(result)
    return [x.perm]


def emit_pool(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    kernel, stride, dilation, pads = spatial_geometry(node, x.shape, dims)
    is_max = is_kind(node, "MaxPooling")
    if max(dilation) > 1:
        ctx.fail("Keras pooling has no dilation")
    # The pivot's output size (ceil_mode included) decides the pad at the end of each axis.
    out = ctx.out_shapes[0][2:]
    sizes = x.shape[2:]
    extra = [max(0, (o - 1) * s + k - (n + b + e)) for o, s, k, n, (b, e) in zip(out, stride, kernel, sizes, pads)]
    counts = None
    if node.padding.name == "same" and not any(extra):
        keras_padding, source = "same", x.expr  # TensorFlow's same: padded cells are ignored, never counted
    else:
        keras_padding = "valid"
        full = [(b, e + more) for (b, e), more in zip(pads, extra)]
        if is_max and any(b or e for b, e in full):
            ctx.graph.body.append("        # Max pooling pads with -inf, as PyTorch does (explicit pads, ceil_mode).")
            source = ctx.pad(x, full, value=float("-inf"))
        elif is_max:
            source = x.expr
        elif any(extra) or (not node.countIncludePad and any(b or e for b, e in pads)):
            # Windows overhang the input (ceil_mode) or padding is not counted: average the
            # zero-padded values over the cells PyTorch counts (a pooled mask of ones).
            source = ctx.pad(x, full)
            spatial = {2 + i: p for i, p in enumerate(pads)}
            rest = {2 + i: (0, more) if node.countIncludePad else (b, e + more)
                    for i, ((b, e), more) in enumerate(zip(pads, extra))}
            counts = ctx.graph.fresh(node.name + "_counted")
            counted_pads = "padding included" if node.countIncludePad else "padding excluded"
            ctx.graph.body.append(f"        # Cells PyTorch counts in each window ({counted_pads}).")
            ctx.graph.line(f"{counts} = ops.ones_like({x.expr})")
            if node.countIncludePad:
                ctx.graph.line(f"{counts} = ops.pad({counts}, {literal(pad_widths(x.perm, spatial))}, "
                               "constant_values=1.0)")
            ctx.graph.line(f"{counts} = ops.pad({counts}, {literal(pad_widths(x.perm, rest))})")
        else:
            source = ctx.pad(x, pads, layer_cls=f"layers.ZeroPadding{dims}D")
    cls = f"layers.{'Max' if is_max else 'Average'}Pooling{dims}D"
    strides = UNSET if stride == kernel else _tuple_or_int(stride)  # Keras' default stride is the pool size
    layer = ctx.layer(cls, ctx.kwargs(pool_size=_tuple_or_int(kernel), strides=strides, padding=keras_padding))
    ctx.assign(f"{layer}({source})" if counts is None else f"{layer}({source}) / {layer}({counts})")
    return [x.perm]


def emit_adaptive_pool(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    sizes, targets = x.shape[2:], ctx.out_shapes[0][2:]
    if any(n is None or n % o for n, o in zip(sizes, targets)):
        ctx.fail(f"adaptive pooling of {tuple(sizes)} to {tuple(targets)} has uneven windows; Keras has no "
                 "adaptive pooling (sizes must be multiples of the output size)")
        return [x.perm]
    # Uniform windows: PyTorch's adaptive pooling is then a plain pooling with kernel = stride = n / o.
    windows = _tuple_or_int([n // o for n, o in zip(sizes, targets)])
    cls = f"layers.{'Max' if 'Max' in node.eClass.name else 'Average'}Pooling{dims}D"
    layer = ctx.layer(cls, [f"pool_size={literal(windows)}"])
    ctx.assign(f"{layer}({x.expr})")
    return [x.perm]


def emit_global_pool(ctx):
    node, x = ctx.node, ctx.x
    dims = len(x.shape) - 2
    cls = f"layers.Global{'Max' if is_kind(node, 'GlobalMaxPool') else 'Average'}Pooling{dims}D"
    layer = ctx.layer(cls, ctx.kwargs())
    ctx.assign(f"{layer}({x.expr})")
    return [x.perm if node.keepdims else L.identity(2)]


def emit_batch_norm(ctx):
    if not ctx.node.trackRunningStats:
        ctx.fail("track_running_stats=false normalises with batch statistics at inference; Keras cannot")
    axis = L.target_axis(ctx.x.perm, 1)
    layer = ctx.layer("layers.BatchNormalization", ctx.kwargs(axis=-1 if axis == len(ctx.x.perm) - 1 else axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_group_norm(ctx):
    node = ctx.node
    axis = L.target_axis(ctx.x.perm, 1)
    groups = node.numGroups if is_kind(node, "GroupNorm") else ctx.x.shape[1]  # instance norm: a group per channel
    layer = ctx.layer("layers.GroupNormalization", ctx.kwargs(
        groups=groups, axis=-1 if axis == len(ctx.x.perm) - 1 else axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_layer_norm(ctx):
    rank = len(ctx.x.shape)
    count = max(len(ctx.node.normalizedShape), 1)
    axes = [L.target_axis(ctx.x.perm, a) for a in range(rank - count, rank)]
    axis = -1 if axes == [rank - 1] else axes[0] if len(axes) == 1 else axes
    layer = ctx.layer("layers.LayerNormalization", ctx.kwargs(axis=axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def states_used(ctx) -> list[bool]:
    return [name != "_" for name in ctx.out_vars[1:]]


def emit_recurrent(ctx):
    node, x = ctx.node, ctx.x
    directions = 2 if node.bidirectional else 1
    per_direction = 2 if is_kind(node, "LSTM") else 1
    want_states = any(states_used(ctx))
    cls = ctx.mapping.layer
    sequence = x.expr
    finals: list[list[str]] = [[] for _ in range(per_direction)]  # h (and c) of every layer and direction
    for index in range(node.numLayers):
        last = index == node.numLayers - 1
        suffix = "" if node.numLayers == 1 else f"_l{index}"
        if index and node.dropout:
            dropper = ctx.layer("layers.Dropout", [literal(node.dropout)], suffix=f"_drop{index}")
            ctx.graph.line(f"{sequence} = {dropper}({sequence})")
        computed = {"return_sequences": node.returnSequences or not last, "return_state": want_states}
        if directions == 2:
            inner = ", ".join(ctx.kwargs(**computed))
            layer = ctx.layer("layers.Bidirectional", [f"{cls}({inner})"], suffix=suffix)
        else:
            layer = ctx.layer(cls, ctx.kwargs(**computed), suffix=suffix)
        output = ctx.var if last else ctx.graph.fresh(f"{node.name}_l{index}")
        targets = [output]
        if want_states:
            for direction in ("", "_reverse")[:directions]:
                for slot, letter in enumerate("hc"[:per_direction]):
                    state = ctx.graph.fresh(f"{node.name}_{letter}{index}{direction}")
                    finals[slot].append(state)
                    targets.append(state)
        ctx.assign(f"{layer}({sequence})", targets)
        sequence = output
    for slot, used in enumerate(states_used(ctx)):
        if used:
            # PyTorch's h_n / c_n: (num_layers * directions, N, H), layer-major then direction.
            ctx.graph.line(f"{ctx.out_vars[slot + 1]} = ops.stack([{', '.join(finals[slot])}], axis=0)")
    sequence_perm = (1, 0, 2) if node.returnSequences and not node.batchFirst else L.identity(
        3 if node.returnSequences else 2)
    return [sequence_perm] + [L.identity(3)] * per_direction


def emit_attention(ctx):
    node = ctx.node
    query = ctx.inputs[0].expr
    key = ctx.inputs[1].expr if len(ctx.inputs) > 1 else query
    value = ctx.inputs[2].expr if len(ctx.inputs) > 2 else key
    layer = ctx.layer("layers.MultiHeadAttention", ctx.kwargs(key_dim=node.embedDim // node.numHeads))
    args = [query, value] + ([f"key={key}"] if key != value else [])
    if states_used(ctx)[0]:
        scores = ctx.graph.fresh(f"{node.name}_scores")
        ctx.assign(f"{layer}({', '.join(args)}, return_attention_scores=True)", [ctx.var, scores])
        # PyTorch returns the attention weights averaged over the heads.
        ctx.graph.line(f"{ctx.out_vars[1]} = ops.mean({scores}, axis=1)")
    else:
        ctx.assign(f"{layer}({', '.join(args)})")
    return [L.identity(3), L.identity(3)]


def emit_flatten(ctx):
    node, x = ctx.node, ctx.x
    rank = len(x.shape)
    start, end = node.startDim % rank, node.endDim % rank
    if start == 1 and end == rank - 1:
        flat = None if L.is_identity(x.perm) else (tuple(x.shape), x.perm)
        layer = ctx.layer("layers.Flatten", [])
        ctx.assign(f"{layer}({x.expr})")
        ctx.graph.flat_nodes[node] = flat
        return [L.identity(2)]
    merged = list(range(start, end + 1))
    positions = [x.perm.index(a) for a in merged]
    if positions != list(range(positions[0], positions[0] + len(merged))):
        raise AssertionError("flatten operand must have been converted")
    out_perm = [a if a <= start else a - len(merged) + 1 for a in x.perm if a not in merged[1:]]
    target = [d for i, d in enumerate(x.shape) if i == 0 or i not in merged[1:]]
    keras_shape = [target[a] if a != start else math.prod(x.shape[start:end + 1]) for a in out_perm]
    ctx.assign(f"ops.reshape({x.expr}, {literal([-1] + keras_shape[1:])})")
    return [tuple(out_perm)]


def emit_reshape(ctx):
    shape = ctx.out_shapes[0]
    if None in shape[1:]:
        ctx.fail("reshape to a size known only at run time")
    ctx.assign(f"ops.reshape({ctx.x.expr}, {literal([-1] + list(shape[1:]))})")
    return [L.identity(len(shape))]


def emit_permute(ctx):
    # No code: the Keras tensor stays as it is and its layout relative to the pivot changes.
    ctx.out_vars[0] = ctx.x.expr
    return [L.after_permute(list(ctx.node.dims), ctx.x.perm)]


def emit_concat(ctx):
    perm = ctx.x.perm
    axis = L.target_axis(perm, ctx.node.axis)
    operands = ", ".join(t.expr for t in ctx.inputs)
    ctx.assign(f"ops.concatenate([{operands}], axis={axis})")
    return [perm]


def emit_stack(ctx):
    rank = len(ctx.x.shape) + 1
    pivot_axis = ctx.node.axis % rank
    out_perm = L.insert_axis(ctx.x.perm, pivot_axis)
    operands = ", ".join(t.expr for t in ctx.inputs)
    ctx.assign(f"ops.stack([{operands}], axis={out_perm.index(pivot_axis)})")
    return [out_perm]


def emit_split(ctx):
    perm = ctx.x.perm
    axis = L.target_axis(perm, ctx.node.axis)
    cuts = list(np.cumsum(list(ctx.node.sizes))[:-1].tolist())
    targets = list(ctx.out_vars)
    ctx.assign(f"ops.split({ctx.x.expr}, {literal(cuts)}, axis={axis})",
               targets if len(targets) > 1 else [f"({targets[0]},)"])
    return [perm] * len(targets)


OPERATORS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}


def emit_arithmetic(ctx):
    symbol = OPERATORS[ctx.node.eClass.name]
    left = ctx.x.expr
    if len(ctx.inputs) == 2:
        right = ctx.inputs[1].expr
    else:
        right = literal(float(ctx.node.scalar))
        if ctx.node.scalarFirst:
            left, right = right, left
    ctx.assign(f"{left} {symbol} {right}")
    return [ctx.x.perm]


def emit_matmul(ctx):
    ctx.assign(f"ops.matmul({ctx.inputs[0].expr}, {ctx.inputs[1].expr})")
    return [L.identity(len(ctx.out_shapes[0]))]


def emit_reduction(ctx):
    node, x = ctx.node, ctx.x
    rank = len(x.shape)
    pivot_axes = sorted({a % rank for a in node.axes}) if list(node.axes) else list(range(1, rank))
    axes = sorted(x.perm.index(a) for a in pivot_axes)
    fn = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min"}[node.eClass.name]
    axis = axes[0] if len(axes) == 1 else tuple(axes)
    keep = ", keepdims=True" if node.keepdims else ""
    ctx.assign(f"ops.{fn}({x.expr}, axis={literal(axis)}{keep})")
    return [x.perm if node.keepdims else L.drop_axes(x.perm, pivot_axes)]


def emit_squeeze(ctx):
    x = ctx.x
    rank = len(x.shape)
    pivot_axes = sorted({a % rank for a in ctx.node.axes}) if list(ctx.node.axes) else [
        i for i, d in enumerate(x.shape) if d == 1]
    axes = sorted(x.perm.index(a) for a in pivot_axes)
    ctx.assign(f"ops.squeeze({x.expr}, axis={literal(axes[0] if len(axes) == 1 else tuple(axes))})")
    return [L.drop_axes(x.perm, pivot_axes)]


def emit_unsqueeze(ctx):
    x = ctx.x
    pivot_axis = ctx.node.axis % (len(x.shape) + 1)
    out_perm = L.insert_axis(x.perm, pivot_axis)
    ctx.assign(f"ops.expand_dims({x.expr}, {out_perm.index(pivot_axis)})")
    return [out_perm]


def _slice_text(start, end, step) -> str:
    text = ("" if start in (None, 0) else str(start)) + ":" + ("" if end is None or end >= 2**31 - 1 else str(end))
    return text + (f":{step}" if step != 1 else "")


def _subscript(expr: str, per_axis_items: dict[int, str]) -> str:
    last = max(per_axis_items)
    items = [per_axis_items.get(i, ":") for i in range(last + 1)]
    return f"{expr}[{', '.join(items)}]"


def emit_slice(ctx):
    node, x = ctx.node, ctx.x
    rank = len(x.shape)
    steps = list(node.steps) or [1] * len(node.axes)
    items = {}
    for axis, start, end, step in zip(node.axes, node.starts, node.ends, steps):
        items[x.perm.index(axis % rank)] = _slice_text(start, end, step)
    ctx.assign(_subscript(x.expr, items))
    return [x.perm]


def emit_index(ctx):
    node, x = ctx.node, ctx.x
    pivot_axis = node.axis % len(x.shape)
    ctx.assign(_subscript(x.expr, {x.perm.index(pivot_axis): str(node.index)}))
    return [L.drop_axes(x.perm, [pivot_axis])]


def emit_normalize(ctx):
    node, x = ctx.node, ctx.x
    axis = L.target_axis(x.perm, node.axis)
    norm = f"ops.norm({x.expr}, ord={literal(node.p)}, axis={axis}, keepdims=True)"
    # PyTorch's F.normalize: x / max(||x||_p, eps).
    ctx.assign(f"{x.expr} / ops.maximum({norm}, {literal(node.eps)})")
    return [x.perm]


def emit_pad(ctx):
    node, x = ctx.node, ctx.x
    pads = list(node.pads)
    count, rank = len(pads) // 2, len(x.shape)
    mode = node.mode.name
    if mode not in ("constant", "reflect"):
        ctx.fail(f"mode={mode} has no keras.ops.pad equivalent")
        mode = "constant"
    pivot_pads = {rank - count + k: (pads[2 * k], pads[2 * k + 1]) for k in range(count)}
    ctx.assign(f"ops.pad({x.expr}, {literal(pad_widths(x.perm, pivot_pads))}{pad_options(mode, node.value)})")
    return [x.perm]


def emit_upsample(ctx):
    node, x = ctx.node, ctx.x
    dims = len(x.shape) - 2
    factors = [o / i for o, i in zip(ctx.out_shapes[0][2:], x.shape[2:])]
    if any(f != int(f) for f in factors):
        ctx.fail(f"resizing by {factors} is not an integer factor; Keras' UpSampling layers repeat cells")
    if node.alignCorners:
        ctx.fail("align_corners=true has no Keras UpSampling equivalent")
    mode = node.mode.name
    if mode == "bilinear" and dims != 2:
        ctx.fail("bilinear upsampling needs 2 spatial axes")
    size = _tuple_or_int([int(f) for f in factors])
    args = [f"size={literal(size)}"] + (['interpolation="bilinear"'] if mode == "bilinear" else [])
    layer = ctx.layer(f"layers.UpSampling{dims}D", args)
    ctx.assign(f"{layer}({x.expr})")
    return [x.perm]


def emit_pixel_shuffle(ctx):
    r, x = ctx.node.upscaleFactor, ctx.x
    _, channels, height, width = x.shape
    out = channels // (r * r)
    # PyTorch orders the input channels (c, i, j); TensorFlow's depth_to_space (i, j, c): spell it out.
    blocks = ctx.graph.fresh(ctx.node.name + "_blocks")
    ctx.graph.line(f"{blocks} = ops.reshape({x.expr}, {literal((-1, height, width, out, r, r))})")
    ctx.graph.line(f"{blocks} = ops.transpose({blocks}, (0, 1, 4, 2, 5, 3))")
    ctx.assign(f"ops.reshape({blocks}, {literal((-1, height * r, width * r, out))})")
    return [x.perm]


def emit_identity(ctx):
    ctx.out_vars[0] = ctx.x.expr
    return [ctx.x.perm]


# --- the table -------------------------------------------------------------------------

def _conv_args(transposed: bool):
    return (Arg("filters", "filters", positional=True), Arg("kernel_size", "kernelSize"),
            Arg("strides", "stride", default=1), Arg("padding", "padding", default="valid"),
            *((Arg("output_padding"),) if transposed else ()),
            Arg("dilation_rate", "dilation", default=1),
            *(() if transposed else (Arg("groups", "groups", default=1),)),
            Arg("use_bias", "bias", default=True))


POOL_ARGS = (Arg("pool_size", "kernelSize"), Arg("strides", "stride"), Arg("padding", "padding", default="valid"))
NORM_AFFINE = (Arg("center", "affine", default=True), Arg("scale", "affine", default=True))
RNN_ARGS = (Arg("units", "hiddenSize", positional=True),
            Arg("activation", "nonlinearity", default="tanh"),
            Arg("use_bias", "bias", default=True),
            Arg("return_sequences", "returnSequences", default=False),
            Arg("return_state", default=False),
            Arg("reset_after", "resetAfter", default=True))

MAPPINGS: dict[str, KerasMapping] = {
    "dense": KerasMapping("layers.Dense", emit_dense, (Arg("units", "units", positional=True),
                                                       Arg("use_bias", "bias", default=True)),
                          layout="last_axis", weights="dense"),
    **{f"conv{d}d": KerasMapping(f"layers.Conv{d}D", emit_conv, _conv_args(False), "channels_last", "conv")
       for d in (1, 2, 3)},
    **{f"conv_transpose{d}d": KerasMapping(f"layers.Conv{d}DTranspose", emit_conv_transpose, _conv_args(True),
                                           "channels_last", "conv") for d in (1, 2, 3)},
    **{f"{op}_pool{d}d": KerasMapping(f"layers.{cls}Pooling{d}D", emit_pool, POOL_ARGS, "channels_last")
       for d in (1, 2, 3) for op, cls in (("max", "Max"), ("avg", "Average"))},
    **{f"adaptive_{op}_pool{d}d": KerasMapping(f"layers.{cls}Pooling{d}D", emit_adaptive_pool, (), "channels_last",
                                               note="kernel = stride = input size / output size")
       for d in (1, 2) for op, cls in (("max", "Max"), ("avg", "Average"))},
    **{f"global_{op}_pool": KerasMapping(f"layers.Global{cls}Pooling2D", emit_global_pool,
                                         (Arg("keepdims", "keepdims", default=False),), "channels_last",
                                         note="1D/2D/3D by the input rank")
       for op, cls in (("max", "Max"), ("avg", "Average"))},
    **{f"batch_norm{d}d": KerasMapping("layers.BatchNormalization", emit_batch_norm, (
        Arg("axis", default=-1), Arg("momentum", "momentum", _one_minus, _one_minus, default=0.99),
        Arg("epsilon", "eps", default=1e-3), *NORM_AFFINE), "any", "batch_norm") for d in (1, 2, 3)},
    "instance_norm": KerasMapping("layers.GroupNormalization", emit_group_norm, (
        Arg("groups"), Arg("axis", default=-1), Arg("epsilon", "eps", default=1e-3), *NORM_AFFINE), "any",
        "norm", note="groups = channels"),
    "group_norm": KerasMapping("layers.GroupNormalization", emit_group_norm, (
        Arg("groups", "numGroups"), Arg("axis", default=-1), Arg("epsilon", "eps", default=1e-3), *NORM_AFFINE),
        "any", "norm"),
    "layer_norm": KerasMapping("layers.LayerNormalization", emit_layer_norm, (
        Arg("axis", default=-1), Arg("epsilon", "eps", default=1e-3),
        Arg("center", "elementwiseAffine", default=True), Arg("scale", "elementwiseAffine", default=True)),
        "layer_norm", "layer_norm"),
    "dropout": KerasMapping("layers.Dropout", emit_dropout, (Arg("rate", "rate", positional=True),), "dropout",
                            note="spatial=true: layers.SpatialDropout{n}D"),
    "embedding": KerasMapping("layers.Embedding", emit_embedding, (
        Arg("input_dim", "numEmbeddings", positional=True), Arg("output_dim", "embeddingDim", positional=True)),
        "pivot", "embedding", note="padding_idx only changes training in PyTorch; not a Keras mask"),
    "simple_rnn": KerasMapping("layers.SimpleRNN", emit_recurrent, RNN_ARGS[:5], "sequence", "simple_rnn"),
    "lstm": KerasMapping("layers.LSTM", emit_recurrent, (RNN_ARGS[0], *RNN_ARGS[2:5]), "sequence", "lstm"),
    "gru": KerasMapping("layers.GRU", emit_recurrent, (RNN_ARGS[0], *RNN_ARGS[2:]), "sequence", "gru"),
    "multi_head_attention": KerasMapping("layers.MultiHeadAttention", emit_attention, (
        Arg("num_heads", "numHeads"), Arg("key_dim"), Arg("dropout", "dropout", default=0.0),
        Arg("use_bias", "bias", default=True)), "pivot", "attention"),
    "relu": KerasMapping("layers.ReLU", emit_layer),
    "relu6": KerasMapping("layers.ReLU", emit_layer, (Arg("max_value", constant=6.0),), note="max_value=6.0"),
    "leaky_relu": KerasMapping("layers.LeakyReLU", emit_layer, (
        Arg("negative_slope", "negativeSlope", default=0.3),)),
    "elu": KerasMapping("layers.ELU", emit_layer, (Arg("alpha", "alpha", default=1.0),)),
    "prelu": KerasMapping("layers.PReLU", emit_prelu, (Arg("alpha_initializer"), Arg("shared_axes")),
                          weights="prelu"),
    "gelu": KerasMapping("layers.Activation", emit_gelu, note="gelu; ops.gelu(approximate=True) for tanh"),
    "softplus": KerasMapping("layers.Activation", emit_softplus, note="softplus"),
    "softmax": KerasMapping("layers.Softmax", emit_softmax, (Arg("axis", default=-1),)),
    "log_softmax": KerasMapping("ops.log_softmax", emit_log_softmax),
    **{keyword: KerasMapping("layers.Activation", emit_activation_fn, note=fn) for keyword, fn in (
        ("selu", "selu"), ("silu", "silu"), ("mish", "mish"), ("sigmoid", "sigmoid"), ("tanh", "tanh"),
        ("hardsigmoid", "hard_sigmoid"), ("hardswish", "hard_silu"))},
    "flatten": KerasMapping("layers.Flatten", emit_flatten, layout="flatten",
                            note="a partial range becomes ops.reshape"),
    "reshape": KerasMapping("ops.reshape", emit_reshape, layout="pivot"),
    "permute": KerasMapping(None, emit_permute, layout="any", note="no code: changes the tensor's layout"),
    "concat": KerasMapping("ops.concatenate", emit_concat, layout="match"),
    "stack": KerasMapping("ops.stack", emit_stack, layout="match"),
    "split": KerasMapping("ops.split", emit_split),
    **{keyword: KerasMapping(f"operator {OPERATORS[name]}", emit_arithmetic, layout="match")
       for keyword, name in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"))},
    "matmul": KerasMapping("ops.matmul", emit_matmul, layout="pivot"),
    **{keyword: KerasMapping(f"ops.{keyword}", emit_reduction) for keyword in ("mean", "sum", "max", "min")},
    "squeeze": KerasMapping("ops.squeeze", emit_squeeze),
    "unsqueeze": KerasMapping("ops.expand_dims", emit_unsqueeze),
    "slice": KerasMapping("subscript", emit_slice),
    "index": KerasMapping("subscript", emit_index),
    "normalize": KerasMapping("ops.norm", emit_normalize),
    "pad": KerasMapping("ops.pad", emit_pad),
    "upsample": KerasMapping("layers.UpSampling2D", emit_upsample, layout="channels_last",
                             note="1D/2D/3D by the input rank"),
    "pixel_shuffle": KerasMapping("ops.reshape", emit_pixel_shuffle, layout="channels_last"),
    "identity": KerasMapping(None, emit_identity, note="no code: the value is passed on"),
}


def _register() -> None:
    missing = set(KINDS) - set(MAPPINGS)
    if missing:
        raise RuntimeError(f"no Keras mapping for {sorted(missing)}")
    for keyword, mapping in MAPPINGS.items():
        KINDS[keyword].mappings[TARGET] = mapping


_register()


# =============================================================================
# Layout requirements
# =============================================================================

def wanted_layouts(node, operands: list[Tensor]) -> list[L.Perm | None]:
    """The layout each operand must have before the node's code runs (None: as it is)."""
    kind = kind_of(node)
    rule = kind.mappings[TARGET].layout
    ranks = [len(t.shape) for t in operands]
    return [WANTS[rule](node, operands, i, rank) for i, rank in enumerate(ranks)]


def _want_match(node, operands, i, rank):
    first = operands[0]
    if all(len(t.shape) == len(first.shape) for t in operands):
        return None if i == 0 else first.perm
    return L.identity(rank)  # broadcasting across ranks: compare in pivot order


def _want_flatten(node, operands, i, rank):
    x = operands[0]
    start, end = node.startDim % rank, node.endDim % rank
    if start == 1 and end == rank - 1:
        return None  # the consumers decide (see GraphCode._flatten_ok)
    positions = [x.perm.index(a) for a in range(start, end + 1)]
    contiguous = positions == list(range(positions[0], positions[0] + len(positions)))
    return None if contiguous else L.identity(rank)


def _want_layer_norm(node, operands, i, rank):
    return None if max(len(node.normalizedShape), 1) == 1 else L.identity(rank)


WANTS: dict[str, Callable] = {
    "any": lambda node, operands, i, rank: None,
    "channels_last": lambda node, operands, i, rank: L.channels_last(rank),
    "pivot": lambda node, operands, i, rank: L.identity(rank),
    "sequence": lambda node, operands, i, rank: L.identity(rank) if node.batchFirst or rank != 3 else (1, 0, 2),
    "last_axis": lambda node, operands, i, rank: None if operands[i].perm[-1] == rank - 1 else L.identity(rank),
    "dropout": lambda node, operands, i, rank: L.channels_last(rank) if node.spatial else None,
    "layer_norm": _want_layer_norm,
    "match": _want_match,
    "flatten": _want_flatten,
}
FIXED_RULES = {"channels_last", "pivot", "sequence"}


# =============================================================================
# Code for one graph
# =============================================================================

@dataclass
class GraphCode:
    """The Keras class of one graph (the model or a block): layers, call body, layouts."""
    graph: Any
    shapes: Any
    input_perms: list[L.Perm]
    blocks: dict
    diagnostics: list[Diagnostic]
    init: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    output_perms: list[L.Perm] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)
    layer_names: dict[str, str] = field(default_factory=dict)     # Keras layer name -> attribute
    declarations: dict[str, tuple] = field(default_factory=dict)  # Keras layer name -> (attribute, (cls, args))
    dense_rows: dict[str, tuple] = field(default_factory=dict)    # Dense node -> (pivot shape, perm) before Flatten
    flat_nodes: dict = field(default_factory=dict)
    calls: dict[str, Any] = field(default_factory=dict)          # block call name -> GraphCode of its block
    _names: set = field(default_factory=set)
    transposes: list[str] = field(default_factory=list)           # why each explicit transpose was written
    _attributes: set = field(default_factory=set)

    def fresh(self, base: str) -> str:
        name = identifier(base, Taken(RESERVED, self._names))
        self._names.add(name)
        return name

    def attribute(self, base: str) -> str:
        name = identifier(base, Taken(RESERVED, self._attributes))
        self._attributes.add(name)
        return name

    def line(self, text: str) -> None:
        self.body.append(_wrap_statement(text, "        "))

    def build(self):
        graph, shapes = self.graph, self.shapes
        names = OutputNames(graph, rename=lambda n: identifier(n, RESERVED))
        self._names.update(v for node in graph.nodes for v in names.outputs(node))
        self.params = [names.of(n) for n in graph_inputs(graph)]
        tensors: dict = {}
        for node, perm in zip(graph_inputs(graph), self.input_perms):
            tensors[(node, 0)] = Tensor(names.of(node), perm, shapes.of(node))
        if graph.eClass.name == "Model":
            self._cast_inputs([(n, names.of(n)) for n in graph_inputs(graph)])
        consumers = _consumers(graph)
        for node in topological_order(graph):
            if is_kind(node, "Input"):
                continue
            if is_kind(node, "Select"):
                producer = node.inputs[0]
                source = tensors.get((producer, node.index))
                if source is not None:
                    tensors[(node, 0)] = source
                continue
            operands = [tensors.get((dep, 0)) for dep in node.inputs]
            if any(t is None for t in operands):
                continue
            out_vars = names.outputs(node)
            try:
                produced = self._emit_node(node, operands, out_vars, consumers)
            except ShapeError as exc:
                self.diagnostics.append(error("unsupported-for-target", f"'{node.name}': {exc}", location_of(node)))
                continue
            flat = self.flat_nodes.get(node)
            if flat is None and _carries_flat_order(node):
                flat = operands[0].flat
            for index, (var, perm) in enumerate(produced):
                tensors[(node, index)] = Tensor(var, perm, shapes.of(node, index), flat if index == 0 else None)
        for node in graph.outputs:
            tensor = tensors.get((node, 0))
            if tensor is None:
                continue
            wanted = tensor.perm if _is_output_layout(tensor) else L.identity(len(tensor.shape))
            tensor = self._convert(tensor, wanted, "an output in pivot order")
            self.returns.append(tensor.expr)
            self.output_perms.append(tensor.perm)
        return self

    def _cast_inputs(self, inputs) -> None:
        """Model inputs of another dtype than float32 are cast first, as a functional model does with
        ``keras.Input(dtype=...)``; the cast also tells a reader (and the Keras importer) the dtype.

        An ``InputSpec(dtype=...)`` would say the same but rejects NumPy's default int64 ids in ``fit``.
        """
        casts = [(var, node.dtype.name) for node, var in inputs if node.dtype.name != "float32"]
        if casts:
            self.body.append("        # Inputs in the dtype the model was written for.")
        for var, dtype in casts:
            self.line(f"{var} = ops.cast({var}, {literal(dtype)})")

    def _emit_node(self, node, operands, out_vars, consumers):
        if is_kind(node, "BlockCall"):
            return self._emit_call(node, operands, out_vars)
        wanted = wanted_layouts(node, operands)
        if (is_kind(node, "Flatten") and wanted[0] is None and not L.is_identity(operands[0].perm)
                and not self._flatten_ok(node, consumers)):
            wanted = [L.identity(len(operands[0].shape))]
        operands = [t if w is None else self._convert(t, w, _why(node)) for t, w in zip(operands, wanted)]
        ctx = NodeContext(self, node, operands, [self.shapes.of(node, i) for i in range(len(out_vars))], out_vars)
        perms = kind_of(node).mappings[TARGET].emit(ctx)
        return list(zip(ctx.out_vars, perms))

    def _flatten_ok(self, node, consumers) -> bool:
        """Flatten of non-pivot maps stays idiomatic when only Dense layers read it (their rows move).

        Elementwise nodes between them (dropout, activations) carry the feature order on. Walked with
        a stack, not recursion: a chain of thousands of activations after a Flatten is legal.
        """
        outputs = set(self.graph.outputs)
        seen, pending = set(), [node]
        while pending:
            current = pending.pop()
            readers = consumers.get(current, [])
            if not readers or current in outputs:
                return False
            for reader in readers:
                if is_kind(reader, "Dense"):
                    continue
                if not _carries_flat_order(reader):
                    return False
                if reader not in seen:
                    seen.add(reader)
                    pending.append(reader)
        return True

    def _emit_call(self, node, operands, out_vars):
        code = self.blocks.get(node.block)
        if code is None:
            code = GraphCode(node.block, self.shapes, [t.perm for t in operands], self.blocks, self.diagnostics)
            code.build()
            self.blocks[node.block] = code
        operands = [self._convert(t, p, f"block {node.block.name} was generated for this layout")
                    for t, p in zip(operands, code.input_perms)]
        if node.weightsOf is not None:  # the same block instance called again
            attr = self.layer_names[node.weightsOf.name]
        else:
            attr = self.attribute(node.name)
            self.init.append(f"        self.{attr} = {class_name(node.block.name)}(name={literal(node.name)})")
            self.layer_names[node.name] = attr
            self.calls[node.name] = code
        args = operands[0].expr if len(operands) == 1 else "[" + ", ".join(t.expr for t in operands) + "]"
        targets = out_vars if len(out_vars) > 1 else out_vars[:1]
        self.line(f"{', '.join(targets)} = self.{attr}({args})")
        return list(zip(out_vars, code.output_perms))

    def _convert(self, tensor: Tensor, wanted: L.Perm, why: str) -> Tensor:
        if tuple(tensor.perm) == tuple(wanted):
            return tensor
        axes = L.conversion(tensor.perm, wanted)
        suffix = "cl" if tuple(wanted) == L.channels_last(len(wanted)) else "cf" if L.is_identity(wanted) else "t"
        name = self.fresh(f"{tensor.expr.split('.')[-1]}_{suffix}")
        self.body.append(f"        # Transposed: {why}.")
        self.transposes.append(f"{self.graph.name}: {tensor.expr} -> {name} ({why})")
        self.line(f"{name} = ops.transpose({tensor.expr}, {literal(axes)})")
        return Tensor(name, tuple(wanted), tensor.shape)


# Elementwise kinds that keep a Flatten's feature order (and so the Dense row reorder) intact.
FLAT_ORDER_KINDS = {"dropout", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "mish", "sigmoid",
                    "tanh", "hardsigmoid", "hardswish", "softplus", "identity"}


def _carries_flat_order(node) -> bool:
    kind = kind_of(node)
    return (kind is not None and kind.keyword in FLAT_ORDER_KINDS and len(node.inputs) == 1
            and not (is_kind(node, "Dropout") and node.spatial))


def _why(node) -> str:
    rule = kind_of(node).mappings[TARGET].layout
    return {
        "pivot": f"{kind_of(node).keyword} depends on the pivot's axis order",
        "channels_last": f"{kind_of(node).keyword} works on channels-last maps",
        "sequence": f"{kind_of(node).keyword} reads (N, T, F) sequences",
        "last_axis": "Dense works on the last axis",
        "flatten": "the flattened values must keep the pivot's order",
        "match": "operands must share one layout",
        "layer_norm": "layer_norm over several axes follows the pivot's axis order",
        "dropout": "spatial dropout drops channels-last channels",
    }[rule]


def _is_output_layout(tensor: Tensor) -> bool:
    rank = len(tensor.perm)
    return L.is_identity(tensor.perm) or (rank >= 4 and tensor.perm == L.channels_last(rank))


def _consumers(graph) -> dict:
    result: dict = {}
    for node in graph.nodes:
        for dep in node.inputs:
            # A Select passes its producer's output on: its readers read the producer.
            result.setdefault(dep, []).append(node)
    return result


def _wrap_statement(text: str, indent: str) -> str:
    """A statement laid out like ``ruff format`` (splits the outermost call of the right-hand side)."""
    if len(indent + text) <= 88 or not text.endswith(")"):
        return indent + text
    depth, start = 0, None
    for i, ch in enumerate(text):
        if ch in "([{":
            if depth == 0 and start is None and ch == "(":
                start = i
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and start is not None and i != len(text) - 1:
                start = None  # not the last bracket pair: look further
    if start is None:
        return indent + text
    return wrap_call(text[:start + 1], _split_args(text[start + 1:-1]), indent)


def _split_args(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    in_string = False
    for ch in text:
        if ch == '"':
            in_string = not in_string
        if not in_string:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(current.strip())
                current = ""
                continue
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


# =============================================================================
# Public API
# =============================================================================

@dataclass
class KerasProgram:
    """Everything the generator decided for one model."""
    model: Any
    code: GraphCode
    blocks: dict
    shapes: Any
    diagnostics: list[Diagnostic]


def plan(model) -> KerasProgram:
    """Run shape inference and the layout analysis, and build the code of every class."""
    shapes, diagnostics = infer_shapes(model)
    diagnostics = list(diagnostics)
    if has_errors(diagnostics):
        raise NNPivotError(diagnostics)
    inputs = graph_inputs(model)
    perms = [_input_layout(model, node, len(shapes.of(node))) for node in inputs]
    blocks: dict = {}
    code = GraphCode(model, shapes, perms, blocks, diagnostics).build()
    return KerasProgram(model, code, blocks, shapes, diagnostics)


def _input_layout(model, node, rank: int) -> L.Perm:
    """The Keras layout of a model input.

    Images and volumes (rank >= 4) take the channels-last layout their consumers
    want. A rank-3 input is an (N, T, F) sequence in both frameworks and stays as
    it is, even when a conv1d reads it as (N, C, L) maps: the Keras code then
    transposes inside ``call``. This is the reading of the Keras importer (and of
    rank-3 outputs), so a Keras model that permutes its input for a Conv1D comes
    back with the input it had.
    """
    return _preferred_layout(model, node, rank) if rank >= 4 else L.identity(rank)


def _preferred_layout(graph, node, rank: int, depth: int = 0) -> L.Perm:
    """The layout the consumers of ``node`` want, looking through layout-neutral nodes."""
    found = _preference(graph, node, rank, depth)
    return found if found is not None else L.identity(rank)


def _preference(graph, node, rank, depth):
    if depth > 50:
        return None
    for consumer in _consumers(graph).get(node, []):
        kind = kind_of(consumer)
        if kind is None:
            continue
        rule = kind.mappings[TARGET].layout
        if rule in FIXED_RULES or (rule == "dropout" and consumer.spatial):
            probe = Tensor("", L.identity(rank), (None,) * rank)
            return WANTS[rule](consumer, [probe], 0, rank) if rule != "dropout" else L.channels_last(rank)
        if rule == "match" and rank >= 3 and any(
                other is not node and kind_of(other) is not None
                and kind_of(other).mappings[TARGET].layout == "channels_last" for other in consumer.inputs):
            return L.channels_last(rank)  # joined with channels-last maps
        out_rank = len(consumer.inferredShape)
        if out_rank != rank:
            continue
        if is_kind(consumer, "Permute"):
            found = _preference(graph, consumer, rank, depth + 1)
            if found is not None:
                return L.through_permute([d % rank for d in consumer.dims], found)
        elif rule in ("any", "match", "dropout"):
            found = _preference(graph, consumer, rank, depth + 1)
            if found is not None:
                return found
    return None


def explicit_transposes(model) -> list[str]:
    """Every ``ops.transpose`` the Keras code needs and why (for migration reports)."""
    program = plan(model)
    codes = [*(program.blocks[b] for b in model.blocks if b in program.blocks), program.code]
    return [entry for code in codes for entry in code.transposes]


def keras_index() -> dict[str, list[str]]:
    """Keras class or op -> the registry keywords written with it (the mapping table read backwards)."""
    index: dict[str, list[str]] = {}
    for keyword, mapping in MAPPINGS.items():
        if mapping.layer:
            index.setdefault(mapping.layer, []).append(keyword)
    return index


def keras_layouts(model) -> tuple[list[L.Perm], list[L.Perm]]:
    """How each model input and output is permuted in Keras relative to the pivot.

    ``keras_tensor = numpy.transpose(pivot_tensor, perm)`` for every perm returned.
    """
    program = plan(model)
    return list(program.code.input_perms), list(program.code.output_perms)


def generate(model, source_name: str) -> str:
    """Keras 3 source code for ``model``; raises NNPivotError when a node cannot be written."""
    with collector_paused():
        program = plan(model)
        if has_errors(program.diagnostics):
            raise NNPivotError(program.diagnostics)
        return render(program, source_name)


def generate_file(model, path, source_name: str, force: bool = False) -> list[Diagnostic]:
    """Generate and write atomically; an existing file needs ``force`` (``output-exists``)."""
    with collector_paused():
        program = plan(model)
    if has_errors(program.diagnostics):
        raise NNPivotError(program.diagnostics)
    write_atomic(path, render(program, source_name), force=force)
    return [d for d in program.diagnostics if not d.is_error]


def _class_view(name: str, code: GraphCode, doc: str | None) -> dict:
    params = code.params
    if len(params) == 1:
        signature, unpack = params[0], None
    else:
        signature, unpack = "inputs", f"{', '.join(params)} = inputs"
    returns = code.returns[0] if len(code.returns) == 1 else ", ".join(code.returns)
    return {"name": name, "doc": doc, "init": code.init, "body": code.body, "signature": signature,
            "unpack": unpack, "returns": returns}


def render(program: KerasProgram, source_name: str) -> str:
    model = program.model
    ordered_blocks = [b for b in model.blocks if b in program.blocks]
    classes = [_class_view(class_name(b.name), program.blocks[b], f"Block {b.name}.") for b in ordered_blocks]
    classes.append(_class_view(class_name(model.name), program.code, model.description or None))
    training = _training_view(model, program.diagnostics)
    text = environment(TARGET).get_template("model.py.j2").render(
        header=header(source_name), classes=classes, training=training, model_name=model.name)
    imports = [name for name in ("layers", "ops") if re.search(rf"\b{name}\.", text)]
    text = text.replace("@@IMPORTS@@", f"from keras import {', '.join(imports)}\n" if imports else "")
    if any(len(line) > LINE_WIDTH for line in text.splitlines()):
        text = _ruff_format(text)
    return text


def _ruff_format(text: str) -> str:
    """Very long names defeat the simple call wrapping: let ``ruff format`` lay the code out when present."""
    command = shutil.which("ruff")
    command = [command] if command else [sys.executable, "-m", "ruff"]
    try:
        result = subprocess.run([*command, "format", "--isolated", "-"], input=text, capture_output=True,
                                text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return text
    return result.stdout if result.returncode == 0 and result.stdout else text


# --- training --------------------------------------------------------------------

OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad",
              "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam"}
# PyTorch-style optimizer parameter names -> Keras keyword.
OPTIMIZER_PARAMETERS = {"eps": "epsilon", "alpha": "rho", "beta1": "beta_1", "beta2": "beta_2",
                        "betas_0": "beta_1", "betas_1": "beta_2", "lr": "learning_rate"}
# Pivot loss -> Keras loss constructor. cross_entropy is PyTorch's: logits and class indices.
LOSSES = {
    "cross_entropy": "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
    "sparse_categorical_cross_entropy": "keras.losses.SparseCategoricalCrossentropy()",
    "categorical_cross_entropy": "keras.losses.CategoricalCrossentropy()",
    "binary_cross_entropy": "keras.losses.BinaryCrossentropy()",
    "binary_cross_entropy_with_logits": "keras.losses.BinaryCrossentropy(from_logits=True)",
    "mse": "keras.losses.MeanSquaredError()",
    "mean_squared_error": "keras.losses.MeanSquaredError()",
    "l1": "keras.losses.MeanAbsoluteError()",
    "mae": "keras.losses.MeanAbsoluteError()",
    "huber": "keras.losses.Huber()",
    "kl_div": "keras.losses.KLDivergence()",
}
INTEGER_PARAMETERS = {"nesterov", "amsgrad"}


def _ends_in_softmax(model) -> bool:
    return bool(len(model.outputs)) and is_kind(model.outputs[0], "Softmax")


def _training_view(model, diagnostics) -> dict | None:
    config = model.training
    if config is None:
        return None
    compile_args = []
    if config.optimizer is not None:
        opt = config.optimizer
        cls = OPTIMIZERS.get((opt.kind or "").lower())
        if cls is None:
            diagnostics.append(warning("unsupported-for-target", f"optimizer '{opt.kind}' has no Keras mapping; "
                                       "the training function uses Adam", location_of(opt)))
            cls = "Adam"
        args = [f"learning_rate={literal(opt.learningRate)}"]
        for parameter in opt.parameters:
            key = OPTIMIZER_PARAMETERS.get(parameter.key, parameter.key)
            value = bool(parameter.value) if key in INTEGER_PARAMETERS else parameter.value
            if key != "learning_rate":
                args.append(f"{key}={literal(value)}")
        compile_args.append(f"optimizer=keras.optimizers.{cls}({', '.join(args)})")
    if config.loss:
        loss = LOSSES.get(config.loss)
        if config.loss == "cross_entropy" and _ends_in_softmax(model):
            # The PyTorch side reads a softmax output as probabilities (log, then NLL): match it.
            loss = "keras.losses.SparseCategoricalCrossentropy()"
        if loss is None:
            diagnostics.append(warning("unsupported-for-target", f"loss '{config.loss}' has no Keras mapping; "
                                       "it is passed to compile by name", location_of(config)))
            loss = literal(config.loss)
        compile_args.append(f"loss={loss}")
    if list(config.metrics):
        compile_args.append(f"metrics=[{', '.join(literal(m) for m in config.metrics)}]")
    compile_text = wrap_call("model.compile(", compile_args, "    ")
    fit = f"    return model.fit(x, y, epochs={config.epochs}, batch_size={config.batchSize})"
    return {"compile": compile_text, "fit": fit}


# =============================================================================
# Weights
# =============================================================================

def _gate_blocks(array, order, hidden, axis=0):
    parts = [np.take(array, range(g * hidden, (g + 1) * hidden), axis=axis) for g in range(len(order))]
    return np.concatenate([parts[i] for i in order], axis=axis)


GRU_ORDER = (1, 0, 2)  # PyTorch (r, z, n) <-> Keras (z, r, h): the same swap both ways


def _conv_to_keras(node, params, info):
    weight = params["weight"]
    kernel = np.transpose(weight, (*range(2, weight.ndim), 1, 0))
    return [kernel] + ([params["bias"]] if node.bias else [])


def _conv_from_keras(node, arrays, info):
    kernel = arrays[0]
    rank = kernel.ndim
    weight = np.transpose(kernel, (rank - 1, rank - 2, *range(rank - 2)))
    return {"weight": weight, **({"bias": arrays[1]} if node.bias else {})}


def _dense_to_keras(node, params, info):
    weight = params["weight"]
    if info is not None:  # rows follow the Keras Flatten order
        shape, perm = info
        weight = weight.reshape(weight.shape[0], *shape[1:]).transpose(0, *perm[1:]).reshape(weight.shape[0], -1)
    return [weight.T] + ([params["bias"]] if node.bias else [])


def _dense_from_keras(node, arrays, info):
    weight = arrays[0].T
    if info is not None:
        shape, perm = info
        keras_shape = [shape[a] for a in perm[1:]]
        weight = weight.reshape(weight.shape[0], *keras_shape).transpose(0, *(1 + np.array(
            L.inverse(tuple(p - 1 for p in perm[1:]))))).reshape(weight.shape[0], -1)
    return {"weight": weight, **({"bias": arrays[1]} if node.bias else {})}


def _batch_norm_to_keras(node, params, info):
    affine = [params["weight"], params["bias"]] if node.affine else []
    return affine + [params["running_mean"], params["running_var"]]


def _batch_norm_from_keras(node, arrays, info):
    names = (["weight", "bias"] if node.affine else []) + ["running_mean", "running_var"]
    return dict(zip(names, arrays))


def _affine_flags(node):
    if is_kind(node, "LayerNorm"):
        return node.elementwiseAffine, node.elementwiseAffine and node.bias
    return node.affine, node.affine


def _norm_to_keras(node, params, info):
    scale, center = _affine_flags(node)
    return ([params["weight"]] if scale else []) + ([params["bias"]] if center else [])


def _norm_from_keras(node, arrays, info):
    scale, center = _affine_flags(node)
    names = (["weight"] if scale else []) + (["bias"] if center else [])
    return dict(zip(names, arrays))


def _embedding_to_keras(node, params, info):
    return [params["weight"]]


def _embedding_from_keras(node, arrays, info):
    return {"weight": arrays[0]}


def _prelu_to_keras(node, params, info):
    return [params["weight"].reshape(info)]


def _prelu_from_keras(node, arrays, info):
    return {"weight": arrays[0].reshape(-1)}


def _rnn_cell_to_keras(node, params, suffix):
    """One layer and direction of a recurrent node; ``suffix`` is its PyTorch suffix (``_l0_reverse``)."""
    hidden = node.hiddenSize
    w_ih, w_hh = params[f"weight_ih{suffix}"], params[f"weight_hh{suffix}"]
    kernel, recurrent = w_ih.T, w_hh.T
    b_ih = params.get(f"bias_ih{suffix}")
    b_hh = params.get(f"bias_hh{suffix}")
    if is_kind(node, "GRU"):
        kernel, recurrent = _gate_blocks(kernel, GRU_ORDER, hidden, 1), _gate_blocks(recurrent, GRU_ORDER, hidden, 1)
        if not node.bias:
            return [kernel, recurrent]
        b_ih, b_hh = _gate_blocks(b_ih, GRU_ORDER, hidden), _gate_blocks(b_hh, GRU_ORDER, hidden)
        if node.resetAfter:
            return [kernel, recurrent, np.stack([b_ih, b_hh])]
        return [kernel, recurrent, b_ih + b_hh]
    return [kernel, recurrent] + ([b_ih + b_hh] if node.bias else [])


def _rnn_cell_from_keras(node, arrays, suffix):
    hidden = node.hiddenSize
    kernel, recurrent = arrays[0], arrays[1]
    is_gru = is_kind(node, "GRU")
    if is_gru:
        kernel, recurrent = _gate_blocks(kernel, GRU_ORDER, hidden, 1), _gate_blocks(recurrent, GRU_ORDER, hidden, 1)
    out = {f"weight_ih{suffix}": kernel.T, f"weight_hh{suffix}": recurrent.T}
    if node.bias:
        bias = arrays[2]
        if is_gru and node.resetAfter:
            b_ih, b_hh = _gate_blocks(bias[0], GRU_ORDER, hidden), _gate_blocks(bias[1], GRU_ORDER, hidden)
        else:
            # Keras has one bias: all of it goes to b_ih, b_hh is zero.
            b_ih = _gate_blocks(bias, GRU_ORDER, hidden) if is_gru else bias
            b_hh = np.zeros_like(b_ih)
        out[f"bias_ih{suffix}"], out[f"bias_hh{suffix}"] = b_ih, b_hh
    return out


def _attention_to_keras(node, params, info):
    embed, heads = node.embedDim, node.numHeads
    head_dim = embed // heads
    if "in_proj_weight" in params:
        weights = np.split(params["in_proj_weight"], 3)
    else:
        weights = [params["q_proj_weight"], params["k_proj_weight"], params["v_proj_weight"]]
    biases = np.split(params["in_proj_bias"], 3) if node.bias else [None] * 3
    arrays = []
    for weight, bias in zip(weights, biases):
        arrays.append(weight.T.reshape(weight.shape[1], heads, head_dim))
        if node.bias:
            arrays.append(bias.reshape(heads, head_dim))
    arrays.append(params["out_proj.weight"].T.reshape(heads, head_dim, embed))
    if node.bias:
        arrays.append(params["out_proj.bias"])
    return arrays


def _attention_from_keras(node, arrays, info):
    embed = node.embedDim
    step = 2 if node.bias else 1
    projections = [arrays[i * step].reshape(arrays[i * step].shape[0], embed).T for i in range(3)]
    out = {}
    if all(p.shape == (embed, embed) for p in projections):  # PyTorch packs q, k, v when all dims are E
        out["in_proj_weight"] = np.concatenate(projections)
    else:
        out.update(q_proj_weight=projections[0], k_proj_weight=projections[1], v_proj_weight=projections[2])
    if node.bias:
        out["in_proj_bias"] = np.concatenate([arrays[i * step + 1].reshape(-1) for i in range(3)])
    out["out_proj.weight"] = arrays[3 * step].reshape(embed, embed).T
    if node.bias:
        out["out_proj.bias"] = arrays[3 * step + 1]
    return out


# name -> (pivot -> Keras arrays, Keras arrays -> pivot); one Keras layer per node.
WEIGHT_CONVERTERS: dict[str, tuple[Callable, Callable]] = {
    "conv": (_conv_to_keras, _conv_from_keras),
    "dense": (_dense_to_keras, _dense_from_keras),
    "batch_norm": (_batch_norm_to_keras, _batch_norm_from_keras),
    "norm": (_norm_to_keras, _norm_from_keras),
    "layer_norm": (_norm_to_keras, _norm_from_keras),
    "embedding": (_embedding_to_keras, _embedding_from_keras),
    "prelu": (_prelu_to_keras, _prelu_from_keras),
    "attention": (_attention_to_keras, _attention_from_keras),
    # Recurrent nodes: one entry per Keras cell (layer and direction); the info is the PyTorch suffix.
    **{name: (_rnn_cell_to_keras, _rnn_cell_from_keras) for name in ("simple_rnn", "lstm", "gru")},
}


def _weighted_nodes(program: KerasProgram):
    """(key prefix, node, GraphCode holding it, Keras layer path) of every node with weights."""
    def walk(code: GraphCode, prefix: str, path: tuple):
        for node in code.graph.nodes:
            if node.weightsOf is not None:
                continue  # computes with its owner's layer: no weights of its own
            if is_kind(node, "BlockCall") and node.name in code.calls:
                yield from walk(code.calls[node.name], f"{prefix}{node.name}.", (*path, code.layer_names[node.name]))
                continue
            kind = kind_of(node)
            if kind is not None and kind.mappings[TARGET].weights:
                yield f"{prefix}{node.name}", node, code, path
    yield from walk(program.code, "", ())


def _keras_layer(owner, code: GraphCode, name: str):
    """The Keras layer generated for ``name``: by attribute, else by layer name (hand-written models)."""
    layer = getattr(owner, code.layer_names.get(name, name), None)
    if layer is None and hasattr(owner, "get_layer"):
        try:
            layer = owner.get_layer(name)
        except ValueError:
            layer = None
    if layer is None:
        raise AttributeError(f"no Keras layer '{name}' in {getattr(owner, 'name', owner)}")
    return layer


def _units(owner, code: GraphCode, node) -> list[tuple[Any, Any]]:
    """(Keras layer holding the weights, converter info) for each weight-holding part of ``node``."""
    name = kind_of(node).mappings[TARGET].weights
    if is_kind(node, "Recurrent"):
        units = []
        for index in range(node.numLayers):
            layer = _keras_layer(owner, code, node.name if node.numLayers == 1 else f"{node.name}_l{index}")
            if node.bidirectional:
                units += [(layer.forward_layer.cell, f"_l{index}"), (layer.backward_layer.cell, f"_l{index}_reverse")]
            else:
                units.append((layer.cell, f"_l{index}"))
        return units
    layer = _keras_layer(owner, code, node.name)
    if name == "dense":
        return [(layer, code.dense_rows.get(node.name))]
    if name == "prelu":
        return [(layer, tuple(layer.alpha.shape))]
    return [(layer, None)]


def _owner(keras_model, path):
    owner = keras_model
    for attr in path:
        owner = getattr(owner, attr)
    return owner


def _current(layer) -> list[np.ndarray]:
    return [np.asarray(v) for v in layer.get_weights()]


def _placeholders(layer) -> list[np.ndarray]:
    """Arrays with the shapes and dtypes of a layer's weights that hold no memory (zero strides): enough for
    the converters to tell the pivot shapes the layer needs, without reading (or initializing) its values."""
    return [np.broadcast_to(np.zeros((), dtype=v.dtype), tuple(v.shape)) for v in layer.weights]


def assign_store(keras_model, model, store: WeightStore) -> list[Diagnostic]:
    """Copy the pivot weights of ``model`` into a built Keras model generated from it."""
    diagnostics: list[Diagnostic] = []
    for key, node, code, path in _weighted_nodes(plan(model)):
        diagnostics += write_layer_weights(key, node, _units(_owner(keras_model, path), code, node),
                                           store.for_node(key))
    return diagnostics


def store_from_keras(keras_model, model) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot weight store of a built Keras model generated from ``model``."""
    store, diagnostics = WeightStore(), []
    for key, node, code, path in _weighted_nodes(plan(model)):
        diagnostics += read_layer_weights(key, node, _units(_owner(keras_model, path), code, node), store)
    return store, diagnostics


def write_layer_weights(key, node, units, params: dict, assign=None) -> list[Diagnostic]:
    """Set the Keras layers holding one node's weights (``units``: (layer, info) pairs) from its pivot params.

    Each parameter is checked against the shape the Keras layer implies (its
    variables' shapes read back through the converter), so a mismatch names the
    pivot parameter. ``assign(layer, arrays)`` sets the converted arrays (default:
    ``layer.set_weights``).
    """
    to_keras, from_keras = WEIGHT_CONVERTERS[kind_of(node).mappings[TARGET].weights]
    diagnostics: list[Diagnostic] = []
    for layer, info in units:
        expected = from_keras(node, _placeholders(layer), info)
        problems = [error("weight-missing", f"{key}.{param}: the weight store has no such array",
                          location_of(node)) for param in expected if param not in params]
        problems += [error("weight-shape-mismatch", f"{key}.{param}: the Keras model needs shape "
                           f"{tuple(array.shape)} but the weights have {tuple(np.shape(params[param]))}",
                           location_of(node))
                     for param, array in expected.items()
                     if param in params and tuple(np.shape(params[param])) != tuple(array.shape)]
        if problems:
            diagnostics += problems
            continue
        (assign or _set_weights)(layer, lambda info=info: to_keras(node, params, info))
    return diagnostics


def _set_weights(layer, convert) -> None:
    layer.set_weights([np.asarray(a, dtype=v.dtype) for v, a in zip(layer.weights, convert())])


def read_layer_weights(key, node, units, store: WeightStore) -> list[Diagnostic]:
    """Read the Keras layers holding one node's weights into ``store`` under ``key``."""
    from_keras = WEIGHT_CONVERTERS[kind_of(node).mappings[TARGET].weights][1]
    diagnostics: list[Diagnostic] = []
    for layer, info in units:
        try:
            params = from_keras(node, _current(layer), info)
        except (ValueError, IndexError) as exc:
            diagnostics.append(error("weight-shape-mismatch", f"{key}: Keras layer '{layer.name}' does not "
                                     f"hold the weights of {kind_of(node).keyword} ({exc})", location_of(node)))
            continue
        for param, array in params.items():
            store[f"{key}.{param}"] = np.ascontiguousarray(array)
    return diagnostics


def sample_inputs(model, batch: int = 1, seed: int | None = None) -> list[np.ndarray]:
    """Random inputs in pivot layout for ``model`` (dynamic sizes become 4; integer inputs index 0..9)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for node in graph_inputs(model):
        shape = (batch, *(4 if d < 0 else d for d in node.shape))
        if node.dtype.name.startswith("int"):
            arrays.append(rng.integers(0, 10, size=shape).astype(node.dtype.name))
        else:
            arrays.append(rng.standard_normal(shape).astype(node.dtype.name))
    return arrays


def build_keras_model(model, source_name: str = "<model>"):
    """Generate the Keras code of ``model``, execute it and return the built model instance."""
    text = generate(model, source_name)
    module = types.ModuleType(f"nnpivot_keras_{identifier(model.name)}")
    exec(compile(text, f"<keras code of {model.name}>", "exec"), module.__dict__)  # noqa: S102 - our own output
    keras_model = getattr(module, class_name(model.name))()
    in_perms, _ = keras_layouts(model)
    inputs = [np.transpose(a, p) for a, p in zip(sample_inputs(model), in_perms)]
    keras_model(inputs[0] if len(inputs) == 1 else inputs)
    return keras_model


def read_weights_h5(path, model) -> tuple[WeightStore, list[Diagnostic]]:
    """Read a Keras ``.weights.h5`` file saved from the generated model into a pivot weight store."""
    keras_model = build_keras_model(model)
    try:
        keras_model.load_weights(str(path))
    except (ValueError, OSError, KeyError) as exc:
        return WeightStore(), [error("weight-shape-mismatch", f"{path}: cannot load into {model.name}: {exc}")]
    return store_from_keras(keras_model, model)


def write_weights_h5(path, model, store: WeightStore, force: bool = False) -> list[Diagnostic]:
    """Write ``store`` as a Keras ``.weights.h5`` file for the generated model (atomically).

    Keras writes the file from a model whose variables were never initialized
    (see ``_deferred_keras_model``): each variable's first value is its converted
    pivot array, read once by ``save_weights``. No random model is built and run,
    and the weights are not copied into TensorFlow first, so the memory needed is
    about the store plus the largest converted array.
    """
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        return [error("bad-weights-file", f"{path}: Keras weight files must end in .weights.h5")]
    if path.exists() and not force:
        return [error("output-exists", f"{path} already exists (use --force to overwrite it)")]
    keras_model = _deferred_keras_model(model)
    deferred = keras_model is not None
    if not deferred:  # a Keras that initializes variables at once: set them on a built model
        keras_model = build_keras_model(model)
    tmp = path.with_name(f".{path.name[:-len('.weights.h5')]}.tmp.weights.h5")
    try:
        diagnostics: list[Diagnostic] = []
        for key, node, code, owner_path in _weighted_nodes(plan(model)):
            units = _units(_owner(keras_model, owner_path), code, node)
            diagnostics += write_layer_weights(key, node, units, store.for_node(key),
                                               assign=_first_values if deferred else None)
        if has_errors(diagnostics):
            return diagnostics
        keras_model.save_weights(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        if deferred:
            _forget_deferred(keras_model)
    return diagnostics


def _deferred_keras_model(model, source_name: str = "<model>"):
    """The generated Keras model, built on symbolic inputs with its variables left uninitialized.

    In a ``keras.StatelessScope(initialize_variables=False)`` Keras creates each
    variable with its shape, path and initializer but no value; the value is made
    by the initializer when first read. None when this Keras initializes them
    anyway (then the caller builds the model the ordinary way).
    """
    import keras

    text = generate(model, source_name)
    module = types.ModuleType(f"nnpivot_keras_{identifier(model.name)}")
    exec(compile(text, f"<keras code of {model.name}>", "exec"), module.__dict__)  # noqa: S102 - our own output
    in_perms, _ = keras_layouts(model)
    specs = []
    for node, perm in zip(graph_inputs(model), in_perms):
        shape = (1, *(4 if d < 0 else d for d in node.shape))
        specs.append(keras.KerasTensor(tuple(shape[axis] for axis in perm), dtype=node.dtype.name))
    keras_model = None
    try:
        with keras.StatelessScope(initialize_variables=False):
            keras_model = getattr(module, class_name(model.name))()  # Dropout makes its seed variable here
            keras_model(specs[0] if len(specs) == 1 else specs)
    except BaseException:
        if keras_model is not None:
            _forget_deferred(keras_model)
        raise
    if not all(getattr(v, "_value", 0) is None and hasattr(v, "_initializer") for v in keras_model.variables):
        _forget_deferred(keras_model)
        return None
    return keras_model


def _first_values(layer, convert) -> None:
    """Make the converted pivot arrays the first values of a deferred layer's variables.

    The conversion runs when Keras first reads one of them (while saving) and is
    dropped once each was read, so one layer's converted arrays exist at a time.
    """
    values = _LayerValues(layer, convert)
    for index, variable in enumerate(layer.weights):
        variable._initializer = lambda shape, dtype=None, index=index: values.take(index)


class _LayerValues:
    def __init__(self, layer, convert):
        self.variables = list(layer.weights)
        self.convert = convert
        self.arrays: list | None = None

    def take(self, index: int) -> np.ndarray:
        if self.arrays is None or self.arrays[index] is None:  # first read (or a second read of one value)
            self.arrays = list(self.convert())
            if len(self.arrays) != len(self.variables):
                raise ValueError(f"{len(self.variables)} Keras weights, but the converter gave {len(self.arrays)}")
        variable = self.variables[index]
        value = np.ascontiguousarray(self.arrays[index], dtype=variable.dtype)  # the layout the file stores
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"{variable.path}: the variable has shape {tuple(variable.shape)}, its converted "
                             f"value {tuple(value.shape)}")
        self.arrays[index] = None  # handed over: the conversion's intermediate arrays can go
        if all(array is None for array in self.arrays):
            self.arrays = None
        return value


def _forget_deferred(keras_model) -> None:
    """Take the model's variables off Keras' list of variables to initialize later (it would keep them,
    and the arrays their initializers hold, alive, and initialize them at the next scope's end)."""
    from keras.src.backend.common import global_state

    ours = {id(v) for v in keras_model.variables}
    pending = global_state.get_global_attribute("uninitialized_variables")
    if pending:
        pending[:] = [v for v in pending if id(v) not in ours]


__all__ = ["MAPPINGS", "Arg", "KerasMapping", "assign_store", "build_keras_model", "explicit_transposes",
           "generate", "generate_file", "keras_index", "keras_layouts", "plan", "read_weights_h5", "sample_inputs",
           "store_from_keras", "write_weights_h5"]
