"""A block whose stride is a parameter is one PyTorch class, right at every stride and every input size.

TensorFlow's 'same' padding at a stride above 1 depends on the input size (the extra pad goes to the
bottom/right), at stride 1 it is PyTorch's own ``padding="same"``. A block convolution whose stride is
bound to a block parameter is therefore padded by the generated ``same_padded`` helper, which computes the
pads from the size of its input at every call, whatever the stride. An input size that differs between the
calls and equals no parameter (the input channels a Keras layer infers) becomes a parameter of the generated
class (``in_channels``). The generated models are loaded with the same weights (PyTorch strictly) and called
directly in their users' layout at odd and even sizes, where TensorFlow pads symmetrically and not.
"""
from __future__ import annotations

import os
import re
import runpy

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import ROOT
from generated_module import load_generated

from nnpivot.frameworks import enliven
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.importers.nn_text import parse_text
from nnpivot.migrate import migrate
from nnpivot.validators import validate

ATOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")
STRIDED = """model Strided {
    input x: float32[3, 16, 16]
    stem = conv2d(x, 8, kernel_size=3, padding=same)
    a = Down(stem, 8)
    b = Down(a, 12, stride=2)
    c = Down(b, 16, stride=3)
    output c

    block Down(filters: int, stride: int = 1) {
        input z
        wide = conv2d(z, filters, kernel_size=3, stride=stride, padding=same)
        even = conv2d(wide, filters, kernel_size=2, padding=same)
        skip = conv2d(z, filters, kernel_size=1, stride=stride, padding=same, bias=false)
        sum = add(even, skip)
        output sum
    }
}
"""


def _classes(code: str) -> list[str]:
    return re.findall(r"^class (\w+)\(", code, re.MULTILINE)


def test_a_block_at_several_strides_and_widths_is_one_class_taking_its_input_channels():
    model = parse_text(STRIDED, "strided.nn")
    assert validate(model) == []
    code = pytorch_generator.generate(model, "strided.nn")
    assert _classes(code) == ["Down", "Strided"]
    assert "def __init__(self, in_channels, filters, stride=1):" in code
    assert "self.wide = nn.Conv2d(in_channels, filters, kernel_size=3, stride=stride)" in code
    assert "wide = same_padded(self.wide, z)" in code   # one spelling for stride 1, 2 and 3
    assert 'padding="same"' in code                     # the conv without a bound stride keeps torch's own
    for call in ("self.a = Down(8, 8)", "self.b = Down(8, 12, stride=2)", "self.c = Down(12, 16, stride=3)"):
        assert call in code
    assert code.count("def same_padded(") == 1


def test_a_block_without_differing_inputs_takes_no_size_parameter():
    """Calls at one width read the channels as a number, as before: no parameter nobody needs."""
    text = STRIDED.replace("stem = conv2d(x, 8,", "stem = conv2d(x, 6,").replace(
        "b = Down(a, 12, stride=2)", "b = Down(stem, 12, stride=2)").replace(
        "c = Down(b, 16, stride=3)", "c = Down(stem, 16, stride=3)").replace("output c", "output a, b, c")
    model = parse_text(text, "strided.nn")
    assert validate(model) == []
    code = pytorch_generator.generate(model, "strided.nn")
    assert _classes(code) == ["Down", "Strided"]
    assert "def __init__(self, filters, stride=1):" in code
    assert "nn.Conv2d(6, filters, kernel_size=3, stride=stride)" in code


@pytest.mark.torch
@pytest.mark.tensorflow
def test_the_strided_block_agrees_with_keras_at_odd_and_even_sizes():
    import torch

    model = parse_text(STRIDED, "strided.nn")
    net = load_generated(pytorch_generator.generate(model, "strided.nn"), "strided_torch").Strided().eval()
    store, problems = pytorch_generator.store_from_state_dict(model, net.state_dict())
    assert problems == []
    store = enliven(store, seed=2)
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))   # strict: every key maps
    layer = load_generated(keras_generator.generate(model, "strided.nn"), "strided_keras").Strided()
    layer(np.zeros((1, 16, 16, 3), np.float32))
    assert keras_generator.assign_store(layer, model, store) == []

    rng = np.random.default_rng(0)
    for height, width in ((16, 16), (17, 23), (31, 30)):
        images = rng.standard_normal((2, 3, height, width)).astype(np.float32)   # channels-first
        with torch.no_grad():
            expected = net(torch.from_numpy(images)).numpy()
        found = np.transpose(np.asarray(layer(np.transpose(images, (0, 2, 3, 1)))), (0, 3, 1, 2))
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < ATOL, ((height, width), np.abs(found - expected).max())


