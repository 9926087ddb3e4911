"""Uses of one source class that differ in how many times a group of layers repeats, as one block with a Loop.

A class that builds its layers in a loop over a constructor argument (DenseNet's ``_DenseBlock``: ``for i in
range(num_layers): self.add_module(..., _DenseLayer(num_input_features + i * growth_rate, ...))``) gives the
importer one plain block per use, each with its own number of copies of the loop's layers. This module finds
the repeated groups in those blocks: consecutive groups of nodes alike in class and wiring, each reading what
the group before it made where the first reads a value from before them (the carried value), and nothing
after them reading anything of theirs but the last group's result. The block with the most nodes keeps its
first group as a :class:`Loop` (its other groups removed), and :func:`looped_uses` says, for every use, which
of its nodes each template node and each iteration of a loop node stands for; ``parameterise`` binds the
count and the attributes to expressions over the parameters and the loop's index and checks every use.

Concatenations of every earlier map (``torch.cat(features, 1)`` over a growing list) are first written as a
concatenation of the previous concatenation and the new maps (the same values), so the groups carry one value.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from nnpivot.graph import topological_order
from nnpivot.metamodel import eclass, eenum, is_kind

# A group of this many iterations at least, in the use with the most, makes a loop.
MIN_REPEATS = 2


@dataclass
class LoopedUses:
    """The template block with its loop, and what each use's nodes stand for."""
    template: object
    loop: object
    counts: dict                                   # id(block) -> its number of iterations
    iterations: dict                               # id(block) -> [{template loop node: its node}] per iteration
    others: dict                                   # id(block) -> {template node outside the loop: its node}
    source_index: str | None = None                # the source loop's variable, when it has one
    source_count: ast.expr | None = None           # the source's range() argument
    _snapshots: list = field(default_factory=list)

    def undo(self) -> None:
        """Every block back as it was read (wiring, nodes, names), the template without its loop."""
        restore(self._snapshots)

    def read_as(self, node) -> str:
        """The name ``node`` had when it was read (the template's loop nodes are renamed)."""
        return next((names[node] for *_, names in self._snapshots if node in names), node.name)

    def renames(self, block) -> dict:
        """Template node name (``<node>.<iteration>`` for a loop node) -> the name of the node of ``block`` it
        stands for: to compare a use's block with the template specialised for its arguments."""
        found = {node.name: self.read_as(other) for node, other in self.others[id(block)].items()}
        for number, made in enumerate(self.iterations[id(block)]):
            found.update({f"{node.name}.{number}": self.read_as(other) for node, other in made.items()})
        return found


def snapshot(blocks: list) -> list:
    return [(block, list(block.nodes), {n: list(n.inputs) for n in block.nodes}, list(block.outputs),
             {n: n.name for n in block.nodes}) for block in blocks]


def restore(snapshots: list) -> None:
    for block, nodes, inputs, outputs, names in snapshots:
        block.loops.clear()
        for node in [n for n in block.nodes if n not in inputs]:
            block.nodes.remove(node)
        for node in nodes:
            if node not in block.nodes:
                block.nodes.append(node)
        ordered = list(block.nodes)
        if ordered != nodes:   # the nodes in their first order again
            block.nodes.clear()
            block.nodes.extend(nodes)
        for node in nodes:
            node.inputs.clear()
            node.inputs.extend(inputs[node])
            node.name = names[node]
        block.outputs.clear()
        block.outputs.extend(outputs)


def nest_concats(block) -> None:
    """A concatenation whose operands start with all of an earlier concatenation's (same axis) reads that
    concatenation instead: ``cat(x, a, b)`` after ``c = cat(x, a)`` is ``cat(c, b)``, the same values."""
    order = topological_order(block)
    concats = [n for n in order if is_kind(n, "Concat")]
    operands = {n: list(n.inputs) for n in concats}   # as written, before any is nested
    for later_index, later in enumerate(concats):
        best = None
        for earlier in concats[:later_index]:
            size = len(operands[earlier])
            if earlier.axis == later.axis and 2 <= size < len(operands[later]) and \
                    operands[later][:size] == operands[earlier] and (best is None or size > len(operands[best])):
                best = earlier
        if best is not None:
            later.inputs.clear()
            later.inputs.extend([best, *operands[later][len(operands[best]):]])


