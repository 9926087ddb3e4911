"""One parameterised block for the uses of one source class that differ only in constructor arguments.

The importers build one plain block per distinct use of a helper class (its
attributes evaluated for that use's constructor arguments). When every block
of a class has the same nodes and wiring, this module makes ONE block with the
class's ``__init__`` parameters: each attribute that differs between uses is
bound to an expression over the parameters (the parameter itself, or one
parameter with a constant: ``planes * 4``) that gives the right value for EVERY
use; each call gets its constructor arguments. When some attribute has no
such expression the blocks stay as they are: nothing is guessed.
"""
from __future__ import annotations

import ast

from nnpivot.kinds import kind_of
from nnpivot.metamodel import eclass, eenum, is_kind
from nnpivot.metamodel.blocks import BlockError, evaluate, literal_of, type_name

# One parameter with a constant, tried in this order after the parameter itself.
_ARITHMETIC = ("mul", "floordiv", "add", "sub")


def constructor_values(init: ast.FunctionDef | None, args: list, kwargs: dict) -> tuple[list, dict, dict]:
    """The ``__init__`` parameter names (without self), their values for this use, and the source's defaults
    (those that are literals)."""
    if init is None:
        return [], {}, {}
    spec = init.args
    names = [a.arg for a in spec.posonlyargs + spec.args][1:]
    defaults = {}
    for arg, default in zip(names[len(names) - len(spec.defaults):], spec.defaults):
        try:
            defaults[arg] = ast.literal_eval(default)
        except ValueError:
            continue
    values = dict(zip(names, args))
    values.update({k: v for k, v in kwargs.items() if k in names})
    for name in names:
        if name not in values and name in defaults:
            values[name] = defaults[name]
    return names, values, defaults


def _plain(value) -> bool:
    return isinstance(value, (bool, int, float, str))


def _parameter_type(values: list) -> str | None:
    types = {type_name(v) for v in values}
    if types in ({"int"}, {"bool"}, {"string"}, {"float"}):
        return next(iter(types))
    return "float" if types == {"int", "float"} else None


def _attribute_value(node, feature):
    """An attribute's value as plain Python (an enum literal by its name, a list as a tuple)."""
    value = node.eGet(feature)
    if feature.many:
        return tuple(_named(v) for v in value)
    return _named(value)


def _named(value):
    return value if _plain(value) or value is None else getattr(value, "name", str(value))


def _structure(block) -> tuple:
    """Everything of a block but its node attributes: classes, names, wiring, calls' arguments, outputs."""
    rows = []
    for node in block.nodes:
        arguments = ()
        if is_kind(node, "BlockCall"):
            try:
                arguments = tuple((a.parameter.name, evaluate(a.value, {})) for a in node.arguments)
            except BlockError:
                arguments = ("?",)
        rows.append((node.eClass.name, node.name, tuple(i.name for i in node.inputs),
                     node.block.name if is_kind(node, "BlockCall") else getattr(node, "index", None),
                     tuple(getattr(node, "shape", ()) or ()), node.weightsOf.name if node.weightsOf else None,
                     arguments, len(node.bindings)))
    return tuple(rows), tuple(o.name for o in block.outputs), len(block.parameters), len(block.guards)


def _features(node) -> list:
    kind = kind_of(node)
    return list(kind.attributes()) if kind else []


def _scalar_of(value, feature):
    """A per-axis list whose axes agree is the one number a binding gives (the block spreads it over axes)."""
    if feature.many:
        if len(value) == 0 or len(set(value)) != 1:
            return None
        return value[0]
    return value


def _fits_all(expression, envs: list, wanted: list) -> bool:
    for env, value in zip(envs, wanted):
        try:
            got = evaluate(expression, env)
        except BlockError:
            return False
        same = got == value and type_name(got) == type_name(value)
        if not same and not (isinstance(value, float) and type_name(got) == "int" and float(got) == value):
            return False
    return True


def _reference(parameter):
    return eclass("ParameterRef")(parameter=parameter)


