"""One quoting path into generated code (issue 8): user text and names can never change what a file does.

Whatever a model's names, description and values are, a model that ``check``
passes prints to ``.nn`` text and XMI that read back to the same model, and
generates PyTorch and Keras files that compile, define exactly their classes
(and ``train``), run nothing else when imported and compute what the model
says. A name or text that the formats cannot carry is refused by ``check``
with a diagnostic. The static tests here need no framework; the ones that run
the generated code carry the framework markers.
"""
from __future__ import annotations

import ast
import io
import keyword
import re
import tempfile
import textwrap
import tokenize
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnpivot import api
from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as torch_generator
from nnpivot.generators.codegen import MODULE_NAMES, class_name, class_names, header
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import to_xmi_string
from nnpivot.graph import new_node
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.xmi import load_xmi
from nnpivot.kinds.keras_mapping import RESERVED as KERAS_RESERVED
from nnpivot.kinds.pysyntax import comment, docstring, fstring_text, literal, python_name
from nnpivot.kinds.torch_mapping import RESERVED as TORCH_RESERVED
from nnpivot.metamodel import Block, Model
from nnpivot.validators import validate
from nnpivot.weights import WeightStore

# Any character, lone surrogates and line separators included.
ANY_TEXT = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"]), max_size=24)
NASTY_TEXT = st.one_of(ANY_TEXT, st.text(st.sampled_from('\\"\'\n\r\x00\x0c\u2028\u2029\x85\ud800\udfff{}#'),
                                         max_size=8))
FRAMEWORK_ALIASES = frozenset({"torch", "nn", "F", "keras", "layers", "ops"})


# --- what a generated module may contain ------------------------------------------------------------

def module_outline(code: str) -> tuple[set[str], list[str], list[str]]:
    """(names the imports bind, class names, function names) of a generated module.

    Fails when a top-level statement is anything else, or when a class body or a
    definition holds something that runs at import: only a docstring and method
    definitions in classes, no decorators, constant defaults.
    """
    tree = ast.parse(code)
    imports: set[str] = set()
    classes: list[str] = []
    functions: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            imports.update((a.asname or a.name).split(".")[0] for a in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            imports.update(a.asname or a.name for a in statement.names)
        elif isinstance(statement, ast.ClassDef):
            assert not statement.decorator_list and not statement.keywords, ast.dump(statement)
            assert all(isinstance(b, ast.Attribute) for b in statement.bases), ast.unparse(statement.bases[0])
            body = statement.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                assert isinstance(body[0].value.value, str)
                body = body[1:]
            for member in body:
                assert isinstance(member, ast.FunctionDef), ast.unparse(member)
                _constant_defaults(member)
            classes.append(statement.name)
        elif isinstance(statement, ast.FunctionDef):
            _constant_defaults(statement)
            functions.append(statement.name)
        else:
            pytest.fail(f"a top-level statement that runs on import: {ast.unparse(statement)}")
    assert imports <= FRAMEWORK_ALIASES, imports
    return imports, classes, functions


def _constant_defaults(function: ast.FunctionDef) -> None:
    assert not function.decorator_list, function.name
    for default in function.args.defaults + [d for d in function.args.kw_defaults if d is not None]:
        assert isinstance(default, ast.Constant), ast.unparse(default)


def expected_classes(model) -> list[str]:
    names = class_names(model)
    return [names[b] for b in model.blocks] + [names[model]]


def check_generated(model, source_name: str = "model.nn") -> dict[str, str]:
    """Both targets' code for ``model``, checked statically; {target: code}."""
    codes = {"pytorch": torch_generator.generate(model, source_name),
             "keras": keras_generator.generate(model, source_name)}
    for target, code in codes.items():
        code.encode("utf-8")  # writable as the UTF-8 file it claims to be
        assert tokenize.detect_encoding(io.BytesIO(code.encode("utf-8")).readline)[0] == "utf-8"
        compile(code, f"{target}.py", "exec")
        _, classes, functions = module_outline(code)
        assert classes == expected_classes(model), (target, classes)
        assert functions == (["train"] if model.training is not None else [])
    return codes


def read_back(model) -> None:
    """``.nn`` print -> parse and XMI save -> load give ``model`` back."""
    assert differences(model, parse_text(to_text(model), "printed.nn")) == []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.xmi"
        path.write_text(to_xmi_string(model), encoding="utf-8")
        assert differences(model, load_xmi(path)) == []


# --- the quoting functions ------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(NASTY_TEXT)
def test_literal_reads_back_as_the_same_text_on_one_line(text):
    source = literal(text)
    assert "\n" not in source and "\r" not in source
    source.encode("utf-8")
    assert ast.literal_eval(source) == text


@settings(max_examples=300, deadline=None)
@given(NASTY_TEXT)
def test_docstring_is_the_class_docstring_and_nothing_else(text):
    code = f"class Documented:\n    {docstring(text)}\n\n    def method(self):\n        return 1\n"
    code.encode("utf-8")
    tree = ast.parse(code)
    assert len(tree.body) == 1 and len(tree.body[0].body) == 2
    assert ast.get_docstring(tree.body[0], clean=False) == text


@settings(max_examples=300, deadline=None)
@given(NASTY_TEXT)
def test_comment_stays_one_comment(text):
    code = f"# Generated from {comment(text)}\nvalue = 1\n"
    data = code.encode("utf-8")
    assert tokenize.detect_encoding(io.BytesIO(data).readline)[0] == "utf-8"
    tokens = [t for t in tokenize.tokenize(io.BytesIO(data).readline)
              if t.type not in (tokenize.ENCODING, tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER)]
    assert [t.type for t in tokens] == [tokenize.COMMENT, tokenize.NAME, tokenize.OP, tokenize.NUMBER]
    assert tokens[0].start[0] == 1 and tokens[1].start[0] == 2


def test_a_file_name_cannot_declare_the_encoding():
    line = header("net coding: latin-1.py")
    assert not re.search(r"coding[:=]", line)
    assert tokenize.detect_encoding(io.BytesIO(f"{line}\nx = 1\n".encode()).readline)[0] == "utf-8"


@settings(max_examples=200, deadline=None)
@given(NASTY_TEXT)
def test_fstring_text_prints_as_written(text):
    assert eval(f'f"{fstring_text(text)} {{value}}"', {"value": 3}) == f"{text} 3"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,4}", fullmatch=True),
                          st.sampled_from(sorted(TORCH_RESERVED | KERAS_RESERVED | {"self_", "self__", "_", "F_"}))),
                unique=True))
