"""Parameterised blocks: evaluating their expressions and specialising a block for one call.

A block with parameters is a template: its node attributes may be bound to
expressions over the parameters (``AttributeBinding``) and groups of its nodes
may exist only when a condition holds (``Guard``). For one call, the arguments
give every parameter a value; :func:`specialise` makes the plain block that
call computes (attributes set, absent groups removed and their result read from
``otherwise``). Shapes and weights are computed on these specialised copies, so
everything downstream of a call sees an ordinary block.
"""
from __future__ import annotations

import math
import operator

from pyecore.ecore import EAttribute

from nnpivot.diagnostics import location_of, set_location

from . import eclass, eenum, is_kind

PYTHON_TYPES = {"int": (int,), "float": (float, int), "bool": (bool,), "string": (str,)}


class BlockError(ValueError):
    """A parameterised block cannot be evaluated for a call: ``code`` and the element it is about."""

    def __init__(self, code: str, message: str, element=None):
        super().__init__(message)
        self.code = code
        self.element = element


def is_parameterised(block) -> bool:
    """True for a block that has parameters, guards or loops: each call is specialised on its own."""
    return is_kind(block, "Block") and (len(block.parameters) > 0 or len(block.guards) > 0 or len(block.loops) > 0)


# The attribute of a node that specialise made as one iteration of a loop: (the loop's node, iteration number).
_ITERATION_ATTR = "_nnpivot_iteration"


def iteration_of(node) -> tuple | None:
    """``(loop node, iteration)`` of a node :func:`specialise` made as one iteration of a loop's node, else None.
    Its name is ``<node>.<iteration>``, so weight keys read ``call.node.0.weight``."""
    return getattr(node, _ITERATION_ATTR, None)


def loop_of(block) -> dict:
    """node -> the Loop it belongs to, for the nodes of ``block``'s loops."""
    return {node: loop for loop in (block.loops if is_kind(block, "Block") else ()) for node in loop.nodes}


def loop_count(loop, env: dict) -> int:
    """How many iterations ``loop`` runs with ``env``; BlockError when its count is no int of 0 or more."""
    count = evaluate(loop.count, env)
    if isinstance(count, bool) or not isinstance(count, int):
        raise BlockError("expression-type", f"the count of loop '{loop.index.name}' must be an int, got "
                                            f"{type_name(count)} {count!r}", loop.count)
    if count < 0:
        raise BlockError("expression-error", f"the count of loop '{loop.index.name}' is {count}, below 0",
                         loop.count)
    return count


def check_loop(block, loop) -> None:
    """BlockError when ``loop`` is not a well-formed group of ``block``: its initial outside it and its result
    inside, its nodes in no guard or other loop, nothing outside reading one of them but its result."""
    inside = set(loop.nodes)
    where = loop.index.name if loop.index is not None else "?"
    if loop.index is None or loop.count is None or loop.initial is None or loop.result is None:
        raise BlockError("bad-loop", f"loop '{where}' of block {block.name} needs an index, a count, an initial "
                                     "value and a result", loop)
    if loop.initial in inside or loop.result not in inside:
        raise BlockError("bad-loop", f"loop '{where}' of block {block.name} carries '{loop.initial.name}' (which "
                                     f"must be outside it) into '{loop.result.name}' (which must be inside it)", loop)
    guarded = guard_of(block)
    others = {n for other in block.loops if other is not loop for n in other.nodes}
    for node in loop.nodes:
        if node in guarded or node in others or is_kind(node, "Input"):
            raise BlockError("bad-loop", f"'{node.name}' of loop '{where}' is also in a guard, another loop or an "
                                         "input", node)
    for node in block.nodes:
        if node in inside:
            continue
        read = [dep for dep in node.inputs if dep in inside and dep is not loop.result]
        if read or (node.weightsOf in inside):
            name = read[0].name if read else node.weightsOf.name
            raise BlockError("bad-loop", f"'{node.name}' reads '{name}' of loop '{where}', whose value outside "
                                         f"the loop is only its result '{loop.result.name}'", node)
    for out in block.outputs:
        if out in inside and out is not loop.result:
            raise BlockError("bad-loop", f"block {block.name} outputs '{out.name}' of loop '{where}', whose value "
                                         f"outside the loop is only its result '{loop.result.name}'", block)