def _pattern(first: list, second: list) -> tuple | None:
    """How a group reads, from its first two occurrences: per node and operand ``("in", j)`` (node j of the
    group), ``("carried",)`` (the previous group's result, or the initial value), ``("fixed", name)`` (a node
    from before the groups); with the result's position and the initial value. None when they differ."""
    inside_first = {n: j for j, n in enumerate(first)}
    inside_second = {n: j for j, n in enumerate(second)}
    reads, result, initial = [], None, None
    for a, b in zip(first, second):
        if a.eClass is not b.eClass or len(a.inputs) != len(b.inputs) or a.weightsOf is not None or \
                b.weightsOf is not None or is_kind(a, "BlockCall") or is_kind(a, "Input"):
            return None
        row = []
        for dep_a, dep_b in zip(a.inputs, b.inputs):
            if dep_b in inside_second:
                if inside_first.get(dep_a) != inside_second[dep_b]:
                    return None
                row.append(("in", inside_second[dep_b]))
            elif dep_b in inside_first:   # the second group reads the first's result where the first reads initial
                if dep_a in inside_first or (result is not None and inside_first[dep_b] != result) or \
                        (initial is not None and dep_a is not initial):
                    return None
                result, initial = inside_first[dep_b], dep_a
                row.append(("carried",))
            else:
                if dep_a is not dep_b:
                    return None
                row.append(("fixed", dep_b.name))
        reads.append(tuple(row))
    if result is None:
        return None
    return tuple(reads), result, initial


def _follows(group: list, pattern: tuple, carried) -> bool:
    """True when ``group`` reads as ``pattern`` says, with ``carried`` its carried value."""
    inside = {n: j for j, n in enumerate(group)}
    for node, row in zip(group, pattern[0]):
        if len(node.inputs) != len(row) or node.weightsOf is not None:
            return False
        for dep, read in zip(node.inputs, row):
            if read[0] == "in" and inside.get(dep) != read[1]:
                return False
            if read[0] == "carried" and dep is not carried:
                return False
            if read[0] == "fixed" and (dep in inside or dep.name != read[1]):
                return False
    return True


