"""Parameterised blocks in generated code: one class per block, with its parameters.

A parameterised block is written once, its ``__init__`` taking the block's
parameters, its bound attributes written as Python expressions over them and
its guarded nodes under ``if``. The generators render the block once per call
from a *template*: the block with all its nodes (guarded ones too), whose bound
attributes hold symbolic numbers (``pysyntax.SymbolicInt``: the call's value,
written as the expression) and whose input channels, where calls differ in
them, are the parameter they equal in every call. When every call renders a
node to the same text, that text computes each call exactly; when not (a value
the code derives from shapes that differ between calls, a bound flag), the
generator writes one class per distinct argument set instead, as for blocks
without parameters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from nnpivot.graph import graph_inputs, topological_order
from nnpivot.kinds.pysyntax import literal, python_name, symbolic
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.blocks import BlockError, absent_nodes, evaluate, guard_of, loop_count, loop_of, specialise
from nnpivot.shapes import ShapeTable, block_shapes

# BinaryOperator -> (Python operator, precedence as in Python's grammar).
BINARY = {"or": ("or", 1), "and": ("and", 2), "eq": ("==", 4), "ne": ("!=", 4), "lt": ("<", 4), "le": ("<=", 4),
          "gt": (">", 4), "ge": (">=", 4), "add": ("+", 5), "sub": ("-", 5), "mul": ("*", 6), "div": ("/", 6),
          "floordiv": ("//", 6), "mod": ("%", 6)}
NOT, NEGATION, ATOM = 3, 7, 9


def _precedence(expression) -> int:
    cls = expression.eClass.name
    if cls == "BinaryExpression":
        return BINARY[expression.operator.name][1]
    if cls == "UnaryExpression":
        return NOT if expression.operator.name == "not" else NEGATION
    if cls == "Conditional":
        return 0
    return ATOM


def python_expression(expression, names: dict) -> str:
    """Python source of an expression; ``names`` maps each BlockParameter to the identifier it is read as."""
    cls = expression.eClass.name
    if cls in ("IntLiteral", "FloatLiteral", "BoolLiteral", "StringLiteral"):
        return literal(expression.value)
    if cls == "ListExpression":
        items = [python_expression(i, names) for i in expression.items]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if cls == "ParameterRef":
        return names[expression.parameter]
    if cls == "Conditional":
        return (f"{_operand(expression.then, 1, names)} if {_operand(expression.condition, 1, names)} else "
                f"{_operand(expression.otherwise, 0, names)}")
    if cls == "UnaryExpression":
        if expression.operator.name == "not":
            return f"not {_operand(expression.operand, NOT, names)}"
        return f"-{_operand(expression.operand, NEGATION, names)}"
    symbol, precedence = BINARY[expression.operator.name]
    left = _operand(expression.left, precedence, names)
    return f"{left} {symbol} {_operand(expression.right, precedence + 1, names)}"


def _operand(expression, lowest: int, names: dict) -> str:
    text = python_expression(expression, names)
    return f"({text})" if _precedence(expression) < lowest else text


def _symbolic_value(expression, value, names: dict):
    """``value`` of a bound attribute as symbolic numbers written as ``expression`` (item by item for a list)."""
    if isinstance(value, list):
        if expression.eClass.name == "ListExpression" and len(expression.items) == len(value):
            return [_symbolic_value(e, v, names) for e, v in zip(expression.items, value)]
        return [_symbolic_value(expression, v, names) for v in value]
    written = symbolic(value, python_expression(expression, names))
    return value if written is None else written


@dataclass
class CallTemplate:
    """One call of a parameterised block: its values and the block's template rendered at its shapes."""
    call: object
    values: dict
    template: object
    shapes: ShapeTable
    absent: set        # names of the nodes this call leaves out

    def node(self, name: str):
        return next(n for n in self.template.nodes if n.name == name)

    def computes(self, name: str) -> bool:
        """True when this call has the node and its template's shapes reach it."""
        return name not in self.absent and self.node(name) in self.shapes

    def iterations(self, loop) -> int:
        """How many times this call runs ``loop`` (its nodes' copies are ``<node>.<iteration>``)."""
        return loop_count(loop, self.values)


