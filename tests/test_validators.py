"""Validators: every documented code is triggered, located, and reported once per mistake."""
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from nnpivot.diagnostics import Location, set_location
from nnpivot.generators.nn_text import to_text
from nnpivot.graph import new_node
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS
from nnpivot.metamodel import Block, Model, eclass
from nnpivot.shapes import annotate_shapes, infer_shapes
from nnpivot.validators import CODES, validate
from nnpivot.validators.ranges import RULES


@dataclass(frozen=True)
class Case:
    code: str
    source: str | Callable  # .nn text, or a function building a model the parser would refuse
    where: str              # expected "line:col" of the diagnostic
    says: str               # a fragment of the message
    also: tuple = ()        # errors that necessarily come with this one


def built(name, location=None):
    """A model M with input x: float32[4], ready for more nodes (as an importer would build it)."""
    model = Model(name=name)
    x = new_node("Input", "x", shape=[4])
    model.nodes.append(x)
    set_location(model, location)
    return model, x


def duplicate_names():
    model, x = built("M")
    first, second = new_node("ReLU", "a", [x]), new_node("Tanh", "a", [x])
    set_location(first, Location("api.nn", 3, 3))
    set_location(second, Location("api.nn", 4, 3))
    model.nodes.extend([first, second])
    model.outputs.extend([first, second])
    return model


def dangling_reference():
    model, _x = built("M")
    block = Block(name="B")
    stray = new_node("Input", "z")
    block.nodes.append(stray)
    user = new_node("ReLU", "r", [stray])  # reads a node of block B from the model
    set_location(user, Location("api.nn", 7, 5))
    model.blocks.append(block)
    block.outputs.append(stray)
    model.nodes.append(user)
    model.outputs.append(user)
    return model


def no_input():
    model = Model(name="M")
    set_location(model, Location("api.nn", 1, 1))
    model.outputs.append(new_node("Identity", "i"))
    model.nodes.append(model.outputs[0])
    return model


def uncalled_block():
    model, x = built("M")
    block = Block(name="B")
    z = new_node("Input", "z")
    block.nodes.append(z)
    block.outputs.append(z)
    other = Model(name="Other")
    other.blocks.append(block)
    call = eclass("BlockCall")(name="c", block=block)
    call.inputs.append(x)
    set_location(call, Location("api.nn", 5, 3))
    model.nodes.append(call)
    model.outputs.append(call)
    return model


def nameless_model():
    """An XMI file may hold a model without a name: the .nn text and the generated class need one."""
    model, x = built("", Location("api.xmi", 2, 1))
    node = new_node("ReLU", "r", [x])
    model.nodes.append(node)
    model.outputs.append(node)
    return model


def bad_name():
    model, x = built("M")
    node = new_node("ReLU", "2fast", [x])
    set_location(node, Location("api.nn", 3, 3))
    model.nodes.append(node)
    model.outputs.append(node)
    return model


def shares_across_graphs():
    """A model node sharing the weights of a node of a block (the DSL cannot write it: names are per graph)."""
    model, x = built("M")
    block = Block(name="B")
    z = new_node("Input", "z")
    inner = new_node("Dense", "h", [z], units=3)
    block.nodes.extend([z, inner])
    block.outputs.append(inner)
    model.blocks.append(block)
    call = new_node("BlockCall", "c", [x], block=block)
    user = new_node("Dense", "d", [x], units=3, weights_of=inner)
    set_location(user, Location("api.nn", 6, 3))
    model.nodes.extend([call, user])
    model.outputs.extend([call, user])
    return model


