"""One parameterised block for the uses of one source class that differ only in constructor arguments.

The importers build one plain block per distinct use of a helper class (its
attributes evaluated for that use's constructor arguments). When every block
of a class has the same nodes and wiring, this module makes ONE block with the
class's ``__init__`` parameters: each attribute that differs between uses is
bound to an expression over the parameters (the parameter itself, or one
parameter with a constant: ``planes * 4``) that gives the right value for EVERY
use; each call gets its constructor arguments. When some attribute has no
such expression the blocks stay as they are: nothing is guessed.

In constructor mode the blocks are read from a written module file whose classes take no arguments of the
user's: :class:`ConstructorRecords` gives each written instance the arguments the user's constructor passed
(recorded while it ran) and each written class the user's own ``__init__``, so the same template is made.
"""
from __future__ import annotations

import ast

from pyecore.ecore import EReference

from nnpivot.diagnostics import location_of, set_location
from nnpivot.kinds import kind_of
from nnpivot.metamodel import eclass, eenum, is_kind
from nnpivot.metamodel.blocks import BlockError, evaluate, literal_of, specialise, type_name

from .block_loops import looped_uses

# The keyword a class written in constructor mode takes to name its instance in ConstructorRecords.arguments.
INSTANCE_ARGUMENT = "constructed_instance"


class ConstructorRecords:
    """Constructor mode: ``inits`` maps a written class to ``(the user's __init__, its class)`` (syntax), and
    ``arguments[k]`` holds ``{parameter: value}`` that the user's constructor gave the written instance
    called with ``constructed_instance=k``."""

    def __init__(self):
        self.inits: dict[str, tuple[ast.FunctionDef, ast.ClassDef]] = {}
        self.arguments: list[dict] = []

    def of_uses(self, written_class: str, constructors: list) -> tuple | None:
        """``(init, class, [(args, kwargs)])`` of the uses of a written class (each use's ``constructors``
        entry is the written call's ``(args, kwargs)``), or None when a use was not recorded."""
        if written_class not in self.inits:
            return None
        found = []
        for _, kwargs in constructors:
            index = kwargs.get(INSTANCE_ARGUMENT)
            if not isinstance(index, int) or not 0 <= index < len(self.arguments):
                return None
            found.append(([], self.arguments[index]))
        return (*self.inits[written_class], found)


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


# What an empty per-axis attribute means: the framework's default on every axis.
_UNSET_PER_AXIS = {"stride": 1, "dilation": 1, "outputPadding": 0}


# Padding modes a bound padding covers: explicit pads, and no pads (valid) where its expression gives zeros.
# Uses differing in another mode ('same') keep one block per use.
BOUND_PADDING_MODES = frozenset({"valid", "explicit"})


def _scalar_of(value, feature):
    """A per-axis list whose axes agree is the one number a binding gives (the block spreads it over axes)."""
    if feature.many:
        if len(value) == 0 and feature.name in _UNSET_PER_AXIS:
            return _UNSET_PER_AXIS[feature.name]
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


def _expression_for(parameters: list, envs: list, wanted: list, written: list = ()):
    """The simplest expression over ``parameters`` giving ``wanted[i]`` with ``envs[i]`` for every use, or None:
    a parameter, else one of the expressions the source writes (``written``), else a parameter with a
    constant."""
    for parameter in parameters:
        candidate = _reference(parameter)
        if _fits_all(candidate, envs, wanted):
            return candidate
    for candidate in written:
        if _fits_all(candidate, envs, wanted):
            return _copy_expression(candidate)
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


def _pads_expression(node, parameters: list, envs: list, wanted: list, written: list):
    """The list expression of a padding (begin, end per axis) giving each use its pads, item by item (a number
    every use has, else an expression over the parameters); None when an item has none. No pads (a valid
    padding) are zeros."""
    sides = 2 * (kind_of(node).spatial_dims or 1)
    lists = [tuple(v) if len(v) else (0,) * sides for v in wanted]
    if any(len(v) != sides for v in lists):
        return None
    items = []
    for position in range(sides):
        values = [v[position] for v in lists]
        item = literal_of(values[0]) if len(set(values)) == 1 else _expression_for(parameters, envs, values, written)
        if item is None:
            return None
        items.append(item)
    pads = eclass("ListExpression")()
    pads.items.extend(items)
    return pads


