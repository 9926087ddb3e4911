"""Static shape inference: the pass that annotates every node with its output shapes.

Runs from the declared input shapes through the graph in topological order,
blocks included (a block's inner nodes take the shapes of its first call; a
parameterised block is specialised for each call with its arguments, see
``metamodel.blocks``, and that copy's nodes take the call's shapes), and
reports every node whose inputs do not fit as a ``shape-mismatch`` diagnostic.
Nodes downstream of a failure are skipped silently, so one mistake gives one
message.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nnpivot.diagnostics import Diagnostic, error, location_of
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.kinds import kind_of
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.blocks import BlockError, argument_values, is_parameterised, specialise
from nnpivot.metamodel.shapes import ShapeError, fmt


class BlockShapeConflict(ShapeError):
    """A block called with input shapes other than those of its first call."""

    code = "block-shape-conflict"

__all__ = ["InputSizes", "ShapeTable", "block_shapes", "called_block", "fmt", "infer_shapes", "input_shape", "run_time_size", "run_time_sizes", "solve_input_sizes", "tied_solutions"]


class ShapeTable(dict):
    """node -> list of output shapes (batch axis first, None where unknown).

    ``calls`` maps each call of a parameterised block to the block specialised for its arguments (whose
    nodes the table holds) and ``arguments`` to its parameter values.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: dict = {}
        self.arguments: dict = {}

    def of(self, node, index: int = 0):
        """Shape of output ``index`` of ``node``; None when it could not be inferred."""
        shapes = self.get(node)
        return shapes[index] if shapes and index < len(shapes) else None

    def operand(self, producer):
        """The shape a consumer sees when it reads ``producer`` directly (its output 0)."""
        return self.of(producer, 0)


def input_shape(node) -> tuple:
    return (None, *(None if d < 0 else d for d in node.shape))


def _run_graph(graph, given: list | None, table: ShapeTable, diagnostics: list[Diagnostic], visited_blocks: set,
               skip=frozenset()):
    try:
        order = topological_order(graph)
    except ValueError:
        return  # cycles are reported by the validator
    inputs = graph_inputs(graph)
    for i, node in enumerate(inputs):
        if given is not None:
            if i < len(given):
                table[node] = [given[i]]
        elif list(node.shape) or is_kind(graph, "Model"):
            table[node] = [input_shape(node)]
    for node in order:
        if is_kind(node, "Input"):
            continue
        operands = [table.operand(dep) for dep in node.inputs]
        if node in skip or any(s is None for s in operands):
            continue
        try:
            table[node] = _node_shapes(node, operands, table, diagnostics, visited_blocks, skip)
        except ShapeError as exc:
            diagnostics.append(error(exc.code, f"{_describe(node)}: {exc}", location_of(node)))
        except (ValueError, TypeError, ZeroDivisionError, IndexError) as exc:
            diagnostics.append(error("shape-mismatch", f"{_describe(node)}: cannot infer its shape ({exc})",
                                     location_of(node)))


def _node_shapes(node, operands, table, diagnostics, visited_blocks, skip):
    if is_kind(node, "Select"):
        producer = node.inputs[0]
        shapes = table.get(producer)
        if node.index >= len(shapes):
            raise ShapeError(f"selects output {node.index} but {producer.name} has {len(shapes)}")
        return [shapes[node.index]]
    if is_kind(node, "BlockCall") and is_parameterised(node.block):
        return _parameterised_call(node, operands, table, visited_blocks, skip)
    if is_kind(node, "BlockCall"):
        block = node.block
        if block not in visited_blocks:
            visited_blocks.add(block)
            _run_graph(block, operands, table, diagnostics, visited_blocks, skip)
        else:
            expected = [table.of(n) for n in graph_inputs(block)]
            if expected != operands:
                raise BlockShapeConflict(f"block {block.name} was first called with "
                                 f"{', '.join(fmt(s) for s in expected if s)} but here with "
                                 f"{', '.join(fmt(s) for s in operands)}; a block has one set of weights shapes")
        outs = [table.operand(o) for o in block.outputs]
        if any(s is None for s in outs):
            raise ShapeError(f"the shapes inside block {block.name} could not be inferred")
        return outs
    kind = kind_of(node)
    low, high = kind.arity
    if len(operands) < low or (high is not None and len(operands) > high):
        expected = str(low) if low == high else f"{low} to {high}" if high else f"at least {low}"
        raise ShapeError(f"takes {expected} inputs, got {len(operands)}")
    return [tuple(s) for s in kind.shape(node, operands)]


