"""Named passes over the pivot: rewrites that keep what a model computes.

A :class:`Pass` says what it requires of a graph, what it ensures, and does one
thing; :func:`run_pass` runs it on the model and every block, checks the
graph's wiring before and after, and names the pass in any diagnostic, so a
rewrite that breaks a model is reported as that pass's failure, never passed
on. The importers run them on what they built (``FOLD_LAST_STEPS`` after the
PyTorch importer, ``FOLD_RECURRENT_STACKS`` after the Keras one, ``CANONICAL_FORMS``
after every importer of source text: ``.nn``, PyTorch, Keras); each pass is exact
on any pivot model, whatever its source.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnpivot.diagnostics import Diagnostic, error, location_of, set_location
from nnpivot.graph import consumers, index_of, is_recurrent, new_node, replace_uses, topological_order
from nnpivot.kinds import canonical_per_axis, kind_of
from nnpivot.metamodel import eclass, is_kind
from nnpivot.metamodel.blocks import is_parameterised
from nnpivot.shapes import infer_shapes


@dataclass(frozen=True)
class Pass:
    """A rewrite of one graph: ``rewrite(graph)`` returns what it changed (empty when nothing)."""
    name: str
    requires: str
    ensures: str
    rewrite: Callable[[Any], list | dict]


def wiring_problems(graph) -> list[str]:
    """What is broken in a graph's wiring: a cycle, or an input or output that is not one of its nodes."""
    members = set(graph.nodes)
    problems = [f"'{node.name}' reads '{dep.name}', which is not in the graph"
                for node in graph.nodes for dep in node.inputs if dep not in members]
    problems += [f"output '{out.name}' is not in the graph" for out in graph.outputs if out not in members]
    if not problems:
        try:
            topological_order(graph)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def run_pass(rewrite: Pass, model, wired: bool = False) -> tuple[dict, list[Diagnostic]]:
    """Run ``rewrite`` on the model and each block: graph -> what it changed, and the pass's diagnostics.

    ``wired``: the caller has checked every graph's wiring (passes run in a row check it once); a graph the
    pass left unchanged keeps its wiring, so only a changed one is checked again.
    """
    changes: dict = {}
    # A parameterised block's nodes carry attribute bindings and guard membership, which no pass rewrites
    # faithfully yet: such blocks are left as written.
    for graph in [model, *(b for b in model.blocks if not is_parameterised(b))]:
        before = [] if wired else wiring_problems(graph)
        if before:
            return changes, [error("pass-failed", f"pass {rewrite.name} requires {rewrite.requires}; graph "
                                   f"'{graph.name}' has {before[0]}", location_of(graph))]
        changes[graph] = rewrite.rewrite(graph)
        after = wiring_problems(graph) if changes[graph] else []
        if after:
            return changes, [error("pass-failed", f"pass {rewrite.name} broke graph '{graph.name}' ({after[0]}); "
                                   f"it ensures {rewrite.ensures}", location_of(graph))]
    return changes, []


# --- the last step of a recurrent layer ------------------------------------------------------------------

def fold_last_steps(graph) -> dict[str, str]:
    """Recurrent layers whose only use is their last step take ``return_sequences=false`` (exact).

    Returns node name -> the construct folded into it.
    """
    folded = {}
    changed = True
    while changed:
        changed = False
        users = consumers(graph)
        for rnn in [n for n in graph.nodes if is_recurrent(n) and n.returnSequences and n.batchFirst]:
            sequence_users = [u for u in users.get(rnn, []) if getattr(u, "eClass", None) is None
                              or u.eClass.name != "Select"]
            selects = [n for n in graph.nodes if n.eClass.name == "Select" and n.inputs and n.inputs[0] is rnn]
            hidden = [s for s in selects if s.index == 1]
            take, remove, how = None, [], ""
            if not rnn.bidirectional and len(sequence_users) == 1 and index_of(sequence_users[0], 1, -1) \
                    and not any(users.get(s) for s in selects if s.index == 0):
                take, remove, how = sequence_users[0], [sequence_users[0]], "the last step of its sequence"
            elif not sequence_users and hidden and not rnn.bidirectional:
                picks = [u for u in users.get(hidden[0], []) if index_of(u, 0, -1)]
                if picks:
                    take, remove, how = picks[0], picks[:1], "h_n[-1], the last layer's final state"
            elif not sequence_users and hidden and rnn.bidirectional:
                for cat in users.get(hidden[0], []):
                    if cat.eClass.name != "Concat" or len(cat.inputs) != 2 or cat.axis not in (1, -1):
                        continue
                    first, second = cat.inputs
                    if index_of(first, 0, -2) and index_of(second, 0, -1) and first.inputs[0] is hidden[0] \
                            and second.inputs[0] is hidden[0] and len(users.get(first, [])) == 1 \
                            and len(users.get(second, [])) == 1:
                        take, remove = cat, [cat, first, second]
                        how = "the concatenated final states of both directions (h_n[-2], h_n[-1])"
                        break
            if take is None:
                continue
            rnn.returnSequences = False
            replace_uses(graph, take, rnn)
            for node in remove:
                graph.nodes.remove(node)
            for select in hidden:
                if not consumers(graph).get(select) and select in graph.nodes:
                    graph.nodes.remove(select)
            folded[rnn.name] = f"{how} (return_sequences=false)"
            changed = True
            break
    return folded