def _written_expressions(init: ast.FunctionDef | None, source_class: ast.ClassDef | None, by_source: dict,
                         constants: dict) -> list:
    """The arithmetic the class writes over its constructor's parameters, as expressions: in ``__init__``
    (``self.left_pad = (kernel_size - 1) * dilation``, a layer's ``padding=dilation * (k - 1)``) and in its other
    methods over attributes ``__init__`` keeps (``F.pad(x, ((self.kernel_size - 1) * self.dilation, 0))``).
    What a computed attribute most likely is."""
    if init is None:
        return []
    derived = _derived_attributes(init)
    methods = [init] + [m for m in (source_class.body if source_class is not None else ())
                        if isinstance(m, ast.FunctionDef) and m is not init and m.name != "__init__"]
    found, seen = [], set()
    for method in methods:
        for tree in ast.walk(method):
            if not isinstance(tree, ast.BinOp) or (method is not init and any(
                    isinstance(name, ast.Name) and name.id != "self" for name in ast.walk(tree))):
                continue   # outside __init__ a bare name is a local variable, not a parameter
            expression = _expression(tree, by_source, constants, derived)
            key = ast.dump(tree)
            if expression is not None and key not in seen:
                seen.add(key)
                found.append(expression)
    return found


def _copy_expression(expression):
    """A new Expression equal to ``expression`` (the same parameters referenced)."""
    new = expression.eClass()
    for feature in expression.eClass.eAllStructuralFeatures():
        value = expression.eGet(feature)
        if getattr(feature, "containment", False):
            if feature.many:
                new.eGet(feature).extend(_copy_expression(v) for v in value)
            elif value is not None:
                new.eSet(feature, _copy_expression(value))
        elif feature.many:
            new.eGet(feature).extend(value)
        elif value is not None:
            new.eSet(feature, value)
    return new


def _constant(operator: str, value: int, target: int) -> int | None:
    """The constant c with ``value <operator> c == target``, from one use (the others verify it)."""
    if operator == "mul":
        return target // value if value and target % value == 0 and target // value not in (0, 1) else None
    if operator == "floordiv":
        return value // target if target and value // target > 1 else None
    if operator == "add":
        return target - value if target > value else None
    return value - target if value > target else None


def class_constants(cls: ast.ClassDef, init: ast.FunctionDef | None) -> dict:
    """``self.<name>`` values that are constants: literals the class body assigns and ``__init__`` leaves."""
    assigned = {target.attr for node in ast.walk(init) if isinstance(node, ast.Assign) for target in node.targets
                if isinstance(target, ast.Attribute)} if init is not None else set()
    found = {}
    for statement in cls.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
                isinstance(statement.targets[0], ast.Name) and statement.targets[0].id not in assigned:
            try:
                value = ast.literal_eval(statement.value)
            except ValueError:
                continue
            if _plain(value):
                found[statement.targets[0].id] = value
    return found