def type_name(value) -> str:
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "list"}.get(type(value), type(value).__name__)


def fits(parameter, value) -> bool:
    """True when ``value`` is of the parameter's declared type (an int is a float too; a bool is no int)."""
    wanted = parameter.type.name
    if isinstance(value, bool):
        return wanted == "bool"
    return isinstance(value, PYTHON_TYPES[wanted])


def literal_of(value):
    """The Literal expression holding a plain value."""
    if isinstance(value, bool):
        return eclass("BoolLiteral")(value=value)
    if isinstance(value, int):
        return eclass("IntLiteral")(value=value)
    if isinstance(value, float):
        return eclass("FloatLiteral")(value=value)
    if isinstance(value, str):
        return eclass("StringLiteral")(value=value)
    if isinstance(value, (list, tuple)):
        items = eclass("ListExpression")()
        items.items.extend(literal_of(v) for v in value)
        return items
    raise TypeError(f"no literal for {value!r}")


_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "floordiv": operator.floordiv,
               "div": operator.truediv, "mod": operator.mod}
_COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
                "ge": operator.ge}
SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "div": "/", "mod": "%", "eq": "==", "ne": "!=",
           "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "and": "and", "or": "or"}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def evaluate(expression, env: dict):
    """The value of ``expression`` with ``env`` (BlockParameter -> value); BlockError when it has none."""
    cls = expression.eClass.name
    if cls in ("IntLiteral", "FloatLiteral", "BoolLiteral", "StringLiteral"):
        return expression.value
    if cls == "ListExpression":
        return [evaluate(item, env) for item in expression.items]
    if cls == "ParameterRef":
        if expression.parameter not in env:
            name = expression.parameter.name if expression.parameter is not None else "?"
            raise BlockError("unknown-parameter", f"'{name}' is not a parameter of this block", expression)
        return env[expression.parameter]
    if cls == "UnaryExpression":
        value = evaluate(expression.operand, env)
        if expression.operator.name == "not":
            if not isinstance(value, bool):
                raise BlockError("expression-type", f"'not' needs true or false, got {type_name(value)}", expression)
            return not value
        if not _number(value):
            raise BlockError("expression-type", f"'-' needs a number, got {type_name(value)}", expression)
        return -value
    if cls == "Conditional":
        condition = evaluate(expression.condition, env)
        if not isinstance(condition, bool):
            raise BlockError("expression-type", f"a condition must be true or false, got {type_name(condition)}",
                             expression)
        return evaluate(expression.then if condition else expression.otherwise, env)
    if cls == "BinaryExpression":
        return _binary(expression, env)
    raise BlockError("expression-type", f"unknown expression {cls}", expression)


def _binary(expression, env: dict):
    name = expression.operator.name
    left = evaluate(expression.left, env)
    if name in ("and", "or"):
        if not isinstance(left, bool):
            raise BlockError("expression-type", f"'{name}' needs true or false, got {type_name(left)}", expression)
        if (name == "and") != left:   # decided by the left operand, as in Python
            return left
        right = evaluate(expression.right, env)
        if not isinstance(right, bool):
            raise BlockError("expression-type", f"'{name}' needs true or false, got {type_name(right)}", expression)
        return right
    right = evaluate(expression.right, env)
    if name in _COMPARISONS:
        if name in ("eq", "ne"):
            return _COMPARISONS[name](left, right)
        if not ((_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))):
            raise BlockError("expression-type", f"cannot compare {type_name(left)} with {type_name(right)}",
                             expression)
        return _COMPARISONS[name](left, right)
    if not (_number(left) and _number(right)):
        raise BlockError("expression-type", f"'{SYMBOLS[name]}' needs numbers, got {type_name(left)} and "
                                            f"{type_name(right)}", expression)
    if name in ("floordiv", "div", "mod") and right == 0:
        raise BlockError("expression-error", "division by zero", expression)
    value = _ARITHMETIC[name](left, right)
    if isinstance(value, float) and not math.isfinite(value):
        raise BlockError("expression-error", f"'{SYMBOLS[name]}' gives {value}", expression)
    return value