@dataclass
class BlockPlan:
    """How a parameterised block is written: its parameters, its calls' templates, its statements' order."""
    block: object
    names: dict                    # BlockParameter -> identifier in __init__
    sources: dict                  # BlockParameter -> how the rendered code reads it (``self.stride`` in forward)
    calls: list[CallTemplate]
    units: list                    # nodes and Guards in the order their code is written
    guards: dict = field(default_factory=dict)
    # (input, axis) -> identifier of a parameter the generated code adds for an input size that differs between
    # calls and equals no block parameter (the input channels of a Keras layer, which Keras infers at build time)
    sizes: dict = field(default_factory=dict)
    indexes: dict = field(default_factory=dict)   # a loop's index -> its identifier (a local of both methods)

    def present_in(self, name: str) -> list[CallTemplate]:
        return [c for c in self.calls if c.computes(name)]

    def condition(self, guard, prefix: str = "") -> str:
        return python_expression(guard.condition, {p: prefix + n for p, n in self.names.items()})

    def count(self, loop, prefix: str = "") -> str:
        """A loop's count in Python (its parameters read as ``prefix`` + their name)."""
        return python_expression(loop.count, {p: prefix + n for p, n in self.names.items()})

    def signature(self) -> list[str]:
        """``in_channels``, ``in_planes``, ``stride=1``...: the parameters of ``__init__`` (input sizes first,
        defaults kept; the per-call ones are forward's)."""
        params = list(self.sizes.values())
        for parameter, name in self.names.items():
            if parameter.perCall:
                continue
            default = parameter.default
            params.append(name if default is None else f"{name}={literal(evaluate(default, {}))}")
        return params


def plan_block(block, table: ShapeTable, reserved: frozenset, prefix: str = "", input_sizes: bool = False
               ) -> BlockPlan | None:
    """The plan of ``block`` from its calls in ``table``, its templates reading each parameter as ``prefix``
    + its name (``self.`` where the code runs after ``__init__``); None when it has no call or a guard
    cannot be written as one ``if``. ``input_sizes``: an input size that differs between calls and equals no
    parameter becomes a parameter of the generated code (:attr:`BlockPlan.sizes`; the generator keeps those
    its code reads)."""
    calls = [c for c in table.calls if c.block is block]
    if not calls:
        return None
    parameters = list(block.parameters)
    names = {p: parameter_name(p, reserved) for p in parameters}
    placeholders = {p: names[p] if p.perCall else prefix + names[p] for p in parameters}   # forward's own
    indexes = {}
    for loop in block.loops:   # a loop's index is a local of __init__ and forward, named apart from the rest
        indexes[loop.index] = python_name(loop.index.name, reserved | set(names.values()) | set(indexes.values())
                                          | {python_name(n.name, reserved) for n in block.nodes})
    placeholders.update(indexes)
    operands = {c: [table.operand(dep) for dep in c.inputs] for c in calls}
    symbols = _input_symbols(block, calls, table, operands, {p: placeholders[p] for p in parameters})
    taken = set(names.values()) | {python_name(n.name, reserved) for n in block.nodes}   # modules: self.<node>
    sizes = _size_parameters(block, calls, operands, symbols, taken, reserved) if input_sizes else {}
    for (index, axis), name in sizes.items():
        symbols[(index, axis)] = lambda call, size, source=prefix + name: symbolic(size, source)
    templates = []
    for call in calls:
        values = table.arguments[call]
        try:
            template = specialise(block, values, keep_guarded=True,
                                  bound=lambda binding, value: _symbolic_value(binding.value, value, placeholders))
            absent = {n.name for n in absent_nodes(block, values)}
        except BlockError:
            return None
        given = [tuple(symbols.get((i, a), lambda c, d: d)(call, d) for a, d in enumerate(shape))
                 for i, shape in enumerate(operands[call])]
        shapes, _ = block_shapes(template, given)
        templates.append(CallTemplate(call, values, template, shapes, absent))
    try:
        units = _units(block)
    except ValueError:
        return None
    return BlockPlan(block, names, placeholders, templates, units, guard_of(block), sizes, indexes)


