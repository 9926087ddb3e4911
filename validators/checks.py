"""The structural checks of a pivot model: one function per concern.

Each check reads the model and files what it finds into a ``Findings``; none
changes the model. Node checks are driven by the registry (arity, required
attributes, attribute names for the range table), never by per-kind code.
"""
from __future__ import annotations

import keyword as python_keyword
import re

from nnpivot.diagnostics import Diagnostic, error, location_of, warning
from nnpivot.graph import graph_inputs, output_count
from nnpivot.kinds import kind_of, snake
from nnpivot.metamodel import is_kind

from .ranges import INPUT_SHAPE, RULES

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MODEL_NAME = re.compile(r"[^\d\W]\w*\Z")  # the .nn grammar's ID (model names may be any Unicode word)
VALUE_WORDS = frozenset({"true", "false", "nan", "inf"})  # what .nn text reads as values, not as names
# What XML 1.0 (so XMI) cannot carry, escaped or not: C0 controls but tab and line breaks, surrogates, U+FFFE/F.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class Findings:
    """Diagnostics collected so far, and the nodes already found broken."""

    def __init__(self):
        self.diagnostics: list[Diagnostic] = []
        self.broken: set = set()  # nodes with an error: the shape pass leaves them alone

    def error(self, code: str, message: str, element) -> None:
        self.diagnostics.append(error(code, message, location_of(element)))
        if is_kind(element, "Node"):
            self.broken.add(element)

    def warning(self, code: str, message: str, element) -> None:
        self.diagnostics.append(warning(code, message, location_of(element)))


def describe(node, graph=None) -> str:
    """How messages name a node: its DSL keyword and name, and its block."""
    kind = kind_of(node)
    what = kind.keyword if kind else "block call" if is_kind(node, "BlockCall") else snake(node.eClass.name)
    where = f" in block {graph.name}" if graph is not None and is_kind(graph, "Block") else ""
    return f"{what} '{node.name}'{where}"


def graph_label(graph) -> str:
    return f"block {graph.name}" if is_kind(graph, "Block") else f"model {graph.name}"


# --- graph checks -----------------------------------------------------------------

def check_names(graph, found: Findings) -> None:
    """Names are identifiers (they become variables in generated code) and unique in their graph."""
    seen: dict[str, object] = {}
    for node in graph.nodes:
        name = node.name or ""
        if not IDENTIFIER.match(name) or python_keyword.iskeyword(name):
            found.error("invalid-name", f"{describe(node, graph)}: '{name}' is not a valid identifier", node)
        elif name in VALUE_WORDS:
            found.error("invalid-name", f"{describe(node, graph)}: '{name}' is a value in .nn text, so it cannot "
                                        "name a node", node)
        elif name.startswith("__") and name.strip("_"):
            found.error("invalid-name", f"{describe(node, graph)}: '{name}' starts with two underscores (Python "
                                        "hides such attributes under another name)", node)
        elif name in seen:
            first = location_of(seen[name])
            also = f" (first defined at {first})" if first else ""
            found.error("duplicate-name", f"{graph_label(graph)} defines '{name}' twice{also}", node)
        else:
            seen[name] = node


def check_references(graph, found: Findings) -> None:
    """Inputs and outputs refer to nodes of the same graph."""
    members = set(graph.nodes)
    for node in graph.nodes:
        for operand in node.inputs:
            if operand not in members:
                found.error("dangling-reference",
                            f"{describe(node, graph)} reads '{operand.name}', which is not a node of "
                            f"{graph_label(graph)}", node)
    for output in graph.outputs:
        if output not in members:
            found.error("dangling-reference",
                        f"{graph_label(graph)} outputs '{output.name}', which is not one of its nodes", graph)


def check_cycles(graph, found: Findings) -> None:
    """No node depends on itself; each cycle is reported once, naming its nodes in order."""
    order = {node: i for i, node in enumerate(graph.nodes)}
    members = set(order)
    state: dict = {}  # node -> "open" while on the path, "done" after
    for root in graph.nodes:
        if root in state:
            continue
        path, stack = [root], [iter(root.inputs)]
        state[root] = "open"
        while stack:
            for operand in stack[-1]:
                if operand not in members:
                    continue
                if state.get(operand) == "open":
                    # the path follows inputs backwards: reverse it to dataflow order and start the
                    # cycle at its first node in definition order
                    cycle = list(reversed(path[path.index(operand):]))
                    start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                    cycle = cycle[start:] + cycle[:start]
                    names = " -> ".join(n.name for n in [*cycle, cycle[0]])
                    found.error("cycle", f"{graph_label(graph)} has a cycle: {names}", cycle[0])
                    found.broken.update(cycle)
                elif operand not in state:
                    state[operand] = "open"
                    path.append(operand)
                    stack.append(iter(operand.inputs))
                    break
            else:
                state[path.pop()] = "done"
                stack.pop()


def check_outputs(graph, found: Findings) -> None:
    if not list(graph.outputs):
        found.error("no-output", f"{graph_label(graph)} declares no output", graph)


def check_inputs(graph, found: Findings) -> None:
    if is_kind(graph, "Model") and not graph_inputs(graph):
        found.error("no-input", f"{graph_label(graph)} declares no input", graph)


