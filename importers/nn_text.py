"""Importer from `.nn` text to the pivot model.

textX parses the text with the generic grammar in ``grammars/nn.tx``; this
module checks every call against the layer registry and builds the pyecore
model, collecting all problems (unknown keyword, unknown or duplicate
argument, wrong value type, unknown reference, ...) as located diagnostics.
"""
from __future__ import annotations

import difflib
import json
import re

from textx import TextXSyntaxError, get_location
from textx.exceptions import TextXError

from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors, set_location
from nnpivot.fileio import read_text
from nnpivot.grammars import metamodel, reader
from nnpivot.kinds import KINDS, PER_AXIS, Kind, camel, canonical_per_axis, is_enum, snake
from nnpivot.kinds.training import CLIPPING_SETTINGS, LOSS_SETTINGS, OPTIMIZERS, SCHEDULE_CLASSES
from nnpivot.metamodel import (
    Block,
    BlockCall,
    Input,
    Model,
    Optimizer,
    PackedInput,
    Parameter,
    Select,
    TrainingConfig,
    eclass,
    eenum,
)
from nnpivot.metamodel.blocks import BlockError, evaluate, fits, literal_of, static_type, type_name
from nnpivot.passes import CANONICALISATION, run_pass, wiring_problems

TRAINING_SETTINGS = {"optimizer", "loss", "epochs", "batch_size", "metrics", "schedule", *CLIPPING_SETTINGS}
_SETTING_FEATURES = {"batch_size": "batchSize", **CLIPPING_SETTINGS}  # DSL setting -> TrainingConfig feature
PADDING_ALIASES = {"pads"}  # written through `padding=` in the DSL, see _padding_value
SHARES = "shares"  # `y2 = dense(x2, 4, shares=y1)`: the metamodel's Node.weightsOf
PARAMETER_TYPES = ("int", "float", "bool", "string")
# Operators of an expression chain (nn.tx Chain) -> (BinaryOperator literal, precedence as in Python).
BINARY = {"or": ("or", 1), "and": ("and", 2), "==": ("eq", 4), "!=": ("ne", 4), "<": ("lt", 4), "<=": ("le", 4),
          ">": ("gt", 4), ">=": ("ge", 4), "+": ("add", 5), "-": ("sub", 5), "*": ("mul", 6), "/": ("div", 6),
          "div": ("floordiv", 6), "%": ("mod", 6)}
NOT_PRECEDENCE = 3
MAX_OPERATORS = 64
EXPRESSION_RULES = frozenset({"Chain", "Group", "PrefixedTerm"})  # (a Group or a PrefixedTerm is in a Chain)