@pytest.mark.torch
@pytest.mark.tensorflow
def test_the_keras_resnet_script_migrates_to_one_block_class_equal_at_two_sizes(tmp_path):
    """keras/script_resnet_custom_blocks.py: the Keras source with lively weights against its migrated PyTorch
    model loaded strictly from the migrated checkpoint, both called directly, at the size the script builds
    and at an odd, non-square one (the Keras model rebuilt there with the same weights); also block by block."""
    import keras
    import torch

    source = ROOT / "samples" / "corpus" / "keras" / "script_resnet_custom_blocks.py"
    definitions = runpy.run_path(str(source))   # the test's own input; its main() is guarded
    keras.utils.set_random_seed(3)
    original = definitions["build_resnet"]()
    rng = np.random.default_rng(3)
    for variable in original.weights:   # lively weights: batch norm statistics too
        shape = tuple(variable.shape)
        variable.assign(rng.uniform(0.5, 1.5, shape) if "variance" in variable.path
                        else 0.3 * rng.standard_normal(shape))
    checkpoint = tmp_path / "original.weights.h5"
    original.save_weights(str(checkpoint))

    code, weights = tmp_path / "migrated.py", tmp_path / "migrated.pt"
    result = migrate(source, "pytorch", code, weights=checkpoint, weights_out=weights)
    assert result.ok, result.report_text()
    text = code.read_text()
    assert _classes(text) == ["ResidualBlock", "ResnetSmall"]
    assert "def __init__(self, in_channels, filters, strides=1):" in text
    namespace: dict = {"__name__": "migrated_resnet"}
    exec(compile(text, str(code), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    net = namespace[class_name(result.model.name)]().eval()
    net.load_state_dict(torch.load(weights))   # strict

    blocks = [name for name, module in net.named_children() if type(module).__name__ == "ResidualBlock"]
    assert len(blocks) == 6
    captured = {}
    for name in blocks:
        getattr(net, name).register_forward_hook(lambda m, i, out, name=name: captured.__setitem__(name, out))
    for height, width in ((32, 32), (27, 35)):
        keras_model = definitions["build_resnet"](input_shape=(height, width, 3))
        keras_model.load_weights(str(checkpoint))
        keras_blocks = [layer for layer in keras_model.layers if type(layer).__name__ == "ResidualBlock"]
        probe = keras.Model(keras_model.inputs, [keras_model.output] + [layer.output for layer in keras_blocks])
        images = rng.standard_normal((2, height, width, 3)).astype(np.float32)   # channels-last, as Keras users
        expected, *inner = [np.asarray(o) for o in probe(images, training=False)]
        with torch.no_grad():
            found = net(torch.from_numpy(np.ascontiguousarray(np.transpose(images, (0, 3, 1, 2))))).numpy()
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < ATOL, ((height, width), np.abs(found - expected).max())
        for name, keras_out in zip(blocks, inner):
            torch_out = np.transpose(captured[name].numpy(), (0, 2, 3, 1))
            assert torch_out.shape == keras_out.shape, name
            assert np.abs(torch_out - keras_out).max() < ATOL * 10, (name, (height, width))


def test_the_size_parameter_never_takes_a_modules_name():
    """A node named like the parameter keeps ``self.in_channels`` as its module; the parameter moves aside."""
    code = pytorch_generator.generate(parse_text(STRIDED.replace("wide", "in_channels"), "strided.nn"), "strided.nn")
    assert "def __init__(self, in_channels_, filters, stride=1):" in code
    assert "self.in_channels = nn.Conv2d(\n            in_channels_, filters, kernel_size=3, stride=stride\n" in code
    assert "self.in_channels = in_channels" not in code
