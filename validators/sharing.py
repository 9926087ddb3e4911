"""Checks of shared weights: a node whose ``weightsOf`` names the node it takes its parameters from.

A sharing node is the same layer applied again, so it must be exactly that:
the owner is a layer or block call of the same graph that shares nothing
itself, of the same kind with the same hyper-parameters (the same block, for a
block call), applied first, and its inputs give parameters of the same shapes
(parameter shapes are the pivot's canonical ones, see ``nnpivot.weights``).
"""
from __future__ import annotations

from nnpivot.compare import sharing_difference
from nnpivot.graph import topological_order
from nnpivot.kinds import kind_of
from nnpivot.kinds.torch_mapping import Site  # the parameter table of the pivot's canonical layout
from nnpivot.metamodel import is_kind

from .checks import Findings, describe, graph_label

STRUCTURAL = ("Input", "Select")  # nodes without parameters of their own to share


def check_sharing(graph, found: Findings) -> None:
    """Structure of every ``weightsOf`` of ``graph`` (before shape inference)."""
    members = set(graph.nodes)
    for node in graph.nodes:
        owner = node.weightsOf
        if owner is None:
            continue
        what = describe(node, graph)
        if owner is node:
            found.error("shared-weights-chain", f"{what} shares its own weights", node)
        elif owner not in members:
            found.error("dangling-reference", f"{what} shares the weights of '{owner.name}', which is not a node "
                                              f"of {graph_label(graph)}", node)
        elif owner.weightsOf is not None:
            found.error("shared-weights-chain", f"{what} shares the weights of '{owner.name}', which shares those "
                        f"of '{owner.weightsOf.name}': name '{owner.weightsOf.name}' directly", node)
        elif any(is_kind(n, kind) for n in (node, owner) for kind in STRUCTURAL):
            holder = node if any(is_kind(node, kind) for kind in STRUCTURAL) else owner
            found.error("shared-weights-mismatch", f"{what} shares the weights of '{owner.name}', but "
                        f"{describe(holder)} has no weights (only layers and block calls share)", node)
        else:
            difference = sharing_difference(node, owner)
            if difference:
                found.error("shared-weights-mismatch", f"{what} shares the weights of '{owner.name}' but "
                                                       f"{difference}", node)
            elif node in _upstream(owner, members):
                found.error("shared-weights-order", f"{what} shares the weights of '{owner.name}', which is "
                            f"computed from '{node.name}': the owner must be the first application", node)


def _upstream(node, members: set) -> set:
    """Every node ``node`` is computed from, through inputs and shared owners, within the graph."""
    seen, pending = set(), [node]
    while pending:
        current = pending.pop()
        for dep in [*current.inputs, *([current.weightsOf] if current.weightsOf is not None else [])]:
            if dep in members and dep not in seen:
                seen.add(dep)
                pending.append(dep)
    return seen


def check_shared_shapes(graph, table, found: Findings) -> None:
    """After shape inference: a sharing layer's inputs give parameters of its owner's shapes."""
    try:
        order = topological_order(graph)
    except ValueError:
        return
    for node in order:
        owner = node.weightsOf
        kind = kind_of(node)
        if owner is None or node in found.broken or kind is None or owner.eClass is not node.eClass:
            continue
        parameters = kind.mappings["pytorch"].parameters
        if parameters is None or node not in table or owner not in table:
            continue
        mine, theirs = (parameters(Site(n, [table.operand(d) for d in n.inputs], table[n])) for n in (node, owner))
        for name, shape in mine.items():
            if tuple(shape) != tuple(theirs.get(name, ())):
                found.error("shared-weights-mismatch", f"{describe(node, graph)} shares the weights of "
                            f"'{owner.name}' but its input gives {name} the shape {tuple(shape)}, not "
                            f"{tuple(theirs.get(name, ()))}", node)
                break


__all__ = ["check_shared_shapes", "check_sharing"]