def _meta():
    return metamodel()


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)  # 0.5: s3 -> s2
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Builder:
    def __init__(self, filename: str, line_columns=None):
        self.filename = filename
        self.diagnostics: list[Diagnostic] = []
        self.line_columns = line_columns  # set for a tree of grammars.reader, which has no textX parser
        self.parameters: dict = {}  # name -> BlockParameter of the block being built
        self.defaulted: set = set()  # parameters written with a default that was wrong (reported once)

    # -- helpers -------------------------------------------------------------
    def loc(self, tx_obj) -> Location:
        if self.line_columns is not None:
            return Location(self.filename, *self.line_columns(tx_obj._tx_position))
        where = get_location(tx_obj)
        return Location(self.filename, where["line"], where["col"])

    def fail(self, code: str, message: str, tx_obj) -> None:
        self.diagnostics.append(error(code, message, self.loc(tx_obj)))

    # -- model ---------------------------------------------------------------
    def model(self, tx_model):
        decl = tx_model.model
        model = Model(name=decl.name)
        set_location(model, self.loc(decl))
        if decl.description:
            model.description = _decode(decl.description)
        blocks = [e for e in decl.elements if e.__class__.__name__ == "BlockDecl"]
        block_objs = {}
        for b in blocks:
            if b.name in block_objs or b.name in KINDS:
                what = "a block" if b.name in block_objs else "a layer keyword"
                self.fail("duplicate-name", f"block name '{b.name}' is already {what}", b)
                continue
            block = Block(name=b.name)
            set_location(block, self.loc(b))
            block_objs[b.name] = block
            model.blocks.append(block)
            self.block_parameters(block, b)
        self.blocks = block_objs
        for b in blocks:
            if block_objs.get(b.name) is not None and b.name in block_objs:
                block = block_objs[b.name]
                self.parameters = {p.name: p for p in block.parameters}
                self.graph(block, b.elements)
        self.parameters = {}
        self.graph(model, [e for e in decl.elements if e.__class__.__name__ != "BlockDecl"])
        trainings = [e for e in decl.elements if e.__class__.__name__ == "TrainingDecl"]
        for extra in trainings[1:]:
            self.fail("duplicate-training", "the model has more than one training section", extra)
        if trainings:
            model.training = self.training(trainings[0])
        return model

    def graph(self, graph, elements) -> None:
        scope: dict[str, object] = {}
        pending = []  # (node, tx call or selection) resolved once every name is known
        guards = [e for e in elements if e.__class__.__name__ == "GuardDecl"]
        loops = [e for e in elements if e.__class__.__name__ == "LoopDecl"]
        indexes = {}   # node statement -> the BlockParameter of its loop's index
        statements = {n.name for e in elements for n in (e.nodes if e.__class__.__name__ == "LoopDecl" else
                      [*e.nodes, *e.alternative] if e.__class__.__name__ == "GuardDecl" else [e])
                      if hasattr(n, "name")}
        for decl in loops:
            decl.index_parameter = None
            if decl.index in self.parameters or decl.index in statements:
                what = "parameter" if decl.index in self.parameters else "node"
                self.fail("duplicate-name", f"loop index '{decl.index}' is already a {what} of {graph.name}", decl)
                continue
            index = eclass("BlockParameter")(name=decl.index, type=eenum("ParameterType").getEEnumLiteral("int"))
            set_location(index, self.loc(decl))
            indexes.update({id(n): index for n in decl.nodes})
            decl.index_parameter = index
        elements = [n for e in elements
                    for n in ([*e.nodes, *e.alternative] if e.__class__.__name__ == "GuardDecl" else
                              e.nodes if e.__class__.__name__ == "LoopDecl" else [e])]
        for element in elements:
            kind_name = element.__class__.__name__
            if kind_name == "TrainingDecl" or kind_name == "OutputDecl":
                continue
            if kind_name == "PackedInputDecl":
                self.packed_input(graph, element, scope)
                continue
            if element.name in scope or element.name in self.parameters:
                self.fail("duplicate-name", f"'{element.name}' is defined twice in {graph.name}", element)
                continue
            node = self.input(element) if kind_name == "InputDecl" else self.node_head(element)
            if node is None:
                scope[element.name] = None  # already reported: uses of it stay quiet
                continue
            set_location(node, self.loc(element))
            scope[element.name] = node
            graph.nodes.append(node)
            if kind_name == "NodeDecl":
                pending.append((node, element))
        for node, element in pending:
            index = indexes.get(id(element))
            if index is None:
                self.node_body(node, element, scope)
                continue
            outer, self.parameters = self.parameters, {**self.parameters, index.name: index}
            self.node_body(node, element, scope)
            self.parameters = outer
        outputs = [e for e in elements if e.__class__.__name__ == "OutputDecl"]
        for decl in outputs:
            for ref in decl.refs:
                target = self.resolve(ref, scope)
                if target is not None:
                    graph.outputs.append(target)
        for decl in guards:
            self.guard(graph, decl, scope)
        for decl in loops:
            self.loop(graph, decl, scope)

    # -- parameterised blocks -------------------------------------------------
    def block_parameters(self, block, decl) -> None:
        for param in decl.params:
            if param.name in {p.name for p in block.parameters}:
                self.fail("duplicate-name", f"block {block.name} has two parameters '{param.name}'", param)
                continue
            if param.type not in PARAMETER_TYPES:
                self.fail("unknown-type", f"parameter '{param.name}': unknown type '{param.type}' (one of "
                          f"{', '.join(PARAMETER_TYPES)}){_suggest(param.type, PARAMETER_TYPES)}", param)
                continue
            parameter = eclass("BlockParameter")(name=param.name, type=eenum("ParameterType").getEEnumLiteral(
                param.type), perCall=bool(param.perCall))
            set_location(parameter, self.loc(param))
            if param.default is not None:
                self.defaulted.add(parameter)
                default = self.expression(param.default)
                value = self.constant(default, param.default)
                if value is not _INVALID and not fits(parameter, value):
                    self.fail("argument-type", f"parameter '{param.name}' is {param.type}, its default is "
                              f"{type_name(value)} {_show(value)}", param.default)
                elif value is not _INVALID:
                    parameter.default = literal_of(float(value) if param.type == "float" else value)
            block.parameters.append(parameter)

    def constant(self, expression, tx_value):
        """The value of an expression that reads no parameter (a default), else _INVALID (reported)."""
        if expression is None:
            return _INVALID
        try:
            return evaluate(expression, {})
        except BlockError as exc:
            self.fail(exc.code, f"a default is a constant: {exc}", tx_value)
            return _INVALID

    def guard(self, graph, decl, scope) -> None:
        condition = self.expression(decl.condition)
        if condition is None:
            return
        if static_type(condition) not in ("bool", None):
            self.fail("expression-type", f"the condition of 'if' must be true or false, not "
                                         f"{static_type(condition)}", decl.condition)
        guard = eclass("Guard")(condition=condition)
        set_location(guard, self.loc(decl))
        members = [scope.get(n.name) for n in decl.nodes]
        guard.nodes.extend(m for m in members if m is not None)
        alternative = [scope.get(n.name) for n in decl.alternative]
        guard.alternative.extend(m for m in alternative if m is not None)
        for element, node in zip(decl.alternative, alternative):
            read = [dep.name for dep in (node.inputs if node is not None else []) if dep in members]
            if read:
                self.fail("bad-guard", f"'{element.name}' of the else branch reads '{read[0]}' of the 'if' branch, "
                                       "which never runs with it", element)
        for element, node in zip(decl.nodes, members):
            read = [dep.name for dep in (node.inputs if node is not None else []) if dep in alternative]
            if read:
                self.fail("bad-guard", f"'{element.name}' of the 'if' branch reads '{read[0]}' of the else branch, "
                                       "which never runs with it", element)
        if decl.result is not None:
            result, otherwise = self.resolve(decl.result, scope), self.resolve(decl.otherwise, scope)
            if result is not None and result not in members:
                self.fail("bad-guard", f"'else {decl.result.name} = ...' names a node outside the 'if'", decl.result)
            elif otherwise is not None and otherwise in members:
                self.fail("bad-guard", f"'{decl.otherwise.name}' is inside the 'if': it is absent too",
                          decl.otherwise)
            elif otherwise is not None and decl.alternative and otherwise not in alternative:
                self.fail("bad-guard", f"'{decl.otherwise.name}' is not a node of the else branch", decl.otherwise)
            else:
                guard.result, guard.otherwise = result, otherwise
        graph.guards.append(guard)

    def loop(self, graph, decl, scope) -> None:
        """``for i in range(count) { ...  x = y }``: a Loop of the statements, carrying x into y."""
        if decl.index_parameter is None:
            return   # its index is reported
        count = self.expression(decl.count)
        if count is None:
            return
        if static_type(count) not in ("int", None):
            self.fail("expression-type", f"the count of loop '{decl.index}' must be an int, not "
                                         f"{static_type(count)}", decl.count)
            return
        members = [scope.get(n.name) for n in decl.nodes]
        initial, result = self.resolve(decl.initial, scope), self.resolve(decl.result, scope)
        if initial is None or result is None or None in members:
            return
        if initial in members:
            self.fail("bad-loop", f"'{decl.initial.name} = ...' must name a value from before the loop, not one of "
                                  "its statements", decl.initial)
            return
        if result not in members:
            self.fail("bad-loop", f"'... = {decl.result.name}' must name a statement of the loop", decl.result)
            return
        loop = eclass("Loop")(index=decl.index_parameter, count=count, initial=initial, result=result)
        set_location(loop, self.loc(decl))
        loop.nodes.extend(members)
        inside = set(members)
        for node in graph.nodes:
            read = [dep for dep in node.inputs if dep in inside and dep is not result]
            if node not in inside and read:
                self.fail("bad-loop", f"'{node.name}' reads '{read[0].name}' of loop '{decl.index}': after the "
                                      f"loop only its result '{result.name}' is read", node)
                return
        read = [o for o in graph.outputs if o in inside and o is not result]
        if read:
            self.fail("bad-loop", f"block {graph.name} outputs '{read[0].name}' of loop '{decl.index}', whose value "
                                  f"outside the loop is only its result '{result.name}'", decl)
            return
        graph.loops.append(loop)

    def is_expression(self, tx_value) -> bool:
        """True when a value must become an expression: operators, parentheses or a parameter's name."""
        cls = tx_value.__class__.__name__
        if cls in EXPRESSION_RULES:
            return True
        if cls == "NameValue":
            return tx_value.value in self.parameters
        if cls == "ListValue":
            return any(self.is_expression(v) for v in tx_value.items)
        return False

    def expression(self, tx_value):
        """The Expression of a textX value; None when a part of it is wrong (reported)."""
        cls = tx_value.__class__.__name__
        if cls == "Chain":
            return _ChainReader(self, tx_value).read()
        if cls == "Group":
            if tx_value.condition is not None:
                parts = [self.expression(v) for v in (tx_value.condition, tx_value.inner, tx_value.otherwise)]
                if None in parts:
                    return None
                return self.located(eclass("Conditional")(condition=parts[0], then=parts[1], otherwise=parts[2]),
                                    tx_value)
            return self.expression(tx_value.inner)
        if cls == "ListValue":
            items = [self.expression(v) for v in tx_value.items]
            if None in items:
                return None
            listed = eclass("ListExpression")()
            listed.items.extend(items)
            return self.located(listed, tx_value)
        if cls == "NameValue":
            parameter = self.parameters.get(tx_value.value)
            if parameter is None:
                where = "" if self.parameters else " (only a block's parameters can be used in expressions)"
                self.fail("unknown-parameter", f"'{tx_value.value}' is not a parameter here"
                          f"{_suggest(tx_value.value, self.parameters)}{where}", tx_value)
                return None
            return self.located(eclass("ParameterRef")(parameter=parameter), tx_value)
        return self.located(literal_of(_plain(tx_value)), tx_value)

    def located(self, element, tx_value):
        set_location(element, self.loc(tx_value))
        return element

    def bind(self, node, kind: Kind, feature_name: str, tx_value) -> None:
        """``feature = expression``: an AttributeBinding, checked against the attribute's type."""
        feature = kind.attribute(feature_name)
        if feature_name == "padding" and kind.attribute("pads") is not None:
            self.bind_padding(node, kind, tx_value)
            return
        expression = self.expression(tx_value)
        if expression is None:
            return
        wanted = _expression_types(feature)
        found = static_type(expression)
        if found == "list" and feature.many:
            bad = [static_type(item) for item in expression.items if static_type(item) not in (*wanted, None)]
            found = bad[0] if bad else None
        if found is not None and found not in wanted:
            self.fail("expression-type", f"{kind.keyword} argument {snake(feature_name)} expects "
                      f"{_describe_type(feature)}, the expression gives {found}", tx_value)
            return
        binding = eclass("AttributeBinding")(feature=feature_name, value=expression)
        set_location(binding, self.loc(tx_value))
        node.bindings.append(binding)

    def bind_padding(self, node, kind: Kind, tx_value) -> None:
        """``padding=<expression>`` in a block: the begin and end pads of every spatial axis computed from the
        parameters, written in any form a plain padding takes (one value for every side, one per axis, or a
        [begin, end] pair per axis). Bound to the pivot's ``pads`` as one list expression (b0, e0, b1, e1...),
        with an explicit padding mode."""
        sides = self.padding_sides(tx_value, kind.spatial_dims or 1, kind)
        if sides is None:
            return
        for written in dict.fromkeys(sides):   # each value once: a wrong one is reported once
            expression = self.expression(written)
            if expression is None:
                return
            found = static_type(expression)
            if found not in ("int", None):
                self.fail("expression-type", f"{kind.keyword} argument padding expects integers, the expression "
                                             f"gives {found}", written)
                return
        pads = self.located(eclass("ListExpression")(), tx_value)
        pads.items.extend(self.expression(written) for written in sides)   # one expression object per side
        node.padding = eenum("Padding").getEEnumLiteral("explicit")
        binding = eclass("AttributeBinding")(feature="pads", value=pads)
        set_location(binding, self.loc(tx_value))
        node.bindings.append(binding)

    def padding_sides(self, tx_value, dims: int, kind: Kind) -> list | None:
        """The written value of each side of a padding expression, begin and end per spatial axis; None when its
        form is wrong (reported)."""
        while True:   # ([a, 0]) is the list
            cls = tx_value.__class__.__name__
            if cls == "Chain" and not tx_value.ops and tx_value.terms[0].__class__.__name__ == "Group":
                tx_value = tx_value.terms[0]
            elif cls == "Group" and tx_value.condition is None:
                tx_value = tx_value.inner
            else:
                break
        if tx_value.__class__.__name__ != "ListValue":
            return [tx_value] * (2 * dims)
        items = tx_value.items
        lists = [item.__class__.__name__ == "ListValue" for item in items]
        if len(items) == dims and all(lists) and all(len(item.items) == 2 for item in items):
            return [side for item in items for side in item.items]
        if len(items) == dims and not any(lists):
            return [item for item in items for _ in range(2)]
        written = "[" + ", ".join(f"a list of {len(i.items)}" if is_list else "a value"
                                  for i, is_list in zip(items, lists)) + "]"
        hint = " (one axis padded [begin, end] is written [[begin, end]])" if dims == 1 and len(items) == 2 \
            and not any(lists) else ""
        self.fail("expression-type", f"{kind.keyword} argument padding expects one expression, {dims} (one per "
                                     f"axis) or {dims} [begin, end] pair(s), got {written}{hint}", tx_value)
        return None

    def block_arguments(self, node, call, scope) -> None:
        """A block call's arguments: tensor inputs first, then parameter values by position or by name."""
        block = node.block
        seen: set[str] = set()
        parameters = list(block.parameters)
        by_name = {p.name: p for p in parameters}
        given, mentioned = {}, set()
        position = 0
        for arg in call.args:
            value = arg.value
            if arg.key == SHARES:
                self.shares(node, arg, scope, seen)
                continue
            if not arg.key and value.__class__.__name__ == "NameValue" and not position \
                    and value.value not in self.parameters:   # tensor inputs (their count is checked later)
                target = self.resolve(_Ref(value), scope)
                if target is not None:
                    node.inputs.append(target)
                continue
            if arg.key:
                parameter = by_name.get(arg.key)
                if parameter is None:
                    self.fail("unknown-parameter", f"block {block.name} has no parameter '{arg.key}'"
                              f"{_suggest(arg.key, by_name)}", arg)
                    continue
            elif position >= len(parameters):
                self.fail("too-many-arguments", f"block {block.name} takes {len(parameters)} parameter value(s)"
                          f" ({', '.join(by_name) or 'none'})", arg)
                continue
            else:
                parameter = parameters[position]
                position += 1
            if parameter in given or parameter in mentioned:
                self.fail("duplicate-argument", f"{parameter.name} is given twice", arg)
                continue
            mentioned.add(parameter)   # a wrong value is reported once, not again as a missing one
            expression = self.expression(value)
            if expression is None:
                continue
            found = static_type(expression)
            if found is not None and not (found == parameter.type.name or (found, parameter.type.name) ==
                                          ("int", "float")):
                self.fail("argument-type", f"parameter '{parameter.name}' of block {block.name} is "
                          f"{parameter.type.name}, got {found}", value)
                continue
            argument = eclass("Argument")(parameter=parameter, value=expression)
            set_location(argument, self.loc(arg))
            given[parameter] = argument
        node.arguments.extend(given[p] for p in parameters if p in given)
        missing = [p.name for p in parameters if p not in mentioned and p.default is None and p not in self.defaulted]
        if missing:
            self.fail("missing-block-argument", f"call '{node.name}' of block {block.name} gives no value for "
                      f"{', '.join(repr(m) for m in missing)}", call)

    def resolve(self, ref, scope):
        target = scope.get(ref.name)
        if target is None and ref.name not in scope:
            known = [*scope, *self.parameters]
            self.fail("unknown-reference", f"'{ref.name}' is not defined here{_suggest(ref.name, known)}", ref)
        return target

    def packed_input(self, graph, decl, scope: dict) -> None:
        """``input inputs = (output, state)``: an input per item, and the argument packing them."""
        names = [decl.name, *decl.items]
        clashes = [n for i, n in enumerate(names) if n in scope or n in self.parameters or n in names[:i]]
        if clashes or len(decl.items) < 2:
            if clashes:
                self.fail("duplicate-name", f"'{clashes[0]}' is defined twice in {graph.name}", decl)
            else:
                self.fail("packed-input-single", f"argument '{decl.name}' of {graph.name} packs one input: write "
                          f"'input {decl.items[0]}'", decl)
            for name in decl.items:
                scope.setdefault(name, None)   # already reported: uses of it stay quiet
            return
        items = []
        for name in decl.items:
            node = Input(name=name)
            set_location(node, self.loc(decl))
            scope[name] = node
            graph.nodes.append(node)
            items.append(node)
        pack = PackedInput(name=decl.name, items=items)
        set_location(pack, self.loc(decl))
        graph.packs.append(pack)

    def input(self, decl):
        node = Input(name=decl.name)
        if decl.dtype:
            literal = eenum("DType").getEEnumLiteral(decl.dtype)
            if literal is None:
                names = [lit.name for lit in eenum("DType").eLiterals]
                self.fail("unknown-dtype", f"unknown dtype '{decl.dtype}'{_suggest(decl.dtype, names)}", decl)
            else:
                node.dtype = literal
            node.shape.extend([-1 if d.unknown else d.size for d in decl.dims])
        return node

    def node_head(self, decl):
        """Create the node of a declaration; arguments are filled in by node_body."""
        if decl.selection is not None:
            return Select(name=decl.name, index=decl.selection.index)
        op = decl.call.op
        if op in KINDS:
            return KINDS[op].eclass(name=decl.name)
        if op in self.blocks:
            return BlockCall(name=decl.name, block=self.blocks[op])
        self.fail("unknown-kind", f"unknown layer or block '{op}'{_suggest(op, [*KINDS, *self.blocks])}",
                  decl.call)
        return None

    def node_body(self, node, decl, scope) -> None:
        if decl.selection is not None:
            source = self.resolve(decl.selection.source, scope)
            if source is not None:
                node.inputs.append(source)
            return
        if node.eClass.name == "BlockCall":
            self.block_arguments(node, decl.call, scope)
            return
        kind = KINDS.get(decl.call.op)
        positional_count = 0
        seen: set[str] = set()
        for arg in decl.call.args:
            value = arg.value
            if not arg.key and not positional_count and value.__class__.__name__ == "NameValue" \
                    and value.value not in self.parameters:
                target = self.resolve(_Ref(value), scope)
                if target is not None:
                    node.inputs.append(target)
            elif arg.key == SHARES:
                self.shares(node, arg, scope, seen)
            elif arg.key:
                self.keyword_arg(node, kind, arg, seen)
            elif kind is None:
                self.fail("unknown-argument", f"block call '{node.name}' takes only inputs", arg)
            elif positional_count >= len(kind.positional):
                self.fail("too-many-arguments", f"{kind.keyword} takes {len(kind.positional)} positional "
                          f"value(s) ({', '.join(snake(p) for p in kind.positional) or 'none'})", arg)
            else:
                name = kind.positional[positional_count]
                positional_count += 1
                seen.add(name)
                self.assign(node, kind, name, value)

    def shares(self, node, arg, scope, seen: set[str]) -> None:
        """``shares=owner``: the node computes with the weights of ``owner`` (any layer or block call)."""
        if SHARES in seen:
            self.fail("duplicate-argument", f"{SHARES} is given twice", arg)
            return
        seen.add(SHARES)
        if arg.value.__class__.__name__ != "NameValue":
            self.fail("bad-value", f"{SHARES} expects the name of the node whose weights '{node.name}' uses, got "
                      f"{_show(_plain(arg.value))}", arg.value)
            return
        owner = self.resolve(_Ref(arg.value), scope)
        if owner is not None:
            node.weightsOf = owner

    def keyword_arg(self, node, kind: Kind | None, arg, seen: set[str]) -> None:
        if kind is None:
            self.fail("unknown-argument", f"block call '{node.name}' takes no argument '{arg.key}'", arg)
            return
        names = {snake(a.name): a.name for a in kind.attributes() if a.name not in PADDING_ALIASES}
        feature = names.get(arg.key)
        if feature is None:
            self.fail("unknown-argument", f"{kind.keyword} has no argument '{arg.key}'{_suggest(arg.key, names)}",
                      arg)
            return
        if feature in seen:
            self.fail("duplicate-argument", f"{arg.key} is given twice", arg)
            return
        seen.add(feature)
        self.assign(node, kind, feature, arg.value)

    # -- values --------------------------------------------------------------
    def assign(self, node, kind: Kind, feature_name: str, tx_value) -> None:
        if self.is_expression(tx_value):
            self.bind(node, kind, feature_name, tx_value)
            return
        feature = kind.attribute(feature_name)
        if tx_value.__class__.__name__ == "NameValue" and self.parameters and feature.eType.name in (
                "EInt", "EDouble", "EBoolean"):   # in a block, a word where a number goes is meant as a parameter
            self.fail("unknown-parameter", f"'{tx_value.value}' is not a parameter here"
                      f"{_suggest(tx_value.value, self.parameters)}", tx_value)
            return
        value = _plain(tx_value)
        if feature_name == "padding" and kind.attribute("pads") is not None:
            if self.parameters and tx_value.__class__.__name__ == "ListValue" and _words_in(tx_value):
                self.bind_padding(node, kind, tx_value)   # a word where a pad goes is meant as a parameter
                return
            self.padding(node, kind.spatial_dims, value, tx_value)
            return
        converted = _convert(feature, value)
        if converted is _INVALID:
            self.fail("bad-value", f"{kind.keyword} argument {snake(feature_name)} expects "
                      f"{_describe_type(feature)}, got {_show(value)}", tx_value)
            return
        if feature.many:
            if feature_name in PER_AXIS:
                converted = canonical_per_axis(converted)
            getattr(node, feature_name).extend(converted)
        else:
            setattr(node, feature_name, converted)

    def padding(self, node, dims: int, value, tx_value) -> None:
        """`padding=same|valid`, an int, one int per axis, or [begin, end] pairs per axis.

        Stored as the pivot's explicit begin/end pads for every spatial axis."""
        literal = eenum("Padding")
        if isinstance(value, str) and value in ("same", "valid"):
            node.padding = literal.getEEnumLiteral(value)
            return
        if _is_int(value):
            pairs = [[value, value]] * dims
        elif isinstance(value, list) and len(value) == dims and all(_is_int(v) for v in value):
            pairs = [[v, v] for v in value]
        elif isinstance(value, list) and len(value) == dims and all(
                isinstance(v, list) and len(v) == 2 and all(map(_is_int, v)) for v in value):
            pairs = value
        else:
            self.fail("bad-value", f"padding expects valid, same, an int, {dims} ints or {dims} [begin, end] "
                      f"pairs, got {_show(value)}", tx_value)
            return
        flat = [p for pair in pairs for p in pair]
        if any(p < 0 for p in flat):
            self.fail("bad-value", "padding cannot be negative", tx_value)
            return
        if any(flat):
            node.padding = literal.getEEnumLiteral("explicit")
            node.pads.extend(flat)
        else:
            node.padding = literal.getEEnumLiteral("valid")

    # -- training ------------------------------------------------------------
    def training(self, decl):
        config = TrainingConfig()
        set_location(config, self.loc(decl))
        for setting in decl.settings:
            key = setting.key
            if key not in TRAINING_SETTINGS:
                self.fail("unknown-setting", f"unknown training setting '{key}'{_suggest(key, TRAINING_SETTINGS)}",
                          setting)
                continue
            set_location(config, self.loc(setting), feature=_SETTING_FEATURES.get(key, key))
            if key == "optimizer":
                config.optimizer = self.optimizer(setting)
                continue
            if key == "schedule":
                config.schedule = self.schedule(setting)
                continue
            if key == "loss" and setting.call is not None:
                config.loss = setting.call.op
                self.loss_settings(config, setting.call)
                continue
            if setting.call is not None:
                self.fail("bad-value", f"{key} takes no arguments", setting)
                continue
            values = [_plain(v) for v in setting.values]
            if key == "metrics":
                if not all(isinstance(v, str) for v in values):
                    self.fail("bad-value", "metrics expects names", setting)
                    continue
                config.metrics.extend(values)
            elif key == "loss":
                if len(values) != 1 or not isinstance(values[0], str):
                    self.fail("bad-value", "loss expects one name, e.g. cross_entropy", setting)
                    continue
                config.loss = values[0]
            elif key in CLIPPING_SETTINGS:
                if len(values) != 1 or isinstance(values[0], (bool, str, list)) or not values[0] > 0:
                    self.fail("bad-value", f"{key} expects one positive number", setting)
                    continue
                setattr(config, CLIPPING_SETTINGS[key], float(values[0]))
            else:
                if len(values) != 1 or not _is_int(values[0]):
                    self.fail("bad-value", f"{key} expects one integer", setting)
                    continue
                setattr(config, "batchSize" if key == "batch_size" else key, values[0])
        return config

    def loss_settings(self, config, call) -> None:
        """``loss cross_entropy(reduction=sum, label_smoothing=0.1, labels=class_indices)``."""
        for arg in call.args:
            feature_name = LOSS_SETTINGS.get(arg.key or "")
            if feature_name is None:
                self.fail("unknown-argument", f"loss has no setting '{arg.key}'{_suggest(arg.key or '', LOSS_SETTINGS)}"
                          f"; known: {', '.join(LOSS_SETTINGS)}", arg)
                continue
            self.set_feature(config, config.eClass.findEStructuralFeature(feature_name), arg)

    def set_feature(self, obj, feature, arg) -> None:
        value = _convert(feature, _plain(arg.value))
        if value is _INVALID:
            self.fail("bad-value", f"{arg.key} expects {_describe_type(feature)}", arg)
        elif feature.many:
            getattr(obj, feature.name).extend(value)
        else:
            setattr(obj, feature.name, value)
        set_location(obj, self.loc(arg), feature=feature.name)

    def schedule(self, setting):
        """``schedule step_decay(step_size=2, gamma=0.5, interval=epoch)``: a LearningRateSchedule class."""
        names = {snake(name): name for name in SCHEDULE_CLASSES}
        call = setting.call
        keyword = call.op if call is not None else next(iter([_plain(v) for v in setting.values][:1]), None)
        if not isinstance(keyword, str) or keyword not in names:
            self.fail("bad-value", f"unknown schedule '{keyword}'{_suggest(str(keyword), names)}; known: "
                      f"{', '.join(names)}", setting)
            return None
        schedule = eclass(names[keyword])()
        set_location(schedule, self.loc(setting))
        for arg in call.args if call is not None else ():
            feature = schedule.eClass.findEStructuralFeature(camel(arg.key or ""))
            if feature is None or not arg.key:
                known = [snake(f.name) for f in schedule.eClass.eAllStructuralFeatures()]
                self.fail("unknown-argument", f"schedule {keyword} has no argument '{arg.key}'"
                          f"{_suggest(arg.key or '', known)}; known: {', '.join(known)}", arg)
                continue
            self.set_feature(schedule, feature, arg)
        return schedule

    def optimizer(self, setting):
        call = setting.call
        if call is None:
            values = [_plain(v) for v in setting.values]
            if len(values) != 1 or not isinstance(values[0], str):
                self.fail("bad-value", "optimizer expects a name, e.g. adam(learning_rate=0.001)", setting)
                return None
            optimizer = Optimizer(kind=values[0])
            set_location(optimizer, self.loc(setting))
            return optimizer
        optimizer = Optimizer(kind=call.op)
        set_location(optimizer, self.loc(setting))
        known = OPTIMIZERS.get(call.op)
        for arg in call.args:
            value = _plain(arg.value)
            flag = known is not None and (parameter := known.parameter(arg.key)) is not None and parameter.boolean
            if flag and isinstance(value, bool):
                value = float(value)  # the pivot stores flags as 0/1
            if arg.key == "rule":   # whose update rule the parameters are written for: pytorch or keras
                literal_value = eenum("UpdateRule").getEEnumLiteral(value) if isinstance(value, str) else None
                if literal_value is None:
                    names = ", ".join(lit.name for lit in eenum("UpdateRule").eLiterals)
                    self.fail("bad-value", f"an optimizer's rule is one of {names}", arg)
                else:
                    optimizer.rule = literal_value
            elif not arg.key or isinstance(value, (bool, str, list)):
                self.fail("bad-value", "optimizer parameters are written key=number (flags: true/false)", arg)
            elif arg.key == "learning_rate":
                optimizer.learningRate = float(value)
            else:
                parameter = Parameter(key=arg.key, value=float(value))
                set_location(parameter, self.loc(arg))
                optimizer.parameters.append(parameter)
        return optimizer