def test_python_names_stay_distinct_and_free(names):
    for reserved in (TORCH_RESERVED, KERAS_RESERVED):
        renamed = [python_name(n, reserved) for n in names]
        assert len(set(renamed)) == len(names)
        for name in renamed:
            assert name.isidentifier() and not keyword.iskeyword(name)
            assert name not in reserved and name != "_"


@pytest.mark.torch
@pytest.mark.tensorflow
def test_no_renamed_node_is_an_attribute_of_the_framework_base_classes():
    import keras
    import torch

    class Probe(keras.Model):
        def call(self, x):
            return x

    for base, instance, reserved in ((torch.nn.Module, torch.nn.Module(), TORCH_RESERVED),
                                     (Probe, Probe(), KERAS_RESERVED)):
        attributes = {a for a in {*dir(base), *vars(instance)} if not (a.startswith("__") and a.endswith("__"))}
        assert {a for a in attributes if not a.startswith("_")} <= reserved
        for attribute in attributes:
            # the names that could be renamed into it: itself and its stem with fewer underscores
            stem = attribute.rstrip("_")
            for count in range(len(attribute) - len(stem) + 1):
                assert python_name(stem + "_" * count, reserved) != attribute, (base, attribute)


def test_class_names_of_python_words():
    assert [class_name(n) for n in ("true", "false", "none", "F", "torch", "nn", "keras", "train", "print")] == [
        "True_", "False_", "None_", "F_", "Torch", "Nn", "Keras", "Train", "Print"]
    assert class_name("Exception") == "Exception_" and class_name("ops") == "Ops"
    assert class_name("ℌnet") == "Hnet"  # the NFKC form: the name Python binds
    assert all(class_name(n) not in MODULE_NAMES for n in ("True", "None", "layers", "Ellipsis"))


# --- the cases of issue 8 ---------------------------------------------------------------------------

DENSE_MODEL = """model {name}{description} {{
    input x: float32[4]
    hidden = dense(x, 3)
    act = tanh(hidden)
    output act
}}
"""


def dense_model(name: str = "Net", description: str = ""):
    return parse_text(DENSE_MODEL.format(name=name, description=description), "net.nn")


@pytest.mark.parametrize("description", [r"C:\\models\\net", 'says "hi"', '"', 'ends with three """',
                                         r"backslash at the end \\", "a\\nb\\r\\u2028c",
                                         'Net."""\\nimport os\\nos.system(\'touch pwned\')\\n"""',
                                         '"@@IMPORTS@@" is where the generator puts the imports'])
