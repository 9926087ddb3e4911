"""How a kind is written in Keras 3: the mapping data structure, what an emitter sees, shared helpers.

Each family module gives every kind one :class:`KerasMapping`: the Keras layer
or op, its constructor arguments (:class:`Arg`), the layout its operands need,
an ``emit`` function that writes the node's code through a
:class:`NodeContext`, and, for kinds with weights, the two converters between
the pivot's arrays (PyTorch layout) and the Keras layer's weight list.
The converters use array methods only, so no module here imports numpy,
torch or TensorFlow.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyecore.ecore import EEnumLiteral

from nnpivot.diagnostics import error, location_of, warning
from nnpivot.metamodel.blocks import iteration_of

from . import layout as L
from .pysyntax import CODE_BUILTINS, comment, fstring_text, is_symbolic, literal, same_value, wrap_append, wrap_call
from .spec import kind_of

TARGET = "keras"
UNSET = object()


# Attributes of keras.Model a layer attribute must not shadow (private ones start with ``_``, which
# ``pysyntax.python_name`` never leaves as it is), and the names the generated code uses. tests/test_quoting.py
# checks the list against Keras.
RESERVED = frozenset({
    "self", "layers", "layer", "name", "weights", "input", "output", "inputs", "outputs", "call", "build",
    "trainable", "dtype", "losses", "metrics", "optimizer", "built", "variables", "summary", "compile", "fit",
    "predict", "evaluate", "loss", "training", "mask", "ops", "keras", "kwargs", "super", "state", "path",
    *CODE_BUILTINS,
    "activity_regularizer", "add_loss", "add_metric", "add_variable", "add_weight", "autocast", "build_from_config",
    "call_signature_parameters", "compile_from_config", "compiled", "compiled_loss", "compiled_metrics",
    "compute_dtype", "compute_loss", "compute_mask", "compute_metrics", "compute_output_shape", "compute_output_spec",
    "count_params", "distribute_reduction_method", "distribute_strategy", "dtype_policy", "export", "from_config",
    "get_build_config", "get_compile_config", "get_config", "get_layer", "get_metrics_result",
    "get_quantization_layer_structure", "get_state_tree", "get_weights", "input_dtype", "input_spec", "jit_compile",
    "load_own_variables", "load_weights", "make_predict_function", "make_test_function", "make_train_function",
    "metrics_names", "metrics_variables", "non_trainable_variables", "non_trainable_weights", "predict_function",
    "predict_on_batch", "predict_step", "quantization_mode", "quantize", "quantized_build", "quantized_call",
    "rematerialized_call", "reset_metrics", "run_eagerly", "save", "save_own_variables", "save_weights",
    "set_state_tree", "set_weights", "stateless_call", "stateless_compute_loss", "steps_per_execution", "supports_jit",
    "supports_masking", "symbolic_call", "test_function", "test_on_batch", "test_step", "to_json", "train_function",
    "train_on_batch", "train_step", "trainable_variables", "trainable_weights", "unrolled_steps_per_execution",
    "variable_dtype",
})


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
class Weights:
    """Converters of one Keras layer's weight list: pivot arrays -> Keras list, and back.

    ``to_keras(np, node, params, info)`` and ``from_keras(np, node, arrays, info)``: ``np`` is the
    caller's array module (numpy), ``info`` per-call context (the Flatten order before a Dense, the
    cell suffix of a recurrent layer, the alpha shape of a PReLU).
    """
    to_keras: Callable
    from_keras: Callable
    info: Callable | None = None  # (keras layer, generated graph code, node) -> converter info


@dataclass(frozen=True)
class KerasClass:
    """Another Keras layer class the importer reads as the kind (``ZeroPadding2D`` is a pad).

    signature: the leading positional parameters of its constructor, in order (None: the mapping's);
    reader:    the name of the Keras importer's reader of the class (None: the generic reader, which reads
               the mapping's ``args`` backwards);
    aliases:   other names Keras gives this very class (``GlobalMaxPool1D`` is ``GlobalMaxPooling1D``).
    """
    name: str
    signature: tuple[str, ...] | None = None
    reader: str | None = None
    aliases: tuple[str, ...] = ()


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
    weights: the weight converters, None for a kind without weights.

    How the Keras importer recognises the kind in source, besides ``layer`` and ``args`` read backwards:
    signature: the leading positional parameters of the constructor of ``layer`` (None: the arguments the
               mapping writes positionally); kinds written with one class declare the same signature;
    reader:    the name of the Keras importer's reader of ``layer`` when the generic one cannot read it (the
               reader needs the interpreter's values, so the importer holds it and this names it);
    aliases:   other names Keras gives the class ``layer`` (``MaxPool2D`` is ``MaxPooling2D``);
    reads:     other Keras classes read as this kind (:class:`KerasClass`);
    defaults:  Keras' defaults of arguments the mapping writes always (``pool_size``) or never
               (``recurrent_activation``): a missing argument takes it, and one the mapping has no entry for
               is read exactly at that value;
    renamed:   older (tf.keras 2) spellings of the class's arguments (``alpha`` of LeakyReLU);
    activations: names of Keras activation functions computing the kind (``activation="swish"``), beside its
               keyword and the ``Activation`` name it is written with, with the pivot attributes each implies;
    functions: functions of ``keras.ops``/``tf``/``keras.layers`` read as the kind (``tf.concat``), each with the
               name of the Keras importer's reader of its arguments.
    """
    layer: str | None
    emit: Callable
    args: tuple[Arg, ...] = ()
    layout: str = "any"
    weights: Weights | None = None
    note: str = ""
    signature: tuple[str, ...] | None = None
    reader: str | None = None
    aliases: tuple[str, ...] = ()
    reads: tuple[KerasClass, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    activations: dict[str, dict[str, Any]] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)


def tuple_or_int(values):
    values = list(values)
    return values[0] if len(set(values)) == 1 else tuple(values)


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
        iteration = iteration_of(self.node)
        if iteration is not None:
            return self.loop_layer(cls, args, suffix, iteration)
        attr = self.attr_name(suffix)
        name = layer_name or (self.node.name + suffix)
        self.graph.init.append(wrap_call(f"self.{attr} = {cls}(", [*args, f"name={literal(name)}"], "        "))
        self.graph.layer_names[name] = attr
        self.graph.declarations[name] = (attr, declaration)
        return f"self.{attr}"

    def loop_layer(self, cls: str, args: list[str], suffix: str, iteration: tuple) -> str:
        """A loop's node: its layer for one iteration appended to the list the loop fills (``self.conv = []``
        at iteration 0), named ``conv_<iteration>``; returns ``self.conv[<iteration>]``. A class written for
        every iteration (``GraphCode.loop_indexes``) reads the iteration as the loop's index variable."""
        member, number = iteration
        base = member.name + suffix
        attr = self.graph.loop_attributes.get(base)
        if attr is None:
            attr = self.graph.loop_attributes[base] = self.graph.attribute(base)
        index = self.graph.loop_indexes.get(member)
        name = f'f"{fstring_text(base)}_{{{index}}}"' if index is not None else literal(f"{base}_{number}")
        if number == 0:
            self.graph.init.append(f"        self.{attr} = []")
        inside = "            " if index is not None else "        "   # in the for of __init__, or unrolled
        self.graph.init.append(wrap_append(f"self.{attr}", f"{cls}(", [*args, f"name={name}"], inside))
        self.graph.layer_names[self.node.name + suffix] = f"{attr}[{number}]"
        return f"self.{attr}[{index if index is not None else number}]"

    def kwargs(self, **computed) -> list[str]:
        """The mapping's arguments as source: computed values win over converted pivot attributes."""
        out = []
        for arg in self.mapping.args:
            if arg.keras in computed:
                value = computed[arg.keras]
            elif arg.constant is not UNSET:
                out.append(f"{arg.keras}={source_of(arg.constant)}")
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
            if value is UNSET or (arg.default is not UNSET and same_value(value, arg.default)):
                continue
            out.append(literal(value) if arg.positional else f"{arg.keras}={source_of(value)}")
        return out

    def assign(self, expression: str, targets: list[str] | None = None) -> None:
        lhs = ", ".join(targets or [self.var])
        self.graph.line(f"{lhs} = {expression}")

    def fail(self, message: str, code: str = "unsupported-for-target") -> None:
        self.graph.diagnostics.append(error(code, f"{kind_of(self.node).keyword} '{self.node.name}': {message}",
                                            location_of(self.node)))

    def specialise(self, why: str) -> None:
        """The code written for this node holds only at the declared input size: say so in the code and in a
        ``size-specialised`` warning (which the migration report lists), never silently."""
        self.graph.body.append(f"        # Specialised to the declared input size: {comment(why)}.")
        self.graph.diagnostics.append(warning(
            "size-specialised", f"{kind_of(self.node).keyword} '{self.node.name}': the Keras code holds only at "
            f"the declared input size ({why})", location_of(self.node)))

    def pad(self, tensor: Tensor, pads: list[tuple[int, int]], value=0.0, mode: str = "constant",
            layer_cls: str | None = None) -> str:
        """Pad the spatial axes of a channels-last ``tensor``; returns the padded expression (a pad computed
        from a block's parameters is written even where this call's value is zero)."""
        if not any(b or e or is_symbolic(b) or is_symbolic(e) for b, e in pads):
            return tensor.expr
        if mode in EDGE_MODES:
            return self.edge_pad(tensor, {2 + i: p for i, p in enumerate(pads)}, mode)
        if layer_cls and mode == "constant" and value == 0.0:
            spec = padding_spec(pads)
            padder = self.layer(layer_cls, [f"padding={literal(spec)}"], suffix="_pad")
            padded = f"{padder}({tensor.expr})"
        else:
            widths = pad_widths(tensor.perm, {2 + i: p for i, p in enumerate(pads)})
            padded = f"ops.pad({tensor.expr}, {literal(widths)}{pad_options(mode, value)})"
        variable = self.graph.fresh(self.node.name + "_padded")
        self.graph.line(f"{variable} = {padded}")
        return variable


    def edge_pad(self, tensor: Tensor, pivot_pads: dict[int, tuple[int, int]], mode: str,
                 target: str | None = None) -> str:
        """Replicate or circular padding, which TensorFlow's pad lacks: each padded axis joined with its edge
        cells repeated (replicate) or with the cells of the opposite end (circular); exact at every size.
        The last join is assigned to ``target`` when given; returns the padded variable."""
        current = tensor.expr
        padded = [a for a in sorted(pivot_pads) if any(pivot_pads[a])]
        for pivot_axis in padded:
            begin, end = pivot_pads[pivot_axis]
            axis = tensor.perm.index(pivot_axis)

            def cells(item, current=current, axis=axis):
                return f"{current}[{', '.join([':'] * axis + [item])}]"
            if mode == "replicate":
                head = f"ops.repeat({cells(':1')}, {begin}, axis={axis})"
                tail = f"ops.repeat({cells('-1:')}, {end}, axis={axis})"
            else:
                head, tail = cells(f"-{begin}:"), cells(f":{end}")
            parts = ([head] if begin else []) + [current] + ([tail] if end else [])
            last = pivot_axis == padded[-1] and target is not None
            variable = target if last else self.graph.fresh(self.node.name + "_padded")
            self.graph.line(f"{variable} = ops.concatenate([{', '.join(parts)}], axis={axis})")
            current = variable
        return current


EDGE_MODES = ("replicate", "circular")  # the pad modes keras.ops.pad cannot compute on TensorFlow


def padding_spec(pads):
    """Keras' ZeroPadding/Cropping argument: one int, one int per axis, or (begin, end) per axis."""
    if all(b == e for b, e in pads):
        return tuple_or_int([b for b, _ in pads])
    return tuple(pads[0]) if len(pads) == 1 else tuple(tuple(p) for p in pads)


def source_of(value) -> str:
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


def emit_layer(ctx: NodeContext):
    """A plain layer: constructor arguments from the table, one call on the first operand."""
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_op(ctx: NodeContext):
    """An elementwise ``ops`` function: ``ops.<fn>(x, <the mapping's arguments>)``.

    The Keras importer reads such a call back through the same arguments, so a kind
    written this way needs nothing else to be read.
    """
    ctx.assign(f"{ctx.mapping.layer}({', '.join([ctx.x.expr, *ctx.kwargs()])})")
    return [ctx.x.perm]


def emit_activation_fn(ctx: NodeContext):
    """``layers.Activation("<fn>")`` where Keras has no dedicated layer."""
    layer = ctx.layer("layers.Activation", [literal(ctx.mapping.note)])
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def states_used(ctx) -> list[bool]:
    return [name != "_" for name in ctx.out_vars[1:]]


def gate_blocks(np, array, order, hidden, axis=0):
    """The gate blocks of a recurrent weight (``hidden`` rows or columns each) in another ``order``."""
    parts = [np.take(array, range(g * hidden, (g + 1) * hidden), axis=axis) for g in range(len(order))]
    return np.concatenate([parts[i] for i in order], axis=axis)