class _Ref:
    """A NameValue seen as a reference (same name and location)."""

    def __init__(self, value):
        self.name = value.value
        self._tx_position = value._tx_position
        self._tx_position_end = value._tx_position_end
        self._tx_model = value  # get_location walks up to the root from here

    def __getattr__(self, item):
        return getattr(self._tx_model, item)


class _ChainReader:
    """An expression chain (terms and operators, nn.tx Chain) as an Expression tree, by precedence climbing."""

    def __init__(self, builder: _Builder, chain):
        self.builder = builder
        self.terms = chain.terms
        self.ops = chain.ops
        self.chain = chain
        self.term = 0     # the term being read; ops[term] follows it
        self.prefix = 0   # prefixes of that term already read

    def read(self):
        prefixes = max((len(t.prefixes) for t in self.terms if t.__class__.__name__ == "PrefixedTerm"), default=0)
        if len(self.ops) > MAX_OPERATORS or prefixes > MAX_NESTING:   # evaluating and printing recurse per level
            self.builder.fail("nesting-too-deep", f"an expression of more than {MAX_OPERATORS} operators (or "
                              f"{MAX_NESTING} 'not' in a row)", self.chain)
            return None
        try:
            return self.expression(0)
        except _Unreadable:
            return None

    def expression(self, lowest: int):
        left = self.unary()
        while self.term < len(self.ops) and BINARY[self.ops[self.term]][1] >= lowest:
            op = self.ops[self.term]
            self.term, self.prefix = self.term + 1, 0
            right = self.expression(BINARY[op][1] + 1)
            operator = eenum("BinaryOperator").getEEnumLiteral(BINARY[op][0])
            left = self.builder.located(eclass("BinaryExpression")(operator=operator, left=left, right=right),
                                        self.chain)
        return left

    def unary(self):
        term = self.terms[self.term]
        prefixes = term.prefixes if term.__class__.__name__ == "PrefixedTerm" else []
        if self.prefix < len(prefixes):
            op = prefixes[self.prefix]
            self.prefix += 1
            operand = self.expression(NOT_PRECEDENCE + 1) if op == "not" else self.unary()
            operator = eenum("UnaryOperator").getEEnumLiteral("not" if op == "not" else "neg")
            return self.builder.located(eclass("UnaryExpression")(operator=operator, operand=operand), term)
        atom = term.atom if prefixes else term
        expression = self.builder.expression(atom)
        if expression is None:
            raise _Unreadable
        return expression