def _segments(nodes: list) -> tuple | None:
    """(start, period, count, pattern) of the longest run of repeated groups in ``nodes`` (definition order,
    no inputs), at least MIN_REPEATS of them; None when there is none."""
    best = None
    for period in range(1, len(nodes) // MIN_REPEATS + 1):
        for start in range(len(nodes) - MIN_REPEATS * period + 1):
            first, second = nodes[start:start + period], nodes[start + period:start + 2 * period]
            if [n.eClass for n in first] != [n.eClass for n in second]:
                continue
            pattern = _pattern(first, second)
            if pattern is None or pattern[2] in first:
                continue
            count = 2
            while start + (count + 1) * period <= len(nodes):
                group = nodes[start + count * period:start + (count + 1) * period]
                previous = nodes[start + (count - 1) * period:start + count * period]
                if [n.eClass for n in group] != [n.eClass for n in first] or \
                        not _follows(group, pattern, previous[pattern[1]]):
                    break
                count += 1
            if best is None or count * period > best[2] * best[1]:
                best = (start, period, count, pattern)
    return best


def _groups(block, start: int, period: int, suffix: int, pattern: tuple) -> tuple | None:
    """The groups of ``block`` where the template has them (same prefix and suffix lengths), checked against
    the pattern, with its prefix and suffix nodes; None when it does not follow it."""
    nodes = [n for n in block.nodes if not is_kind(n, "Input")]
    length = len(nodes) - start - suffix
    if length < period or length % period:
        return None
    groups = [nodes[start + k * period:start + (k + 1) * period] for k in range(length // period)]
    _, result, initial = pattern
    prefix = nodes[:start]
    before = [n for n in block.nodes if is_kind(n, "Input")] + prefix
    carried = next((n for n in before if n.name == initial.name), None)
    if carried is None:
        return None
    for group in groups:
        if not _follows(group, pattern, carried):
            return None
        carried = group[result]
    inside = {n for group in groups for n in group}
    last = groups[-1][result]
    after = nodes[len(nodes) - suffix:]
    if any(dep in inside and dep is not last for n in after for dep in n.inputs) or \
            any(o in inside and o is not last for o in block.outputs):
        return None
    return groups, prefix, after


def _loop_name(names: list[str]) -> str:
    """One name for a node repeated under ``names`` (one per iteration): the parts they share
    (``denselayer1_norm1``, ``denselayer2_norm1`` -> ``norm1``), else the first name."""
    parts = [name.split("_") for name in names]
    if len({len(p) for p in parts}) == 1:
        kept = [token for position, token in enumerate(parts[0]) if all(p[position] == token for p in parts)]
        if kept and kept != parts[0]:
            return "_".join(kept)
    return names[0]


def source_loop(init: ast.FunctionDef | None) -> tuple[str | None, ast.expr | None]:
    """The variable and ``range()`` argument of the one ``for`` loop over ``range(n)`` in ``__init__``."""
    if init is None:
        return None, None
    loops = [n for n in ast.walk(init) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)
             and isinstance(n.iter, ast.Call) and isinstance(n.iter.func, ast.Name) and n.iter.func.id == "range"
             and len(n.iter.args) == 1 and not n.iter.keywords]
    if len(loops) != 1:
        return None, None
    return loops[0].target.id, loops[0].iter.args[0]


def looped_uses(blocks: list, template, init: ast.FunctionDef | None, expected: dict, rows) -> LoopedUses | None:
    """The blocks of one class as ``template`` with a loop over their repeated groups (see the module
    docstring), or None (every block left as it was) when they have none alike. ``expected`` receives each
    block's ``rows(block)`` once its concatenations are nested, before the template changes."""
    snapshots = snapshot(blocks)
    for block in blocks:
        nest_concats(block)
    nodes = [n for n in template.nodes if not is_kind(n, "Input")]
    found = _segments(nodes)
    if found is None:
        restore(snapshots)
        return None
    start, period, count, pattern = found
    suffix = len(nodes) - start - count * period
    per_block = {}
    for block in blocks:
        groups = _groups(block, start, period, suffix, pattern)
        if groups is None:
            restore(snapshots)
            return None
        per_block[id(block)] = groups
    if len({len(groups) for groups, _, _ in per_block.values()}) < 2:
        restore(snapshots)   # the uses do not differ in how many groups they have
        return None
    expected.update({id(b): rows(b) for b in blocks})
    index_name, source_count = source_loop(init)
    groups, _, _ = per_block[id(template)]
    body = groups[0]
    _, result, initial = pattern
    taken = {n.name for n in template.nodes if n not in {m for g in groups for m in g}}
    for position, node in enumerate(body):
        name = _loop_name([g[position].name for g in groups])
        while name in taken:
            name += "_"
        taken.add(name)
        node.name = name
    iterations = {id(b): [dict(zip(body, group)) for group in per_block[id(b)][0]] for b in blocks}
    others = {}
    for block in blocks:
        _, prefix, after = per_block[id(block)]
        mine_prefix, mine_after = per_block[id(template)][1], per_block[id(template)][2]
        inputs = [n for n in block.nodes if is_kind(n, "Input")]
        template_inputs = [n for n in template.nodes if is_kind(n, "Input")]
        if len(inputs) != len(template_inputs):
            restore(snapshots)
            return None
        others[id(block)] = dict(zip([*template_inputs, *mine_prefix, *mine_after], [*inputs, *prefix, *after]))
    expected_index = index_name if index_name and index_name not in taken else "i"
    while expected_index in taken:
        expected_index += "_"
    loop = eclass("Loop")(index=eclass("BlockParameter")(name=expected_index,
                                                         type=eenum("ParameterType").getEEnumLiteral("int")),
                          count=eclass("IntLiteral")(value=len(groups)), initial=initial, result=body[result])
    loop.nodes.extend(body)
    last = groups[-1][result]
    for group in groups[1:]:
        for node in group:
            template.nodes.remove(node)
    for node in template.nodes:
        if last in node.inputs:
            rewired = [body[result] if dep is last else dep for dep in node.inputs]
            node.inputs.clear()
            node.inputs.extend(rewired)
    outputs = [body[result] if o is last else o for o in template.outputs]
    template.outputs.clear()
    template.outputs.extend(outputs)
    template.loops.append(loop)
    counts = {id(b): len(per_block[id(b)][0]) for b in blocks}
    return LoopedUses(template, loop, counts, iterations, others, index_name, source_count, snapshots)


__all__ = ["LoopedUses", "looped_uses", "nest_concats", "source_loop"]