def static_type(expression) -> str | None:
    """The type ``expression`` evaluates to whatever the arguments (int, float, bool, string, list), None when
    that depends on them or the expression has no value (the call's evaluation reports it)."""
    cls = expression.eClass.name
    if cls in _LITERAL_TYPES:
        return _LITERAL_TYPES[cls]
    if cls == "ListExpression":
        return "list"
    if cls == "ParameterRef":
        return expression.parameter.type.name if expression.parameter is not None else None
    if cls == "UnaryExpression":
        return "bool" if expression.operator.name == "not" else static_type(expression.operand)
    if cls == "Conditional":
        then, otherwise = static_type(expression.then), static_type(expression.otherwise)
        if then == otherwise:
            return then
        return "float" if {then, otherwise} == {"int", "float"} else None
    name = expression.operator.name
    if name in _COMPARISONS or name in ("and", "or"):
        return "bool"
    left, right = static_type(expression.left), static_type(expression.right)
    if left not in ("int", "float") or right not in ("int", "float"):
        return None
    return "float" if name == "div" or "float" in (left, right) else "int"


_LITERAL_TYPES = {"IntLiteral": "int", "FloatLiteral": "float", "BoolLiteral": "bool", "StringLiteral": "string"}


def parameters_used(expression) -> list:
    """The parameters ``expression`` reads, in order of appearance."""
    found = [expression.parameter] if expression.eClass.name == "ParameterRef" else []
    for child in expression.eContents:
        found += [p for p in parameters_used(child) if p not in found]
    return found


def argument_values(call, env: dict | None = None) -> dict:
    """Every parameter of the called block with its value for ``call`` (arguments evaluated in ``env``, the
    enclosing block's values; defaults for the others). BlockError for a missing or ill-typed argument."""
    env = env or {}
    given = {a.parameter: a for a in call.arguments}
    values = {}
    for parameter in call.block.parameters:
        argument = given.get(parameter)
        if argument is not None:
            value = evaluate(argument.value, env)
            element = argument
        elif parameter.default is not None:
            value, element = evaluate(parameter.default, {}), parameter
        else:
            raise BlockError("missing-block-argument", f"call '{call.name}' of block {call.block.name} gives no "
                                                       f"value for parameter '{parameter.name}'", call)
        if not fits(parameter, value):
            raise BlockError("argument-type", f"parameter '{parameter.name}' of block {call.block.name} is "
                                              f"{parameter.type.name}, got {type_name(value)} {value!r}", element)
        values[parameter] = float(value) if parameter.type.name == "float" else value
    for parameter, argument in given.items():
        if parameter not in values:
            raise BlockError("unknown-parameter", f"block {call.block.name} has no parameter "
                                                  f"'{getattr(parameter, 'name', '?')}'", argument)
    return values


def attribute_value(feature, value, binding):
    """``value`` converted to what ``feature`` holds (a scalar is one value per axis of a list attribute)."""
    if feature.many:
        items = value if isinstance(value, list) else [value]
        return [_scalar(feature, v, binding) for v in items]
    return _scalar(feature, value, binding)


def _scalar(feature, value, binding):
    kind = feature.eType.name
    if isinstance(value, list):
        raise BlockError("expression-type", f"attribute {feature.name} takes one value, got a list", binding)
    if kind == "EInt" and _number(value) and not isinstance(value, float):
        return value
    if kind == "EDouble" and _number(value):
        return float(value)
    if kind == "EBoolean" and isinstance(value, bool):
        return value
    if kind == "EString" and isinstance(value, str):
        return value
    if hasattr(feature.eType, "getEEnumLiteral") and isinstance(value, str):
        literal = feature.eType.getEEnumLiteral(value)
        if literal is not None:
            return literal
    wanted = {"EInt": "an integer", "EDouble": "a number", "EBoolean": "true or false", "EString": "a string"}
    raise BlockError("expression-type", f"attribute {feature.name} expects {wanted.get(kind, 'one of its names')}, "
                                        f"the expression gives {type_name(value)} {value!r}", binding)