class _Unreadable(Exception):
    """A part of an expression was wrong (already reported)."""


def _words_in(tx_list) -> bool:
    """True when a list value holds a name at any depth."""
    return any(_words_in(item) if item.__class__.__name__ == "ListValue" else item.__class__.__name__ == "NameValue"
               for item in tx_list.items)


def _expression_types(feature) -> tuple[str, ...]:
    """The static expression types an attribute takes."""
    if is_enum(feature) or feature.eType.name == "EString":
        return ("string",)
    return {"EInt": ("int",), "EDouble": ("int", "float"), "EBoolean": ("bool",)}.get(feature.eType.name, ())


_INVALID = object()


def _plain(tx_value):
    """A textX value as Python data: bool, int, float, str (names and strings) or lists."""
    cls = tx_value.__class__.__name__
    if cls == "ListValue":
        return [_plain(v) for v in tx_value.items]
    if cls == "BoolValue":
        return tx_value.value == "true"
    if cls == "StringValue":
        return _decode(tx_value.value)
    if cls == "FloatValue":
        return float(tx_value.value)  # textX gives nan and inf as written
    return tx_value.value


def _decode(text: str) -> str:
    """A Text match (JSON string syntax) as its value; invalid escapes are kept as written."""
    try:
        return json.loads(text)
    except ValueError:
        return text[1:-1]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _convert_scalar(feature, value):
    type_name = feature.eType.name
    if is_enum(feature):
        literal = feature.eType.getEEnumLiteral(value) if isinstance(value, str) else None
        return literal if literal is not None else _INVALID
    if type_name == "EInt":
        return value if _is_int(value) else _INVALID
    if type_name == "EDouble":
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _INVALID
    if type_name == "EBoolean":
        return value if isinstance(value, bool) else _INVALID
    return value if isinstance(value, str) else _INVALID