def _parameterised_call(call, operands, table, visited_blocks, skip):
    """The outputs of ``call``: its block specialised for its arguments, run at its operands' shapes. A
    problem inside is reported at the call (the block's text is right for other arguments)."""
    owner = call.weightsOf
    try:
        values = argument_values(call)
        block = table.calls[owner] if owner in table.calls and table.arguments.get(owner) == values else \
            specialise(call.block, values)
    except BlockError as exc:
        problem = ShapeError(str(exc))
        problem.code = exc.code   # missing-block-argument, argument-type, expression-type...
        raise problem from None
    table.calls[call] = block
    table.arguments[call] = values
    inner: list[Diagnostic] = []
    _run_graph(block, operands, table, inner, visited_blocks, skip)
    if inner:
        shown = ", ".join(f"{p.name}={v!r}" for p, v in values.items())
        raise ShapeError(f"{call.block.name}({shown}) does not fit its inputs "
                         f"{', '.join(fmt(s) for s in operands)}: " + "; ".join(d.message for d in inner))
    outs = [table.operand(o) for o in block.outputs]
    if any(s is None for s in outs):
        raise ShapeError(f"the shapes inside block {block.name} could not be inferred")
    return outs


def called_block(call, table: ShapeTable):
    """The block ``call`` computes: its block specialised for its arguments (from ``table``), else its block."""
    return table.calls.get(call, call.block)


def block_shapes(block, operands: list) -> tuple[ShapeTable, list[Diagnostic]]:
    """The shapes inside ``block`` called on ``operands`` (batch axis first)."""
    table, diagnostics = ShapeTable(), []
    _run_graph(block, operands, table, diagnostics, _EveryCall())
    return table, diagnostics


def _describe(node) -> str:
    kind = kind_of(node)
    what = kind.keyword if kind else "block call" if is_kind(node, "BlockCall") else node.eClass.name.lower()
    return f"{what} '{node.name}'"


def infer_shapes(model, skip=frozenset(), inputs: list | None = None) -> tuple[ShapeTable, list[Diagnostic]]:
    """Shapes of every node of ``model`` and the mismatches found; the model itself is left as it is.

    Nodes in ``skip`` (already reported broken, e.g. by the validators) are left
    without a shape, so their mistake is not reported a second time. ``inputs``
    gives the model inputs' shapes (batch axis first) instead of the declared ones.
    """
    table, diagnostics = ShapeTable(), []
    _run_graph(model, inputs, table, diagnostics, set(), skip)
    return table, diagnostics


def annotate_shapes(model, table: ShapeTable) -> None:
    """Write ``table`` into the transient ``inferredShape`` of every node (-1 for a run-time size).

    Nothing in nnpivot reads the annotation (transformations pass the table on);
    it is for code that walks the pyecore model and wants each node's shape on it.
    """
    for graph in [model, *model.blocks]:
        for node in graph.nodes:
            shape = table.of(node)
            if shape is not None:
                node.inferredShape.clear()
                node.inferredShape.extend([-1 if d is None else d for d in shape])  # a list: pyecore ignores generators


# --- sizes the code leaves to the input ------------------------------------------------------------
# An input's run-time sizes (-1) are free when the graph accepts them at two large sizes far apart, else
# pinned: solved by trying every candidate size (the same for the input's run-time axes, so an image
# tied to a dense layer by one product comes out square) and keeping those the shape functions accept.
FREE_PROBES = (96, 128, 200)
LARGEST_CANDIDATE = 512
USUAL_SIZES = frozenset({28, 96, 224, 227, 299})   # MNIST, STL, ImageNet crops


@dataclass
class InputSizes:
    """What the code decides about one input's run-time axes (positions without the batch axis)."""

    index: int                    # which model input
    name: str
    axes: list[int]
    solutions: list[int]          # every candidate size the graph accepts on all of ``axes`` at once
    free: bool = False            # any large size works: the axes stay run-time sizes

    @property
    def size(self) -> int | None:
        """The size the code implies. Floor divisions in pooling let a few neighbours in: a usual size among
        them (a power of two, 28, 224...) is preferred, else the smallest."""
        usual = [s for s in self.solutions if _usual(s)]
        return (usual or self.solutions or [None])[0]


class _EveryCall(set):
    """Visited blocks that count as never visited: each call runs its block at its own shapes. A block built
    at run-time sizes serves calls at several sizes (its weights do not depend on them)."""

    def __contains__(self, block) -> bool:
        return False


def _accepts(model, shapes: list[tuple]) -> bool:
    table, diagnostics = ShapeTable(), []
    _run_graph(model, [(None, *shape) for shape in shapes], table, diagnostics, _EveryCall())
    return not diagnostics and all(table.operand(out) is not None for out in model.outputs)


