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
    component = None  # strongly connected components, computed once when a sharing node needs them
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
            elif _upstream_of(owner, node, component := component or _components(graph.nodes, members)):
                found.error("shared-weights-order", f"{what} shares the weights of '{owner.name}', which is "
                            f"computed from '{node.name}': the owner must be the first application", node)


def _dependencies(node, members: set) -> list:
    """What ``node`` is computed from within the graph: its inputs and the node whose weights it shares."""
    deps = [*node.inputs, node.weightsOf] if node.weightsOf is not None else node.inputs
    return [d for d in deps if d in members]


def _upstream_of(owner, node, component: dict) -> bool:
    """``owner`` is computed from ``node``. ``node`` depends on ``owner`` (it shares its weights), so that
    is a cycle through both: they are in one strongly connected component."""
    return component.get(owner) is not None and component.get(owner) == component.get(node)


def _components(nodes, members: set) -> dict:
    """node -> its strongly connected component (an int) over the dependencies; iterative Tarjan, linear in
    the graph (one search per sharing node was quadratic in large models)."""
    index: dict = {}
    low: dict = {}
    component: dict = {}
    stack: list = []
    on_stack: set = set()
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(_dependencies(root, members)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            current, pending = work[-1]
            advanced = False
            for dep in pending:
                if dep not in index:
                    index[dep] = low[dep] = counter
                    counter += 1
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(_dependencies(dep, members))))
                    advanced = True
                    break
                if dep in on_stack:
                    low[current] = min(low[current], index[dep])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = index[current]
                    if member is current:
                        break
    return component


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