def absent_nodes(block, env: dict) -> dict:
    """The nodes of ``block`` a call with ``env`` leaves out -> the node their readers read instead (None: no
    reader may read it)."""
    absent = {}
    for guard in block.guards:
        condition = evaluate(guard.condition, env)
        if not isinstance(condition, bool):
            raise BlockError("expression-type", f"a guard must be true or false, got {type_name(condition)}",
                             guard)
        if not condition:
            for node in guard.nodes:
                absent[node] = guard.otherwise if node is guard.result else None
        else:
            for node in guard.alternative:
                absent[node] = None
    return absent


def specialise(block, env: dict, keep_guarded: bool = False, bound=None):
    """The plain block a call with parameter values ``env`` computes (a new Block, not added to any model).

    Attribute bindings are evaluated into the attributes; nodes of guards that do not hold are left out and
    their result is read from the guard's ``otherwise``. Inner block calls get literal arguments.
    ``keep_guarded`` keeps every node (a template for code generation), and ``bound(binding, value)`` gives
    the value a binding stores (a generator's symbolic number).
    """
    absent = {} if keep_guarded else absent_nodes(block, env)
    copy = eclass("Block")(name=block.name)
    set_location(copy, location_of(block))
    copies = {}
    looped = loop_of(block)
    iterations = {}   # loop -> [{loop node: its copy}] per iteration
    for loop in block.loops:
        check_loop(block, loop)
        iterations[loop] = [{} for _ in range(loop_count(loop, env))]
    for node in block.nodes:
        loop = looped.get(node)
        if loop is not None:
            if node is loop.nodes[0]:   # every iteration where the loop's first node is
                for number, made in enumerate(iterations[loop]):
                    inner = {**env, loop.index: number}
                    for member in (n for n in block.nodes if looped.get(n) is loop):
                        made[member] = _copy_node(member, inner, bound)
                        made[member].name = f"{member.name}.{number}"
                        object.__setattr__(made[member], _ITERATION_ATTR, (member, number))
                        copy.nodes.append(made[member])
        elif node not in absent:
            copies[node] = _copy_node(node, env, bound)
            copy.nodes.append(copies[node])

    def present(node):
        seen = set()
        while node in absent and node not in seen:
            seen.add(node)
            node = absent[node]
        if node is None or node in absent:
            return None
        loop = looped.get(node)
        if loop is not None:   # read after the loop: its last iteration's result (its initial value after none)
            return iterations[loop][-1][loop.result] if iterations[loop] else present(loop.initial)
        return copies.get(node, node)

    for loop, made_per_iteration in iterations.items():
        for number, made in enumerate(made_per_iteration):
            for member, new in made.items():
                for dep in member.inputs:
                    if dep is loop.initial and number > 0:
                        target = made_per_iteration[number - 1][loop.result]
                    else:
                        target = made[dep] if dep in made else present(dep)
                    if target is None:
                        raise BlockError("guarded-read", f"'{member.name}' reads '{dep.name}', which this call "
                                                         "leaves out", member)
                    new.inputs.append(target)
                if member.weightsOf is not None:
                    new.weightsOf = made.get(member.weightsOf) or present(member.weightsOf)

    heirs = {}   # a left-out owner -> the first node of the other branch computing with its weights
    for node, new in copies.items():
        for dep in node.inputs:
            target = present(dep)
            if target is None:
                raise BlockError("guarded-read", f"'{node.name}' reads '{dep.name}', which this call leaves out",
                                 node)
            new.inputs.append(target)
        if node.weightsOf in absent:
            if node.weightsOf not in heirs:   # it owns the weights now, under their name
                heirs[node.weightsOf] = new
                new.name = node.weightsOf.name
            else:
                new.weightsOf = heirs[node.weightsOf]
        elif node.weightsOf is not None:
            new.weightsOf = present(node.weightsOf)
    for pack in block.packs:   # inputs are never guarded: every item is copied
        copy.packs.append(eclass("PackedInput")(name=pack.name, items=[copies[item] for item in pack.items]))
    for out in block.outputs:
        target = present(out)
        if target is None:
            raise BlockError("guarded-read", f"block {block.name} outputs '{out.name}', which this call leaves out",
                             block)
        copy.outputs.append(target)
    return copy