def _convert(feature, value):
    if feature.many:
        items = value if isinstance(value, list) else [value]
        converted = [_convert_scalar(feature, v) for v in items]
        return _INVALID if any(c is _INVALID for c in converted) else converted
    return _convert_scalar(feature, value)


def _describe_type(feature) -> str:
    if is_enum(feature):
        base = "one of " + ", ".join(lit.name for lit in feature.eType.eLiterals)
    else:
        base = {"EInt": "an integer", "EDouble": "a number", "EBoolean": "true or false"}.get(
            feature.eType.name, "a name")
    return f"{base} or a list of them" if feature.many else base


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


# Lists (and parentheses in expressions) nest at most this deep: the parsers recurse per level, and no
# argument needs more than two.
MAX_NESTING = 32
_BRACKETS = re.compile(r'[\[\]()]|"(?:\\.|[^"\\\n])*"|//[^\n]*|#[^\n]*|/\*.*?\*/', re.DOTALL)
_NESTED = {"[": ("]", "lists", MAX_NESTING), "(": (")", "parentheses", MAX_NESTING + 1)}   # + 1: the call's


def _check_nesting(text: str, filename: str) -> None:
    """``nesting-too-deep`` at the first bracket deeper than MAX_NESTING (strings and comments skipped)."""
    depth = dict.fromkeys(_NESTED, 0)
    closing = {close: opening for opening, (close, _, _) in _NESTED.items()}
    for match in _BRACKETS.finditer(text):
        token = match.group()
        if token in _NESTED:
            depth[token] += 1
            _, what, most = _NESTED[token]
            if depth[token] > most:
                line = text.count("\n", 0, match.start()) + 1
                col = match.start() - text.rfind("\n", 0, match.start())
                raise NNPivotError([error("nesting-too-deep", f"{what} nested more than {MAX_NESTING} deep",
                                          Location(filename, line, col))])
        elif token in closing:
            depth[closing[token]] = max(depth[closing[token]] - 1, 0)