def parameterise(blocks: list, uses: list, init: ast.FunctionDef | None, prefixes: list | None = None,
                 constants: dict | None = None, source_class: ast.ClassDef | None = None,
                 choices: dict | None = None, matched: dict | None = None):
    """Make one block of all ``blocks`` of a class, if it can be: the fullest one, with parameters.

    ``uses`` holds ``(call, args, kwargs)`` for every BlockCall of these blocks (its instance's constructor
    arguments). Blocks whose nodes differ only by the nodes an ``if`` of ``__init__`` on its arguments makes
    (``prefixes``: per block, node name -> its module path in the class) get a guard with that ``if``'s test.
    A padding is bound item by item, preferably to arithmetic the class (``source_class``) writes. Every use is
    checked: the block specialised for its arguments must be the block it had. On success the calls call the
    fullest block with arguments, which is returned; otherwise nothing changes and None is returned.

    ``choices`` (node -> the ``(test, value)`` of each ``if`` and conditional expression of the source that
    ran to make it) lets blocks whose wiring differs become one block with an ``if``/``else`` guard per test
    (:func:`_merge_choices`) when no ``if`` of ``__init__`` explains their difference. Blocks whose nodes
    are the fullest one's with groups left out (named after shifted list positions, so by their role rather
    than their name) get one guard per group (:func:`_aligned_guards`); ``matched`` then receives, per
    ``id(block)``, the template's node names -> that block's (where the uses' weights are).
    """
    if any(b.parameters or b.guards for b in blocks):
        return None
    template = max(blocks, key=lambda b: len(b.nodes))
    names, defaults, per_use = [], {}, []
    for call, args, kwargs in uses:
        names, values, defaults = constructor_values(init, args, kwargs)
        per_use.append(values)
    flags = _given_flags(init, names, per_use)
    for name in flags:   # a module given or not (downsample=None): the block has it or not, a flag says which
        for values in per_use:
            values[name] = values[name] is not None
        if name in defaults:
            defaults[name] = False if defaults[name] is None else defaults[name]
    parameters, envs, by_source = _parameters(template, names, defaults, per_use)
    guard, guards, origins, undo, by_role, looped = None, [], {}, lambda: None, False, None
    expected = {id(b): _rows(b) for b in blocks}   # what each use computes, before the template changes
    if len({_structure(b) for b in blocks}) != 1:
        guard = _guard(template, blocks, init, prefixes[blocks.index(template)] if prefixes else {}, by_source,
                       constants or {}, flags)
        if guard is None and choices:
            kept = _wiring(blocks[0])
            merged = _merge_choices(blocks, uses, envs, choices, by_source, constants or {},
                                    _derived_attributes(init) if init is not None else {})
            if merged is not None:
                template, guards, origins = merged
                undo = lambda: _rewire(template, kept)   # the merged block back as its use had it
        if guard is None and not origins and matched is not None:   # only a caller mapping weights per call
            aligned = _aligned_guards(template, blocks, uses, envs, init, source_class, by_source, constants or {})
            if aligned is None:
                looped = looped_uses(blocks, template, init, expected, _rows)   # uses differing in repeats
                if looped is None:
                    return None
                undo = looped.undo
            else:
                guards, origins, by_role = *aligned, True
    if guard is not None:
        guards = [guard]

    def origin(node, block):
        """The node of a use's block that ``node`` of the template stands for (None: that block lacks it)."""
        if looped is not None:
            return looped.others[id(block)].get(node)
        return origins[node].get(id(block)) if origins else _node_named(block, node.name)

    looping, index = set(), None
    if looped is not None:
        index = looped.loop.index
        while index.name in {p.name for p in parameters}:
            index.name += "_"
        looping = set(looped.loop.nodes)
        if looped.source_index is not None and looped.source_index in by_source:
            looped.source_index = None   # the source's loop variable hides a parameter: not read as the index
        if looped.source_index is not None:
            by_source = {**by_source, looped.source_index: index}

    def present_at(node) -> list:
        """(values, node of a use's block) for each use where ``node`` is: a loop's node at every iteration."""
        if node in looping:
            return [({**env, index: number}, made[node]) for env, use in zip(envs, uses)
                    for number, made in enumerate(looped.iterations[id(use[0].block)])]
        return [(env, origin(node, use[0].block)) for env, use in zip(envs, uses)
                if origin(node, use[0].block) is not None]

    bindings, written, explicit = [], None, []
    if looped is not None:
        written = _written_expressions(init, source_class, by_source, constants or {})
        counts = [looped.counts[id(use[0].block)] for use in uses]
        stated = [e for e in [_expression(looped.source_count, by_source, constants or {})] if e is not None] \
            if looped.source_count is not None else []
        count = _expression_for(parameters, envs, counts, stated + written) if len(set(counts)) > 1 else None
        if count is None:
            undo()
            return None
        looped.loop.count = count
    guard_flags = {ref.parameter for g in guards for ref in [g.condition, *g.condition.eAllContents()]
                   if is_kind(ref, "ParameterRef") and ref.parameter.type.name == "bool"}
    for node in template.nodes:
        present = present_at(node)
        for feature in _features(node):
            wanted = [_attribute_value(block, feature) for _, block in present]
            if feature.name == "padding" and len(set(wanted)) > 1 and set(wanted) <= BOUND_PADDING_MODES:
                explicit.append(node)   # the pads say how much: bound below, or the uses keep their blocks
                continue
            if feature.name == "pads" and len(set(wanted)) > 1:
                if written is None:
                    written = _written_expressions(init, source_class, by_source, constants or {})
                expression = _pads_expression(node, parameters, [env for env, _ in present], wanted, written)
                if expression is None:
                    undo()
                    return None
                bindings.append((node, feature.name, expression))
                continue
            scalars = [_scalar_of(v, feature) for v in wanted]
            if len(set(wanted)) == 1:
                # A guarded node the present uses give one value: the one parameter that has it at each of
                # them, so the block reads as written (conv2d(x, planes)) rather than fixed to those uses.
                # A flag the guard tests holds wherever its nodes are: binding a switch to it says nothing more.
                matching = [p for p in parameters if any(node in [*g.nodes, *g.alternative] for g in guards) and
                            scalars[0] is not None and p not in guard_flags and
                            _fits_all(_reference(p), [env for env, _ in present], scalars)]
                if len(matching) == 1:
                    bindings.append((node, feature.name, _reference(matching[0])))
                continue
            if any(s is None for s in scalars) or feature.name == "padding":
                undo()
                return None
            if by_role and written is None:
                written = _written_expressions(init, source_class, by_source, constants or {})
            # nodes matched by role, some guarded: what the class computes (hidden = inp * expand_ratio) before a
            # constant that fits only the uses where the node is; a loop's node: what the class computes from
            # the loop's variable (in_channels + i * growth_rate)
            expression = _expression_for(parameters + ([index] if node in looping else []),
                                         [env for env, _ in present], scalars,
                                         written if by_role or node in looping else ())
            if expression is None:
                undo()
                return None
            bindings.append((node, feature.name, expression))
    if any(node not in {n for n, feature, _ in bindings if feature == "pads"} for node in explicit):
        undo()
        return None
    template.parameters.extend(parameters)
    modes = {node: node.padding for node in explicit}
    for node in explicit:
        node.padding = eenum("Padding").getEEnumLiteral("explicit")
    for node, feature, expression in bindings:
        node.bindings.append(eclass("AttributeBinding")(feature=feature, value=expression))
    template.guards.extend(guards)
    renames = (lambda block: looped.renames(block)) if looped is not None else \
        (lambda block: _renames(origins, block))
    if not all(_rows(_specialised(template, env), renames(call.block)) == expected[id(call.block)]
               for (call, _, _), env in zip(uses, envs)):
        template.parameters.clear()   # some use would compute something else: one block per use, as before
        template.guards.clear()
        for node in template.nodes:
            node.bindings.clear()
        for node, mode in modes.items():
            node.padding = mode
        undo()
        return None
    if by_role:
        matched.update({id(b): _renames(origins, b) for b in blocks})
    if looped is not None:   # where each iteration of a loop's node has its weights: "<node>#<iteration>"
        matched.update({id(b): {f"{node.name}#{number}": looped.read_as(made[node])
                                for number, made in enumerate(looped.iterations[id(b)]) for node in made}
                        for b in blocks})
    for (call, _, _), env in zip(uses, envs):
        call.block = template
        call.arguments.clear()
        for parameter in parameters:
            value = env[parameter]
            if parameter.default is not None and evaluate(parameter.default, {}) == value:
                continue
            call.arguments.append(eclass("Argument")(parameter=parameter, value=literal_of(value)))
    return template