FOLD_LAST_STEPS = Pass(
    "fold-last-steps",
    requires="a wired, acyclic graph",
    ensures="a recurrent layer read only at its last step returns that step itself (return_sequences=false), "
            "the index nodes gone",
    rewrite=fold_last_steps)


# --- stacked recurrent layers ------------------------------------------------------------------------------

# What may differ between the layers of one stack: the per-layer input size, and the
# sequences that all but the last layer return.
STACK_FREE_ATTRIBUTES = frozenset({"name", "inputSize", "returnSequences"})


@dataclass
class Stack:
    """Keras recurrent layers folded into one pivot node (the first layer's, now ``num_layers`` deep)."""
    node: Any
    layers: list          # the layers' nodes before the fold, in order (``node`` first)
    names: list[str]      # their names before the fold
    rate: float           # the Dropout between consecutive layers (0: none)


def fold_recurrent_stacks(graph) -> list[Stack]:
    """Fold chains of alike Keras recurrent layers into one pivot node with ``num_layers`` and ``dropout``.

    The chain is the Keras idiom for a stacked RNN, the one the Keras generator
    writes for ``num_layers > 1`` and people write by hand::

        x = LSTM(64, return_sequences=True)(x)   # every layer but the last returns its sequence
        x = Dropout(0.2)(x)                       # optional, the same rate between every two layers
        x = LSTM(64)(x)                           # same class, units, direction and settings

    This computes exactly what the pivot's (PyTorch's) stacked layer computes:
    layer i + 1 reads layer i's whole output sequence (both directions
    concatenated), Dropout acts between layers in training only, and every
    layer starts from zero states. A layer's own sequence must feed only the
    next layer (through the Dropout), and its final states may be read only as
    ``h[d]`` (what Keras returns per layer and direction): those become
    ``h_n[layer * directions + d]`` of the folded node, and a stack of all of
    them in order (``ops.stack([h0, h0_reverse, h1, ...], axis=0)``, the
    generator's) is the folded node's states output itself. Anything else
    (shared layers, other settings, a sequence used twice) stops the chain
    there, and the layers stay separate nodes, which is exact too.
    """
    stacks = []
    while True:
        users = consumers(graph)
        shared = {n.weightsOf for n in graph.nodes if n.weightsOf is not None}
        for head in [n for n in graph.nodes if is_recurrent(n)]:
            layers, gaps = _stack_chain(graph, head, users, shared)
            if len(layers) > 1:
                stacks.append(_fold_stack(graph, layers, gaps, users))
                break
        else:
            return stacks


def _stack_chain(graph, head, users, shared) -> tuple[list, list]:
    """The layers of the foldable chain that starts at ``head`` and the Dropout nodes between them."""
    layers, gaps = [head], []
    if not _states_read_by_index(head, users) or head in shared or head.weightsOf is not None:
        return layers, gaps
    while True:
        layer = layers[-1]
        readers = [u for u in users.get(layer, []) if u is not graph and not is_kind(u, "Select")]
        if not layer.returnSequences or graph in users.get(layer, []) or len(readers) != 1:
            return layers, gaps
        following, gap = readers[0], None
        if is_kind(following, "Dropout") and not following.spatial and graph not in users.get(following, []) \
                and len(users.get(following, [])) == 1:
            following, gap = users[following][0], following
        rate = gap.rate if gap is not None else 0.0
        if not (is_recurrent(following) and _alike(head, following) and list(following.inputs) == [gap or layer]
                and (not gaps or rate == (gaps[0].rate if gaps[0] is not None else 0.0))
                and following not in shared and following.weightsOf is None
                and _states_read_by_index(following, users)):
            return layers, gaps
        layers.append(following)
        gaps.append(gap)


