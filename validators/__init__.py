"""Validation of pivot models: every problem of a model, as diagnostics.

Like EMF's Diagnostician, validation collects all problems instead of stopping
at the first. It never changes the model (the shape pass it runs last reads
it into a table). Nodes already found broken by a structural check are left
out of the shape pass, so one mistake gives one message.

The diagnostic codes are stable; ``CODES`` documents each one (the tests
trigger every code listed there).
"""
from __future__ import annotations

from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import Diagnostic
from nnpivot.shapes import ShapeTable, infer_shapes

from .checks import GRAPH_CHECKS, IDENTIFIER, NODE_CHECKS, Findings, check_model, check_ranges
from .sharing import check_shared_shapes, check_sharing
from .training import check_training

CODES: dict[str, str] = {
    "invalid-name": "a node or block name is not an identifier (names become variables in generated code), a node "
                    "is named like a .nn value (true, false, nan, inf) or starts with __, or the model's name is "
                    "no word",
    "invalid-character": "a text of the model (a description, a name) holds a character XMI cannot carry (NUL, "
                         "another control character, a lone surrogate)",
    "duplicate-name": "two nodes of one graph, or two blocks of the model, share a name",
    "dangling-reference": "an input, output or block call refers to something outside the graph or model",
    "cycle": "nodes depend on themselves; the message lists the cycle",
    "missing-argument": "a required attribute of a kind (from the registry) is not set",
    "out-of-range": "an attribute value outside its legal range (sizes, rates, eps, momentum, axes, ...)",
    "wrong-input-count": "a node has fewer or more inputs than its kind (or block) takes",
    "bad-selection": "a select reads an output number the producing node does not have",
    "no-output": "the model or a block declares no output",
    "no-input": "the model declares no input",
    "unused-node": "(warning) a node that no output depends on",
    "shape-mismatch": "static shape inference found inputs a node cannot take",
    "block-shape-conflict": "a block called with input shapes other than those of its first call",
    "unknown-optimizer": "the training configuration names an optimizer nnpivot does not know",
    "unknown-argument": "an optimizer parameter the optimizer does not accept",
    "unknown-loss": "the training configuration names a loss nnpivot does not know",
    "unknown-metric": "(warning) a metric nnpivot does not know; generated code leaves it out",
    "shared-weights-mismatch": "a node sharing another's weights (shares=) is not the same layer: another kind, "
                               "other attributes or block, inputs giving other parameter shapes, or an input",
    "shared-weights-chain": "a node shares the weights of a node that shares weights itself (or its own)",
    "shared-weights-order": "a node shares the weights of a node computed from it; the owner is applied first",
    "missing-block-argument": "a call of a parameterised block gives no value for a parameter without default",
    "argument-type": "a block call gives a parameter a value of another type than the parameter's",
    "expression-type": "an expression in a block gives a value of another type than the attribute (or guard, or "
                       "operator) takes",
    "expression-error": "an expression in a block has no value for a call's arguments (a division by zero)",
    "unknown-parameter": "an expression reads a parameter the block does not have, or a call names one",
    "unknown-attribute": "a node of a block binds an expression to an attribute its kind does not have",
    "guarded-read": "a node or output reads a node that a call's guard leaves out, and the guard gives nothing "
                    "in its place",
    "bad-loop": "a block's loop is no group: it carries a value from inside it or into one outside it, its nodes "
                "are also in a guard or another loop, or something after it reads one of its nodes but its result",
}


def _check_blocks(model, found: Findings) -> None:
    seen = set()
    for block in model.blocks:
        if not IDENTIFIER.match(block.name or ""):
            found.error("invalid-name", f"block '{block.name}': not a valid identifier", block)
        elif block.name in seen:
            found.error("duplicate-name", f"model {model.name} defines block '{block.name}' twice", block)
        seen.add(block.name)


def _check_calls(table: ShapeTable, found: Findings) -> None:
    """The attribute ranges of each parameterised block as a call specialised it, reported at the call."""
    for call, block in table.calls.items():
        if call not in table:
            continue   # its shapes failed: reported once, there
        inner = Findings()
        for node in block.nodes:
            check_ranges(node, block, None, inner)
        for problem in inner.diagnostics:
            found.error(problem.code, f"call '{call.name}' of block {call.block.name}: {problem.message}", call)


def _graphs(model):
    yield model
    yield from model.blocks


def _by_location(diagnostic: Diagnostic):
    where = diagnostic.location
    return (where is None, where.file if where else "", where.line if where else 0, where.col if where else 0)


def validate(model) -> list[Diagnostic]:
    """All problems of ``model``, errors and warnings, in source order where located."""
    return check(model)[0]


def check(model) -> tuple[list[Diagnostic], ShapeTable]:
    """The problems of ``model`` and the shapes its shape pass found, for the steps after validation."""
    with collector_paused():
        return _validate(model)


def _validate(model) -> tuple[list[Diagnostic], ShapeTable]:
    found = Findings()
    check_model(model, found)
    _check_blocks(model, found)
    for graph in _graphs(model):
        for check in GRAPH_CHECKS:
            check(graph, found)
        for node in graph.nodes:
            for check in NODE_CHECKS:
                check(node, graph, model, found)
        check_sharing(graph, found)
    found.diagnostics.extend(check_training(model))
    table, shape_diagnostics = infer_shapes(model, skip=frozenset(found.broken))
    found.diagnostics.extend(shape_diagnostics)
    _check_calls(table, found)
    for graph in _graphs(model):
        check_shared_shapes(graph, table, found)
    return sorted(found.diagnostics, key=_by_location), table


__all__ = ["CODES", "check", "validate"]