def _input_symbols(block, calls, table, operands, placeholders) -> dict:
    """(input, axis) -> a function giving the call's size there as a symbolic number, for the axes whose size
    equals an int parameter in every call: where calls differ, or the channel axis when one parameter fits."""
    found = {}
    for index, _node in enumerate(graph_inputs(block)):
        for axis in range(1, max((len(operands[c][index]) for c in calls if index < len(operands[c])), default=0)):
            sizes = [operands[c][index][axis] if axis < len(operands[c][index]) else None for c in calls]
            if None in sizes:
                continue
            fitting = [p for p in placeholders if p.type.name == "int" and not p.perCall   # __init__ reads sizes
                       and all(table.arguments[c][p] == s for c, s in zip(calls, sizes))]
            varies = len(set(sizes)) > 1
            if fitting and (varies or (axis == 1 and len(fitting) == 1)):
                source = placeholders[fitting[0]]
                found[(index, axis)] = lambda call, size, source=source: symbolic(size, source)
    return found


def _size_parameters(block, calls, operands, symbols: dict, taken: set, reserved: frozenset) -> dict:
    """(input, axis) -> identifier for the input axes whose size differs between calls and that no parameter
    gives: ``in_channels`` (axis 1 of a feature map), ``in_features`` (the last axis), ``size<axis>`` else;
    with the input's name when the block has several inputs."""
    inputs = graph_inputs(block)
    found = {}
    for index, node in enumerate(inputs):
        ranks = {len(operands[c][index]) for c in calls if index < len(operands[c])}
        if len(ranks) != 1:
            continue
        rank = ranks.pop()
        for axis in range(1, rank):
            sizes = {operands[c][index][axis] for c in calls}
            if (index, axis) in symbols or len(sizes) == 1 or None in sizes:
                continue
            base = "in_features" if axis == rank - 1 else "in_channels" if axis == 1 else f"size{axis}"
            name = python_name(base if len(inputs) == 1 else f"{base}_{node.name}", reserved | taken)
            taken.add(name)
            found[(index, axis)] = name
    return found


def _units(block) -> list:
    """The block's nodes in dataflow order with each guard's nodes together, as one unit where its first node
    would be (ValueError when a guard cannot be kept together: a node outside it is computed in between)."""
    guards = {**guard_of(block), **loop_of(block)}
    order = topological_order(block)
    units, done = [], set()
    for node in order:
        guard = guards.get(node)
        if guard is None:
            units.append(node)
        elif guard not in done:
            done.add(guard)
            units.append(guard)
    position = {}
    for i, unit in enumerate(units):
        for member in _unit_nodes(unit):
            position[member] = i
    for i, unit in enumerate(units):
        if any(position.get(dep, -1) > i for m in _unit_nodes(unit) for dep in m.inputs):
            raise ValueError(f"guard or loop of block {block.name} is not contiguous")
    return units


def _unit_nodes(unit) -> list:
    if unit.eClass.name == "Guard":
        return [*unit.nodes, *unit.alternative]
    return list(unit.nodes) if unit.eClass.name == "Loop" else [unit]


def members(unit, order: list, alternative: bool = False) -> list:
    """The nodes of a unit in dataflow order (of a guard: its nodes, or with ``alternative`` its else branch)."""
    if unit.eClass.name not in ("Guard", "Loop"):
        return [] if alternative else [unit]
    if unit.eClass.name == "Loop" and alternative:
        return []
    inside = set(unit.alternative if alternative else unit.nodes)
    return [n for n in order if n in inside]


