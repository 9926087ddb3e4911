"""The .nn DSL: parse -> print -> parse round trips, golden text, diagnostics."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from counts import EXAMPLE_COUNT, KIND_COUNT
from golden import check_golden
from hypothesis import given, settings
from hypothesis import strategies as st

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS
from nnpivot.metamodel.blocks import is_parameterised
from nnpivot.shapes import fmt, infer_shapes


def test_sample_round_trip(sample_path):
    model = parse_file(sample_path)
    text = to_text(model)
    again = parse_text(text, "printed.nn")
    assert differences(model, again) == []
    assert to_text(again) == text


def test_sample_canonical_text_is_golden(sample_path):
    check_golden(Path("nn") / sample_path.name, to_text(parse_file(sample_path)))


def test_sample_shapes_are_golden(sample_path):
    model = parse_file(sample_path)
    table, diagnostics = infer_shapes(model)
    assert diagnostics == []
    lines = []
    for graph in [model, *model.blocks]:
        if is_parameterised(graph):   # shapes per call: the block as each call specialised it
            for call in [c for c in table.calls if c.block is graph]:
                lines += [f"{graph.name}[{call.name}].{node.name}: {' '.join(fmt(s) for s in table[node])}"
                          for node in table.calls[call].nodes]
            continue
        for node in graph.nodes:
            lines.append(f"{graph.name}.{node.name}: {' '.join(fmt(s) for s in table[node])}")
    check_golden(Path("shapes") / f"{sample_path.stem}.txt", "\n".join(lines) + "\n")


def one_kind_text(example) -> str:
    inputs = "\n".join(f"    input {decl}" for decl in example.inputs)
    return f"model K {{\n{inputs}\n    result = {example.call}\n    output result\n}}\n"


EXAMPLES = [(k.keyword, i, ex) for k in KINDS.values() for i, ex in enumerate(k.examples)]


def test_every_kind_has_examples():
    assert len(KINDS) == KIND_COUNT
    assert len(EXAMPLES) == EXAMPLE_COUNT
    assert {kw for kw, _, _ in EXAMPLES} == set(KINDS)


@pytest.mark.parametrize("keyword,index,example", EXAMPLES, ids=[f"{k}-{i}" for k, i, _ in EXAMPLES])
def test_registry_example_round_trips(keyword, index, example):
    model = parse_text(one_kind_text(example), f"{keyword}.nn")
    assert type(model.nodes[-1]).__name__ == KINDS[keyword].eclass_name
    text = to_text(model)
    assert differences(model, parse_text(text)) == []
    assert to_text(parse_text(text)) == text


@pytest.mark.parametrize("written,mode,pads", [
    ("1", "explicit", [1, 1, 1, 1]),
    ("[1, 2]", "explicit", [1, 1, 2, 2]),
    ("[[1, 0], [2, 1]]", "explicit", [1, 0, 2, 1]),
    ("same", "same", []),
    ("valid", "valid", []),
    ("0", "valid", []),
])
def test_padding_spellings(written, mode, pads):
    model = parse_text(f"model P {{ input x: float32[3, 8, 8] c = conv2d(x, 4, kernel_size=3, padding={written})"
                       f" output c }}")
    conv = model.nodes[1]
    assert str(conv.padding) == mode and list(conv.pads) == pads
    assert to_text(parse_text(to_text(model))) == to_text(model)


def test_per_axis_values_are_stored_canonically():
    model = parse_text("model P { input x: float32[3, 8, 8] c = conv2d(x, 4, kernel_size=[3, 3], stride=[2, 1])"
                       " output c }")
    conv = model.nodes[1]
    assert list(conv.kernelSize) == [3] and list(conv.stride) == [2, 1]


BAD_TEXTS = [
    ("syntax-error", "model A { input x: float32[3]\n  y = dense(x, 3\n  output y }", (3, 3)),
    ("unknown-kind", "model A { input x: float32[3]\n  y = dnse(x, 3)\n  output y }", (2, 7)),
    ("unknown-argument", "model A { input x: float32[3]\n  y = dense(x, 3, unitz=4)\n  output y }", (2, 19)),
    ("unknown-reference", "model A { input x: float32[3]\n  y = dense(q, 3)\n  output y }", (2, 13)),
    ("duplicate-name", "model A { input x: float32[3]\n  x = dense(x, 3)\n  output x }", (2, 3)),
    ("duplicate-argument", "model A { input x: float32[3]\n  y = dense(x, 3, units=4)\n  output y }", (2, 19)),
    ("too-many-arguments", "model A { input x: float32[3]\n  y = dense(x, 3, 4)\n  output y }", (2, 19)),
    ("bad-value", "model A { input x: float32[3]\n  y = dense(x, 3.5)\n  output y }", (2, 16)),
    ("bad-value", ("model A { input x: float32[3, 8, 8]\n  y = conv2d(x, 3, kernel_size=3, padding=full)\n"
                   "  output y }"), (2, 43)),
    ("unknown-reference", "model A { input x: float32[3]\n  y = dense(x, 3, shares=z)\n  output y }", (2, 26)),
    ("bad-value", "model A { input x: float32[3]\n  y = dense(x, 3, shares=2)\n  output y }", (2, 26)),
    ("duplicate-argument", ("model A { input x: float32[3]\n  a = dense(x, 3)\n  y = dense(x, 3, shares=a, shares=a)"
                            "\n  output y }"), (3, 29)),
    ("unknown-dtype", "model A { input x: float31[3]\n  output x }", (1, 11)),
    ("unknown-setting", "model A { input x: float32[3]\n  output x\n  training { epoch 3 } }", (3, 14)),
    ("duplicate-training", ("model A { input x: float32[3]\n  output x\n  training { epochs 3 }\n"
                            "  training { epochs 4 } }"), (4, 3)),
]


@pytest.mark.parametrize("code,text,position", BAD_TEXTS, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(BAD_TEXTS)])
def test_diagnostics_are_located(code, text, position):
    with pytest.raises(NNPivotError) as info:
        parse_text(text, "bad.nn")
    first = info.value.diagnostics[0]
    assert first.code == code
    assert (first.location.file, first.location.line, first.location.col) == ("bad.nn", *position)
    assert str(first).startswith(f"bad.nn:{position[0]}:{position[1]}: error[{code}]: ")


SHARING = """model Siamese {
    input left: float32[6]
    input right: float32[6]
    a = dense(left, 4)
    b = dense(right, 4, shares=a)
    e1 = Encoder(a)
    e2 = Encoder(b, shares=e1)
    d = sub(e1, e2)
    output d

    block Encoder {
        input x
        h = dense(x, 4)
        r = relu(h)
        o = dense(r, 4, shares=h)
        output o
    }
}
"""


def test_shares_round_trips_and_is_canonical():
    model = parse_text(SHARING, "siamese.nn")
    by_name = {n.name: n for n in model.nodes}
    assert by_name["b"].weightsOf is by_name["a"] and by_name["e2"].weightsOf is by_name["e1"]
    inner = {n.name: n for n in model.blocks[0].nodes}
    assert inner["o"].weightsOf is inner["h"] and inner["h"].weightsOf is None
    assert to_text(model) == SHARING
    assert differences(model, parse_text(to_text(model))) == []
    # comparison sees a changed owner
    assert differences(model, parse_text(SHARING.replace("shares=a", "shares=e1"))) == [
        "node b: weightsOf 'a' != 'e1'"]


def test_all_problems_are_collected():
    text = "model A { input x: float32[3]\n  y = dnse(x, 3)\n  z = dense(x, 3, unitz=4)\n  w = dense(q, 3)\n  output w }"
    with pytest.raises(NNPivotError) as info:
        parse_text(text, "bad.nn")
    assert [d.code for d in info.value.diagnostics] == ["unknown-kind", "unknown-argument", "unknown-reference"]
    assert "did you mean 'dense'?" in info.value.diagnostics[0].message
    assert "did you mean 'units'?" in info.value.diagnostics[1].message


def test_missing_file_is_a_diagnostic(tmp_path):
    with pytest.raises(NNPivotError) as info:
        parse_file(tmp_path / "nope.nn")
    assert info.value.diagnostics[0].code == "file-not-found"


def test_unreadable_file_is_a_diagnostic(tmp_path):
    path = tmp_path / "binary.nn"
    path.write_bytes(b"\xff\xfe\x00model")
    with pytest.raises(NNPivotError) as info:
        parse_file(path)
    assert info.value.diagnostics[0].code == "unreadable-file"


# Random models: chains of registry examples whose input is the previous output
# are hard to keep shape-compatible, so each random model holds several
# independent one-kind graphs with random attribute values where it is safe.
@st.composite
def random_models(draw):
    picks = draw(st.lists(st.sampled_from(EXAMPLES), min_size=1, max_size=6))
    lines, outputs = [], []
    for n, (_, _, example) in enumerate(picks):
        call = example.call
        for decl in example.inputs:
            name = decl.split(":")[0]
            lines.append(f"    input {name}{n}:{decl.split(':', 1)[1]}")
            call = re.sub(rf"\b{name}\b(?!\s*=)", f"{name}{n}", call)
        lines.append(f"    node{n} = {call}")
        outputs.append(f"node{n}")
    units = draw(st.integers(1, 512))
    lines.append(f"    extra = dense(node0, {units}, bias={draw(st.sampled_from(['true', 'false']))})")
    rate = draw(st.floats(0, 0.99, allow_nan=False))
    lines.append(f"    drop = dropout(extra, {rate!r})")
    description = draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))
    return f"model R {json.dumps(description)} {{\n" + "\n".join(lines) + \
        f"\n    output {', '.join(outputs + ['drop'])}\n}}\n"


@settings(max_examples=60, deadline=None)
@given(random_models())
def test_random_models_round_trip(text):
    model = parse_text(text, "random.nn")
    printed = to_text(model)
    again = parse_text(printed, "printed.nn")
    assert differences(model, again) == []
    assert to_text(again) == printed


TEXTX = shutil.which("textx", path=str(Path(sys.executable).parent))


def test_textx_check_accepts_samples_and_locates_errors(tmp_path, sample_path):
    ok = subprocess.run([TEXTX, "check", str(sample_path)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.nn"
    bad.write_text("model A { input x: float32[3]\n  y = dnse(x, 3)\n  output y }")
    failed = subprocess.run([TEXTX, "check", str(bad)], capture_output=True, text=True, check=False)
    assert failed.returncode != 0
    assert f"{bad}:2:7" in failed.stdout + failed.stderr
    assert "unknown-kind" in failed.stdout + failed.stderr
    mismatch = tmp_path / "mismatch.nn"
    mismatch.write_text("model A { input x: float32[256]\n  y = dense(x, 3, in_features=400)\n  output y }")
    failed = subprocess.run([TEXTX, "check", str(mismatch)], capture_output=True, text=True, check=False)
    assert failed.returncode != 0 and "shape-mismatch" in failed.stdout + failed.stderr


def test_textx_generate_xmi(tmp_path):
    source = tmp_path / "lenet5.nn"
    source.write_text((Path(__file__).parent.parent / "samples" / "lenet5.nn").read_text())
    done = subprocess.run([TEXTX, "generate", str(source), "--target", "xmi"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    from nnpivot.importers.xmi import load_xmi
    assert differences(parse_file(source), load_xmi(tmp_path / "lenet5.xmi")) == []


@pytest.mark.parametrize("target,suffix,marker", [("pytorch", "_torch.py", "import torch"),
                                                  ("keras", "_keras.py", "import keras")])
def test_textx_generate_code(tmp_path, target, suffix, marker):
    source = tmp_path / "lenet5.nn"
    source.write_text((Path(__file__).parent.parent / "samples" / "lenet5.nn").read_text())
    done = subprocess.run([TEXTX, "generate", str(source), "--target", target], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert marker in (tmp_path / f"lenet5{suffix}").read_text()
    again = subprocess.run([TEXTX, "generate", str(source), "--target", target], capture_output=True, text=True, check=False)
    assert again.returncode != 0 and "output-exists" in again.stdout + again.stderr