def _alike(first, other) -> bool:
    """Same class and settings, each one Keras layer (``num_layers`` 1, no inter-layer dropout of its own)."""
    if first.eClass is not other.eClass or first.numLayers != 1 or other.numLayers != 1 or first.dropout \
            or other.dropout:
        return False
    return all(first.eGet(a) == other.eGet(a) for a in kind_of(first).attributes()
               if a.name not in STACK_FREE_ATTRIBUTES)


def _states_read_by_index(layer, users) -> bool:
    """The layer's final states (Select 1, 2) are read only as ``states[d]``, one direction each."""
    directions = 2 if layer.bidirectional else 1
    for select in [u for u in users.get(layer, []) if is_kind(u, "Select")]:
        readers = users.get(select, [])
        if select.index == 0 or not all(getattr(r, "eClass", None) is not None and is_kind(r, "Index")
                                        and r.axis == 0 and 0 <= r.index < directions for r in readers):
            return False
    return True


def _fold_stack(graph, layers: list, gaps: list, users) -> Stack:
    head, last = layers[0], layers[-1]
    names = [n.name for n in layers]
    rate = gaps[0].rate if gaps[0] is not None else 0.0
    directions = 2 if head.bidirectional else 1
    head.numLayers, head.dropout, head.returnSequences = len(layers), rate, last.returnSequences
    replace_uses(graph, last, head)
    states: dict[int, Any] = {}   # slot -> the folded node's Select of it
    for depth, layer in enumerate(layers):
        for select in [u for u in users.get(layer, []) if is_kind(u, "Select")]:
            if select.index not in states:
                states[select.index] = eclass("Select")(name=select.name, index=select.index)
                states[select.index].inputs.append(head)
                graph.nodes.insert(graph.nodes.index(head) + 1, states[select.index])
            for reader in users.get(select, []):
                reader.inputs[0] = states[select.index]
                reader.index += depth * directions
            graph.nodes.remove(select)
    for node in [*layers[1:], *filter(None, gaps)]:
        graph.nodes.remove(node)
    base = re.fullmatch(r"(\w+)_l0", names[0])
    taken = {n.name for n in graph.nodes if n is not head}
    if base and names == [f"{base[1]}_l{i}" for i in range(len(names))] and base[1] not in taken:
        head.name = base[1]   # the Keras generator's names for the layers of the pivot node <name>
    for select in states.values():
        automatic = f"{head.name}_{'hc'[select.index - 1]}n"
        if automatic not in taken:
            select.name = automatic
        _collapse_state_stacks(graph, select, len(layers) * directions)
    return Stack(head, layers, names, rate)


def _collapse_state_stacks(graph, select, count: int) -> None:
    """``stack([states[0], ..., states[count - 1]], axis=0)`` is ``select`` itself: it takes the stack's place."""
    for stack in [n for n in graph.nodes if is_kind(n, "Stack")]:
        parts = list(stack.inputs)
        if stack.axis != 0 or len(parts) != count or not all(
                is_kind(p, "Index") and p.inputs[0] is select and p.index == i for i, p in enumerate(parts)):
            continue
        graph.nodes.remove(select)
        graph.nodes.insert(graph.nodes.index(stack), select)
        select.name = stack.name
        replace_uses(graph, stack, select)
        graph.nodes.remove(stack)
        left = consumers(graph)
        for part in parts:
            if part in graph.nodes and not left.get(part):
                graph.nodes.remove(part)
        return


FOLD_RECURRENT_STACKS = Pass(
    "fold-recurrent-stacks",
    requires="a wired, acyclic graph",
    ensures="a chain of alike one-layer recurrent nodes (with one dropout rate between them) is one node with "
            "num_layers and dropout, its states read through one select",
    rewrite=fold_recurrent_stacks)