def declared_outside(block) -> set:
    """The guarded nodes whose module is declared unconditionally: a node outside their group (the other
    branch, another guard) computes with their weights, so the module exists whichever nodes a call runs."""
    guards = guard_of(block)

    def group(node):
        guard = guards.get(node)
        return None if guard is None else (guard, node in guard.alternative)

    return {node.weightsOf for node in block.nodes
            if node.weightsOf in guards and group(node) != group(node.weightsOf)}


def rendered_alike(nodes: list, hoisted: set, renderings) -> tuple[list, list, list] | None:
    """(declarations, init lines, call lines) of ``nodes`` when every call computing a node renders it alike,
    else None. ``renderings(node)`` yields per call the node's declaration lines where it is in ``hoisted``
    (declared outside its guard; None where that call has none) and its (init lines, call lines) where the call
    computes it (else None). A hoisted node's declaration goes to the declarations, not to its unit's init."""
    declared, unit_init, unit_body = [], [], []
    for node in nodes:
        if is_kind(node, "Input") or is_kind(node, "Select"):
            continue
        texts, declarations = set(), set()
        for declaration, text in renderings(node):
            if declaration is not None:
                declarations.add(declaration)
            if text is not None:
                texts.add(text)
        if len(texts) > 1 or (not texts and node not in hoisted) or len(declarations) > 1:
            return None
        if node in hoisted:
            declared.extend(declarations.pop() if declarations else ())
        if texts:
            ((node_init, node_body),) = texts
            unit_init += [] if node in hoisted else node_init
            unit_body += node_body
    return declared, unit_init, unit_body


def parameter_name(parameter, reserved: frozenset) -> str:
    """The identifier of a block parameter in ``__init__`` (and of the attribute keeping it)."""
    return python_name(parameter.name, reserved)


def call_arguments(call, names: dict, reserved: frozenset, sizes: list | None = None) -> list[str]:
    """A block call's arguments in Python: the input sizes the generated class takes (``sizes``: the values, as
    numbers or symbolic numbers), then the block's by position while they follow the parameters and have no
    default, then by name."""
    given = {a.parameter: a.value for a in call.arguments}
    args, positional = [literal(size) for size in sizes or ()], True
    for parameter in call.block.parameters:
        if parameter.perCall:
            continue
        positional = positional and parameter in given and parameter.default is None
        if parameter in given:
            text = python_expression(given[parameter], names)
            args.append(text if positional else f"{parameter_name(parameter, reserved)}={text}")
    return args


def per_call_names(block, names: dict) -> list[str]:
    """The identifiers of the block's per-call parameters (forward's arguments after the tensors)."""
    return [names[p] for p in block.parameters if p.perCall]


def per_call_signature(block, names: dict) -> list[str]:
    """forward's parameters after the tensors: ``steps``, ``steps=30`` (defaults kept)."""
    return [names[p] if p.default is None else f"{names[p]}={literal(evaluate(p.default, {}))}"
            for p in block.parameters if p.perCall]


def per_call_values(call, names: dict, reserved: frozenset | None = None) -> list[str]:
    """A call's per-call arguments in Python, in the parameters' order (a default where it gives none); by
    keyword with ``reserved`` (Keras takes only tensors by position)."""
    given = {a.parameter: a.value for a in call.arguments}
    return [("" if reserved is None else f"{parameter_name(p, reserved)}=")
            + python_expression(given.get(p, p.default), names)
            for p in call.block.parameters if p.perCall]


def reads_per_call(block, names: dict, lines: list[str]) -> str | None:
    """The first per-call parameter that ``lines`` (a constructor's) read: it exists only when forward runs."""
    for name in per_call_names(block, names):
        if any(re.search(rf"(?<![.\w]){re.escape(name)}\b", line) for line in lines):
            return name
    return None


__all__ = ["BlockPlan", "CallTemplate", "call_arguments", "declared_outside", "members", "parameter_name",
           "per_call_names", "per_call_signature", "per_call_values", "plan_block", "python_expression", "reads_per_call"]
