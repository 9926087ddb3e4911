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
import types

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import ROOT

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import save_xmi, to_xmi_string
from nnpivot.importers.nn_text import parse_file, parse_text
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


def _load(code: str, module_name: str):
    module = types.ModuleType(module_name)
    exec(compile(code, f"<{module_name}>", "exec"), module.__dict__)  # noqa: S102 - the code under test
    return module


@pytest.mark.torch
@pytest.mark.tensorflow
def test_generated_models_agree_called_directly(sample, tmp_path):
    import keras
    import torch

    name, model = sample
    model_class, _ = SAMPLES[name]
    torch_module = _load(pytorch_generator.generate(model, f"{name}.nn"), f"{name}_torch")
    net = getattr(torch_module, model_class)().eval()
    store, problems = pytorch_generator.store_from_state_dict(model, net.state_dict())
    assert problems == []
    store = enliven(store, seed=4)   # running statistics too, so the comparison exercises them
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))   # strict: every key maps

    keras_module = _load(keras_generator.generate(model, f"{name}.nn"), f"{name}_keras")
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
    net = _load(code, "heads_torch").M().eval()
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