def parameterised_call(units=None, guarded: bool = False, argument=None, binds: str = "units"):
    """Model M calling block B(n: int) { input z; d = dense(z, units=<units>) }, as an importer could build it
    without the .nn parser's checks: ``a = B(x, n=<argument>)``, the call at api.nn:3:3."""
    model, x = built("M")
    block = Block(name="B")
    n = eclass("BlockParameter")(name="n")
    block.parameters.append(n)
    z = new_node("Input", "z")
    dense = new_node("Dense", "d", [z], units=2)
    if units is not None:
        dense.bindings.append(eclass("AttributeBinding")(feature=binds, value=units(n)))
    block.nodes.extend([z, dense])
    block.outputs.append(dense)
    if guarded:   # d exists only when n > 4, and nothing stands in for it
        block.guards.append(eclass("Guard")(condition=binary("gt", ref(n), int_literal(4)), nodes=[dense],
                                            result=dense))
    model.blocks.append(block)
    call = new_node("BlockCall", "a", [x], block=block)
    if argument is not None:
        call.arguments.append(eclass("Argument")(parameter=n, value=argument(n)))
    set_location(call, Location("api.nn", 3, 3))
    model.nodes.append(call)
    model.outputs.append(call)
    return model


def looped_call(carried_out: bool = False):
    """Model M calling block B(n: int) { input z; for i in range(n) { d = dense(z, units=4) z = d } } with
    n = 2, as an importer could build it; ``carried_out``: the loop carries z into z, which is no node of it."""
    model = parameterised_call(argument=lambda n: int_literal(2))
    block = model.blocks[0]
    z, dense = block.nodes
    dense.units = 4
    loop = eclass("Loop")(index=eclass("BlockParameter")(name="i"), count=ref(block.parameters[0]), initial=z,
                          result=z if carried_out else dense)
    loop.nodes.append(dense)
    block.loops.append(loop)
    return model


def ref(parameter):
    return eclass("ParameterRef")(parameter=parameter)


def int_literal(value):
    return eclass("IntLiteral")(value=value)


def binary(operator, left, right):
    literal = eclass("BinaryExpression").findEStructuralFeature("operator").eType.getEEnumLiteral(operator)
    return eclass("BinaryExpression")(operator=literal, left=left, right=right)


def model_text(body: str, blocks: str = "", training: str = "") -> str:
    return f"model M {{\n  input x: float32[4]\n{body}{blocks}{training}}}\n"