def _copy_node(node, env: dict, bound=None):
    new = node.eClass(name=node.name)
    set_location(new, location_of(node))
    for feature in node.eClass.eAllStructuralFeatures():
        if feature.name in ("name", "inferredShape") or getattr(feature, "derived", False) or feature.transient:
            continue
        if isinstance(feature, EAttribute):
            if feature.many:
                getattr(new, feature.name).extend(getattr(node, feature.name))
            elif node.eIsSet(feature.name):
                setattr(new, feature.name, getattr(node, feature.name))
    for binding in node.bindings:
        feature = node.eClass.findEStructuralFeature(binding.feature)
        if not isinstance(feature, EAttribute):
            raise BlockError("unknown-attribute", f"'{node.name}' has no attribute '{binding.feature}'", binding)
        value = attribute_value(feature, evaluate(binding.value, env), binding)
        if bound is not None:
            value = bound(binding, value)
        if feature.many:
            getattr(new, feature.name).clear()
            getattr(new, feature.name).extend(value)
        else:
            setattr(new, feature.name, value)
    if "pads" in {b.feature for b in node.bindings} and new.eClass.findEStructuralFeature("padding") is not None \
            and not any(new.pads) and bound is None:
        # no pad on any side is no padding, spelt as the .nn reader and the importers spell a written 0 (a
        # template for code keeps it: the code computes the pads, zero for this call)
        new.padding = eenum("Padding").getEEnumLiteral("valid")
        new.pads.clear()
    if is_kind(node, "BlockCall"):
        new.block = node.block
        for argument in node.arguments:
            given = eclass("Argument")(parameter=argument.parameter, value=literal_of(evaluate(argument.value, env)))
            set_location(given, location_of(argument))
            new.arguments.append(given)
    return new


def argument_groups(graph) -> list[tuple]:
    """The arguments a graph's code takes: for each, ``(pack, inputs)``, with ``pack`` the PackedInput holding
    several inputs as one tuple or None for an input of its own. BlockError when a pack's items are not
    consecutive inputs of the graph, in order (no argument list says that)."""
    inputs = [n for n in graph.nodes if is_kind(n, "Input")]
    packs = {item: pack for pack in getattr(graph, "packs", ()) for item in pack.items}
    groups, seen = [], set()
    for position, node in enumerate(inputs):
        pack = packs.get(node)
        if pack is None:
            groups.append((None, [node]))
        elif pack not in seen:
            seen.add(pack)
            items = list(pack.items)
            if inputs[position:position + len(items)] != items:
                raise BlockError("packed-inputs-apart", f"the inputs packed in argument '{pack.name}' of "
                                 f"{graph.name} are not consecutive inputs, in order", pack)
            groups.append((pack, items))
    if any(p not in seen for p in getattr(graph, "packs", ())):
        raise BlockError("packed-inputs-apart", f"an argument of {graph.name} packs no input of it", graph)
    return groups


def guard_of(block) -> dict:
    """node -> the Guard it belongs to, for the nodes of ``block``'s guards."""
    return {node: guard for guard in block.guards for node in [*guard.nodes, *guard.alternative]}


__all__ = ["BlockError", "absent_nodes", "argument_groups", "argument_values", "attribute_value", "check_loop",
           "evaluate", "fits", "guard_of", "is_parameterised", "iteration_of", "literal_of", "loop_count", "loop_of",
           "parameters_used", "specialise", "static_type"]
