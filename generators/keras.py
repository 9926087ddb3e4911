"""Keras 3 code generator, Keras layouts and Keras weights.

How each kind is written in Keras is its kind module's ``KerasMapping``
(``nnpivot.kinds``): class or op, constructor arguments, the layout its
operands need, the emitter that writes its code and its weight converters. This
module plans layouts, runs the emitters and handles weights:

* **Layout.** Keras code is channels_last. Every tensor carries a permutation
  of the pivot axes (see :mod:`nnpivot.kinds.layout`); each kind says what it needs
  (``channels_last``: convolutions, pooling...; ``pivot``: reshapes, RNNs,
  matmul...; ``any``: activations, axis-valued operations whose axes are
  translated). Model inputs and outputs follow one rule (``layout.keras_boundary``):
  rank >= 4 is channels-last whatever node reads or produces it (an image input
  (C, H, W) is a Keras input (H, W, C), a block's output is returned as such);
  rank-3 tensors are (N, T, F) sequences in both frameworks and stay as they are. ``permute`` nodes never
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

import re
import shutil
import sys
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import Diagnostic, NNPivotError, error, has_errors, location_of, warning
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.kinds import KINDS, kind_of
from nnpivot.kinds import layout as L
from nnpivot.kinds import training as vocabulary
from nnpivot.kinds.keras_mapping import RESERVED, TARGET, NodeContext, Tensor
from nnpivot.kinds.pysyntax import LINE_WIDTH, comment, docstring, identifier, literal, python_name, wrap_call
from nnpivot.lazy import lazy_module
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.blocks import BlockError, argument_groups, is_parameterised, iteration_of, loop_of
from nnpivot.metamodel.shapes import ShapeError
from nnpivot.shapes import RUN_TIME_CANDIDATES, ShapeTable, called_block, infer_shapes, run_time_sizes
from nnpivot.weights import WeightStore

from .blockcode import (
    call_arguments,
    declared_outside,
    members,
    per_call_signature,
    per_call_values,
    plan_block,
    reads_per_call,
    rendered_alike,
)
from .codegen import (
    MODULE_NAMES,
    OutputNames,
    Taken,
    class_name,
    class_names,
    environment,
    header,
    one_cycle_optimizer_code,
    one_cycle_schedule_code,
    padded_embedding_class_code,
    rule_class_code,
    two_bias_class_code,
    write_atomic,
)

np = lazy_module("numpy")  # for the weight functions: generating code never loads numpy
subprocess = lazy_module("subprocess")  # for ruff on over-long lines only (its import is 1% of a migrate)

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
    # operand 0 is the sequence; initial states (layers * directions, N, H) are read in pivot order
    "sequence": lambda node, operands, i, rank: L.identity(rank) if i or node.batchFirst or rank != 3 else (1, 0, 2),
    "last_axis": lambda node, operands, i, rank: None if operands[i].perm[-1] == rank - 1 else L.identity(rank),
    "dropout": lambda node, operands, i, rank: L.channels_last(rank) if node.spatial else None,
    "frames": lambda node, operands, i, rank: (0, 1, 3, 4, 2) if rank == 5 else L.identity(rank),  # (N, T, H, W, C)
    "layer_norm": _want_layer_norm,
    "match": _want_match,
    "flatten": _want_flatten,
}


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
    class_names: dict = field(default_factory=dict)               # model and blocks -> class name
    sources: dict = field(default_factory=dict)   # BlockParameter -> how this class reads it (a template's)
    spans: dict = field(default_factory=dict)     # node name -> (init start, init end, body start, body end)
    perms: dict = field(default_factory=dict)     # node name -> layout of its output 0
    tail: int = 0                                 # where the body's output conversions start
    loop_attributes: dict = field(default_factory=dict)   # a loop's node (+ suffix) -> the list of its layers
    # a loop's node -> the loop index's identifier, in a template written once for every iteration: its layers
    # are ``self.conv[i]``, its variables the node's names, and iteration 0 reads the carried variable
    loop_indexes: dict = field(default_factory=dict)
    _in_loop: bool = False                        # emitting a loop's node in such a template
    signature: str = ""                           # the parameter of ``call`` after self
    unpacking: str | None = None                  # the statement unpacking it into the inputs, if needed

    def fresh(self, base: str) -> str:
        name = identifier(base, Taken(RESERVED, self._names))
        self._names.add(name)
        return name

    def attribute(self, base: str) -> str:
        # python_name first: a private name (``_layers``) would overwrite keras.Model's own attribute
        name = identifier(python_name(base, RESERVED), Taken(RESERVED, self._attributes))
        self._attributes.add(name)
        return name

    def line(self, text: str) -> None:
        self.body.append(_wrap_statement(text, self.indent))

    @property
    def indent(self) -> str:
        """Where a statement of ``call`` starts: one level in for the node of a loop written once."""
        return "            " if self._in_loop else "        "

    def build(self):
        graph, shapes = self.graph, self.shapes
        names = OutputNames(graph, rename=lambda n: python_name(n, RESERVED))
        carried = {}   # in a template written for every iteration: a loop's initial value -> its result's variable
        for node in graph.nodes:
            iteration = iteration_of(node)
            if iteration is not None and iteration[0] in self.loop_indexes:
                member = iteration[0]
                names.outputs(node)[0] = python_name(member.name, RESERVED)
                loop = loop_of(member.eContainer())[member]
                carried[loop.initial.name] = python_name(loop.result.name, RESERVED)
        self._names.update(v for node in graph.nodes for v in names.outputs(node))
        self.params = [names.of(n) for n in graph_inputs(graph)]
        try:
            self.signature, self.unpacking = _call_signature(graph, names)
        except BlockError as exc:
            self.diagnostics.append(error(exc.code, str(exc), location_of(exc.element)))
            self.signature, self.unpacking = "inputs", None
        tensors: dict = {}
        for node, perm in zip(graph_inputs(graph), self.input_perms):
            tensors[(node, 0)] = Tensor(names.of(node), perm, shapes.of(node))
            self.perms[node.name] = tuple(perm)
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
            iteration = iteration_of(node)
            if iteration is not None and iteration[1] == 0 and iteration[0] in self.loop_indexes:
                operands = [Tensor(carried[dep.name], t.perm, t.shape, t.flat)
                            if iteration_of(dep) is None and dep.name in carried else t
                            for dep, t in zip(node.inputs, operands)]
            out_vars = names.outputs(node)
            start = (len(self.init), len(self.body))
            self._in_loop = iteration is not None and iteration[0] in self.loop_indexes
            try:
                produced = self._emit_node(node, operands, out_vars, consumers)
            except ShapeError as exc:
                self.diagnostics.append(error("unsupported-for-target", f"'{node.name}': {exc}", location_of(node)))
                continue
            finally:
                self._in_loop = False
            self.spans[node.name] = (start[0], len(self.init), start[1], len(self.body))
            if produced:
                self.perms[node.name] = tuple(produced[0][1])
            flat = self.flat_nodes.get(node)
            if flat is None and _carries_flat_order(node):
                flat = operands[0].flat
            for index, (var, perm) in enumerate(produced):
                tensors[(node, index)] = Tensor(var, perm, shapes.of(node, index), flat if index == 0 else None)
        self.tail = len(self.body)
        for node in graph.outputs:
            tensor = tensors.get((node, 0))
            if tensor is None:
                continue
            wanted = L.keras_boundary(len(tensor.shape)) if graph.eClass.name == "Model" else \
                tensor.perm if _is_output_layout(tensor) else L.identity(len(tensor.shape))
            why = "model outputs are channels-last" if len(wanted) >= 4 and graph.eClass.name == "Model" \
                else "an output in pivot order"
            # a permute output wrote no code: its transpose, written here, takes the permute's variable
            tensor = self._convert(tensor, wanted, why,
                                   names.outputs(node)[0] if is_kind(node, "Permute") else None)
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
        if is_parameterised(node.block):
            return self._emit_parameterised_call(node, operands, out_vars)
        code = self.blocks.get(node.block)
        if code is None:
            code = GraphCode(node.block, self.shapes, [t.perm for t in operands], self.blocks, self.diagnostics,
                             class_names=self.class_names)
            code.build()
            self.blocks[node.block] = code
        operands = [self._convert(t, p, f"block {node.block.name} was generated for this layout")
                    for t, p in zip(operands, code.input_perms)]
        if node.weightsOf is not None:  # the same block instance called again
            attr = self.layer_names[node.weightsOf.name]
        else:
            attr = self.attribute(node.name)
            self.init.append(f"        self.{attr} = {self.class_names[node.block]}(name={literal(node.name)})")
            self.layer_names[node.name] = attr
            self.calls[node.name] = code
        targets = out_vars if len(out_vars) > 1 else out_vars[:1]
        self.line(f"{', '.join(targets)} = self.{attr}({_call_argument(node.block, operands)})")
        return list(zip(out_vars, code.output_perms))

    def _emit_parameterised_call(self, node, operands, out_vars):
        """A call of a parameterised block: the block's class with the call's arguments (or, where its calls
        cannot share one class, the class of the call's argument set). Weights map through a GraphCode of the
        block as this call specialised it."""
        code = self.blocks.get(node.block)
        if code is None:
            code = ParameterisedCode.plan(node.block, self.shapes, [t.perm for t in operands], self.blocks,
                                          self.diagnostics, self.class_names)
            self.blocks[node.block] = code
        operands = [self._convert(t, p, f"block {node.block.name} was generated for this layout")
                    for t, p in zip(operands, code.input_perms)]
        spec_code = code.specialised(node, self)
        if node.weightsOf is not None:
            attr = self.layer_names[node.weightsOf.name]
        else:
            attr = self.attribute(node.name)
            if code.shared:
                args = call_arguments(node, self.sources, PARAMETER_RESERVED)
            else:
                args = []
            self.init.append(wrap_call(f"self.{attr} = {code.class_name(node)}(",
                                       [*args, f"name={literal(node.name)}"], "        "))
            self.layer_names[node.name] = attr
            self.calls[node.name] = spec_code
        targets = out_vars if len(out_vars) > 1 else out_vars[:1]
        numbers = per_call_values(node, self.sources, PARAMETER_RESERVED) if code.shared else []   # else its class
        self.line(f"{', '.join(targets)} = self.{attr}({', '.join([_call_argument(node.block, operands), *numbers])})")
        return list(zip(out_vars, spec_code.output_perms))

    def _convert(self, tensor: Tensor, wanted: L.Perm, why: str, variable: str | None = None) -> Tensor:
        if tuple(tensor.perm) == tuple(wanted):
            return tensor
        axes = L.conversion(tensor.perm, wanted)
        suffix = "cl" if tuple(wanted) == L.channels_last(len(wanted)) else "cf" if L.is_identity(wanted) else "t"
        name = variable or self.fresh(f"{tensor.expr.split('.')[-1]}_{suffix}")
        self.body.append(f"        # Transposed: {comment(why)}.")
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
        "frames": f"{kind_of(node).keyword} reads (N, T, H, W, C) sequences of maps",
    }[rule]


def _is_output_layout(tensor: Tensor) -> bool:
    rank = len(tensor.perm)
    return L.is_identity(tensor.perm) or (rank >= 4 and tensor.perm == L.channels_last(rank))


# A block parameter is a local of __init__ and a key of get_config: not a Layer keyword or attribute.
PARAMETER_RESERVED = RESERVED | MODULE_NAMES


@dataclass
class ParameterisedCode:
    """The Keras code of a parameterised block: one ``keras.layers.Layer`` class taking its parameters (see
    ``generators.blockcode``), or, when its calls cannot share one, one class per argument set."""
    block: Any
    input_perms: list
    class_names: dict
    shared: bool = False               # one class for every call
    view: dict | None = None           # that class
    fallback: dict = field(default_factory=dict)   # argument set -> GraphCode of its class
    transposes: list[str] = field(default_factory=list)
    _specialised: dict = field(default_factory=dict)
    read_per_call: str | None = None   # a per-call parameter its constructor would read

    @classmethod
    def plan(cls, block, shapes, perms, blocks, diagnostics, class_names) -> ParameterisedCode:
        code = cls(block, list(perms), class_names)
        plan = plan_block(block, shapes, PARAMETER_RESERVED)
        running = plan_block(block, shapes, PARAMETER_RESERVED, prefix="self.")
        if plan is not None and running is not None:
            code.view = code._shared_view(plan, running, blocks)
            code.shared = code.view is not None
        if code.read_per_call is not None:
            diagnostics.append(warning("per-call-in-constructor", f"block {block.name}: its constructor would read "
                                       f"'{code.read_per_call}', which call takes each time; written as one class "
                                       "per argument set", location_of(block)))
        return code

    def _template_codes(self, plan, blocks) -> list[GraphCode] | None:
        codes = []
        for call in plan.calls:
            scratch: list[Diagnostic] = []
            code = GraphCode(call.template, call.shapes, self.input_perms, blocks, scratch,
                             class_names=self.class_names, sources=plan.sources,
                             loop_indexes={member: plan.indexes[loop.index] for loop in self.block.loops
                                           for member in loop.nodes}).build()
            if has_errors(scratch):
                return None
            codes.append(code)
        return codes

    def _shared_view(self, plan, running, blocks) -> dict | None:
        """The one class of the block, or None when its calls render differently."""
        inits, bodies = self._template_codes(plan, blocks), self._template_codes(running, blocks)
        if inits is None or bodies is None:
            return None
        order = topological_order(self.block)
        init = [f"        self.{name} = {name}" for p, name in plan.names.items() if not p.perCall]
        body: list[str] = []
        hoisted = declared_outside(self.block)

        def renderings(node):
            """Per call: the node's declaration where it is hoisted, its (init, call) lines where it computes."""
            for call, init_code, body_code in zip(plan.calls, inits, bodies):
                if node.name not in init_code.spans:
                    yield None, None
                    continue
                i0, i1, _, _ = init_code.spans[node.name]
                declaration = tuple(init_code.init[i0:i1]) if node in hoisted else None
                if not call.computes(node.name):
                    yield declaration, None
                    continue
                _, _, b0, b1 = body_code.spans[node.name]
                yield declaration, (tuple(init_code.init[i0:i1]), tuple(body_code.body[b0:b1]))

        def rendered(nodes: list):
            return rendered_alike(nodes, hoisted, renderings)

        names = OutputNames(self.block, rename=lambda n: python_name(n, RESERVED))

        def looped(loop):
            """(init lines, call lines) of a loop: its layers in lists a ``for`` in ``__init__`` fills, its
            statements in a ``for`` of ``call``; None when an iteration of a call renders otherwise."""
            index, lists, loop_init, loop_body = plan.indexes[loop.index], [], [], []
            for node in members(loop, order):
                if is_kind(node, "Select"):
                    continue
                texts = set()
                for call, init_code, body_code in zip(plan.calls, inits, bodies):
                    for number in range(call.iterations(loop)):
                        name = f"{node.name}.{number}"
                        if name not in init_code.spans or name not in body_code.spans:
                            return None
                        i0, i1, _, _ = init_code.spans[name]
                        _, _, b0, b1 = body_code.spans[name]
                        node_init = init_code.init[i0:i1]
                        lists += [line for line in node_init if line.endswith(" = []") and line not in lists]
                        texts.add((tuple(line for line in node_init if not line.endswith(" = []")),
                                   tuple(body_code.body[b0:b1])))
                if len(texts) != 1:
                    return None
                ((node_init, node_body),) = texts
                loop_init.extend(node_init)
                loop_body.extend(node_body)
            for code, call in zip(bodies, plan.calls):   # the carried variable keeps one layout
                last = call.iterations(loop) - 1
                if last >= 0 and code.perms.get(f"{loop.result.name}.{last}") != code.perms.get(loop.initial.name):
                    return None
            head = [f"        for {index} in range({plan.count(loop)}):"] if loop_init else []
            carried, initial = names.of(loop.result), names.of(loop.initial)
            inside = [line if line.startswith("            ") else _indented(line) for line in loop_body]
            return ([*lists, *head, *loop_init],
                    [*([f"        {carried} = {initial}"] if carried != initial else []),
                     f"        for {index} in range({plan.count(loop, 'self.')}):", *inside])

        for unit in plan.units:
            if unit.eClass.name == "Loop":
                written = looped(unit)
                if written is None:
                    return None
                init += written[0]
                body += written[1]
                continue
            branches = [rendered(members(unit, order)), rendered(members(unit, order, True))]
            if None in branches:
                return None
            (declared, unit_init, unit_body), (else_declared, else_init, else_body) = branches
            init += declared + else_declared   # modules a node outside their group uses exist whichever runs
            if unit.eClass.name != "Guard":
                init += unit_init
                body += unit_body
                continue
            if unit_init:
                init += [f"        if {plan.condition(unit)}:", *(_indented(line) for line in unit_init)]
            if else_init:
                init += ["        else:" if unit_init else f"        if not ({plan.condition(unit)}):",
                         *(_indented(line) for line in else_init)]
            body += [f"        if {plan.condition(unit, 'self.')}:", *(_indented(line) for line in unit_body)]
            if unit.result is not None and unit.otherwise is not None:
                if any(code.perms.get(unit.result.name) != code.perms.get(unit.otherwise.name) for code in bodies
                       if unit.otherwise.name in code.perms):
                    return None   # the two values would reach the readers in other layouts
                body += ["        else:", *(_indented(line) for line in else_body),
                         f"            {names.of(unit.result)} = {names.of(unit.otherwise)}"]
            elif len(unit.alternative):
                body += ["        else:", *(_indented(line) for line in else_body)]
        ends = {(tuple(c.body[c.tail:]), tuple(c.returns), tuple(map(tuple, c.output_perms))) for c in bodies}
        if len(ends) != 1:
            return None
        first = bodies[0]
        body += first.body[first.tail:]
        self.transposes = first.transposes
        self.output_perms = first.output_perms
        self.class_names[first.graph] = self.class_names[self.block]
        self.read_per_call = reads_per_call(self.block, plan.names, init)
        if self.read_per_call is not None:
            return None   # its constructor would read a number only call is given: a class per argument set
        view = _class_view(first, f"Block {self.block.name}.")
        config = [(literal(name), name) for p, name in plan.names.items() if not p.perCall]
        signature = ", ".join([view["signature"], *per_call_signature(self.block, plan.names)])
        return {**view, "name": self.class_names[self.block], "init": init, "body": body, "signature": signature,
                "base": "keras.layers.Layer", "init_params": "".join(f", {p}" for p in plan.signature()),
                "config": config}

    def specialised(self, call, caller: GraphCode) -> GraphCode:
        """The GraphCode of the block as ``call`` specialised it: its weights' paths, and its class when the
        calls do not share one."""
        spec = called_block(call, caller.shapes)
        key = tuple((p.name, repr(v)) for p, v in caller.shapes.arguments[call].items())
        code = GraphCode(spec, caller.shapes, self.input_perms, caller.blocks, caller.diagnostics,
                         class_names=self.class_names).build()
        if not self.shared and key not in self.fallback:
            base = self.class_names[self.block]
            taken = {n.casefold() for n in self.class_names.values()}
            name = base if not self.fallback else f"{base}{len(self.fallback) + 1}"
            while self.fallback and name.casefold() in taken:
                name += "_"
            self.class_names[spec] = name
            self.fallback[key] = code
        self._specialised[call] = key
        return code

    def class_name(self, call) -> str:
        if self.shared:
            return self.class_names[self.block]
        return self.class_names[self.fallback[self._specialised[call]].graph]

    def views(self) -> list[dict]:
        if self.shared:
            return [self.view]
        return [_class_view(code, f"Block {self.block.name}.") for code in self.fallback.values()]


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


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
    in_string = escaped = False
    for ch in text:
        if in_string and (escaped or ch == "\\"):
            escaped = not escaped  # a backslash escapes the next character (literal() writes \" inside strings)
        elif ch == '"':
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


def plan(model, shapes: ShapeTable | None = None) -> KerasProgram:
    """Run shape inference (unless a validated model's ``shapes`` are given), the layout analysis, and build
    the code of every class."""
    shapes, diagnostics = (shapes, []) if shapes is not None else infer_shapes(model)
    diagnostics = list(diagnostics)
    if has_errors(diagnostics):
        raise NNPivotError(diagnostics)
    inputs = graph_inputs(model)
    perms = [_input_layout(model, node, len(shapes.of(node))) for node in inputs]
    blocks: dict = {}
    code = GraphCode(model, shapes, perms, blocks, diagnostics, class_names=class_names(model)).build()
    return KerasProgram(model, code, blocks, shapes, diagnostics)


def _input_layout(model, node, rank: int) -> L.Perm:
    """The Keras layout of a model input.

    Images and volumes (rank >= 4) are channels-last, Keras' convention, whatever
    their consumers are: a consumer that needs another order gets an explained
    transpose inside ``call``. A rank-3 input is an (N, T, F) sequence in both
    frameworks and stays as it is, even when a conv1d reads it as (N, C, L) maps:
    the Keras code then transposes inside ``call``. Both are the reading of the
    Keras importer, so generated code reads back with the inputs it had.
    """
    return L.keras_boundary(rank)


def explicit_transposes(model) -> list[str]:
    """Every ``ops.transpose`` the Keras code needs and why (for migration reports)."""
    program = plan(model)
    codes = [*(program.blocks[b] for b in model.blocks if b in program.blocks), program.code]
    return [entry for code in codes for entry in code.transposes]


def keras_index() -> dict[str, list[str]]:
    """Keras class or op -> the registry keywords written with it (the mapping table read backwards)."""
    index: dict[str, list[str]] = {}
    for keyword, kind in KINDS.items():
        mapping = kind.mappings[TARGET]
        if mapping.layer:
            index.setdefault(mapping.layer, []).append(keyword)
    return index


def keras_layouts(model) -> tuple[list[L.Perm], list[L.Perm]]:
    """How each model input and output is permuted in Keras relative to the pivot.

    ``keras_tensor = numpy.transpose(pivot_tensor, perm)`` for every perm returned.
    """
    program = plan(model)
    return list(program.code.input_perms), list(program.code.output_perms)


def generate(model, source_name: str, shapes: ShapeTable | None = None) -> str:
    """Keras 3 source code for ``model``; raises NNPivotError when a node cannot be written."""
    with collector_paused():
        program = plan(model, shapes)
        if has_errors(program.diagnostics):
            raise NNPivotError(program.diagnostics)
        return render(program, source_name)


def generate_code(model, source_name: str, shapes: ShapeTable | None = None) -> tuple[str | None, list[Diagnostic]]:
    """Keras source for ``model`` and what was found on the way (None when there are errors); the warnings say
    where the code holds only at the declared input size (``size-specialised``)."""
    try:
        with collector_paused():
            program = plan(model, shapes)
            if has_errors(program.diagnostics):
                return None, program.diagnostics
            return render(program, source_name), program.diagnostics
    except NNPivotError as exc:
        return None, exc.diagnostics


def generate_file(model, path, source_name: str, force: bool = False) -> list[Diagnostic]:
    """Generate and write atomically; an existing file needs ``force`` (``output-exists``)."""
    with collector_paused():
        program = plan(model)
    if has_errors(program.diagnostics):
        raise NNPivotError(program.diagnostics)
    write_atomic(path, render(program, source_name), force=force)
    return [d for d in program.diagnostics if not d.is_error]


def _call_signature(graph, names: OutputNames) -> tuple[str, str | None]:
    """``call``'s one parameter and the statement unpacking it: an input alone, else ``inputs`` holding one item
    per argument (a packed argument's items nested: ``x, (output, _) = inputs``; an item nobody reads is ``_``)."""
    read = {dep for node in graph.nodes for dep in node.inputs} | set(graph.outputs)
    groups = argument_groups(graph)
    items = [names.of(group[0]) if pack is None else
             ", ".join(names.of(i) if i in read else "_" for i in group) for pack, group in groups]
    if len(groups) == 1 and groups[0][0] is None:
        return items[0], None
    if len(groups) == 1:
        return python_name(groups[0][0].name, RESERVED), f"{items[0]} = {python_name(groups[0][0].name, RESERVED)}"
    nested = [text if pack is None else f"({text})" for (pack, _), text in zip(groups, items)]
    return "inputs", f"{', '.join(nested)} = inputs"


def _call_argument(block, operands: list) -> str:
    """What a call of ``block`` passes: its operand alone, else a list with one item per argument (a packed
    argument's items as a nested list)."""
    texts, position = [], 0
    try:
        groups = argument_groups(block)
    except BlockError:   # reported where the block's class is written
        groups = [(None, [node]) for node in graph_inputs(block)]
    for pack, items in groups:
        group = [t.expr for t in operands[position:position + len(items)]]
        position += len(items)
        texts.append(group[0] if pack is None else "[" + ", ".join(group) + "]")
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _class_view(code: GraphCode, doc: str | None) -> dict:
    signature, unpack = code.signature, code.unpacking
    returns = code.returns[0] if len(code.returns) == 1 else ", ".join(code.returns)
    return {"name": code.class_names[code.graph], "doc": docstring(doc) if doc else None, "init": code.init, "body": code.body, "signature": signature,
            "unpack": unpack, "returns": returns, "base": "keras.Model", "init_params": "", "config": []}


def render(program: KerasProgram, source_name: str) -> str:
    model = program.model
    ordered_blocks = [b for b in model.blocks if b in program.blocks]
    classes = []
    for block in ordered_blocks:
        code = program.blocks[block]
        classes += code.views() if isinstance(code, ParameterisedCode) else [_class_view(code, f"Block {block.name}.")]
    classes.append(_class_view(program.code, model.description or None))
    training = _training_view(model, program.diagnostics, program.shapes, program)
    if has_errors(program.diagnostics):
        raise NNPivotError(program.diagnostics)
    helpers = [padded_embedding_class_code()] if any(node.eIsSet("paddingIdx")
                                                     for node in vocabulary.embeddings(model)) else []
    text = environment(TARGET).get_template("model.py.j2").render(
        header=header(source_name), helpers=helpers, classes=classes, training=training, model_name=model.name)
    imports = [name for name in ("layers", "ops") if re.search(rf"\b{name}\.", text)]
    text = text.replace("@@IMPORTS@@", f"from keras import {', '.join(imports)}\n" if imports else "", 1)  # not in a docstring
    if re.search(r"\bmath\.", text):
        text = text.replace("\nimport keras\n", "\nimport math\n\nimport keras\n", 1)
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

def _ending(model) -> str:
    """How the training losses read the model's output (see nnpivot.kinds.training)."""
    outputs = list(model.outputs)
    kind = kind_of(outputs[0]) if len(outputs) == 1 else None
    return vocabulary.ending_of_keyword(kind.keyword if kind else None)


def _optimizer_code(opt, diagnostics, config=None, two_bias_layers: tuple[str, ...] = ()) -> str:
    """The Keras optimizer of the pivot's (the default one when ``opt`` is None), with the configuration's
    per-step schedule and gradient clipping; with ``two_bias_layers``, its two-bias class taking twice its step
    for those layers' bias (see _training_view)."""
    extra = _clipping_args(config, diagnostics) if config is not None else []
    if two_bias_layers:
        extra.append(f"{vocabulary.TWO_BIAS_KEYWORD}={literal(two_bias_layers)}")
    if opt is None:
        rate = _rate_code(config, literal(vocabulary.DEFAULT_LEARNING_RATE), diagnostics)
        cls = _keras_classes(config, vocabulary.OPTIMIZERS[vocabulary.DEFAULT_OPTIMIZER], {}, "")[-1]
        return f"{_two_bias_name(cls) if two_bias_layers else cls}({', '.join([f'learning_rate={rate}', *extra])})"
    entry = vocabulary.OPTIMIZERS.get(opt.kind or "")
    if entry is None:
        diagnostics.append(warning("unsupported-for-target", f"optimizer '{opt.kind}' has no Keras mapping; "
                                   "the training function uses Adam", location_of(opt)))
        entry, parameters = vocabulary.OPTIMIZERS["adam"], []
    else:
        parameters = list(opt.parameters)
    args = [f"learning_rate={_rate_code(config, literal(opt.learningRate), diagnostics)}"]
    for parameter in parameters:
        known = entry.parameter(parameter.key)
        if known is None:
            diagnostics.append(warning("unsupported-for-target", f"optimizer {entry.name}: '{parameter.key}' has no "
                                       "Keras counterpart and is left out", location_of(parameter) or location_of(opt)))
            continue
        args.append(f"{known.keras}={literal(known.keras_value(parameter.value))}")
    # settings written for PyTorch's update rule train with the subclass that updates so, a OneCycle schedule's
    # momentum with the subclass that cycles it (see _training_view)
    cls = _keras_classes(config, entry, {p.key: p.value for p in parameters}, vocabulary.rule_of(opt))[-1]
    return f"{_two_bias_name(cls) if two_bias_layers else cls}({', '.join(args + extra)})"


def _keras_classes(config, entry, parameters: dict[str, float], rule: str) -> list[str]:
    """The optimizer classes generated code trains ``entry`` with, each subclassing the one before: the Keras
    class, the rule class where the model's rule is PyTorch's, the one-cycle class where a OneCycle schedule
    cycles the momentum (kinds.training ``one_cycle_optimizer``)."""
    classes = [entry.keras_class]
    if vocabulary.rule_class(entry, rule, "keras"):
        classes.append(entry.keras_rule_class)
    schedule = config.schedule if config is not None else None
    if vocabulary.one_cycle_optimizer(schedule, entry, parameters):
        classes.append(vocabulary.one_cycle_class(classes[-1].rsplit(".", 1)[-1]))
    return classes


def _one_cycle_momentum_problem(config, entry, diagnostics) -> None:
    """A located warning where Keras cannot cycle the optimizer's momentum as OneCycleLR does."""
    schedule = config.schedule
    if schedule is None or schedule.eClass.name != "OneCycle" or not schedule.cycleMomentum or \
            entry.name in vocabulary.CYCLED_MOMENTUM:
        return
    held = "momentum" if entry.parameter("momentum") else "beta_1"
    diagnostics.append(warning("unsupported-for-target", f"schedule one_cycle cycles the {held} of optimizer "
                               f"{entry.name} between {schedule.maxMomentum:g} and {schedule.baseMomentum:g}; the "
                               f"Keras training keeps it constant (only "
                               f"{', '.join(vocabulary.CYCLED_MOMENTUM)} cycle it in Keras)",
                               location_of(schedule) or location_of(config)))


def _two_bias_name(cls: str) -> str:
    return vocabulary.two_bias_class(cls.rsplit(".", 1)[-1])


def _rate_code(config, initial: str, diagnostics) -> str:
    """The optimizer's learning rate: a keras.optimizers.schedules object for a per-step schedule."""
    schedule = config.schedule if config is not None else None
    if schedule is None or schedule.eClass.name == "ReduceOnPlateau" or (
            schedule.interval.name == "epoch" and schedule.eClass.name not in vocabulary.PER_STEP_ONLY):
        return initial
    code = vocabulary.keras_schedule(schedule, initial)
    if code is None:
        diagnostics.append(warning("unsupported-for-target", f"the learning-rate schedule "
                                   f"{schedule.eClass.name} has no Keras counterpart; the Keras training uses the "
                                   "constant learning rate", location_of(schedule) or location_of(config)))
        return initial
    return code


def _clipping_args(config, diagnostics) -> list[str]:
    """The optimizer's clipping keyword; Keras takes one of them, the others are warned about where they are set."""
    kept, dropped = vocabulary.keras_clipping(vocabulary.clippings_of(config))
    for clipping in dropped:
        diagnostics.append(warning("unsupported-for-target", f"a Keras optimizer clips gradients one way only: "
                                   f"{kept[0].setting} {kept[1]:g} is kept, {clipping.setting} "
                                   f"{getattr(config, clipping.feature):g} is left out",
                                   location_of(config, clipping.feature) or location_of(config)))
    return [f"{kept[0].keras}={literal(kept[1])}"] if kept else []


def _callbacks(config, diagnostics) -> list[str]:
    """The fit callbacks of a per-epoch schedule."""
    schedule = config.schedule
    if schedule is None:
        return []
    name = schedule.eClass.name
    if name == "ReduceOnPlateau":
        if schedule.thresholdMode.name == "relative" and schedule.threshold:
            diagnostics.append(warning("approximate-translation", "Keras's ReduceLROnPlateau takes an absolute "
                                       f"improvement (min_delta); the relative threshold {schedule.threshold:g} is "
                                       "carried over as an absolute one", location_of(schedule)))
        # Keras reduces after patience epochs without improvement, PyTorch (the pivot) after patience + 1
        plateau = (f"keras.callbacks.ReduceLROnPlateau(monitor={literal(schedule.monitor)}, "
                   f"factor={literal(schedule.factor)}, patience={literal(schedule.patience + 1)}, "
                   f"min_delta={literal(schedule.threshold)}, cooldown={literal(schedule.cooldown)}, "
                   f"min_lr={literal(schedule.minimum)})")
        return [plateau]
    if schedule.interval.name != "epoch" or name in vocabulary.PER_STEP_ONLY:
        return []
    rate = vocabulary.schedule_rate(schedule, "epoch", literal(config.optimizer.learningRate if config.optimizer
                                                               is not None else vocabulary.DEFAULT_LEARNING_RATE))
    return [f"keras.callbacks.LearningRateScheduler(lambda epoch: {rate})"]


def _loss_code(code: str, config, loss: str, diagnostics) -> str:
    """The loss constructor with the configuration's reduction and label smoothing."""
    options = []
    if config.lossReduction.name != "mean":
        options.append(f"reduction={literal(config.lossReduction.name)}")
    if config.labelSmoothing:
        if loss in vocabulary.KERAS_LABEL_SMOOTHING:
            options.append(f"label_smoothing={literal(config.labelSmoothing)}")
        else:
            diagnostics.append(warning("unsupported-for-target", f"loss {loss}: Keras has no label smoothing for "
                                       f"it; label_smoothing={config.labelSmoothing:g} is left out",
                                       location_of(config, "labelSmoothing") or location_of(config)))
    if not options:
        return code
    head = code[:-1]
    return head + (", " if not head.endswith("(") else "") + ", ".join(options) + ")"


def _class_count(model, shapes) -> int | None:
    outputs = list(model.outputs)
    shape = shapes.operand(outputs[0]) if shapes is not None and len(outputs) == 1 else None
    return shape[-1] if shape and isinstance(shape[-1], int) and shape[-1] > 1 else None


def _two_bias_layers(program: KerasProgram) -> list[tuple[Any, str]]:
    """The recurrent nodes with PyTorch's two biases (kinds.training ``has_two_biases``) and the path of each of
    their Keras layers inside the model (layer names, which are the node names, of the block calls and the layer;
    a stacked node's layers are ``{name}_l{i}``)."""
    def walk(code: GraphCode, names: tuple):
        for node in code.graph.nodes:
            if is_kind(node, "BlockCall") and node.name in code.calls:
                yield from walk(code.calls[node.name], (*names, node.name))
            elif vocabulary.has_two_biases(node):
                stacked = getattr(node, "numLayers", 1)
                for layer in [node.name] if stacked == 1 else [f"{node.name}_l{i}" for i in range(stacked)]:
                    yield node, "/".join((*names, layer))
    return list(walk(program.code, ()))


def _two_bias_training(program: KerasProgram, config, diagnostics) -> tuple[str, ...]:
    """The Keras layer paths whose one bias the training function steps twice: the pivot's recurrent layers hold
    PyTorch's two biases (bias_ih, bias_hh), Keras's one their sum; both receive the whole gradient and, where
    each one's optimizer state follows its own gradients only, take the same step, so the sum moves twice as far
    (kinds.training ``two_bias_problem``). Where that does not hold, a located warning at each such layer says the
    training is approximate (inference is exact) and no step is doubled; a layer the walk of the generated code
    does not reach is warned about alone."""
    found = _two_bias_layers(program) if program is not None else []
    reached = list(dict.fromkeys(node for node, _ in found))
    model = program.model if program is not None else None
    missed = [node for graph in ((model, *model.blocks) if model is not None else ()) for node in graph.nodes
              if vocabulary.has_two_biases(node) and node not in reached]
    opt = config.optimizer
    entry = vocabulary.OPTIMIZERS.get(opt.kind or "") if opt is not None else \
        vocabulary.OPTIMIZERS[vocabulary.DEFAULT_OPTIMIZER]
    parameters = {p.key: p.value for p in opt.parameters} if opt is not None else {}
    problem = vocabulary.two_bias_problem(entry, parameters, config.clipNorm) if entry is not None else \
        "the optimizer has no Keras counterpart"
    paths = tuple(dict.fromkeys(path for _, path in found))
    for node in (*reached, *missed) if problem else missed:
        diagnostics.append(warning(
            "approximate-translation", f"training of {node.name}: the model's {node.eClass.name} has PyTorch's two "
            "biases (bias_ih, bias_hh), Keras's one is their sum; each receives the whole gradient, and the Keras "
            "training cannot take their two steps for the one bias " +
            (f"({problem})" if problem else "(the layer is inside a block the training does not reach)") +
            " (inference is exact)", location_of(node)))
    return () if problem else paths


def _training_view(model, diagnostics, shapes=None, program: KerasProgram | None = None) -> dict | None:
    config = model.training
    if config is None:
        return None
    two_bias = _two_bias_training(program, config, diagnostics)
    # an unset optimizer or loss means the same defaults as in the PyTorch training function
    compile_args = [f"optimizer={_optimizer_code(config.optimizer, diagnostics, config, two_bias)}"]
    loss = config.loss or vocabulary.DEFAULT_LOSS
    entry = vocabulary.LOSSES.get(loss)
    writing = entry.keras(_ending(model)) if entry is not None else None
    if writing is None or writing.code is None:
        problem = writing.problem if writing is not None else "the loss is not in the pivot's vocabulary"
        diagnostics.append(error("unsupported-for-target", f"loss {loss}: {problem}",
                                 location_of(config, "loss") or location_of(config)))
        return None
    code, labels = writing.code, None
    classes = _class_count(model, shapes)
    if config.labelSmoothing and loss == "cross_entropy" and classes is not None:
        # Keras's sparse cross-entropy has no label smoothing: one-hot labels and the categorical loss, which
        # smooths them as PyTorch does, y * (1 - e) + e / classes
        code = code.replace("SparseCategoricalCrossentropy", "CategoricalCrossentropy")
        labels = f"    y = keras.ops.one_hot(keras.ops.reshape(y, (-1,)), {classes})  # class indices, (N,) or (N, 1)"
    compile_args.append(f"loss={_loss_code(code, config, 'categorical_cross_entropy' if labels else loss, diagnostics)}")
    metrics = []
    for metric in config.metrics:
        metric_entry = vocabulary.METRICS.get(metric)
        if metric_entry is None:
            diagnostics.append(warning("unknown-metric", f"metric '{metric}' is left out of the Keras training "
                                       "function", location_of(config, "metrics") or location_of(config)))
            continue
        metrics.append(literal(metric_entry.keras))
    if metrics:
        compile_args.append(f"metrics=[{', '.join(metrics)}]")
    compile_text = wrap_call("model.compile(", compile_args, "    ")
    callbacks = _callbacks(config, diagnostics)
    fit = wrap_call("return model.fit(", ["x", "y", f"epochs={config.epochs}", f"batch_size={config.batchSize}",
                                          *([f"callbacks=[{', '.join(callbacks)}]"] if callbacks else [])], "    ")
    opt = config.optimizer
    entry = vocabulary.OPTIMIZERS.get(opt.kind or "") if opt is not None else \
        vocabulary.OPTIMIZERS[vocabulary.DEFAULT_OPTIMIZER]
    chain = _keras_classes(config, entry, {p.key: p.value for p in opt.parameters} if opt is not None else {},
                           vocabulary.rule_of(opt) if opt is not None else "") if entry is not None else []
    classes = [rule_class_code(TARGET, entry)] if entry is not None and entry.keras_rule_class in chain else []
    if config.schedule is not None and config.schedule.eClass.name == "OneCycle":
        classes.append(one_cycle_schedule_code())
        if entry is not None:
            _one_cycle_momentum_problem(config, entry, diagnostics)
    if entry is not None and chain[-1].startswith(vocabulary.ONE_CYCLE_PREFIX):
        classes.append(one_cycle_optimizer_code(entry, chain[-2]))
    if two_bias:
        base = chain[-1] if chain else vocabulary.OPTIMIZERS[vocabulary.DEFAULT_OPTIMIZER].keras_class
        classes.append(two_bias_class_code(base))
        why = (f"PyTorch's two biases (bias_ih, bias_hh) of {', '.join(two_bias)} are Keras's one bias, their "
               f"sum: both took the same step, so {_two_bias_name(base)} steps that bias twice")
        lines = textwrap.wrap(why, LINE_WIDTH - 6, break_long_words=False, break_on_hyphens=False)
        compile_text = "".join(f"    # {comment(line)}\n" for line in lines) + compile_text
    return {"compile": compile_text, "fit": f"{labels}\n{fit}" if labels else fit,
            "rule_class": "\n\n".join(classes) if classes else None}


# =============================================================================
# Weights
# =============================================================================

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
    attribute = code.layer_names.get(name, name)
    listed = re.fullmatch(r"(\w+)\[(\d+)\]", attribute)   # a loop's layer: item <iteration> of its list
    layer = getattr(owner, attribute, None) if listed is None else getattr(owner, listed[1])[int(listed[2])]
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
    weights = kind_of(node).mappings[TARGET].weights
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
    return [(layer, weights.info(layer, code, node) if weights.info else None)]


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
    weights = kind_of(node).mappings[TARGET].weights
    diagnostics: list[Diagnostic] = []
    for layer, info in units:
        expected = weights.from_keras(np, node, _placeholders(layer), info)
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
        (assign or _set_weights)(layer, lambda info=info: weights.to_keras(np, node, params, info))
    return diagnostics


def _set_weights(layer, convert) -> None:
    layer.set_weights([np.asarray(a, dtype=v.dtype) for v, a in zip(layer.weights, convert())])
    refresh_statistics(layer)


def refresh_statistics(layer) -> None:
    """Preprocessing layers (Normalization) compute tensors from their weights when built or loaded from a file,
    not when the weights are set: recompute them."""
    if hasattr(layer, "finalize_state"):
        layer.finalize_state()


def read_layer_weights(key, node, units, store: WeightStore) -> list[Diagnostic]:
    """Read the Keras layers holding one node's weights into ``store`` under ``key``."""
    from_keras = kind_of(node).mappings[TARGET].weights.from_keras
    diagnostics: list[Diagnostic] = []
    for layer, info in units:
        try:
            params = from_keras(np, node, _current(layer), info)
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
            params = store.for_node(key)
            assign = _first_values if deferred else None
            if deferred and store.release_written:
                assign = _releasing(params, store, key, len(units))
            diagnostics += write_layer_weights(key, node, units, params, assign=assign)
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
    # Run-time sizes the graph accepts (stride-2 stages need more than a few cells), tried in turn: Keras refuses
    # some the source takes (an adaptive pool to more cells than it is given, which PyTorch repeats).
    sizes = run_time_sizes(model)
    size = next(sizes, RUN_TIME_CANDIDATES[0])
    while True:
        specs = []
        for node, perm in zip(graph_inputs(model), in_perms):
            shape = (1, *(size if d < 0 else d for d in node.shape))
            specs.append(keras.KerasTensor(tuple(shape[axis] for axis in perm), dtype=node.dtype.name))
        keras_model = None
        try:
            with keras.StatelessScope(initialize_variables=False):
                keras_model = getattr(module, class_name(model.name))()  # Dropout makes its seed variable here
                keras_model(specs[0] if len(specs) == 1 else specs)
            break
        except BaseException as exc:
            if keras_model is not None:
                _forget_deferred(keras_model)
            size = next(sizes, None) if isinstance(exc, ValueError) else None
            if size is None:
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


def _releasing(params: dict, store: WeightStore, key: str, units: int):
    """``_first_values`` that drops the node's pivot arrays (from ``params`` and the store) once all its
    ``units`` converted them: the converted copy of the largest weight then replaces its original in memory
    instead of sitting beside it while Keras copies it out to the file."""
    left = [units]

    def assign(layer, convert):
        def convert_then_release():
            arrays = convert()
            left[0] -= 1
            if left[0] == 0:
                params.clear()
                store.discard(key)
            return arrays
        _first_values(layer, convert_then_release)
    return assign


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


__all__ = ["assign_store", "build_keras_model", "explicit_transposes",
           "generate", "generate_code", "generate_file", "keras_index", "keras_layouts", "plan", "read_weights_h5", "sample_inputs",
           "store_from_keras", "write_weights_h5"]