def _expression_for(parameters: list, envs: list, wanted: list):
    """The simplest expression over ``parameters`` giving ``wanted[i]`` with ``envs[i]`` for every use, or None."""
    for parameter in parameters:
        candidate = _reference(parameter)
        if _fits_all(candidate, envs, wanted):
            return candidate
    if not all(type_name(v) == "int" for v in wanted):
        return None
    for operator in _ARITHMETIC:
        for parameter in parameters:
            if parameter.type.name != "int":
                continue
            first, target = envs[0][parameter], wanted[0]
            constant = _constant(operator, first, target)
            if constant is None:
                continue
            candidate = eclass("BinaryExpression")(operator=eenum("BinaryOperator").getEEnumLiteral(operator),
                                                   left=_reference(parameter), right=literal_of(constant))
            if _fits_all(candidate, envs, wanted):
                return candidate
    return None


def _constant(operator: str, value: int, target: int) -> int | None:
    """The constant c with ``value <operator> c == target``, from one use (the others verify it)."""
    if operator == "mul":
        return target // value if value and target % value == 0 and target // value not in (0, 1) else None
    if operator == "floordiv":
        return value // target if target and value // target > 1 else None
    if operator == "add":
        return target - value if target > value else None
    return value - target if value > target else None


def parameterise(blocks: list, uses: list, init: ast.FunctionDef | None) -> bool:
    """Make ``blocks[0]`` the one parameterised block of all ``blocks`` of a class, if it can be.

    ``uses`` holds ``(call, args, kwargs)`` for every BlockCall of these blocks (its instance's constructor
    arguments). On success the calls call ``blocks[0]`` with arguments and True is returned; the other blocks
    are no longer called. Otherwise nothing changes and False is returned.
    """
    template = blocks[0]
    if len({_structure(b) for b in blocks}) != 1 or any(b.parameters or b.guards for b in blocks):
        return False
    names, defaults, per_use = [], {}, []
    for call, args, kwargs in uses:
        names, values, defaults = constructor_values(init, args, kwargs)
        per_use.append(values)
    kept = [n for n in names if all(n in values and _plain(values[n]) for values in per_use)]
    parameters, envs = [], [{} for _ in uses]
    taken = {node.name for node in template.nodes} | set(kept)
    for name in kept:
        type_ = _parameter_type([values[name] for values in per_use])
        if type_ is None:
            continue
        spelled = name
        while spelled in {node.name for node in template.nodes} or (spelled != name and spelled in taken):
            spelled += "_arg"   # a node of the block has the name: the .nn text could not tell them apart
        parameter = eclass("BlockParameter")(name=spelled, type=eenum("ParameterType").getEEnumLiteral(type_))
        default = defaults.get(name)
        default_type = _parameter_type([default]) if _plain(default) else None
        if default_type == type_ or (type_, default_type) == ("float", "int"):
            parameter.default = literal_of(float(defaults[name]) if type_ == "float" else defaults[name])
        parameters.append(parameter)
        for env, values in zip(envs, per_use):
            env[parameter] = float(values[name]) if type_ == "float" else values[name]
    bindings = []
    for position, node in enumerate(template.nodes):
        for feature in _features(node):
            wanted = [_attribute_value(call.block.nodes[position], feature) for call, _, _ in uses]
            if len(set(wanted)) == 1:
                continue
            scalars = [_scalar_of(v, feature) for v in wanted]
            if any(s is None for s in scalars):
                return False
            expression = _expression_for(parameters, envs, scalars)
            if expression is None:
                return False
            bindings.append((node, feature.name, expression))
    template.parameters.extend(parameters)
    for node, feature, expression in bindings:
        node.bindings.append(eclass("AttributeBinding")(feature=feature, value=expression))
    for (call, _, _), env in zip(uses, envs):
        call.block = template
        call.arguments.clear()
        for parameter in parameters:
            value = env[parameter]
            if parameter.default is not None and evaluate(parameter.default, {}) == value:
                continue
            call.arguments.append(eclass("Argument")(parameter=parameter, value=literal_of(value)))
    return True


__all__ = ["constructor_values", "parameterise"]