CASES = [
    Case("missing-block-argument", lambda: parameterised_call(units=ref), "3:3",
         "call 'a' of block B gives no value for parameter 'n'"),
    Case("argument-type", lambda: parameterised_call(units=ref, argument=lambda n: eclass("BoolLiteral")(value=True)),
         "3:3", "parameter 'n' of block B is int, got bool True"),
    Case("expression-type", lambda: parameterised_call(units=lambda n: binary("gt", ref(n), int_literal(1)),
                                                       argument=lambda n: int_literal(3)),
         "3:3", "attribute units expects an integer, the expression gives bool True"),
    Case("expression-error", lambda: parameterised_call(units=lambda n: binary("floordiv", ref(n), int_literal(0)),
                                                        argument=lambda n: int_literal(3)),
         "3:3", "division by zero"),
    Case("unknown-parameter", lambda: parameterised_call(units=lambda n: ref(eclass("BlockParameter")(name="m")),
                                                         argument=lambda n: int_literal(3)),
         "3:3", "'m' is not a parameter of this block"),
    Case("unknown-attribute", lambda: parameterised_call(units=ref, argument=lambda n: int_literal(3), binds="filters"),
         "3:3", "'d' has no attribute 'filters'"),
    Case("guarded-read", lambda: parameterised_call(units=ref, argument=lambda n: int_literal(3), guarded=True),
         "3:3", "block B outputs 'd', which this call leaves out"),
    Case("bad-loop", lambda: looped_call(carried_out=True), "3:3",
         "loop 'i' of block B carries 'z' (which must be outside it) into 'z' (which must be inside it)"),
    Case("shared-weights-mismatch", model_text("  a = dense(x, 3)\n  b = dense(x, 4, shares=a)\n  output a, b\n"),
         "4:3", "dense 'b' shares the weights of 'a' but differs in units (4 here, 3 there)"),
    Case("shared-weights-mismatch", model_text("  a = dense(x, 3)\n  b = relu(x, shares=a)\n  output a, b\n"),
         "4:3", "relu 'b' shares the weights of 'a' but is a relu, not a dense"),
    Case("shared-weights-mismatch", model_text("  a = dense(x, 3)\n  b = dense(y, 3, shares=a)\n  output a, b\n")
         .replace("[4]", "[4]\n  input y: float32[5]"), "5:3",
         "its input gives weight the shape (3, 5), not (3, 4)"),
    Case("shared-weights-mismatch", model_text("  b = relu(x, shares=x)\n  output b\n"), "3:3",
         "relu 'b' shares the weights of 'x', but input 'x' has no weights"),
    Case("shared-weights-mismatch", model_text("  a = B(x)\n  b = C(x, shares=a)\n  output a, b\n",
                                               "  block B {\n    input z\n    output z\n  }\n"
                                               "  block C {\n    input z\n    output z\n  }\n"),
         "4:3", "block call 'b' shares the weights of 'a' but calls block C, not B"),
    Case("shared-weights-chain", model_text("  a = dense(x, 3)\n  b = dense(x, 3, shares=a)\n"
                                            "  c = dense(x, 3, shares=b)\n  output a, b, c\n"), "5:3",
         "dense 'c' shares the weights of 'b', which shares those of 'a'"),
    Case("shared-weights-chain", model_text("  a = dense(x, 3, shares=a)\n  output a\n"), "3:3",
         "dense 'a' shares its own weights"),
    Case("shared-weights-order", model_text("  a = dense(x, 4, shares=b)\n  b = dense(a, 4)\n  output b\n"), "3:3",
         "dense 'a' shares the weights of 'b', which is computed from 'a': the owner must be the first application"),
    Case("dangling-reference", shares_across_graphs, "6:3",
         "dense 'd' shares the weights of 'h', which is not a node of model M"),
    Case("duplicate-name", duplicate_names, "4:3", "model M defines 'a' twice (first defined at api.nn:3:3)"),
    Case("dangling-reference", dangling_reference, "7:5", "relu 'r' reads 'z', which is not a node of model M"),
    Case("dangling-reference", uncalled_block, "5:3", "calls block 'B', which is not a block of model M"),
    Case("invalid-name", bad_name, "3:3", "'2fast' is not a valid identifier"),
    Case("invalid-name", model_text("  class = relu(x)\n  output class\n"), "3:3", "'class' is not a valid"),
    Case("invalid-name", model_text("  r = relu(x)\n  nan = relu(r)\n  output nan\n"), "4:3",
         "'nan' is a value in .nn text, so it cannot name a node"),
    Case("invalid-name", model_text("  __r = relu(x)\n  output __r\n"), "3:3", "'__r' starts with two underscores"),
    Case("invalid-name", nameless_model, "2:1", "the model has no name"),
    Case("invalid-character", model_text("  r = relu(x)\n  output r\n").replace('M {', 'M "nul \\u0000" {'), "1:1",
         "description 'nul \\x00' holds U+0000, which XMI (XML 1.0) cannot carry"),
    Case("invalid-character", model_text("  r = relu(x)\n  output r\n").replace('M {', 'M "\\udc80" {'), "1:1",
         "holds U+DC80"),
    Case("cycle", model_text("  a = add(x, c)\n  b = relu(a)\n  c = relu(b)\n  output c\n"), "3:3",
         "model M has a cycle: a -> b -> c -> a"),
    Case("missing-argument", model_text("  d = dense(x)\n  output d\n"), "3:3", "dense 'd' needs units"),
    Case("missing-argument", model_text("  c = conv1d(x, 4)\n  output c\n").replace("[4]", "[2, 9]"), "3:3",
         "conv1d 'c' needs kernel_size"),
    Case("out-of-range", model_text("  d = dense(x, 0)\n  output d\n"), "3:3", "units must be positive, got 0"),
    Case("out-of-range", model_text("  d = dropout(x, 1.0)\n  output d\n"), "3:3", "rate must be in [0, 1), got 1.0"),
    Case("out-of-range", model_text("  c = conv1d(x, 2, kernel_size=[3], stride=[0])\n  output c\n")
         .replace("[4]", "[2, 9]"), "3:3", "stride must be positive, got [0]"),
    Case("out-of-range", model_text("  b = batch_norm1d(x, momentum=1.5)\n  output b\n"), "3:3",
         "momentum must be in [0, 1], got 1.5"),
    Case("out-of-range", model_text("  b = batch_norm1d(x, eps=0.0)\n  output b\n"), "3:3", "eps must be positive"),
    Case("out-of-range", model_text("  e = embedding(x, 10, 3, padding_idx=10)\n  output e\n")
         .replace("float32", "int64"), "3:3", "padding_idx must be an index of one of the num_embeddings rows"),
    Case("out-of-range", model_text("  s = softmax(x, axis=2)\n  output s\n"), "3:3",
         "softmax 's': axis 2 is out of range for a tensor of rank 2"),
    Case("out-of-range", model_text("  o = relu(x)\n  output o\n").replace("[4]", "[4, 0]"), "2:3",
         "input 'x': shape [4, 0] has size 0"),
    Case("out-of-range", model_text("  o = relu(x)\n  output o\n", training="  training {\n    epochs 0\n  }\n"),
         "6:5", "training: epochs must be positive, got 0"),
    Case("wrong-input-count", model_text("  a = relu(x, x)\n  output a\n"), "3:3", "relu 'a' takes 1 input, got 2"),
    Case("wrong-input-count", model_text("  a = concat(x)\n  output a\n"), "3:3", "takes at least 2 inputs, got 1"),
    Case("wrong-input-count", model_text("  a = B(x, x)\n  output a\n", "  block B {\n    input z\n    output z\n  }\n"),
         "3:3", "block call 'a' takes 1 input, got 2"),
    Case("bad-selection", model_text("  g = gru(x, 3)\n  h = g[2]\n  output h\n").replace("[4]", "[5, 4]"), "4:3",
         "select 'h' reads output 2 of gru 'g', which has 2 outputs (0 to 1)"),
    Case("bad-selection", model_text("  a = relu(x)\n  h = a[1]\n  output h\n"), "4:3", "which has 1 output (0 to 0)"),
    Case("no-output", model_text("  a = relu(x)\n"), "1:1", "model M declares no output"),
    Case("no-output", model_text("  a = B(x)\n  output a\n", "  block B {\n    input z\n  }\n"), "5:3",
         "block B declares no output"),
    Case("no-input", no_input, "1:1", "model M declares no input", also=("wrong-input-count",)),
    Case("unused-node", model_text("  a = relu(x)\n  b = tanh(a)\n  output a\n"), "4:3",
         "tanh 'b' does not contribute to any output of model M"),
    Case("shape-mismatch", model_text("  d = dense(x, 10, in_features=400)\n  output d\n").replace("[4]", "[256]"),
         "3:3", "declared with 400 input features but fed 256"),
    Case("shape-mismatch", "model M {\n  input x: float32[4, 8, 8]\n  input y: float32[4, 6, 8]\n"
                           "  c = concat(x, y)\n  output c\n}\n", "4:3", "cannot concatenate (N, 4, 8, 8) and"),
    Case("block-shape-conflict", "model M {\n  input x: float32[4]\n  input y: float32[5]\n  a = B(x)\n  b = B(y)\n"
                                 "  output a, b\n  block B {\n    input z\n    r = relu(z)\n    output r\n  }\n}\n",
         "5:3", "block call 'b': block B was first called with (N, 4) but here with (N, 5)"),
    Case("unknown-optimizer", model_text("  a = relu(x)\n  output a\n",
                                         training="  training {\n    optimizer adamm(learning_rate=0.1)\n  }\n"),
         "6:5", "unknown optimizer 'adamm' (did you mean 'adam'?)"),
    Case("unknown-argument", model_text("  a = relu(x)\n  output a\n",
                                        training="  training {\n    optimizer sgd(momentun=0.9)\n  }\n"),
         "6:19", "optimizer sgd has no parameter 'momentun' (did you mean 'momentum'?)"),
    Case("unknown-loss", model_text("  a = relu(x)\n  output a\n", training="  training {\n    loss crossentropy\n  }\n"),
         "6:5", "unknown loss 'crossentropy' (did you mean 'cross_entropy'?)"),
    Case("unknown-metric", model_text("  a = relu(x)\n  output a\n", training="  training {\n    metrics acuracy\n  }\n"),
         "6:5", "unknown metric 'acuracy' will be left out of generated code (did you mean 'accuracy'?)"),
]