def tied_solutions(model, found: InputSizes, limit: int = 3) -> list[tuple]:
    """Sizes for an input whose run-time axes no equal size fits: its first such axis apart and the others
    tied (a clip length and a square frame), smallest first; at most ``limit``. Other inputs at their
    solutions (or a free size)."""
    inputs = graph_inputs(model)
    node = inputs[found.index]
    others = {i: FREE_PROBES[-1] for i, n in enumerate(inputs) if i != found.index and any(d < 0 for d in n.shape)}
    shapes, solutions = _at(inputs, others), []
    first, *rest = found.axes
    for tied in range(1, 65):
        fitting = []
        for apart in range(1, 33):
            sizes = {first: apart, **dict.fromkeys(rest, tied)}
            shapes[found.index] = tuple(sizes.get(a, d) for a, d in enumerate(node.shape))
            if _accepts(model, shapes):
                fitting.append((apart, tied, shapes[found.index]))
        if fitting:   # one per tied size: a usual one among floor-division neighbours, else the smallest
            solutions.append(next((f for f in fitting if _usual(f[0])), fitting[0]))
    usual = [all(_usual(size) for size in pair) for *pair, _ in solutions]
    ranked = sorted(zip(usual, solutions), key=lambda item: (not item[0], item[1][1]))
    return [shape for _, (*_, shape) in ranked[:limit]]


def _usual(size: int) -> bool:
    return size in USUAL_SIZES or size & (size - 1) == 0


RUN_TIME_CANDIDATES = (32, 64, 128, 224, 16, 8, 4)


def run_time_size(model, candidates=RUN_TIME_CANDIDATES) -> int:
    """The first of ``candidates`` that every run-time size (-1) of the model's inputs can take at once (the
    first candidate when none fits), for building a model on example inputs."""
    return next(run_time_sizes(model, candidates), candidates[0])


def run_time_sizes(model, candidates=RUN_TIME_CANDIDATES) -> Iterator[int]:
    """Each of ``candidates`` that all run-time sizes (-1) of the model's inputs can take at once, in order
    (checked as asked for: the first usually serves)."""
    inputs = graph_inputs(model)
    return (size for size in candidates if _accepts(model, _at(inputs, dict.fromkeys(range(len(inputs)), size))))


def _at(nodes, values: dict[int, int]) -> list[tuple]:
    return [tuple(values.get(i, d) if d < 0 else d for d in node.shape) for i, node in enumerate(nodes)]


def solve_input_sizes(model) -> list[InputSizes]:
    """For each model input with run-time sizes, whether the code pins them and to what.

    Only solutions the forward shape functions reproduce are kept; an input is
    free when the graph takes it at the sizes of ``FREE_PROBES`` (and at every
    size of its solutions when those are spread wide).
    """
    inputs = graph_inputs(model)
    open_inputs = [i for i, node in enumerate(inputs) if any(d < 0 for d in node.shape)]
    if not open_inputs:
        return []
    if len(open_inputs) > 1 and all(_accepts(model, _at(inputs, dict.fromkeys(open_inputs, size)))
                                    for size in FREE_PROBES):
        # any size works when all take it (user and item ids multiplied together): tied to each other, not
        # pinned to the size the others were held at
        return [InputSizes(i, inputs[i].name, [a for a, d in enumerate(inputs[i].shape) if d < 0],
                           list(FREE_PROBES), True) for i in open_inputs]
    working = {i: FREE_PROBES[-1] for i in open_inputs}
    results = {}
    for _ in range(2):   # a second round when one input's solution depends on where another was held
        for i in open_inputs:
            node = inputs[i]
            axes = [a for a, d in enumerate(node.shape) if d < 0]
            solutions = [size for size in FREE_PROBES if _accepts(model, _at(inputs, {**working, i: size}))]
            free = len(solutions) == len(FREE_PROBES)
            if not free:
                candidates = range(1, LARGEST_CANDIDATE + 1)
                solutions = [size for size in candidates if _accepts(model, _at(inputs, {**working, i: size}))]
                free = len(solutions) > 1 and solutions[-1] > 2 * solutions[0] + 1   # not one cluster: unbounded
            results[i] = InputSizes(i, node.name, axes, solutions, free)
            if solutions:
                working[i] = FREE_PROBES[-1] if free else solutions[0]
        if all(r.solutions for r in results.values()):
            break
    unsolved = [i for i in open_inputs if not results[i].solutions]
    if len(unsolved) > 1:   # one block called on each (a triplet network): they fit only at one size together
        joint = [size for size in range(1, LARGEST_CANDIDATE + 1)
                 if _accepts(model, _at(inputs, {**working, **dict.fromkeys(unsolved, size)}))]
        free = len(joint) > 1 and joint[-1] > 2 * joint[0] + 1
        for i in unsolved:
            results[i] = InputSizes(i, inputs[i].name, results[i].axes, joint, free)
    return [results[i] for i in open_inputs]