def _given_flags(init: ast.FunctionDef | None, names: list, per_use: list) -> dict:
    """``{parameter: attribute}`` of the ``__init__`` parameters that ``__init__`` keeps as they are
    (``self.downsample = downsample``) and that are None at some uses and an object (a module, not a plain
    value) at the others: whether one was given is what makes the uses differ."""
    if init is None:
        return {}
    kept = {}
    for statement in init.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
                isinstance(statement.value, ast.Name) and _self_attribute(statement.targets[0]):
            kept.setdefault(statement.value.id, statement.targets[0].attr)
    flags = {}
    for name in names:
        values = [values.get(name, _MISSING) for values in per_use]
        given = [v for v in values if v is not None]
        if name in kept and given and len(given) < len(values) and \
                all(v is not _MISSING and not _plain(v) for v in given):
            flags[name] = kept[name]
    return flags


_MISSING = object()


def _self_attribute(target) -> bool:
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"


def _parameters(template, names: list, defaults: dict, per_use: list) -> tuple:
    """The block parameters of the ``__init__`` parameters with plain values at every use, each use's values
    by parameter, and the parameters by their source name."""
    kept = [n for n in names if all(n in values and _plain(values[n]) for values in per_use)]
    parameters, envs, by_source = [], [{} for _ in per_use], {}
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
            parameter.default = literal_of(float(default) if type_ == "float" else default)
        parameters.append(parameter)
        by_source[name] = parameter
        for env, values in zip(envs, per_use):
            env[parameter] = float(values[name]) if type_ == "float" else values[name]
    return parameters, envs, by_source


def _node_named(block, name: str):
    return next((node for node in block.nodes if node.name == name), None)