# --- one spelling per meaning ------------------------------------------------------------------------------
# Where two pivot spellings compute the same function at every input size, the importers keep one, so a model
# reads back from generated code as the kind it was (code cannot tell the two apart: PyTorch writes a global
# pooling as x.mean(dim=(2, 3)), Keras an adaptive pooling to one cell as GlobalAveragePooling2D(keepdims=True)).

@dataclass(frozen=True)
class Canonicalised:
    """``before`` (no longer in the graph) was replaced by ``after``, the same function spelt canonically."""
    before: Any
    after: Any
    why: str


GLOBAL_OF_REDUCTION = {"ReduceMean": "GlobalAvgPool", "ReduceMax": "GlobalMaxPool"}
ADAPTIVE_OF_GLOBAL = {"GlobalAvgPool": "AdaptiveAvgPool{}d", "GlobalMaxPool": "AdaptiveMaxPool{}d"}


def canonical_forms(graph) -> list[Canonicalised]:
    """Rewrite each node spelt one of the ways a kind's meaning has two spellings into the canonical one.

    * a mean or maximum over exactly the axes after the channel axis (rank >= 3) is a global pooling;
    * a global pooling keeping its axes over one to three spatial axes is the adaptive pooling to one cell
      (both frameworks have a layer for that one: ``nn.AdaptiveAvgPool2d(1)``, Keras'
      ``GlobalAveragePooling2D(keepdims=True)``);
    * a transposed convolution with 'same' padding whose window spans exactly the stride
      (``dilation * (kernel - 1) + 1 == stride`` on every axis, no output padding) crops nothing: it is the
      'valid' one (output = input * stride both ways, at every input size).

    The node keeps its name, inputs and readers; the ranks come from shape inference (a node of unknown
    rank is left as it is).
    """
    done = []
    for node in list(graph.nodes):
        if _same_transposed_crops_nothing(node):
            node.padding = node.eClass.findEStructuralFeature("padding").eType.getEEnumLiteral("valid")
            done.append(Canonicalised(node, node, "a transposed 'same' convolution whose window spans the stride "
                                                  "crops nothing: 'valid'"))
    candidates = [n for n in graph.nodes if n.eClass.name in GLOBAL_OF_REDUCTION and len(n.axes) > 0
                  or n.eClass.name in ADAPTIVE_OF_GLOBAL and n.keepdims]
    if not candidates:
        return done
    model = graph if is_kind(graph, "Model") else graph.eContainer()
    table, _ = infer_shapes(model)
    for node in candidates:
        shape = table.of(node.inputs[0]) if len(node.inputs) == 1 else None
        if shape is None:
            continue
        rank = len(shape)
        if node.eClass.name in GLOBAL_OF_REDUCTION:
            if rank < 3 or not all(-rank <= a < rank for a in node.axes) \
                    or sorted(a % rank for a in node.axes) != list(range(2, rank)):
                continue
            node = _replace(graph, node, GLOBAL_OF_REDUCTION[node.eClass.name], done,
                            "a reduction over exactly the spatial axes is a global pooling",
                            keepdims=node.keepdims)
        if node.eClass.name in ADAPTIVE_OF_GLOBAL and node.keepdims and 3 <= rank <= 5:
            _replace(graph, node, ADAPTIVE_OF_GLOBAL[node.eClass.name].format(rank - 2), done,
                     "a global pooling keeping its axes is the adaptive pooling to one cell", output_size=[1])
    return done


def _same_transposed_crops_nothing(node) -> bool:
    if not is_kind(node, "ConvTranspose") or str(node.padding) != "same" or any(node.outputPadding):
        return False
    axes = max(len(node.kernelSize), len(node.stride), len(node.dilation), 1)
    kernel, stride, dilation = (list(v) * axes if len(v) == 1 else list(v) or [1] * axes
                                for v in (node.kernelSize, node.stride, node.dilation))
    return len(kernel) == len(stride) == len(dilation) == axes and \
        all(d * (k - 1) + 1 == s for k, s, d in zip(kernel, stride, dilation))


def _replace(graph, node, eclass_name: str, done: list, why: str, **attributes):
    """``node`` replaced by a new ``eclass_name`` node of the same name, inputs and readers, at its place."""
    first = done.index(next(c for c in done if c.after is node)) if any(c.after is node for c in done) else None
    original = done.pop(first).before if first is not None else node
    where = location_of(node)
    replacement = new_node(eclass_name, node.name, list(node.inputs), **attributes)
    set_location(replacement, where)
    graph.nodes.insert(graph.nodes.index(node), replacement)
    replace_uses(graph, node, replacement)
    graph.nodes.remove(node)
    done.append(Canonicalised(original, replacement, why))
    return replacement


