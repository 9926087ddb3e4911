"""Generator from the pivot model to canonical `.nn` text.

Canonical means: parse -> print -> parse gives an equal model and printing
twice gives the same text. Arguments are written positionally in registry
order while they are given, then as key=value in metamodel order; values
equal to their default are left out (unsettable ones are written when set).
"""
from __future__ import annotations

import json

from nnpivot.graph import topological_order
from nnpivot.kinds import KINDS, PER_AXIS, Kind, is_enum, kind_of, snake
from nnpivot.kinds.training import CLIPPING_SETTINGS, LOSS_SETTINGS, OPTIMIZERS, RULE_PYTORCH
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.blocks import guard_of, loop_of, parameters_used

INDENT = "    "


def _number(value: float) -> str:
    text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


def _value(feature, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_enum(feature):
        return value.name
    if feature.eType.name == "EDouble":
        return _number(value)
    if feature.eType.name == "EString":
        return _string(value)
    return str(value)


def _string(value: str) -> str:
    """A JSON string; a lone surrogate (which no UTF-8 file holds) as its ``\\udxxx`` escape, which JSON reads back."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")


def _list(feature, values) -> str:
    values = list(values)
    if len(values) == 1 and feature.name in PER_AXIS:
        return _value(feature, values[0])
    return "[" + ", ".join(_value(feature, v) for v in values) + "]"


def _is_given(node, feature) -> bool:
    if feature.many:
        return len(getattr(node, feature.name)) > 0
    if feature.unsettable:
        return node.eIsSet(feature.name)
    return getattr(node, feature.name) != feature.get_default_value()


def _padding_text(node) -> str:
    pads = list(node.pads)
    pairs = [pads[i:i + 2] for i in range(0, len(pads), 2)]
    if all(b == e for b, e in pairs):
        singles = [b for b, _ in pairs]
        return str(singles[0]) if len(set(singles)) == 1 else "[" + ", ".join(map(str, singles)) + "]"
    return "[" + ", ".join(f"[{b}, {e}]" for b, e in pairs) + "]"


# --- expressions (parameterised blocks) ------------------------------------------------------
# BinaryOperator -> (how .nn writes it, precedence); the parser reads them back with the same precedences.
BINARY = {"or": ("or", 1), "and": ("and", 2), "eq": ("==", 4), "ne": ("!=", 4), "lt": ("<", 4), "le": ("<=", 4),
          "gt": (">", 4), "ge": (">=", 4), "add": ("+", 5), "sub": ("-", 5), "mul": ("*", 6), "div": ("/", 6),
          "floordiv": ("div", 6), "mod": ("%", 6)}
NOT_PRECEDENCE = 3
ATOM = 9


def _precedence(expression) -> int:
    cls = expression.eClass.name
    if cls == "BinaryExpression":
        return BINARY[expression.operator.name][1]
    if cls == "UnaryExpression":
        return NOT_PRECEDENCE if expression.operator.name == "not" else ATOM
    return ATOM


def expression_text(expression) -> str:
    """An expression as .nn writes it: Python's precedences, parentheses only where needed, ``div`` for //."""
    cls = expression.eClass.name
    if cls == "IntLiteral":
        return str(expression.value)
    if cls == "FloatLiteral":
        return _number(expression.value)
    if cls == "BoolLiteral":
        return "true" if expression.value else "false"
    if cls == "StringLiteral":
        return _string(expression.value)
    if cls == "ListExpression":
        return "[" + ", ".join(expression_text(i) for i in expression.items) + "]"
    if cls == "ParameterRef":
        return expression.parameter.name
    if cls == "Conditional":
        return (f"({expression_text(expression.then)} if {expression_text(expression.condition)} else "
                f"{expression_text(expression.otherwise)})")
    if cls == "UnaryExpression":
        if expression.operator.name == "neg":
            return f"-({expression_text(expression.operand)})"
        return f"not {_operand(expression.operand, NOT_PRECEDENCE + 1)}"
    symbol, precedence = BINARY[expression.operator.name]
    return f"{_operand(expression.left, precedence)} {symbol} {_operand(expression.right, precedence + 1)}"


def _operand(expression, lowest: int) -> str:
    text = expression_text(expression)
    negative_number = expression.eClass.name in ("IntLiteral", "FloatLiteral") and text.startswith("-")
    return f"({text})" if _precedence(expression) < lowest or (negative_number and lowest > ATOM - 4) else text


def _bound_text(expression) -> str:
    """A bound attribute's expression; one without parameters or operators in parentheses, so it reads back
    as an expression and not as a plain value."""
    text = expression_text(expression)
    plain = expression.eClass.name == "ListExpression" or _precedence(expression) == ATOM
    return f"({text})" if plain and not parameters_used(expression) and not text.startswith("(") else text


def _bound_padding_text(pads) -> str:
    """A padding bound to an expression (begin, end per axis, nn_text's bind_padding), in the shortest form the
    reader takes back: one expression for every side, one per axis, else [begin, end] pairs."""
    if pads.eClass.name != "ListExpression" or len(pads.items) % 2:
        return _bound_text(pads)
    fixed = not parameters_used(pads)   # numbers alone are read as a plain padding: each stays an expression
    texts = [_bound_text(item) if fixed else expression_text(item) for item in pads.items]
    pairs = [texts[i:i + 2] for i in range(0, len(texts), 2)]
    if all(b == e for b, e in pairs):
        singles = [b for b, _ in pairs]
        return singles[0] if len(set(singles)) == 1 else "[" + ", ".join(singles) + "]"
    return "[" + ", ".join(f"[{b}, {e}]" for b, e in pairs) + "]"


def _block_head(block) -> str:
    params = []
    for parameter in block.parameters:
        text = f"{'input ' if parameter.perCall else ''}{parameter.name}: {parameter.type.name}"
        if parameter.default is not None:
            text += f" = {expression_text(parameter.default)}"
        params.append(text)
    return f"block {block.name}" + (f"({', '.join(params)})" if len(block.parameters) else "")


def _call_arguments(node) -> list[str]:
    """A block call's parameter values: by position while they follow the parameters' order and have no
    default, then by name (``BasicBlock(x, 8, 16, stride=2)``)."""
    given = {a.parameter: a.value for a in node.arguments}
    args, positional = [], True
    for parameter in node.block.parameters:
        positional = positional and parameter in given and parameter.default is None
        if parameter in given:
            text = expression_text(given[parameter])
            args.append(text if positional else f"{parameter.name}={text}")
    return args


def _arguments(node, kind: Kind) -> list[str]:
    args = []
    features = {f.name: f for f in kind.attributes()}
    bound = {b.feature: b.value for b in node.bindings}
    given = {name for name, f in features.items() if _is_given(node, f) or name in kind.required or name in bound}
    if "pads" in bound:
        given.add("padding")
    positional_done = False
    written = set()
    for name in kind.positional:
        if positional_done or name not in given:
            positional_done = True
            continue
        feature = features[name]
        value = getattr(node, name)
        if name in bound:
            args.append(_bound_text(bound[name]))
        else:
            args.append(_list(feature, value) if feature.many else _value(feature, value))
        written.add(name)
    for name, feature in features.items():
        if name in written or name not in given or name == "pads":
            continue
        if name in bound:
            args.append(f"{snake(name)}={_bound_text(bound[name])}")
            continue
        if name == "padding" and "pads" in bound:
            args.append(f"padding={_bound_padding_text(bound['pads'])}")
            continue
        if name == "padding" and "pads" in features and str(node.padding) == "explicit":
            args.append(f"padding={_padding_text(node)}")
            continue
        value = getattr(node, name)
        text = _list(feature, value) if feature.many else _value(feature, value)
        args.append(f"{snake(name)}={text}")
    return args


def call_text(node) -> str:
    """The right-hand side of a node's statement: ``conv2d(x, 6, kernel_size=5)``, ``seq[1]``."""
    refs = [dep.name for dep in node.inputs]
    if is_kind(node, "Input"):
        return _input_line(node).removeprefix(f"input {node.name}").lstrip(": ") or "input"
    if is_kind(node, "Select"):
        return f"{refs[0]}[{node.index}]"
    shares = [f"shares={node.weightsOf.name}"] if node.weightsOf is not None else []
    if is_kind(node, "BlockCall"):
        return f"{node.block.name}({', '.join(refs + _call_arguments(node) + shares)})"
    kind = kind_of(node)
    return f"{kind.keyword}({', '.join(refs + _arguments(node, kind) + shares)})"


def _input_line(node) -> str:
    if not list(node.shape) and str(node.dtype) == "float32" and is_kind(node.eContainer(), "Block"):
        return f"input {node.name}"
    dims = ", ".join("?" if d < 0 else str(d) for d in node.shape)
    return f"input {node.name}: {node.dtype.name}[{dims}]"


def _node_line(node) -> str:
    return _input_line(node) if is_kind(node, "Input") else f"{node.name} = {call_text(node)}"


def _graph_lines(graph, indent: str) -> list[str]:
    try:
        order = topological_order(graph)
    except ValueError:
        order = list(graph.nodes)  # a cyclic model is still printed, in definition order
    guards = guard_of(graph) if is_kind(graph, "Block") else {}
    loops = loop_of(graph)
    packs = {item: pack for pack in getattr(graph, "packs", ()) for item in pack.items}
    lines = []
    for node in order:
        guard = guards.get(node)
        loop = loops.get(node)
        if node in packs:   # written once, at its first item
            pack = packs[node]
            if node is pack.items[0]:
                lines.append(f"{indent}input {pack.name} = ({', '.join(i.name for i in pack.items)})")
        elif loop is not None:
            if node is next(n for n in order if loops.get(n) is loop):   # a loop is written at its first node
                lines.append(f"{indent}for {loop.index.name} in range({expression_text(loop.count)}) {{")
                lines += [indent + INDENT + _node_line(n) for n in order if loops.get(n) is loop]
                lines += [f"{indent}{INDENT}{loop.initial.name} = {loop.result.name}", f"{indent}}}"]
        elif guard is None:
            lines.append(indent + _node_line(node))
        elif node is next(n for n in order if guards.get(n) is guard):   # a guard is written at its first node
            lines.append(f"{indent}if {expression_text(guard.condition)} {{")
            lines += [indent + INDENT + _node_line(n) for n in order if n in guard.nodes]
            if len(guard.alternative):
                lines.append(f"{indent}}} else {{")
                lines += [indent + INDENT + _node_line(n) for n in order if n in guard.alternative]
                if guard.result is not None and guard.otherwise is not None:
                    lines.append(f"{indent}{INDENT}{guard.result.name} = {guard.otherwise.name}")
                lines.append(f"{indent}}}")
                continue
            otherwise = f" else {guard.result.name} = {guard.otherwise.name}" if guard.result is not None \
                and guard.otherwise is not None else ""
            lines.append(f"{indent}}}{otherwise}")
    if len(graph.outputs):
        lines.append(f"{indent}output {', '.join(o.name for o in graph.outputs)}")
    return lines


def _optimizer_value(kind: str, parameter) -> str:
    entry = OPTIMIZERS.get(kind)
    known = entry.parameter(parameter.key) if entry is not None else None
    if known is not None and known.boolean and parameter.value in (0, 1):
        return "true" if parameter.value else "false"
    return _number(parameter.value)


def _settings_text(obj, keywords: dict[str, str] | None = None) -> str:
    """``(key=value, ...)`` of the set features of ``obj`` (only those in ``keywords``, DSL keyword -> feature)."""
    features = ([obj.eClass.findEStructuralFeature(f) for f in keywords.values()] if keywords is not None else
                list(obj.eClass.eAllStructuralFeatures()))
    names = {f: k for k, f in (keywords or {}).items()}
    args = []
    for feature in features:
        if not _is_given(obj, feature):
            continue
        value = getattr(obj, feature.name)
        text = _list(feature, value) if feature.many else _value(feature, value)
        args.append(f"{names.get(feature.name, snake(feature.name))}={text}")
    return f"({', '.join(args)})" if args or keywords is None else ""


def _training_lines(training, indent: str) -> list[str]:
    inner = indent + INDENT
    lines = [f"{indent}training {{"]
    opt = training.optimizer
    if opt is not None:
        params = [f"learning_rate={_number(opt.learningRate)}"]
        params += [f"{p.key}={_optimizer_value(opt.kind, p)}" for p in opt.parameters]
        if opt.rule.name != RULE_PYTORCH:   # written for Keras's update rule (UpdateRule)
            params.append(f"rule={opt.rule.name}")
        lines.append(f"{inner}optimizer {opt.kind}({', '.join(params)})")
    if training.loss:
        lines.append(f"{inner}loss {training.loss}{_settings_text(training, LOSS_SETTINGS)}")
    if training.schedule is not None:
        lines.append(f"{inner}schedule {snake(training.schedule.eClass.name)}{_settings_text(training.schedule)}")
    lines.append(f"{inner}epochs {training.epochs}")
    lines.append(f"{inner}batch_size {training.batchSize}")
    if len(training.metrics):
        lines.append(f"{inner}metrics {', '.join(training.metrics)}")
    for setting, feature in CLIPPING_SETTINGS.items():
        if getattr(training, feature):
            lines.append(f"{inner}{setting} {_number(getattr(training, feature))}")
    lines.append(f"{indent}}}")
    return lines


def to_text(model) -> str:
    """The canonical `.nn` text of a pivot model."""
    head = f"model {model.name}"
    if model.description is not None:
        head += " " + _string(model.description)
    lines = [head + " {"]
    lines += _graph_lines(model, INDENT)
    for block in model.blocks:
        lines.append("")
        lines.append(f"{INDENT}{_block_head(block)} {{")
        lines += _graph_lines(block, INDENT * 2)
        lines.append(f"{INDENT}}}")
    if model.training is not None:
        lines.append("")
        lines += _training_lines(model.training, INDENT)
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["KINDS", "to_text"]