def _guard(template, blocks: list, init, prefixes: dict, by_source: dict, constants: dict, flags: dict):
    """The Guard of ``template``'s nodes that the other blocks lack, with the test of the ``if`` in ``__init__``
    that makes their modules (or the flag of the parameter ``__init__`` keeps as their module, see
    :func:`_given_flags`); None when the blocks differ otherwise or the test is not an expression over the
    parameters."""
    names = {node.name for node in template.nodes}
    missing = {frozenset(names - {node.name for node in b.nodes}) for b in blocks}
    missing.discard(frozenset())
    if len(missing) != 1 or init is None:
        return None
    guarded = [node for node in template.nodes if node.name in next(iter(missing))]
    if any(not {node.name for node in b.nodes} <= names for b in blocks):
        return None
    attributes = {prefixes.get(node.name, "").split(".")[0] for node in guarded}
    test = _test_making(init, attributes)
    given = [name for name, attribute in flags.items() if {attribute} == attributes]
    if test is None and len(given) == 1:
        test = ast.Name(id=given[0], ctx=ast.Load())
    condition = _expression(test, by_source, constants, _derived_attributes(init)) if test is not None else None
    if condition is None:
        return None
    readers = [(node, i) for node in template.nodes if node not in guarded for i, dep in enumerate(node.inputs)
               if dep in guarded]
    read_out = [out for out in template.outputs if out in guarded]
    if len({id(node.inputs[i]) for node, i in readers}) != 1 or read_out:
        return None
    result = readers[0][0].inputs[readers[0][1]]
    smaller = next(b for b in blocks if len(b.nodes) < len(template.nodes))
    reader, position = readers[0]
    instead = _node_named(smaller, reader.name)
    if instead is None or position >= len(instead.inputs):
        return None
    otherwise = _node_named(template, instead.inputs[position].name)
    if otherwise is None or otherwise in guarded:
        return None
    guard = eclass("Guard")(condition=condition, result=result, otherwise=otherwise)
    guard.nodes.extend(guarded)
    return guard


def _same_role(template_node, node) -> bool:
    if template_node.eClass is not node.eClass:
        return False
    if is_kind(node, "BlockCall"):
        return template_node.block is node.block
    return getattr(template_node, "index", None) == getattr(node, "index", None)


def _aligned(template, block) -> dict | None:
    """Template node -> the node of ``block`` in its role: ``block``'s nodes in order as a subsequence of the
    template's, each the earliest of its class left (the caller checks every use computes what it did)."""
    found, position, nodes = {}, 0, list(template.nodes)
    for node in block.nodes:
        while position < len(nodes) and not _same_role(nodes[position], node):
            position += 1
        if position == len(nodes):
            return None
        found[nodes[position]] = node
        position += 1
    return found


def _if_tests(init: ast.FunctionDef, source_class: ast.ClassDef | None) -> list:
    """The tests of the ``if`` statements and conditional expressions of the class's methods."""
    methods = [m for m in (source_class.body if source_class is not None else ()) if isinstance(m, ast.FunctionDef)]
    return [node.test for method in (methods or [init]) for node in ast.walk(method)
            if isinstance(node, (ast.If, ast.IfExp))]


def _aligned_guards(template, blocks: list, uses: list, envs: list, init, source_class, by_source: dict,
                    constants: dict) -> tuple | None:
    """``(guards, origins)`` when every block is the template with some groups of nodes left out: nodes are
    matched by role (:func:`_aligned`), not by name (a node appended under an ``if`` shifts the list position,
    so the name, of every later one); the nodes present at the same uses form one guard, whose condition is
    the one ``if`` test of the class over the parameters that holds exactly at those uses. None otherwise."""
    if init is None:
        return None
    origins: dict = {node: {} for node in template.nodes}
    for block in blocks:
        found = _aligned(template, block)
        if found is None:
            return None
        for node, origin in found.items():
            origins[node][id(block)] = origin
    block_envs = [[env for env, use in zip(envs, uses) if use[0].block is b] for b in blocks]
    groups: dict = {}
    for node in template.nodes:
        presence = tuple(id(b) in origins[node] for b in blocks)
        if not all(presence):
            groups.setdefault(presence, []).append(node)
    derived = _derived_attributes(init)
    guards = []
    for presence, members in groups.items():
        fitting = {}
        for test in _if_tests(init, source_class):
            expression = _expression(test, by_source, constants, derived)
            if expression is None:
                continue
            try:
                values = [{evaluate(expression, env) for env in found} for found in block_envs]
            except BlockError:
                continue
            if values == [{present} for present in presence]:
                # the same test written in __init__ and in forward (self.<parameter> kept as it is) is one
                fitting.setdefault(_expression_key(expression), expression)
        if len(fitting) != 1:
            return None
        inside = set(members)
        read = [(reader, i) for reader in template.nodes if reader not in inside
                for i, dep in enumerate(reader.inputs) if dep in inside]
        outputs = [i for i, out in enumerate(template.outputs) if out in inside]
        results = {reader.inputs[i] for reader, i in read} | {template.outputs[i] for i in outputs}
        if len(results) != 1:
            return None
        lacking = blocks[presence.index(False)]
        back = {id(origin): node for node, by_block in origins.items()
                if (origin := by_block.get(id(lacking))) is not None}
        if read:
            reader, position = read[0]
            instead = origins[reader].get(id(lacking))
            read_instead = instead.inputs[position] if instead is not None and position < len(instead.inputs) \
                else None
        else:
            read_instead = lacking.outputs[outputs[0]] if outputs[0] < len(lacking.outputs) else None
        otherwise = back.get(id(read_instead)) if read_instead is not None else None
        if otherwise is None or otherwise in inside:
            return None
        guard = eclass("Guard")(condition=next(iter(fitting.values())), result=results.pop(), otherwise=otherwise)
        guard.nodes.extend(members)
        guards.append(guard)
    return (guards, origins) if guards else None