CANONICAL_FORMS = Pass(
    "canonical-forms",
    requires="a wired, acyclic graph",
    ensures="no reduction over exactly the spatial axes, no global pooling keeping one to three spatial axes, "
            "no transposed 'same' convolution that crops nothing: their canonical kinds compute them",
    rewrite=canonical_forms)

# --- edge pads written as joins ---------------------------------------------------------------------------
# TensorFlow's pad has no replicate or circular mode, so code (the Keras generator's included) joins a tensor
# with its edge cells repeated or with the cells of its opposite end; the join is the pad.

OPEN_END = 2 ** 31 - 1   # a slice without an end


def fold_edge_pads(graph) -> dict[str, str]:
    """Joins that pad one axis with edge cells become replicate or circular pads (exact); node name -> mode.

    ``concat([tile(x[:, :1], a), x, tile(x[:, -1:], b)], axis)`` (a single edge cell needs no tile) is a
    replicate pad of ``axis`` by (a, b); ``concat([x[:, -a:], x, x[:, :b]], axis)`` is a circular one, where
    the axis is known to hold at least a and b cells (shorter, the slices hold fewer cells, and the pad is
    undefined). Either side may be missing. A pad of another axis of the same mode that only this join
    reads joins the new pad, so padding the axes one after the other folds into one pad.
    """
    if not any(is_kind(n, "Concat") for n in graph.nodes):
        return {}
    model = graph if is_kind(graph, "Model") else graph.eContainer()
    table, _ = infer_shapes(model)
    folded = {}
    users = consumers(graph)
    for join in [n for n in graph.nodes if is_kind(n, "Concat")]:
        shape = table.of(join)
        if shape is None or not 2 <= len(join.inputs) <= 3:
            continue
        rank = len(shape)
        axis = join.axis % rank if -rank <= join.axis < rank else 0
        found = _edge_pad_of(join, axis, rank, table, users)
        if found is None:
            continue
        source, mode, begin, end, pieces = found
        pads = {axis: (begin, end)}
        inner = source
        if is_kind(inner, "Pad") and str(inner.mode) == mode and users.get(inner) and \
                all(u is join or u in pieces for u in users[inner]):
            count = len(inner.pads) // 2
            inner_pads = {rank - count + k: (inner.pads[2 * k], inner.pads[2 * k + 1]) for k in range(count)}
            if not any(inner_pads.get(axis, (0, 0))):
                pads = {**inner_pads, axis: (begin, end)}
                source = inner.inputs[0]
        first = min(pads)
        flat = [v for a in range(first, rank) for v in pads.get(a, (0, 0))]
        pad = new_node("Pad", join.name, [source], pads=flat, mode=mode)
        set_location(pad, location_of(join))
        graph.nodes.insert(graph.nodes.index(join), pad)
        replace_uses(graph, join, pad)
        for node in [join, *pieces, *([inner] if source is not inner else [])]:
            graph.nodes.remove(node)
        folded[pad.name] = mode
        users = consumers(graph)
    return folded


def _edge_pad_of(join, axis: int, rank: int, table, users):
    """(source, mode, begin, end, the slice and tile nodes) when ``join`` pads ``axis`` of one tensor."""
    parts = list(join.inputs)
    for middle, source in enumerate(parts):
        before, after = parts[:middle], parts[middle + 1:]
        if len(before) > 1 or len(after) > 1 or not (before or after):
            continue
        pieces, sides = [], []
        for side, part in (("before", before[0] if before else None), ("after", after[0] if after else None)):
            if part is None:
                sides.append((None, 0))
                continue
            read = _edge_piece(part, source, axis, rank)
            if read is None or any(u is not join for u in users.get(part, [])):
                break
            edge, count, made = read
            if any(any(u is not m_reader for u in users.get(m, [])) for m, m_reader in made):
                break
            mode = "replicate" if (side, edge) in (("before", "head"), ("after", "tail")) else "circular"
            sides.append((mode, count))
            pieces += [part, *(m for m, _ in made)]
        else:
            modes = {m for m, _ in sides if m is not None}
            if len(modes) != 1:
                continue
            (mode,) = modes
            size = (table.of(source) or (None,) * rank)[axis]
            if mode == "circular" and (size is None or size < max(c for _, c in sides)):
                continue
            return source, mode, sides[0][1], sides[1][1], pieces
    return None