def case_id(case: Case) -> str:
    return f"{case.code}:{case.says[:30]}"


def diagnose(case: Case):
    if callable(case.source):
        return validate(case.source())
    return validate(parse_text(case.source, "case.nn"))


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_code_is_triggered_with_location_and_message(case):
    diagnostics = diagnose(case)
    matching = [d for d in diagnostics if d.code == case.code and case.says in d.message]
    assert matching, f"no {case.code} saying {case.says!r} in:\n" + "\n".join(map(str, diagnostics))
    location = matching[0].location
    assert f"{location.line}:{location.col}" == case.where, str(matching[0])
    # one mistake, one message: nothing else is an error, and the mistake is not reported twice
    errors = sorted(d.code for d in diagnostics if d.is_error)
    expected = sorted((case.code, *case.also)) if matching[0].is_error else sorted(case.also)
    assert errors == expected, "\n".join(map(str, diagnostics))


def test_every_documented_code_has_a_case():
    assert {c.code for c in CASES} == set(CODES)


def test_gcc_style_rendering_from_text():
    model = parse_text(model_text("  d = dense(x, 0)\n  output d\n"), "samples/bad.nn")
    assert [str(d) for d in validate(model)] == [
        "samples/bad.nn:3:3: error[out-of-range]: dense 'd': units must be positive, got 0"]