def test_descriptions_with_backslashes_and_quotes_are_the_docstring(description):
    model = dense_model(description=f' "{description.replace(chr(34), chr(92) + chr(34))}"')
    text = model.description
    assert "\\" in text or '"' in text or "\u2028" in text
    assert [d for d in validate(model) if d.is_error] == []
    read_back(model)
    for code in check_generated(model).values():
        tree = ast.parse(code)
        assert ast.get_docstring(tree.body[-1], clean=False) == text


@pytest.mark.parametrize(("escape", "code_point"), [(r"\u0000", "U+0000"), (r"\ud800", "U+D800"),
                                                    (r"\u001b", "U+001B"), (r"\uffff", "U+FFFF")])
def test_descriptions_xmi_cannot_carry_are_refused_with_a_diagnostic(escape, code_point, tmp_path):
    source = tmp_path / "net.nn"
    source.write_text(DENSE_MODEL.format(name="Net", description=f' "before {escape} after"'), encoding="utf-8")
    problems = api.check(source)
    assert [(d.code, d.location.line) for d in problems] == [("invalid-character", 1)]
    assert code_point in problems[0].message
    for target, file_name in (("pytorch", "net_torch.py"), ("keras", "net_keras.py"), ("xmi", "net.xmi")):
        result = api.convert(source, tmp_path / file_name, target=target)
        assert not result.ok and "invalid-character" in {d.code for d in result.diagnostics}
        assert not (tmp_path / file_name).exists()
    # the quoting functions carry them all the same
    model = dense_model()
    model.description = f"before {escape.encode().decode('unicode_escape')} after"
    check_generated(model)


@pytest.mark.parametrize("target", ["pytorch", "keras", "dot"])
def test_a_newline_in_the_source_file_name_stays_in_the_header_comment(target, tmp_path):
    source = tmp_path / 'net\nimport os\nos.system("touch pwned") coding: latin-1\n.nn'
    source.write_text(DENSE_MODEL.format(name="Net", description=""), encoding="utf-8")
    out = tmp_path / f"out.{'dot' if target == 'dot' else 'py'}"
    result = api.convert(source, out, target=target)
    assert result.ok, result.diagnostics
    text = out.read_text(encoding="utf-8")
    first, second = text.splitlines()[:2]
    assert first.startswith(("# Generated by nnpivot", "// Generated by nnpivot")) and "\\n" in first
    assert "import os" in first and not second.startswith(("import os", "os."))
    if target != "dot":
        assert tokenize.detect_encoding(io.BytesIO(text.encode("utf-8")).readline)[0] == "utf-8"
        assert module_outline(text)[1] == ["Net"]


PYTHON_WORD_MODELS = ["true", "false", "none", "F", "torch", "nn", "keras", "layers", "ops", "train", "print",
                      "Exception", "super", "float"]


@pytest.mark.parametrize("name", PYTHON_WORD_MODELS)
def test_models_named_like_python_words_generate_their_own_class(name):
    model = dense_model(name)
    assert [d for d in validate(model) if d.is_error] == []
    read_back(model)
    check_generated(model)
    own = class_name(name)
    assert own not in MODULE_NAMES and not keyword.iskeyword(own)


RES_BLOCKS = """model Net {
    input x: float32[4]
    first = res(x)
    second = Res(first)
    third = Net(second)
    output third

    block res {
        input a
        d = dense(a, 4)
        r = relu(d)
        output r
    }

    block Res {
        input a
        d = dense(a, 4)
        t = tanh(d)
        output t
    }

    block Net {
        input a
        d = dense(a, 2)
        s = sigmoid(d)
        output s
    }
}
"""


def test_blocks_res_Res_and_one_named_like_the_model_are_distinct_classes():
    model = parse_text(RES_BLOCKS, "blocks.nn")
    assert [d for d in validate(model) if d.is_error] == []
    read_back(model)
    names = class_names(model)
    assert [names[b] for b in model.blocks] == ["Res", "Res_", "Net_"] and names[model] == "Net"
    for code in check_generated(model).values():
        assert "self.third = Net_(" in code.replace("(name=", "(")  # not the model itself: no recursion


