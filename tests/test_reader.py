"""The direct reader of the .nn grammar (grammars/reader.py) against textX, the grammar's definition.

Whatever the reader accepts it must read exactly as textX does (same rule
classes, attributes, defaults and positions); whatever textX rejects the reader
must reject too, so the importer falls back to textX for the diagnostic.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from textx import TextXSyntaxError

from nnpivot.diagnostics import NNPivotError
from nnpivot.grammars import metamodel, reader
from nnpivot.importers import nn_text
from nnpivot.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.nn"))


def tree(element):
    """A textX-shaped tree as plain data: rule class, position and every public attribute."""
    if isinstance(element, list):
        return [tree(item) for item in element]
    if hasattr(element, "_tx_position"):
        names = sorted(k for k in vars(element) if not k.startswith("_") and k != "parent")
        return (type(element).__name__, element._tx_position, element._tx_position_end,
                {name: tree(getattr(element, name)) for name in names})
    return element


def assert_same_tree(text: str) -> None:
    ours = reader.read(text)
    assert ours is not None, "the reader rejected text that textX reads"
    assert tree(ours) == tree(metamodel().model_from_str(text))


def example_texts():
    for kind in KINDS.values():
        for index, example in enumerate(kind.examples):
            inputs = "\n".join(f"    input {declaration}" for declaration in example.inputs)
            yield pytest.param(f"model M {{\n{inputs}\n    y = {example.call}\n    output y\n}}\n",
                               id=f"{kind.keyword}-{index}")


ACCEPTED = {
    "comments": 'model M "A model" { // line\n  # hash\n  /* block\n comment */ input x: float32[3, ?]\n'
                "  y = relu(x) // after\n  output y }  // trailing, no newline",
    "keywords-as-names": "model M { input x: float32[4]\n input = relu(x)\n inputs = relu(input)\n"
                         " output_ = relu(inputs)\n true_x = relu(output_)\n block1 = relu(true_x)\n"
                         " training = relu(block1)\n output training }",
    "values": 'model M { input x: float32[3, 8, 8]\n y = pad(x, [1, -1, +2, 0], value=.5)\n'
              " z = upsample(y, scale_factor=2.)\n w = mul(z, scalar=1e-3)\n v = mul(w, scalar=-2E+2, "
              "scalar_first=false)\n output v }",
    "strings-and-lists": 'model M "esc \\"quoted\\" \\n and \\\\" { input x: float32[3]\n'
                         " y = reshape(x, [[1], [3, [4]], []])\n output y }",
    "selection-and-shares": "model M { input x: float32[7, 12]\n s = lstm(x, 8)\n h = s[ 1 ]\n"
                            " a = dense(x, 4)\n b = dense(x, 4, shares=a)\n output h, a,b }",
    "blocks-and-training": "model M { block B { input u\n v = relu(u)\n output v }\n input x: int64[5]\n"
                           " c = B(x)\n output c\n training { optimizer adam(learning_rate=0.001, beta1=0.9)\n"
                           " loss cross_entropy metrics accuracy, mse epochs 3 batch_size 8 } }",
    "optimizer-as-name": "model M { input x: float32[2]\n output x\n training { optimizer sgd\n loss mse } }",
    "crlf-and-tabs": "model M {\r\n\tinput x: float32[2]\r\n\ty = relu( x )\r\n\toutput y\r\n}\r\n",
    "unicode-names": "model Modèle { input entrée: float32[2]\n sortie = relu(entrée)\n output sortie }",
    "empty-shapes": "model M { input x: float32[]\n input y\n output x }",
    "dims-with-unknown": "model M { input x: float32[?, 3,?]\n output x }",
    "special-floats": "model M { input x: float32[4]\n a = leaky_relu(x, nan)\n b = leaky_relu(a, -inf)\n"
                      " c = leaky_relu(b, negative_slope=+inf)\n d = pad(c, [1, 1], value=inf)\n"
                      " info = relu(d)\n nan_1 = relu(info)\n output nan_1 }",
}

REJECTED = {
    "unclosed-call": "model A { input x: float32[3]\n  y = dense(x, 3\n  output y }",
    "number-glued-to-word": "model A { input x: float32[3]\n y = dense(x, 3abc)\n output y }",
    "trailing-comma": "model A { input x: float32[3]\n y = dense(x, 3,)\n output y }",
    "text-after-model": "model A { input x: float32[3]\n output x } model B { }",
    "keyword-needs-boundary": "model A { inputx: float32[3] }",
    "unterminated-block-comment": "model A { input x: float32[3] /* output x }",
    "empty-setting": "model A { input x: float32[3]\n output x\n training { loss } }",
    "output-without-name": "model A { input x: float32[3]\n output }",
    "missing-dtype-bracket": "model A { input x: float32 }",
    "empty": "",
    "signed-nan-glued": "model A { input x: float32[3]\n y = leaky_relu(x, -nanx)\n output y }",
}


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_reader_reads_samples_as_textx_does(path):
    assert_same_tree(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text", list(example_texts()))
def test_reader_reads_registry_examples_as_textx_does(text):
    assert_same_tree(text)


@pytest.mark.parametrize("text", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_reader_reads_edge_cases_as_textx_does(text):
    assert_same_tree(text)


@pytest.mark.parametrize("text", list(REJECTED.values()), ids=list(REJECTED))
def test_reader_rejects_what_textx_rejects(text):
    assert reader.read(text) is None
    with pytest.raises(TextXSyntaxError):
        metamodel().model_from_str(text)


def test_syntax_errors_are_still_reported_by_textx():
    with pytest.raises(NNPivotError) as caught:
        nn_text.parse_text(REJECTED["unclosed-call"], "a.nn")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "syntax-error"
    assert (diagnostic.location.line, diagnostic.location.col) == (3, 3)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_both_paths_build_the_same_model_with_the_same_locations(path):
    from nnpivot.diagnostics import location_of
    from nnpivot.generators.nn_text import to_text

    text = path.read_text(encoding="utf-8")
    fast, _ = nn_text.build_model(reader.read(text), path.name, reader.LineColumns(text))
    slow, _ = nn_text.build_model(metamodel().model_from_str(text), path.name)
    assert to_text(fast) == to_text(slow)
    for graph_fast, graph_slow in zip([fast, *fast.blocks], [slow, *slow.blocks], strict=True):
        assert [location_of(n) for n in graph_fast.nodes] == [location_of(n) for n in graph_slow.nodes]


def test_builder_problems_have_the_same_locations_on_both_paths():
    text = ("model M {\n  input x: float32[3]\n  y = dense(x, 4, colour=2)\n  z = relu(w)\n"
            "  q = nothing(x)\n  output y\n}\n")
    fast = nn_text.build_model(reader.read(text), "m.nn", reader.LineColumns(text))[1]
    slow = nn_text.build_model(metamodel().model_from_str(text), "m.nn")[1]
    assert [str(d) for d in fast] == [str(d) for d in slow]
    assert {d.code for d in fast} == {"unknown-argument", "unknown-reference", "unknown-kind"}