# Above this size a syntax error is located by the direct reader alone (textX's report would take seconds).
TEXTX_REPORT_LIMIT = 1_000_000


def parse_text(text: str, filename: str = "<string>"):
    """Parse `.nn` text into a pivot Model; raises NNPivotError with every problem found.

    The direct reader of the grammar reads well-formed text; text it does not
    accept goes to textX, which reports the syntax error (or reads what the
    reader left to it).
    """
    _check_nesting(text, filename)
    with collector_paused():
        tree, mismatch = reader.read_or_mismatch(text)
        if tree is not None:
            model, diagnostics = build_model(tree, filename, reader.LineColumns(text))
            if has_errors(diagnostics):
                raise NNPivotError(diagnostics)
            return model
    if len(text) > TEXTX_REPORT_LIMIT:   # textX takes seconds per megabyte: the reader's position says where
        line, col = reader.LineColumns(text)(mismatch)
        raise NNPivotError([error("syntax-error", f"the text leaves the .nn grammar here (files over "
                                                  f"{TEXTX_REPORT_LIMIT // 1_000_000} MB get no more detail)",
                                  Location(filename, line, col))])
    try:
        tx_model = _meta().model_from_str(text, file_name=filename)
    except TextXSyntaxError as exc:
        raise NNPivotError([error("syntax-error", _syntax_message(exc),
                                  Location(filename, exc.line or 0, exc.col or 0))]) from None
    except TextXError as exc:
        raise NNPivotError([error("syntax-error", str(exc.message if hasattr(exc, "message") else exc),
                                  Location(filename, getattr(exc, "line", 0) or 0, getattr(exc, "col", 0) or 0))]
                           ) from None
    model, diagnostics = build_model(tx_model, filename)
    if has_errors(diagnostics):
        raise NNPivotError(diagnostics)
    return model