def test_nan_and_inf_values_print_parse_and_save():
    model = parse_text("""model Slopes {
    input x: float32[4]
    a = leaky_relu(x, nan)
    b = leaky_relu(a, inf)
    c = leaky_relu(b, negative_slope=-inf)
    d = elu(c, alpha=+inf)
    output d
}
""", "slopes.nn")
    slopes = [n.negativeSlope for n in list(model.nodes)[1:4]]
    assert np.isnan(slopes[0]) and slopes[1:] == [float("inf"), float("-inf")]
    assert [d for d in validate(model) if d.is_error] == []
    text = to_text(model)
    assert "leaky_relu(x, nan)" in text and "leaky_relu(b, -inf)" in text
    read_back(model)
    assert 'negativeSlope="NaN"' in to_xmi_string(model)  # as EMF (Java) writes it
    for code in check_generated(model).values():
        assert 'float("nan")' in code and 'float("-inf")' in code


@pytest.mark.parametrize("name", ["true", "false", "nan", "inf", "__hidden"])
def test_node_names_dot_nn_cannot_carry_are_refused(name):
    model = dense_model()
    node = list(model.nodes)[1]
    node.name = name
    problems = [d for d in validate(model) if d.is_error]
    assert [d.code for d in problems] == ["invalid-name"] and f"'{name}'" in problems[0].message


# --- property: any model ----------------------------------------------------------------------------

IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True)
NODE_NAMES = st.one_of(IDENTIFIERS.filter(lambda n: not n.startswith("__") and n not in ("true", "false", "nan", "inf")
                                          and not keyword.iskeyword(n)), st.sampled_from([
    "self", "torch", "nn", "F", "ops", "layers", "keras", "float", "super", "inputs", "kwargs", "name", "forward",
    "call", "train", "x_", "self_", "self__", "_", "input", "output", "model", "Res", "res", "Net", "compile",
    "_modules", "_layers", "input_spec", "save", "requires_grad", "requires_grad_"]))
REFUSED_NODE_NAMES = ["__x", "true", "false", "nan", "inf", "None", "class"]
WORDS = st.builds(str.__add__, st.characters(categories=["L", "Nl"]),
                  st.text(st.characters(categories=["L", "Mn", "Nd", "Nl", "No", "Pc"]), max_size=7))
PROSE = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), max_size=24)
MODEL_NAMES = st.one_of(st.sampled_from(["true", "false", "none", "F", "torch", "Net", "ß", "ﬁ", "ℌ", "x²", "Ǆ",
                                         "模型", "_", "res", "Exception", "1net", ""]), WORDS, WORDS, ANY_TEXT)
BLOCK_NAMES = st.one_of(IDENTIFIERS, st.sampled_from(["res", "Res", "RES", "Net", "F", "true", "Net_", "_"]))
ACTIVATIONS = ["ReLU", "Tanh", "Sigmoid", "LeakyReLU"]
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@st.composite
def models(draw):
    """A model with any names, description and values: input -> dense -> activation -> block calls."""
    model = Model(name=draw(MODEL_NAMES))
    description = draw(st.one_of(st.none(), PROSE, st.text(max_size=24), NASTY_TEXT))
    if description is not None:
        model.description = description
    for block_name in draw(st.lists(BLOCK_NAMES, max_size=3, unique=True)):
        block = Block(name=block_name)
        a, d, act = draw(st.lists(NODE_NAMES, min_size=3, max_size=3, unique=True))
        inner = new_node("Input", a)
        dense = new_node("Dense", d, [inner], units=3)
        activation = new_node(draw(st.sampled_from(ACTIVATIONS)), act, [dense])
        block.nodes.extend([inner, dense, activation])
        block.outputs.append(activation)
        model.blocks.append(block)
    names = draw(st.lists(NODE_NAMES, min_size=3 + len(model.blocks), max_size=3 + len(model.blocks), unique=True))
    x = new_node("Input", names[0], shape=[3])
    dense = new_node("Dense", names[1], [x], units=3)
    # keras.layers.LeakyReLU refuses negative slopes, which check passes (a kind-mapping matter, not quoting)
    slope = draw(st.one_of(st.floats(min_value=0, allow_infinity=True, width=32), st.just(float("nan"))))
    last = new_node("LeakyReLU", names[2], [dense], negative_slope=slope)
    model.nodes.extend([x, dense, last])
    for block, name in zip(model.blocks, names[3:]):
        last = new_node("BlockCall", name, [last], block=block)
        model.nodes.append(last)
    model.outputs.append(last)
    spoiler = draw(st.sampled_from([None] * 21 + REFUSED_NODE_NAMES))
    if spoiler is not None:
        nodes = [n for g in [model, *model.blocks] for n in g.nodes]
        draw(st.sampled_from(nodes)).name = spoiler  # names in a graph stay distinct: none was spoiled before
    return model