def _expression_key(expression) -> tuple:
    """What an expression says, comparable between two trees: its classes, operators, literals and the
    parameters it references."""
    parts = [expression.eClass.name]
    for feature in expression.eClass.eAllStructuralFeatures():
        value = expression.eGet(feature)
        values = list(value) if feature.many else [value]
        if isinstance(feature, EReference):
            parts.append(tuple(_expression_key(v) if feature.containment else id(v) for v in values))
        else:
            parts.append(tuple(str(v) for v in values))
    return tuple(parts)


def _test_making(init: ast.FunctionDef, attributes: set):
    """The test of the ``if`` statement of ``__init__`` whose body sets every one of ``self.<attributes>``."""
    if "" in attributes:
        return None
    for statement in init.body:
        if not isinstance(statement, ast.If):
            continue
        assigned = {target.attr for item in statement.body if isinstance(item, ast.Assign)
                    for target in item.targets if isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name) and target.value.id == "self"}
        if attributes <= assigned:
            return statement.test
    return None


_AST_OPERATORS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.FloorDiv: "floordiv", ast.Div: "div",
                  ast.Mod: "mod", ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
                  ast.GtE: "ge", ast.And: "and", ast.Or: "or"}


def _derived_attributes(init: ast.FunctionDef) -> dict:
    """``self.<name>`` -> the expression ``__init__`` gives it once, unconditionally (``self.project = strides
    != 1``): a test may read the parameters through it."""
    assigned: dict = {}
    for node in ast.walk(init):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                assigned.setdefault(target.attr, []).append(node)
    return {name: nodes[0].value for name, nodes in assigned.items()
            if len(nodes) == 1 and isinstance(nodes[0], ast.Assign) and nodes[0] in init.body}


def _expression(tree, by_source: dict, constants: dict, derived: dict | None = None):
    """``tree`` (an ``if`` test) as an expression over the parameters: names of parameters, constants (also
    the class's, ``self.expansion``), attributes ``__init__`` computes from them once (``derived``),
    comparisons, and/or/not, arithmetic; None for anything else."""
    derived = derived or {}

    def binary(operator, left, right):
        if left is None or right is None:
            return None
        return eclass("BinaryExpression")(operator=eenum("BinaryOperator").getEEnumLiteral(operator), left=left,
                                          right=right)

    if isinstance(tree, ast.Name):
        return _reference(by_source[tree.id]) if tree.id in by_source else None
    if isinstance(tree, ast.Constant) and _plain(tree.value):
        return literal_of(tree.value)
    if isinstance(tree, ast.Attribute) and isinstance(tree.value, ast.Name) and tree.value.id == "self":
        if tree.attr in constants:
            return literal_of(constants[tree.attr])
        if tree.attr in derived:   # read once: an attribute defined through itself cannot loop
            return _expression(derived[tree.attr], by_source, constants,
                               {k: v for k, v in derived.items() if k != tree.attr})
        return None
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1 and type(tree.ops[0]) in _AST_OPERATORS:
        return binary(_AST_OPERATORS[type(tree.ops[0])], _expression(tree.left, by_source, constants, derived),
                      _expression(tree.comparators[0], by_source, constants, derived))
    if isinstance(tree, ast.BinOp) and type(tree.op) in _AST_OPERATORS:
        return binary(_AST_OPERATORS[type(tree.op)], _expression(tree.left, by_source, constants, derived),
                      _expression(tree.right, by_source, constants, derived))
    if isinstance(tree, ast.BoolOp):
        folded = _expression(tree.values[0], by_source, constants, derived)
        for value in tree.values[1:]:
            folded = binary(_AST_OPERATORS[type(tree.op)], folded, _expression(value, by_source, constants, derived))
        return folded
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, (ast.Not, ast.USub)):
        operand = _expression(tree.operand, by_source, constants, derived)
        if operand is None:
            return None
        operator = "not" if isinstance(tree.op, ast.Not) else "neg"
        literal = eenum("UnaryOperator").getEEnumLiteral(operator)
        return eclass("UnaryExpression")(operator=literal, operand=operand) if literal is not None else None
    return None