def check_unused(graph, found: Findings) -> None:
    """Nodes that no output depends on (a warning: the model still works)."""
    if not list(graph.outputs):
        return
    members, used = set(graph.nodes), set()
    # a guard's result is its otherwise when the condition fails (an else branch's last value)
    instead = {g.result: g.otherwise for g in (graph.guards if is_kind(graph, "Block") else ())
               if g.result is not None and g.otherwise is not None}
    pending = [o for o in graph.outputs if o in members]
    while pending:
        node = pending.pop()
        if node not in used:
            used.add(node)
            pending.extend(n for n in node.inputs if n in members)
            if node in instead and instead[node] in members:
                pending.append(instead[node])
    for node in graph.nodes:
        if node not in used:
            found.warning("unused-node", f"{describe(node, graph)} does not contribute to any output of "
                                         f"{graph_label(graph)}", node)


def check_model(model, found: Findings) -> None:
    """The model's name is a word of .nn text, and every text of the model can be written as XMI."""
    if not model.name:  # an XMI file may leave it out; generated code names its class after it
        found.error("invalid-name", "the model has no name", model)
    elif not MODEL_NAME.match(model.name):
        found.error("invalid-name", f"model name {model.name!r} is not a word (letters, digits, underscores)", model)
    texts: dict = {}  # EClass -> its string attributes
    for element in [model, *model.eAllContents()]:
        if element.eClass not in texts:
            texts[element.eClass] = [a for a in element.eClass.eAllAttributes() if a.eType.name == "EString"]
        for attribute in texts[element.eClass]:
            values = element.eGet(attribute)
            for value in (values if attribute.many else [values]):
                bad = NOT_XML.search(value) if isinstance(value, str) else None
                if bad:
                    found.error("invalid-character", f"{attribute.name} {value!r} holds U+{ord(bad.group()):04X}, "
                                "which XMI (XML 1.0) cannot carry", element)


GRAPH_CHECKS = (check_names, check_references, check_cycles, check_outputs, check_inputs, check_unused)


# --- node checks ---------------------------------------------------------------------

def expected_inputs(node, model) -> tuple[int, int | None]:
    """(fewest, most) inputs a node takes; most is None when unbounded."""
    if is_kind(node, "Input"):
        return 0, 0
    if is_kind(node, "Select"):
        return 1, 1
    if is_kind(node, "BlockCall"):
        count = len(graph_inputs(node.block)) if node.block is not None else len(node.inputs)
        return count, count
    return kind_of(node).arity


def check_input_count(node, graph, model, found: Findings) -> None:
    low, high = expected_inputs(node, model)
    count = len(node.inputs)
    if count < low or (high is not None and count > high):
        expected = (str(low) if low == high else f"{low} to {high}" if high is not None else f"at least {low}")
        plural = "" if expected == "1" else "s"
        found.error("wrong-input-count", f"{describe(node, graph)} takes {expected} input{plural}, got {count}", node)


def _is_missing(node, attribute) -> bool:
    value = getattr(node, attribute.name)
    return len(value) == 0 if attribute.many else not node.eIsSet(attribute)


def check_required(node, graph, model, found: Findings) -> None:
    if is_kind(node, "BlockCall"):
        if node.block is None:
            found.error("missing-argument", f"{describe(node, graph)} calls no block", node)
        elif node.block not in model.blocks:
            found.error("dangling-reference", f"{describe(node, graph)} calls block '{node.block.name}', which "
                                              f"is not a block of model {model.name}", node)
        return
    kind = kind_of(node)
    bound = {binding.feature for binding in node.bindings}  # computed per call of a parameterised block
    for name in kind.required if kind else ():
        if name not in bound and _is_missing(node, kind.attribute(name)):
            found.error("missing-argument", f"{describe(node, graph)} needs {snake(name)}", node)


def check_ranges(node, graph, model, found: Findings) -> None:
    """Values of the attributes the range table knows, read by attribute name."""
    kind = kind_of(node)
    if is_kind(node, "Input"):
        bad = [d for d in node.shape if not INPUT_SHAPE.holds(d, node)]
        if bad:
            found.error("out-of-range", f"input '{node.name}': shape {list(node.shape)} has size {bad[0]}; every "
                                        f"size must be {INPUT_SHAPE.expects}", node)
        return
    for attribute in kind.attributes() if kind else ():
        rule = RULES.get(attribute.name)
        if rule is None or not node.eIsSet(attribute):
            continue
        value = getattr(node, attribute.name)
        values = list(value) if attribute.many else [value]
        bad = [v for v in values if v is not None and not rule.holds(v, node)]
        if bad:
            shown = values if attribute.many else value
            found.error("out-of-range", f"{describe(node, graph)}: {snake(attribute.name)} must be {rule.expects}, "
                                        f"got {shown}", node)


def check_selection(node, graph, model, found: Findings) -> None:
    """A Select reads an existing output of a multi-output node."""
    if not is_kind(node, "Select") or len(node.inputs) != 1:
        return
    producer = node.inputs[0]
    available = output_count(producer)
    if not 0 <= node.index < available:
        outputs = f"{available} output" + ("" if available == 1 else "s")
        found.error("bad-selection", f"select '{node.name}' reads output {node.index} of {describe(producer)}, "
                                     f"which has {outputs} (0 to {available - 1})", node)


NODE_CHECKS = (check_input_count, check_required, check_ranges, check_selection)