def _edge_piece(part, source, axis: int, rank: int):
    """("head"/"tail", cells, [(inner node, its one reader)]) when ``part`` is ``source``'s first or last cells
    along ``axis`` (``x[:, :n]``, ``x[:, -n:]``), or its first or last cell tiled along ``axis``."""
    if is_kind(part, "Tile"):
        repeats = list(part.repeats)
        inner = part.inputs[0]
        if len(repeats) != rank - 1 or any(r != 1 for a, r in enumerate(repeats, 1) if a != axis):
            return None
        read = _edge_piece(inner, source, axis, rank)
        if read is None or read[1] != 1:
            return None
        return read[0], repeats[axis - 1], [(inner, part)]
    if not is_kind(part, "Slice") or part.inputs[0] is not source or len(part.axes) != 1 \
            or part.axes[0] % rank != axis or any(step != 1 for step in part.steps):
        return None
    start, end = part.starts[0], part.ends[0]
    if start == 0 and 0 < end < OPEN_END:
        return "head", end, []
    if start < 0 and end >= OPEN_END:
        return "tail", -start, []
    return None


FOLD_EDGE_PADS = Pass(
    "fold-edge-pads",
    requires="a wired, acyclic graph",
    ensures="a join of a tensor with its repeated edge cells or its opposite end's cells along one axis is a "
            "replicate or circular pad",
    rewrite=fold_edge_pads)

# --- crops of a transposed convolution ----------------------------------------------------------------------

def fold_transposed_crops(graph) -> dict[str, str]:
    """A transposed convolution without padding whose one reader is a slice cropping its spatial axes from both
    ends (``y[:, :, 1:-1]``, Keras' ``Cropping2D``) takes the crop as its explicit padding (exact: a transposed
    convolution's padding crops its output, the cells of its output padding included, which lie at the end);
    convolution name -> the slice folded into it.
    """
    folded = {}
    users = consumers(graph)
    for crop in [n for n in graph.nodes if is_kind(n, "Slice")]:
        conv = crop.inputs[0]
        if not is_kind(conv, "ConvTranspose") or str(conv.padding) != "valid" or users.get(conv) != [crop]:
            continue
        rank = kind_of(conv).spatial_dims + 2
        steps = list(crop.steps) or [1] * len(crop.axes)
        pads: dict[int, tuple[int, int]] = {}
        for axis, start, end, step in zip(crop.axes, crop.starts, crop.ends, steps):
            axis = axis % rank if -rank <= axis < rank else 0
            if axis < 2 or axis in pads or step != 1 or start < 0 or 0 <= end < OPEN_END:
                break
            pads[axis] = (start, -end if end < 0 else 0)
        else:
            if len(pads) != len(crop.axes) or not any(b or e for b, e in pads.values()):
                continue
            conv.padding = conv.eClass.findEStructuralFeature("padding").eType.getEEnumLiteral("explicit")
            conv.pads.clear()
            conv.pads.extend([v for axis in range(2, rank) for v in pads.get(axis, (0, 0))])
            replace_uses(graph, crop, conv)
            graph.nodes.remove(crop)
            folded[conv.name] = crop.name
            users = consumers(graph)
    return folded


FOLD_TRANSPOSED_CROPS = Pass(
    "fold-transposed-crops",
    requires="a wired, acyclic graph",
    ensures="no transposed convolution without padding is read only by a slice cropping its spatial axes from "
            "both ends: the crop is its explicit padding",
    rewrite=fold_transposed_crops)


# --- strided slices of a convolution ------------------------------------------------------------------------