def _rows(graph, renamed: dict | None = None):
    """What a block computes: its nodes, wiring and attributes, outputs (its nodes' names through ``renamed``,
    a template's name -> the use's), to tell whether a specialised block computes what a use's block does."""
    renamed = renamed or {}
    found = []
    for node in graph.nodes:
        values = []
        for feature in _features(node):
            value = _attribute_value(node, feature)
            scalar = _scalar_of(value, feature) if feature.many else None
            values.append(value if scalar is None else scalar)
        found.append((node.eClass.name, renamed.get(node.name, node.name),
                      tuple(renamed.get(i.name, i.name) for i in node.inputs), tuple(values),
                      node.block.name if is_kind(node, "BlockCall") else getattr(node, "index", None),
                      node.weightsOf is not None))
    return sorted(found, key=repr), [renamed.get(o.name, o.name) for o in graph.outputs]


def _specialised(template, env: dict):
    try:
        return specialise(template, env)
    except BlockError:   # a use reads a node its arguments leave out: no template for this class
        return eclass("Block")(name=template.name)


def _renames(origins: dict, block) -> dict:
    """Template node name -> the name of the node it stands for in ``block``."""
    return {node.name: found.name for node, by_block in origins.items()
            if (found := by_block.get(id(block))) is not None}


def _copy(node):
    """A node with ``node``'s attributes and no wiring (a BlockCall calls the same block)."""
    new = node.eClass(name=node.name)
    for feature in node.eClass.eAllAttributes():
        if feature.name == "name" or feature.derived or feature.transient:
            continue
        if feature.many:
            getattr(new, feature.name).extend(getattr(node, feature.name))
        elif node.eIsSet(feature.name):
            setattr(new, feature.name, getattr(node, feature.name))
    if is_kind(node, "BlockCall"):
        new.block = node.block
    set_location(new, location_of(node))
    return new


def _holds_weights(node) -> bool:
    kind = kind_of(node)
    return kind is not None and any(getattr(m, "parameters", None) is not None for m in kind.mappings.values())


