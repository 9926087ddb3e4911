"""Static shape inference: the pass that annotates every node with its output shapes.

Runs from the declared input shapes through the graph in topological order,
blocks included (a block's inner nodes take the shapes of its first call), and
reports every node whose inputs do not fit as a ``shape-mismatch`` diagnostic.
Nodes downstream of a failure are skipped silently, so one mistake gives one
message.
"""
from __future__ import annotations

from nnpivot.diagnostics import Diagnostic, error, location_of
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.kinds import kind_of
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.shapes import ShapeError, fmt


class BlockShapeConflict(ShapeError):
    """A block called with input shapes other than those of its first call."""

    code = "block-shape-conflict"

__all__ = ["ShapeTable", "fmt", "infer_shapes", "input_shape"]


class ShapeTable(dict):
    """node -> list of output shapes (batch axis first, None where unknown)."""

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
