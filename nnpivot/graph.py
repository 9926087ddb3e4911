"""Graph helpers over pivot models: node lookup, ordering, output counts, building."""
from __future__ import annotations

import functools

from nnpivot.kinds import camel, kind_of
from nnpivot.metamodel import eclass, is_kind


def topological_order(graph) -> list:
    """The graph's nodes so that every node comes after its inputs.

    Raises ValueError naming a node on a cycle. Nodes keep their definition
    order where the dependencies allow it, so generated code follows the source.
    A node that shares the weights of another (``weightsOf``) comes after it, so
    generators declare the layer at its first application.
    """
    nodes = list(graph.nodes)
    position = {node: i for i, node in enumerate(nodes)}
    # a guard's nodes come after what it yields when they are left out: the code writes both branches there
    later: dict = {}
    for guard in (graph.guards if is_kind(graph, "Block") else ()):
        inside = {*guard.nodes, *guard.alternative}
        if guard.otherwise is not None and guard.otherwise not in inside:
            for member in inside:
                later.setdefault(member, []).append(guard.otherwise)

    def after(node) -> list:
        return [*dependencies(node), *later.get(node, ())]

    state: dict = {}
    order: list = []
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(after(root)))]
        state[root] = "open"
        while stack:
            node, pending = stack[-1]
            for dep in pending:
                if dep not in position:
                    continue  # a reference outside this graph: reported by the validator
                if state.get(dep) == "open":
                    raise ValueError(dep.name)
                if dep not in state:
                    state[dep] = "open"
                    stack.append((dep, iter(after(dep))))
                    break
            else:
                stack.pop()
                state[node] = "done"
                order.append(node)
    return order


def dependencies(node) -> list:
    """What must be computed before ``node``: its inputs, and the node whose weights it shares."""
    owner = node.weightsOf
    return [*node.inputs, owner] if owner is not None else list(node.inputs)


def output_count(node) -> int:
    """How many outputs a node has (a block call has its block's outputs)."""
    if is_kind(node, "BlockCall"):
        return max(len(node.block.outputs), 1) if node.block is not None else 1
    kind = kind_of(node)
    return kind.outputs(node) if kind else 1


def graph_inputs(graph) -> list:
    return [n for n in graph.nodes if is_kind(n, "Input")]


@functools.cache
def _feature(eclass_name: str, key: str):
    """The structural feature ``key`` of a metamodel class (cached: pyecore's lookup walks every feature)."""
    return eclass(eclass_name).findEStructuralFeature(key)


def new_node(eclass_name: str, name: str, inputs=(), **attributes):
    """Create a node; attribute names may be given in DSL (snake_case) or metamodel spelling."""
    node = eclass(eclass_name)(name=name)
    node.inputs.extend(inputs)
    for key, value in attributes.items():
        key = camel(key)
        feature = _feature(eclass_name, key)
        if feature is None:
            raise KeyError(f"{eclass_name} has no attribute {key}")
        if feature.many:
            getattr(node, key).extend(value if isinstance(value, (list, tuple)) else [value])
        elif hasattr(feature.eType, "getEEnumLiteral"):
            setattr(node, key, feature.eType.getEEnumLiteral(str(value)))
        else:
            setattr(node, key, value)
    return node


# --- reading and rewiring a built graph ---------------------------------------------------------------

def consumers(graph) -> dict:
    """node -> the nodes reading it (the graph itself for each output it is), in order."""
    users: dict = {}
    for node in graph.nodes:
        for dep in node.inputs:
            users.setdefault(dep, []).append(node)
    for out in graph.outputs:
        users.setdefault(out, []).append(graph)
    return users


def is_recurrent(node) -> bool:
    """An RNN, LSTM or GRU layer (a ConvLSTM2d also returns sequences, but is none of them)."""
    return kind_of(node) is not None and is_kind(node, "Recurrent")


def index_of(node, axis: int, index: int) -> bool:
    """``node`` is ``x[index]`` along ``axis``."""
    return node.eClass.name == "Index" and node.axis == axis and node.index == index


def replace_uses(graph, old, new) -> None:
    """Every reference to ``old`` (inputs, outputs) now refers to ``new``."""
    for node in graph.nodes:
        for i, dep in enumerate(list(node.inputs)):
            if dep is old:
                node.inputs[i] = new
    for i, out in enumerate(list(graph.outputs)):
        if out is old:
            graph.outputs[i] = new
