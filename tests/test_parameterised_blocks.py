"""Parameterised blocks: a block written once with typed parameters, called with arguments.

The two samples (a ResNet-18-shaped network whose BasicBlock has an optional
projection shortcut, a U-Net-shaped one whose DoubleConv runs at five widths
and three resolutions) check, print back to the same text, round-trip through
XMI, and generate one class per block in PyTorch and Keras; both generated
models, loaded with the same weights and called directly in their own layout
(channels-first PyTorch, channels-last Keras) at two input sizes, agree within
1e-5. The .nn importer and the validators locate every mistake of a call.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import ROOT
from generated_module import load_generated
from pivot_models import CAUSAL_TCN, causal_tcn

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import save_xmi, to_xmi_string
from nnpivot.grammars import metamodel, reader
from nnpivot.importers.nn_text import build_model, parse_file, parse_text
from nnpivot.importers.xmi import load_xmi
from nnpivot.shapes import infer_shapes
from nnpivot.validators import validate

SAMPLES = {"resnet18_blocks": ("ResNet18Blocks", "BasicBlock"), "unet_blocks": ("UNetBlocks", "DoubleConv")}
SIZES = (32, 48)


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request):
    return request.param, parse_file(ROOT / "samples" / f"{request.param}.nn")


def test_sample_checks_and_prints_back(sample):
    name, model = sample
    assert [d for d in validate(model) if d.is_error] == []
    text = to_text(model)
    again = parse_text(text, f"{name}.nn")
    assert differences(model, again) == []
    assert to_text(again) == text


def test_sample_round_trips_through_xmi(sample, tmp_path):
    _, model = sample
    loaded = load_xmi(save_xmi(model, tmp_path / "model.xmi"))
    assert differences(model, loaded) == []
    assert to_xmi_string(loaded) == to_xmi_string(model)
    block = loaded.blocks[0]
    assert [p.name for p in block.parameters] == [p.name for p in model.blocks[0].parameters]


def test_each_call_has_its_own_shapes(sample):
    _, model = sample
    table, diagnostics = infer_shapes(model)
    assert diagnostics == []   # no block-shape-conflict: each call is specialised at its own widths
    widths = {table.of(call)[1] for call in table.calls}
    assert len(widths) >= 3


def test_generated_code_has_one_class_per_block(sample):
    name, model = sample
    model_class, block_class = SAMPLES[name]
    for generate in (pytorch_generator.generate, keras_generator.generate):
        code = generate(model, f"{name}.nn")
        classes = re.findall(r"^class (\w+)\(", code, re.MULTILINE)
        assert classes == [block_class, model_class], classes


def test_resnet_block_code_reads_like_hand_written_code():
    model = parse_file(ROOT / "samples" / "resnet18_blocks.nn")
    torch_code = pytorch_generator.generate(model, "resnet18_blocks.nn")
    assert "def __init__(self, in_planes, planes, stride=1):" in torch_code
    flat = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", torch_code))
    assert "nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False)" in flat
    assert "        if self.stride != 1 or self.in_planes != self.planes:" in torch_code
    assert "            shortcut = x" in torch_code
    assert "self.layer2_0 = BasicBlock(8, 16, stride=2)" in torch_code
    keras_code = keras_generator.generate(model, "resnet18_blocks.nn")
    assert "class BasicBlock(keras.layers.Layer):" in keras_code
    assert "def __init__(self, in_planes, planes, stride=1, **kwargs):" in keras_code
    assert '"stride": self.stride,' in keras_code


@pytest.mark.torch
@pytest.mark.tensorflow
def test_generated_models_agree_called_directly(sample, tmp_path):
    import keras
    import torch

    name, model = sample
    model_class, _ = SAMPLES[name]
    torch_module = load_generated(pytorch_generator.generate(model, f"{name}.nn"), f"{name}_torch")
    net = getattr(torch_module, model_class)().eval()
    store, problems = pytorch_generator.store_from_state_dict(model, net.state_dict())
    assert problems == []
    store = enliven(store, seed=4)   # running statistics too, so the comparison exercises them
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))   # strict: every key maps

    keras_module = load_generated(keras_generator.generate(model, f"{name}.nn"), f"{name}_keras")
    layer = getattr(keras_module, model_class)()
    layer(np.zeros((1, SIZES[0], SIZES[0], 3), np.float32))
    assert keras_generator.assign_store(layer, model, store) == []

    rng = np.random.default_rng(0)
    for size in SIZES:
        images = rng.standard_normal((2, 3, size, size)).astype(np.float32)   # channels-first, as PyTorch users
        with torch.no_grad():
            expected = net(torch.from_numpy(images)).numpy()
        found = np.asarray(layer(np.transpose(images, (0, 2, 3, 1))))        # channels-last, as Keras users
        if found.ndim == 4:
            found = np.transpose(found, (0, 3, 1, 2))
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < 1e-5, (size, np.abs(found - expected).max())

    # the Keras weights reload by name into a fresh instance, and the saved .keras model reloads
    weights = tmp_path / "model.weights.h5"
    layer.save_weights(weights)
    fresh = getattr(keras_module, model_class)()
    fresh(np.zeros((1, SIZES[0], SIZES[0], 3), np.float32))
    fresh.load_weights(weights)
    probe = rng.standard_normal((1, SIZES[1], SIZES[1], 3)).astype(np.float32)
    assert np.abs(np.asarray(fresh(probe)) - np.asarray(layer(probe))).max() == 0
    saved = tmp_path / "model.keras"
    layer.save(saved)
    custom = {n: getattr(keras_module, n) for n in dir(keras_module) if isinstance(getattr(keras_module, n), type)}
    reloaded = keras.models.load_model(saved, custom_objects=custom)
    assert np.abs(np.asarray(reloaded(probe)) - np.asarray(layer(probe))).max() < 1e-6


# --- mistakes, located --------------------------------------------------------------------------

BLOCK = """model M {{
    input x: float32[4, 8, 8]
    y = Conv({call})
    output y

    block Conv(width: int, stride: int = 1, size: int = 3{extra}) {{
        input z
        c = conv2d(z, {filters}, kernel_size=size, stride=stride{more})
        output c
    }}
}}
"""


def problems(call: str = "x, 8", filters: str = "width", extra: str = "", more: str = "") -> list[str]:
    text = BLOCK.format(call=call, filters=filters, extra=extra, more=more)
    try:
        model = parse_text(text, "blocks.nn")
    except NNPivotError as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(d) for d in validate(model) if d.is_error]


@pytest.mark.parametrize("arguments,expected", [
    ({"filters": "widht * 2"}, ("blocks.nn:8:23: error[unknown-parameter]: 'widht' is not a parameter here "
                                "(did you mean 'width'?)")),
    ({"filters": "4", "more": ", dilation=dilaton"}, ("blocks.nn:8:68: error[unknown-parameter]: 'dilaton' is not a "
                                                   "parameter here")),
    ({"filters": "widht"}, ("blocks.nn:8:23: error[unknown-reference]: 'widht' is not defined here (did you mean "
                            "'width'?)")),
    ({"call": "x, 8, strides=2"}, ("blocks.nn:3:20: error[unknown-parameter]: block Conv has no parameter "
                                   "'strides' (did you mean 'stride'?)")),
    ({"call": "x"}, ("blocks.nn:3:9: error[missing-block-argument]: call 'y' of block Conv gives no value for "
                     "'width'")),
    ({"call": "x, 2.5"}, ("blocks.nn:3:17: error[argument-type]: parameter 'width' of block Conv is int, got float")),
    ({"filters": "width / 2"}, ("blocks.nn:8:23: error[expression-type]: conv2d argument filters expects an "
                                "integer, the expression gives float")),
    ({"filters": "width > 2"}, ("blocks.nn:8:23: error[expression-type]: conv2d argument filters expects an "
                                "integer, the expression gives bool")),
    ({"extra": ", depth: tensor"}, ("blocks.nn:6:60: error[unknown-type]: parameter 'depth': unknown type "
                                    "'tensor' (one of int, float, bool, string)")),
    ({"extra": ", flag: bool = 3"}, ("blocks.nn:6:73: error[argument-type]: parameter 'flag' is bool, its default "
                                     "is int 3")),
    ({"call": "x, 8, size=12"}, ("blocks.nn:3:5: error[shape-mismatch]: block call 'y': Conv(width=8, stride=1, "
                                 "size=12) does not fit its inputs (N, 4, 8, 8): conv2d 'c': a window of 12 does not "
                                 "fit an axis of size 8")),
    ({"call": "x, 0"}, ("blocks.nn:3:5: error[shape-mismatch]: block call 'y': Conv(width=0, stride=1, size=3) does "
                        "not fit its inputs (N, 4, 8, 8): conv2d 'c': filters must be positive")),
])
def test_mistakes_are_located(arguments, expected):
    found = problems(**arguments)
    assert len(found) == 1 and found[0].startswith(expected), found   # one mistake, one message


def test_an_expression_divides_by_zero_at_the_call():
    found = problems(call="x, 0", filters="16 div width")
    assert found == ["blocks.nn:3:5: error[expression-error]: block call 'y': division by zero"], found


def test_guard_reads_back_and_names_only_its_own_nodes():
    text = """model M {
    input x: float32[4, 8, 8]
    y = Res(x, 4)
    output y

    block Res(width: int) {
        input z
        c = conv2d(z, width, kernel_size=1)
        if width != 4 {
            p = conv2d(z, width, kernel_size=1)
        } else c = z
        s = add(c, z)
        output s
    }
}
"""
    with pytest.raises(NNPivotError) as caught:
        parse_text(text, "guard.nn")
    assert [str(d) for d in caught.value.diagnostics] == [
        "guard.nn:11:16: error[bad-guard]: 'else c = ...' names a node outside the 'if'"]
    model = parse_text(text.replace("} else c = z", "} else p = z").replace("add(c, z)", "add(c, p)"), "guard.nn")
    assert validate(model) == []
    assert to_text(parse_text(to_text(model))) == to_text(model)
    assert "        } else p = z\n" in to_text(model)


@pytest.mark.torch
def test_calls_that_cannot_share_a_class_get_one_class_per_argument_set():
    """A flag bound to a parameter is no number the code can compute with: its calls are written apart."""
    import torch

    model = parse_text("""model M {
    input x: float32[6]
    a = Head(x, 4, true)
    b = Head(a, 4, false)
    output b

    block Head(units: int, bias: bool) {
        input z
        d = dense(z, units, bias=bias)
        output d
    }
}
""", "heads.nn")
    assert validate(model) == []
    code = pytorch_generator.generate(model, "heads.nn")
    assert re.findall(r"^class (\w+)\(", code, re.MULTILINE) == ["Head", "Head2", "M"]
    net = load_generated(code, "heads_torch").M().eval()
    assert net.a.d.bias is not None and net.b.d.bias is None
    store, _ = pytorch_generator.store_from_state_dict(model, net.state_dict())
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))
    with torch.no_grad():
        assert tuple(net(torch.zeros(3, 6)).shape) == (3, 4)


def test_canonicalisation_leaves_a_parameterised_block_as_written():
    # Two permutes that undo each other are nothing to the cancel-permutes pass; inside a parameterised block
    # they sit in a guarded group, which removed or replaced nodes would silently leave.
    text = """model Flipped {
    input x: float32[4, 8, 6]
    a = Flip(x, true)
    b = Flip(x, false)
    output a
    output b

    block Flip(twice: bool) {
        input x
        if twice {
            p = permute(x, [0, 1, 3, 2])
            flipped = permute(p, [0, 1, 3, 2])
        } else flipped = x
        out = relu(flipped)
        output out
    }
}
"""
    model = parse_text(text, "flipped.nn")
    assert [node.name for node in model.blocks[0].nodes] == ["x", "p", "flipped", "out"]
    assert [d for d in validate(model) if d.is_error] == []
    assert to_text(parse_text(to_text(model), "again.nn")) == to_text(model)


# --- a padding bound to an expression --------------------------------------------------------------

def _both_paths(text: str, filename: str):
    """The model and the problems the direct reader and textX build from ``text``: they must be the same."""
    fast, fast_problems = build_model(reader.read(text), filename, reader.LineColumns(text))
    slow, slow_problems = build_model(metamodel().model_from_str(text), filename)
    assert [str(d) for d in fast_problems] == [str(d) for d in slow_problems]
    assert differences(fast, slow) == []
    return fast, [str(d) for d in fast_problems]


def test_a_padding_expression_checks_prints_back_and_round_trips_through_xmi(tmp_path):
    model, problems = _both_paths(CAUSAL_TCN, "tcn.nn")
    assert problems == []
    assert [d for d in validate(model) if d.is_error] == []
    assert to_text(model) == CAUSAL_TCN                        # the text was written as the printer writes it
    assert differences(model, causal_tcn()) == []              # the expression tree is the one built in Python
    binding = next(b for b in model.blocks[0].nodes[1].bindings if b.feature == "pads")
    assert binding.value.eClass.name == "ListExpression" and len(binding.value.items) == 2
    loaded = load_xmi(save_xmi(model, tmp_path / "tcn.xmi"))
    assert differences(model, loaded) == []
    assert to_text(loaded) == CAUSAL_TCN
    table, diagnostics = infer_shapes(model)
    assert diagnostics == []
    pads = {call.name: list(next(n for n in block.nodes if n.name == "conv").pads)
            for call, block in table.calls.items()}
    assert pads == {"b1": [2, 0], "b2": [4, 0], "b3": [4, 0]}   # each call pads by its own arguments


@pytest.mark.parametrize("written,printed", [
    ("dilation", "padding=dilation"),                              # every side
    ("[[dilation, dilation]]", "padding=dilation"),                # the same, as a pair
    ("[dilation * 2]", "padding=dilation * 2"),                    # one per axis
    ("([[dilation, 0]])", "padding=[[dilation, 0]]"),              # parentheses around the list
    ("[[(2), 0]]", "padding=[[(2), (0)]]"),                        # no parameter: still an expression
])
def test_a_padding_expression_prints_in_its_shortest_form(written, printed):
    text = CAUSAL_TCN.replace("[[(kernel_size - 1) * dilation, 0]]", written).replace("out = add(act, z)",
                                                                                      "out = relu(act)")
    model, problems = _both_paths(text, "tcn.nn")
    assert problems == []
    again = to_text(model)
    assert f"kernel_size=kernel_size, {printed}, dilation=dilation)" in again
    assert to_text(parse_text(again, "again.nn")) == again
    assert differences(model, parse_text(again, "again.nn")) == []


@pytest.mark.parametrize("written,expected", [
    ("[[flag, 0]]", ("tcn.nn:13:71: error[expression-type]: conv1d argument padding expects integers, the "
                     "expression gives bool")),
    ("[[dilation / 2, 0]]", ("tcn.nn:13:71: error[expression-type]: conv1d argument padding expects integers, the "
                             "expression gives float")),
    ("mode", ("tcn.nn:13:69: error[expression-type]: conv1d argument padding expects integers, the expression "
              "gives string")),
    ("[(kernel_size - 1) * dilation, 0]", ("tcn.nn:13:69: error[expression-type]: conv1d argument padding expects "
                                           "one expression, 1 (one per axis) or 1 [begin, end] pair(s), got [a "
                                           "value, a value] (one axis padded [begin, end] is written [[begin, "
                                           "end]])")),
    ("[[dilation, 0], [0, 0]]", ("tcn.nn:13:69: error[expression-type]: conv1d argument padding expects one "
                                 "expression, 1 (one per axis) or 1 [begin, end] pair(s), got [a list of 2, a list "
                                 "of 2]")),
    ("[[dilaton, 0]]", ("tcn.nn:13:71: error[unknown-parameter]: 'dilaton' is not a parameter here (did you mean "
                        "'dilation'?)")),
])
def test_a_wrong_padding_expression_is_located(written, expected):
    text = CAUSAL_TCN.replace("[[(kernel_size - 1) * dilation, 0]]", written).replace(
        "kernel_size: int = 3)", 'kernel_size: int = 3, flag: bool = false, mode: string = "same")')
    _, problems = _both_paths(text, "tcn.nn")
    assert problems == [expected]
    with pytest.raises(NNPivotError) as caught:
        parse_text(text, "tcn.nn")
    assert [str(d) for d in caught.value.diagnostics] == [expected]


def test_a_padding_out_of_range_for_one_call_is_reported_at_that_call():
    text = CAUSAL_TCN.replace("[[(kernel_size - 1) * dilation, 0]]",
                              "[[(kernel_size - 1) * dilation + 3 - kernel_size, kernel_size - 3]]")
    model = parse_text(text, "tcn.nn")   # right for the calls at kernel size 3: the text is no mistake
    found = [str(d) for d in validate(model) if d.is_error]
    assert found == [("tcn.nn:6:5: error[out-of-range]: call 'b3' of block CausalBlock: conv1d 'conv' in block "
                      "CausalBlock: pads must be zero or positive, got [5, -1]")], found


def _agree_at_lengths(model, name: str, model_class: str, lengths=(20, 33)):
    """Generate both frameworks' code, load the same lively weights strictly into each, call them directly on
    (N, C, L) signals (a Conv1d's layout in PyTorch, and the pivot's for a rank-3 Keras input) at two
    lengths, and check they agree within 1e-5; the code and the PyTorch model are returned."""
    import torch

    torch_code = pytorch_generator.generate(model, f"{name}.nn")
    net = getattr(load_generated(torch_code, f"{name}_torch"), model_class)().eval()
    store, problems = pytorch_generator.store_from_state_dict(model, net.state_dict())
    assert problems == []
    store = enliven(store, seed=7)
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))   # strict: every key maps
    keras_code = keras_generator.generate(model, f"{name}.nn")
    layer = getattr(load_generated(keras_code, f"{name}_keras"), model_class)()
    layer(np.zeros((1, 3, lengths[0]), np.float32))
    assert keras_generator.assign_store(layer, model, store) == []
    rng = np.random.default_rng(1)
    for length in lengths:
        signals = rng.standard_normal((2, 3, length)).astype(np.float32)
        with torch.no_grad():
            expected = net(torch.from_numpy(signals)).numpy()
        found = np.asarray(layer(signals))
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < 1e-5, (length, np.abs(found - expected).max())
    return torch_code, keras_code, net


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_padding_expression_is_one_class_and_agrees_in_both_frameworks():
    import torch
    import torch.nn.functional as F

    model = parse_text(CAUSAL_TCN, "tcn.nn")
    torch_code, keras_code, net = _agree_at_lengths(model, "tcn", "CausalTCN")
    # The PyTorch model computes what the text says: each block pads (kernel_size - 1) * dilation on the left.
    rng = np.random.default_rng(3)
    for length in (20, 33):
        signals = torch.from_numpy(rng.standard_normal((2, 3, length)).astype(np.float32))
        with torch.no_grad():
            y = net.stem(signals)
            for block, dilation, kernel_size in ((net.b1, 1, 3), (net.b2, 2, 3), (net.b3, 4, 2)):
                padded = F.pad(y, ((kernel_size - 1) * dilation, 0))
                y = torch.relu(F.conv1d(padded, block.conv.weight, block.conv.bias, dilation=dilation)) + y
            expected = net.head(y[:, :, -1])
            assert torch.abs(net(signals) - expected).max() < 1e-5
    for code in (torch_code, keras_code):
        assert re.findall(r"^class (\w+)\(", code, re.MULTILINE) == ["CausalBlock", "CausalTCN"]
    assert "F.pad(z, ((self.kernel_size - 1) * self.dilation, 0))" in torch_code
    assert "padding=((kernel_size - 1) * dilation, 0)" in keras_code


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_padding_that_renders_otherwise_per_call_gets_one_class_per_argument_set():
    """Symmetric pads are the layer's own padding, asymmetric ones a pad before it: two calls, two classes."""
    model = parse_text("""model Pads {
    input x: float32[3, ?]
    a = Side(x, 1)
    b = Side(a, 2)
    output b

    block Side(dilation: int) {
        input z
        c = conv1d(z, 3, kernel_size=3, padding=[[dilation, 1]], dilation=dilation)
        output c
    }
}
""", "pads.nn")
    assert [d for d in validate(model) if d.is_error] == []
    torch_code, keras_code, _ = _agree_at_lengths(model, "pads", "Pads")
    for code in (torch_code, keras_code):
        assert re.findall(r"^class (\w+)\(", code, re.MULTILINE) == ["Side", "Side2", "Pads"]