def test_all_problems_are_collected_in_source_order():
    text = model_text("  a = dense(x, 0)\n  b = relu(a, a)\n  c = dropout(b, 2.0)\n  s = softmax(x, axis=5)\n"
                      "  output c, s\n", training="  training {\n    loss hinge_of_doom\n  }\n")
    diagnostics = validate(parse_text(text, "many.nn"))
    assert [(d.code, d.location.line) for d in diagnostics] == [
        ("out-of-range", 3), ("wrong-input-count", 4), ("out-of-range", 5), ("out-of-range", 6),
        ("unknown-loss", 9)]


def test_downstream_of_a_reported_node_is_quiet():
    # the dense is broken (units=0); the layers reading it are not reported again by the shape pass
    diagnostics = validate(parse_text(model_text("  a = dense(x, 0)\n  b = dense(a, 3)\n  c = relu(b)\n"
                                                 "  output c\n"), "q.nn"))
    assert [d.code for d in diagnostics] == ["out-of-range"]


def test_samples_are_valid_and_get_shapes(sample_path):
    model = parse_file(sample_path)
    before = to_text(model)
    diagnostics = validate(model)
    assert [str(d) for d in diagnostics if d.is_error] == []
    assert to_text(model) == before  # validators never mutate
    assert all(not list(node.inferredShape) for node in model.nodes)  # not even the transient annotation
    table, problems = infer_shapes(model)
    assert problems == [] and all(table.of(node) for node in model.nodes)
    annotate_shapes(model, table)  # only on request
    assert [tuple(-1 if d is None else d for d in table.of(n)) == tuple(n.inferredShape) for n in model.nodes] \
        == [True] * len(model.nodes)


def test_range_rules_name_real_attributes():
    """A rule keyed by a name no kind has would silently check nothing."""
    names = {a.name for kind in KINDS.values() for a in kind.attributes()}
    assert set(RULES) <= names, set(RULES) - names


def test_validation_is_deterministic_on_independent_runs():
    text = model_text("  a = dense(x, 0)\n  b = tanh(x)\n  output a\n")
    first = validate(parse_text(text, "d.nn"))
    assert first == validate(parse_text(text, "d.nn"))
    assert [d.severity for d in first] == ["error", "warning"]


def test_required_zero_values_survive_xmi(tmp_path):
    """axis=0 / index=0 are legal required values: an XMI round trip must not make them 'missing'."""
    from nnpivot.generators.xmi import save_xmi
    from nnpivot.importers.xmi import load_xmi

    model = parse_text("model M {\n  input x: float32[4, 5]\n  i = index(x, axis=1, index=0)\n"
                       "  u = unsqueeze(i, 0)\n  output u\n}\n", "zero.nn")
    save_xmi(model, tmp_path / "zero.xmi")
    assert validate(model) == [] and validate(load_xmi(tmp_path / "zero.xmi")) == []