def _merge_choices(blocks: list, uses: list, envs: list, choices: dict, by_source: dict, constants: dict,
                   derived: dict):
    """Two blocks of one class whose nodes were made under other branches of the source's ``if``s, as one
    block: a node is the same in both when its name and the choices it was made under are; the nodes made
    under one branch of a test form a guard on that test (both branches: an ``if``/``else``), and a reader
    reads the guarded node where the other block reads something else, which is what the guard yields when
    its branch does not run. A weight-holding node of the same module made under another branch computes
    with the first one's weights (``weightsOf``): the module is one, whichever branch runs. Returns
    (template, guards, origins: template node -> {id(block): the node it stands for}) or None: more than two
    blocks, a node made under several choices, a difference no choice explains, a test that is no expression
    over the parameters. The caller checks every use."""
    if len(blocks) != 2:
        return None
    first, second = blocks
    made = {}   # (name, choices) -> template node
    origins: dict = {}
    template, added = first, []
    names = {node.name for node in first.nodes}
    group_of: dict = {}   # template node -> (test, value) it was made under
    tests: dict = {}      # id(test) -> test

    def key(node):
        return node.name, tuple((id(test), value) for test, value in choices.get(node, ()))

    for block in blocks:
        for node in block.nodes:
            made_under = choices.get(node, ())
            if len(made_under) > 1:
                return None
            k = key(node)
            if k not in made:
                if block is first:
                    made[k] = node
                else:
                    copy = _copy(node)
                    base, n = node.name, 2
                    while copy.name in names:
                        copy.name, n = f"{base}_{n}", n + 1
                    names.add(copy.name)
                    added.append(copy)
                    made[k] = copy
                    owner = next((m for (name, _), m in made.items() if name == node.name and m is not copy
                                  and m.eClass is copy.eClass), None)
                    if owner is not None and _holds_weights(copy) and owner.weightsOf is None:
                        copy.weightsOf = owner
                if made_under:
                    test, value = made_under[0]
                    group_of[made[k]] = (id(test), value)
                    tests[id(test)] = test
                elif block is not first:
                    return None   # a node of one block only, made under no choice
            origins.setdefault(made[k], {})[id(block)] = node
    common = [m for m in made.values() if m not in group_of]
    if any(len(origins[m]) != 2 for m in common):
        return None
    conditions = {}
    for test_id, test in tests.items():
        expression = _expression(test, by_source, constants, derived)
        if expression is None:
            return None
        conditions[test_id] = expression
    block_envs = {id(b): [env for env, use in zip(envs, uses) if use[0].block is b] for b in blocks}

    def runs(group, block) -> bool | None:
        """Whether ``block``'s uses run the branch ``group`` (None: its uses disagree)."""
        try:
            found = {evaluate(conditions[group[0]], env) == group[1] for env in block_envs[id(block)]}
        except BlockError:
            return None
        return found.pop() if len(found) == 1 else None

    otherwise: dict = {}

    def choose(read: dict):
        """The template node a reader reads, given what each block reads there (block id -> template node)."""
        a, b = read[id(first)], read[id(second)]
        if a is b:
            return a
        for mine, theirs, other in ((a, b, second), (b, a, first)):
            group = group_of.get(mine)
            if group is not None and runs(group, other) is False:
                if otherwise.setdefault(group, theirs) is not theirs:
                    return None
                return mine
        return None

    wiring = {}
    for node in made.values():
        present = origins[node]
        per_block = {bid: [made[key(dep)] for dep in original.inputs] for bid, original in present.items()}
        lengths = {len(v) for v in per_block.values()}
        if len(lengths) != 1:
            return None
        inputs = []
        for i in range(lengths.pop()):
            if len(per_block) == 1:
                inputs.append(next(iter(per_block.values()))[i])
                continue
            chosen = choose({bid: v[i] for bid, v in per_block.items()})
            if chosen is None:
                return None
            inputs.append(chosen)
        wiring[node] = inputs
    if len(first.outputs) != len(second.outputs):
        return None
    outputs = [choose({id(first): made[key(a)], id(second): made[key(b)]})
               for a, b in zip(first.outputs, second.outputs)]
    if None in outputs:
        return None
    guards = []
    everything = [*template.nodes, *added]
    for test_id in tests:
        branches = [[n for n in everything if group_of.get(n) == (test_id, value)] for value in (True, False)]
        results = []
        for value, members in zip((True, False), branches):
            inside = set(members)
            read = {dep for n in everything if n not in inside for dep in wiring.get(n, ()) if dep in inside}
            read |= {o for o in outputs if o in inside}
            if len(read) > 1:
                return None
            results.append(next(iter(read), None))
        (then, alternative), (then_result, else_result) = branches, results
        if then and alternative:   # the else branch's value is what the if branch's result is otherwise
            if then_result is None or else_result is not None or otherwise.get((test_id, True)) not in alternative:
                return None
            guard = eclass("Guard")(condition=conditions[test_id], result=then_result,
                                    otherwise=otherwise.get((test_id, True)))
            guard.nodes.extend(then)
            guard.alternative.extend(alternative)
        else:
            value = bool(then)
            members, result = (then, then_result) if value else (alternative, else_result)
            condition = conditions[test_id] if value else eclass("UnaryExpression")(
                operator=eenum("UnaryOperator").getEEnumLiteral("not"), operand=_clone(conditions[test_id]))
            if result is None:
                return None
            guard = eclass("Guard")(condition=condition, result=result, otherwise=otherwise.get((test_id, value)))
            guard.nodes.extend(members)
        guards.append(guard)
    template.nodes.extend(added)
    for node, inputs in wiring.items():
        node.inputs.clear()
        node.inputs.extend(inputs)
    template.outputs.clear()
    template.outputs.extend(outputs)
    return template, guards, origins


def _wiring(block) -> tuple:
    """A block's nodes, their inputs and its outputs, to put back with :func:`_rewire`."""
    return list(block.nodes), {node: list(node.inputs) for node in block.nodes}, list(block.outputs)


def _rewire(block, wiring: tuple) -> None:
    nodes, inputs, outputs = wiring
    for node in [n for n in block.nodes if n not in inputs]:
        block.nodes.remove(node)
    for node in nodes:
        node.inputs.clear()
        node.inputs.extend(inputs[node])
        node.weightsOf = node.weightsOf if node.weightsOf in inputs else None
    block.outputs.clear()
    block.outputs.extend(outputs)


def _clone(expression):
    """A copy of an expression tree (an expression is contained once)."""
    new = expression.eClass()
    for feature in expression.eClass.eAllStructuralFeatures():
        value = expression.eGet(feature)
        if isinstance(feature, EReference) and feature.containment:
            if feature.many:
                getattr(new, feature.name).extend(_clone(v) for v in value)
            elif value is not None:
                new.eSet(feature, _clone(value))
        elif feature.many:
            getattr(new, feature.name).extend(value)
        else:
            new.eSet(feature, value)
    return new


__all__ = ["INSTANCE_ARGUMENT", "ConstructorRecords", "class_constants", "constructor_values", "parameterise"]