def fold_strided_slices(graph) -> dict[str, str]:
    """A convolution at stride 1 without 'same' padding whose one reader keeps every s-th cell of its spatial
    axes from the first (``conv(x)[:, ::2, ::2]``: how code, the Keras generator's included, writes a dilated
    strided convolution, which Keras refuses) is that convolution at stride s; convolution name -> the slice.

    Exact: the stride-s windows are the stride-1 windows starting at 0, s, 2s..., as many as the slice keeps.
    """
    folded = {}
    users = consumers(graph)
    for picks in [n for n in graph.nodes if is_kind(n, "Slice")]:
        conv = picks.inputs[0]
        kind = kind_of(conv)
        if kind is None or not _is_plain_convolution(kind) or str(conv.padding) == "same" \
                or any(s != 1 for s in conv.stride) or users.get(conv) != [picks]:
            continue
        rank = kind.spatial_dims + 2
        steps = list(picks.steps) or [1] * len(picks.axes)
        axes = [a % rank if -rank <= a < rank else 0 for a in picks.axes]
        if len(set(axes)) != len(axes) or any(a < 2 for a in axes) or any(picks.starts) \
                or any(e < OPEN_END for e in picks.ends) or not any(s > 1 for s in steps) or min(steps) < 1:
            continue
        by_axis = dict(zip(axes, steps))
        conv.stride.clear()
        conv.stride.extend(canonical_per_axis([by_axis.get(a, 1) for a in range(2, rank)]))
        replace_uses(graph, picks, conv)
        graph.nodes.remove(picks)
        folded[conv.name] = picks.name
        users = consumers(graph)
    return folded


def _is_plain_convolution(kind) -> bool:
    """A kind windowed over the input with explicit pads, that is neither transposed nor a pooling."""
    return all(kind.attribute(a) is not None for a in ("pads", "kernelSize", "dilation", "stride")) and \
        kind.attribute("outputPadding") is None and kind.attribute("ceilMode") is None


FOLD_STRIDED_SLICES = Pass(
    "fold-strided-slices",
    requires="a wired, acyclic graph",
    ensures="no convolution at stride 1 (not 'same') is read only by a slice keeping every s-th cell of its spatial "
            "axes from the first: its stride is s",
    rewrite=fold_strided_slices)


# --- layout permutes -----------------------------------------------------------------------------------------

def cancel_permutes(graph) -> dict[str, str]:
    """A permute of a permute that nothing else reads is one permute, and a permute that keeps every axis in
    place is none (exact); node name -> what became of it ("merged" into its reader, "removed").

    Code moving axes back and forth (``x.transpose(1, 2)`` twice, a Keras ``Permute`` undoing a transpose)
    leaves such chains; a permute that is a graph output stays, so the output keeps its name.
    """
    done: dict[str, str] = {}
    changed = any(is_kind(n, "Permute") for n in graph.nodes)
    while changed:
        changed = False
        users = consumers(graph)
        for node in [n for n in graph.nodes if is_kind(n, "Permute")]:
            inner = node.inputs[0]
            rank = len(node.dims)
            if is_kind(inner, "Permute") and len(inner.dims) == rank and users.get(inner) == [node]:
                outer = [d % rank for d in node.dims]
                node.dims.clear()
                node.dims.extend([inner.dims[j] % rank for j in outer])
                node.inputs[0] = inner.inputs[0]
                graph.nodes.remove(inner)
                done[inner.name] = "merged"
                changed = True
                break
            if [d % rank for d in node.dims] == list(range(rank)) and graph not in users.get(node, []):
                replace_uses(graph, node, inner)
                graph.nodes.remove(node)
                done[node.name] = "removed"
                changed = True
                break
    return done


CANCEL_PERMUTES = Pass(
    "cancel-permutes",
    requires="a wired, acyclic graph",
    ensures="no permute reads a permute that only it reads, no permute other than a graph output keeps every "
            "axis in place",
    rewrite=cancel_permutes)


# What every reader of source text (.nn, PyTorch, Keras) runs on the model it read, in this order.
CANONICALISATION = (CANCEL_PERMUTES, FOLD_EDGE_PADS, FOLD_TRANSPOSED_CROPS, FOLD_STRIDED_SLICES,
                    CANONICAL_FORMS)

__all__ = ["CANCEL_PERMUTES", "CANONICALISATION", "CANONICAL_FORMS", "FOLD_EDGE_PADS", "FOLD_LAST_STEPS",
           "FOLD_RECURRENT_STACKS", "FOLD_STRIDED_SLICES", "FOLD_TRANSPOSED_CROPS", "Canonicalised", "Pass", "Stack",
           "cancel_permutes", "canonical_forms", "fold_edge_pads", "fold_last_steps", "fold_recurrent_stacks",
           "fold_strided_slices", "fold_transposed_crops", "run_pass", "wiring_problems"]