def refused(model) -> bool:
    """Whether ``check`` must refuse the model (told independently of the validator's code)."""
    nodes = [n for g in [model, *model.blocks] for n in g.nodes]
    bad_node = any(keyword.iskeyword(n.name) or n.name in ("true", "false", "nan", "inf")
                   or n.name.startswith("__") for n in nodes)
    bad_block = any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", b.name) for b in model.blocks)
    bad_model = not re.fullmatch(r"[^\W\d]\w*", model.name)
    bad_text = NOT_XML.search(model.description or "") or NOT_XML.search(model.name)
    return bool(bad_node or bad_block or bad_model or bad_text)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_any_model_check_passes_reads_back_and_generates_clean_code(model):
    errors = {d.code for d in validate(model) if d.is_error}
    if refused(model):
        assert errors & {"invalid-name", "invalid-character"}, f"check passed a model the formats cannot carry: {errors}"
        return
    assert not errors
    read_back(model)
    check_generated(model, source_name=model.description or "model.nn")


# --- the generated code runs, defines only its names and computes the model -------------------------

def random_store(model, seed: int) -> WeightStore:
    rng = np.random.default_rng(seed)
    return WeightStore({s.pivot_key: rng.standard_normal(s.shape).astype(np.float32)
                        for s in torch_generator.parameter_slots(model)})


def fresh_module(code: str, name: str) -> dict:
    """Execute generated code in a namespace of its own; it must bind its imports, classes and functions only."""
    namespace: dict = {"__name__": name}
    exec(compile(code, f"{name}.py", "exec"), namespace)  # noqa: S102 - the code under test
    imports, classes, functions = module_outline(code)
    assert set(namespace) - {"__name__", "__builtins__"} == imports | set(classes) | set(functions)
    return namespace


def run_both(model, batches, seed: int = 0) -> tuple[list, list]:
    """Outputs of the generated PyTorch and Keras models for each batch, with the same weights."""
    import torch

    store = random_store(model, seed)
    codes = check_generated(model)
    own = class_names(model)[model]
    torch_net = fresh_module(codes["pytorch"], "generated_torch")[own]()
    torch_net.load_state_dict(torch_generator.state_dict_from_store(model, store))
    keras_net = fresh_module(codes["keras"], "generated_keras")[own]()
    keras_net(batches[0])
    assert keras_generator.assign_store(keras_net, model, store) == []
    with torch.no_grad():
        torch_outputs = [torch_net(torch.from_numpy(b)).numpy() for b in batches]
    keras_outputs = [np.asarray(keras_net(b)) for b in batches]
    return torch_outputs, keras_outputs


def dense(store, key, x):
    return x @ store[f"{key}.weight"].T + store[f"{key}.bias"]


@pytest.mark.torch
@pytest.mark.tensorflow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models().filter(lambda m: not refused(m)))
def test_generated_code_defines_only_its_names_and_agrees(model):
    batches = [np.linspace(-2, 2, n * 3, dtype=np.float32).reshape(n, 3) for n in (1, 5)]
    torch_outputs, keras_outputs = run_both(model, batches)
    for ours, theirs, batch in zip(torch_outputs, keras_outputs, batches):
        assert ours.shape == (len(batch), 3)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("private", ["_layers", "_modules", "_parameters", "_tracker"])
def test_nodes_named_like_private_framework_attributes_keep_their_own_layers(private):
    """A node named ``_layers`` once became ``self._layers`` of the Keras model (found by the property test)."""
    model = parse_text(f"model Net {{\n input A: float32[3]\n d = dense(A, 3)\n {private} = leaky_relu(d, 0.5)\n"
                       f" output {private}\n}}\n", "private.nn")
    batches = [np.linspace(-2, 2, n * 3, dtype=np.float32).reshape(n, 3) for n in (1, 5)]
    torch_outputs, keras_outputs = run_both(model, batches)
    for ours, theirs in zip(torch_outputs, keras_outputs):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_node_named_like_a_recurrent_layers_state_keeps_its_value():
    """An LSTM 'r' whose h_n nobody reads once held it in a variable 'r_h', overwriting the node named r_h."""
    import torch

    model = parse_text("model Col {\n  input x: float32[5, 4]\n  r_h = dense(x, 8)\n"
                       "  r = lstm(x, 8, return_sequences=false)\n  output r, r_h\n}\n", "col.nn")
    store = random_store(model, 2)
    codes = check_generated(model)
    torch_net = fresh_module(codes["pytorch"], "generated_torch")["Col"]()
    torch_net.load_state_dict(torch_generator.state_dict_from_store(model, store))
    keras_net = fresh_module(codes["keras"], "generated_keras")["Col"]()
    for batch in (np.linspace(-1, 1, 2 * 20, dtype=np.float32).reshape(2, 5, 4),
                  np.linspace(1, -1, 3 * 20, dtype=np.float32).reshape(3, 5, 4)):
        keras_net(batch)
        assert keras_generator.assign_store(keras_net, model, store) == []
        with torch.no_grad():
            ours = [t.numpy() for t in torch_net(torch.from_numpy(batch))]
        theirs = [np.asarray(t) for t in keras_net(batch)]
        np.testing.assert_allclose(ours[1], dense(store, "r_h", batch), rtol=1e-5, atol=1e-5)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("name", ["true", "none", "F", "nn", "layers"])