def build_model(tx_model, filename: str, line_columns=None):
    """The pivot Model of a parsed textX model and its problems, in source order.

    ``line_columns`` maps a position to (line, column) for a tree of
    ``grammars.reader`` (textX trees know their parser).
    """
    builder = _Builder(filename, line_columns)
    model = builder.model(tx_model)
    if not has_errors(builder.diagnostics) and not any(wiring_problems(g) for g in [model, *model.blocks]):
        # One spelling per meaning, as the source importers keep it. A graph the passes cannot take (a cycle) is
        # left as written: the validators name what is wrong with it.
        for rewrite in CANONICALISATION:
            builder.diagnostics.extend(run_pass(rewrite, model, wired=True)[1])
    return model, sorted(builder.diagnostics, key=lambda d: (d.location.line, d.location.col) if d.location else (0, 0))


def _syntax_message(exc: TextXSyntaxError) -> str:
    expected = getattr(exc, "expected_rules", None) or []
    names = sorted({getattr(r, "to_match", None) or getattr(r, "rule_name", "") for r in expected} - {""})
    found = (exc.context or "").split("*")[-1][:12].split("\n")[0] if exc.context else ""
    shown = ", ".join(repr(n) if len(n) < 20 else n for n in names[:6])
    message = f"expected {shown}" if shown else "syntax error"
    return message + (f" before '{found.strip()}'" if found.strip() else "")


def parse_file(path) -> object:
    return parse_text(read_text(path), str(path))