def test_models_named_like_python_words_compute_their_graph(name):
    model = dense_model(name)
    batches = [np.linspace(-1, 1, n * 4, dtype=np.float32).reshape(n, 4) for n in (2, 7)]
    store = random_store(model, 1)
    torch_outputs, keras_outputs = run_both(model, batches, seed=1)
    for batch, ours, theirs in zip(batches, torch_outputs, keras_outputs):
        expected = np.tanh(dense(store, "hidden", batch))
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.torch
@pytest.mark.tensorflow
def test_blocks_res_Res_and_Net_each_compute_their_own_layers():
    model = parse_text(RES_BLOCKS, "blocks.nn")
    batches = [np.linspace(-1, 1, n * 4, dtype=np.float32).reshape(n, 4) for n in (3, 6)]
    store = random_store(model, 2)
    torch_outputs, keras_outputs = run_both(model, batches, seed=2)
    for batch, ours, theirs in zip(batches, torch_outputs, keras_outputs):
        first = np.maximum(dense(store, "first.d", batch), 0)
        second = np.tanh(dense(store, "second.d", first))
        expected = 1 / (1 + np.exp(-dense(store, "third.d", second)))
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-6)


CLASSIFIER = textwrap.dedent('''\
    import torch
    from torch import nn


    class Classifier(nn.Module):
        \'\'\'Scores four measurements into three classes.

        Trained on the "iris" split."""
    open("pwned.txt", "w").write("the docstring ran")
    """ \\\\
        \'\'\'

        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return torch.relu(self.fc(x))
    ''')


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("target", ["keras", "pytorch"])
def test_a_pytorch_docstring_with_a_payload_migrates_as_a_docstring(target, tmp_path, monkeypatch):
    from nnpivot.migrate import migrate, parse_input_shapes

    source = tmp_path / "classifier.py"
    source.write_text(CLASSIFIER, encoding="utf-8")
    out = tmp_path / f"classifier_{target}.py"
    result = migrate(source, target, out, input_shapes=parse_input_shapes(["4"]))
    assert result.ok, result.diagnostics
    code = out.read_text(encoding="utf-8")
    assert module_outline(code)[1] == ["Classifier"]
    monkeypatch.chdir(tmp_path)
    namespace = fresh_module(code, f"migrated_{target}")
    assert not (tmp_path / "pwned.txt").exists()
    assert 'open("pwned.txt", "w")' in namespace["Classifier"].__doc__
    assert namespace["Classifier"].__doc__.endswith('"""' + " \\")
    net = namespace["Classifier"]()
    for batch in (1, 4):
        inputs = np.ones((batch, 4), dtype=np.float32)
        if target == "pytorch":
            import torch

            outputs = net(torch.from_numpy(inputs)).detach().numpy()
        else:
            outputs = np.asarray(net(inputs))
        assert outputs.shape == (batch, 3) and (outputs >= 0).all()
    assert not (tmp_path / "pwned.txt").exists()


@settings(max_examples=60, deadline=None)
@given(MODEL_NAMES, NODE_NAMES | ANY_TEXT)
def test_any_name_in_nn_text_reads_or_gets_a_diagnostic(model_name, node_name):
    text = DENSE_MODEL.format(name=model_name, description="").replace("hidden", node_name)
    try:
        model = parse_text(text, "named.nn")
    except NNPivotError as exc:
        assert exc.diagnostics and all(d.location is not None for d in exc.diagnostics)
        return
    if not [d for d in validate(model) if d.is_error]:
        read_back(model)
        check_generated(model)
