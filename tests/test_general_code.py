"""Generated models are shape-general and keep one layout contract, called the way their users call them.

Each model below is written in ``.nn`` with ``?`` for the sizes a user may vary,
generated to PyTorch and Keras, and both generated classes are instantiated and
given the same weights (the PyTorch initialization, through the pivot weight
store). Then they are called directly, as a user would: the PyTorch model with
channels-first ``torch`` tensors, the Keras model with channels-last NumPy
batches (every input and output of rank 4 or more; lower ranks as in PyTorch),
at two or three input sizes each, and must agree within 1e-5. Nothing goes
through ``keras_layouts`` or ``verify``: the layout is the README's contract.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.diagnostics import has_errors
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.importers.nn_text import parse_text
from nnpivot.validators import validate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

ATOL = 1e-5

SAME_PADDING = """
model SamePadding {
    input x: float32[3, ?, ?]
    strided = conv2d(x, 4, kernel_size=3, stride=2, padding=same)
    even = conv2d(strided, 4, kernel_size=2, padding=same)
    even_strided = conv2d(even, 5, kernel_size=4, stride=2, padding=same)
    dilated = conv2d(even_strided, 5, kernel_size=3, padding=same, dilation=2)
    max_pooled = max_pool2d(dilated, 3, stride=2, padding=same)
    avg_pooled = avg_pool2d(dilated, 2, stride=2, padding=same)
    output max_pooled
    output avg_pooled
}
"""

SAME_PADDING_1D_3D = """
model SameSignalsAndVolumes {
    input signal: float32[2, ?]
    input volume: float32[2, ?, ?, ?]
    s = conv1d(signal, 3, kernel_size=4, stride=3, padding=same)
    sp = max_pool1d(s, 3, stride=2, padding=same)
    v = conv3d(volume, 3, kernel_size=3, stride=2, padding=same)
    vp = avg_pool3d(v, 2, stride=2, padding=same)
    output sp
    output vp
}
"""

CEIL_MODE = """
model CeilModePools {
    input x: float32[3, ?, ?]
    max_3 = max_pool2d(x, 3, stride=2, padding=1, ceil_mode=true)
    avg_counted = avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=true)
    avg_uncounted = avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=true, count_include_pad=false)
    max_2 = max_pool2d(x, 2, ceil_mode=true)
    output max_3
    output avg_counted
    output avg_uncounted
    output max_2
}
"""

ADAPTIVE = """
model AdaptiveHeads {
    input x: float32[4, ?, ?]
    c = conv2d(x, 6, kernel_size=3, padding=1)
    avg = adaptive_avg_pool2d(c, [3, 2])
    top = adaptive_max_pool2d(c, 3)
    kept = global_avg_pool(c, keepdims=true)
    peak = global_max_pool(c)
    output avg
    output top
    output kept
    output peak
}
"""

RESIZING = """
model Resizing {
    input x: float32[3, ?, ?]
    c = conv2d(x, 8, kernel_size=3, padding=1)
    shuffled = pixel_shuffle(c, 2)
    nearest = upsample(shuffled, scale_factor=2.0)
    smooth = upsample(c, scale_factor=2.0, mode=bilinear)
    output nearest
    output smooth
}
"""

RESHAPES = """
model Reshapes {
    input x: float32[4, ?, ?]
    c = conv2d(x, 4, kernel_size=3, padding=same)
    rows = reshape(c, [4, -1])
    spatial = flatten(c, start_dim=2)
    middle = flatten(c, start_dim=1, end_dim=2)
    everything = flatten(c)
    output rows
    output spatial
    output middle
    output everything
}
"""

# Declared at one size, but the code must not be bound to it: at 7, the pads 1 of the stride-2 convolution are
# TensorFlow's 'same' pads, at 8 they are not.
DECLARED_ODD = """
model ResNetStem {
    input x: float32[3, 7, 7]
    c = conv2d(x, 4, kernel_size=3, stride=2, padding=1)
    p = max_pool2d(c, 3, stride=2, padding=1)
    output p
}
"""

# The layout contract: inputs going straight into a block, outputs coming from one, several of each.
UNET = """
model TinyUNet {
    input image: float32[3, ?, ?]
    down = Down(image)
    middle = conv2d(down, 8, kernel_size=3, padding=1)
    up = Up(middle)
    output up

    block Down {
        input x
        c = conv2d(x, 8, kernel_size=3, padding=1)
        p = max_pool2d(c, 2)
        output p
    }

    block Up {
        input x
        u = upsample(x, scale_factor=2.0)
        c = conv2d(u, 2, kernel_size=3, padding=1)
        output c
    }
}
"""

TWO_STREAMS = """
model TwoStreams {
    input left: float32[3, ?, ?]
    input right: float32[3, ?, ?]
    a = Stem(left)
    b = Stem(right)
    joined = concat(a, b, axis=1)
    mixed = conv2d(joined, 4, kernel_size=1)
    rows = reshape(mixed, [4, -1])
    grid = reshape(mixed, [2, 2, -1])
    summary = global_avg_pool(mixed)
    output mixed
    output rows
    output grid
    output summary

    block Stem {
        input x
        c = conv2d(x, 5, kernel_size=3, stride=2, padding=same)
        r = relu(c)
        output r
    }
}
"""

VOLUMES = """
model VolumeBlocks {
    input volume: float32[2, ?, ?, ?]
    encoded = Encode(volume)
    decoded = conv_transpose3d(encoded, 2, kernel_size=2, stride=2)
    output encoded
    output decoded

    block Encode {
        input x
        c = conv3d(x, 4, kernel_size=3, padding=1)
        p = max_pool3d(c, 2)
        output p
    }
}
"""

# model -> (source, sizes per call: one spatial-size tuple per input)
CASES = {
    "same-padding": (SAME_PADDING, [[(16, 16)], [(15, 17)], [(9, 10)]]),
    "same-padding-1d-3d": (SAME_PADDING_1D_3D, [[(16,), (8, 8, 8)], [(13,), (7, 9, 6)], [(20,), (5, 6, 11)]]),
    "ceil-mode": (CEIL_MODE, [[(16, 16)], [(15, 17)], [(9, 10)]]),
    "adaptive": (ADAPTIVE, [[(12, 12)], [(13, 17)], [(7, 9)]]),
    "resizing": (RESIZING, [[(6, 6)], [(5, 9)], [(7, 4)]]),
    "reshapes": (RESHAPES, [[(6, 6)], [(5, 9)], [(7, 4)]]),
    "declared-odd-size": (DECLARED_ODD, [[(7, 7)], [(8, 8)], [(10, 9)]]),
    "unet": (UNET, [[(16, 16)], [(8, 12)], [(6, 10)]]),
    "two-streams": (TWO_STREAMS, [[(16, 16), (16, 16)], [(9, 13), (9, 13)], [(6, 7), (6, 7)]]),
    "volumes": (VOLUMES, [[(8, 8, 8)], [(6, 10, 4)]]),
}


def channels_last(array: np.ndarray) -> np.ndarray:
    """The user's Keras layout of a PyTorch tensor: channels moved last for rank 4 and more."""
    return np.transpose(array, (0, *range(2, array.ndim), 1)) if array.ndim >= 4 else array


def instantiate(code: str, name: str):
    namespace: dict = {}
    exec(compile(code, f"<generated {name}>", "exec"), namespace)  # noqa: S102 - nnpivot's own output
    return namespace[name]()


def migrated_pair(source: str, first_inputs: list[np.ndarray]):
    """The generated PyTorch and Keras models of ``source``, with the same (PyTorch-initialized) weights."""
    import torch

    model = parse_text(source, "general.nn")
    problems = validate(model)
    assert not has_errors(problems), problems
    torch.manual_seed(0)
    torch_model = instantiate(pytorch_generator.generate(model, "general.nn"), class_name(model.name)).eval()
    keras_model = instantiate(keras_generator.generate(model, "general.nn"), class_name(model.name))
    call_keras(keras_model, [channels_last(a) for a in first_inputs])  # builds the layers
    store, diagnostics = pytorch_generator.store_from_state_dict(model, torch_model.state_dict())
    assert not has_errors(diagnostics), diagnostics
    assert not has_errors(keras_generator.assign_store(keras_model, model, store))
    return torch_model, keras_model


def call_torch(torch_model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        outputs = torch_model(*[torch.from_numpy(a) for a in inputs])
    return [o.numpy() for o in (outputs if isinstance(outputs, tuple) else (outputs,))]


def call_keras(keras_model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    import keras

    outputs = keras_model(inputs[0] if len(inputs) == 1 else inputs)
    return [keras.ops.convert_to_numpy(o) for o in (outputs if isinstance(outputs, (tuple, list)) else (outputs,))]


def batch(source_inputs: list[tuple[int, ...]], channels: list[int], rng) -> list[np.ndarray]:
    return [rng.standard_normal((2, c, *size)).astype("float32") for c, size in zip(channels, source_inputs)]


def input_channels(source: str) -> list[int]:
    model = parse_text(source, "general.nn")
    return [node.shape[0] for node in model.nodes if node.eClass.name == "Input"]


def max_difference(source: str, sizes: list[list[tuple[int, ...]]]) -> list[float]:
    """Per call size: the largest |Keras - PyTorch| over every output, each model called in its own layout."""
    rng = np.random.default_rng(0)
    channels = input_channels(source)
    calls = [batch(size, channels, rng) for size in sizes]
    torch_model, keras_model = migrated_pair(source, calls[0])
    worst = []
    for inputs in calls:
        expected = call_torch(torch_model, inputs)
        got = call_keras(keras_model, [channels_last(a) for a in inputs])
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == channels_last(e).shape, (g.shape, e.shape)
        worst.append(max(float(np.abs(g - channels_last(e)).max()) for g, e in zip(got, expected)))
    return worst


@pytest.mark.parametrize("case", list(CASES))
def test_generated_models_agree_at_every_size_in_their_users_layouts(case):
    source, sizes = CASES[case]
    differences = max_difference(source, sizes)
    assert len(differences) >= 2
    assert max(differences) <= ATOL, dict(zip(map(str, sizes), differences))


def test_same_padding_is_computed_when_called():
    model = parse_text(SAME_PADDING, "same.nn")
    code = pytorch_generator.generate(model, "same.nn")
    assert "def same_padded(layer, x" in code
    assert "strided = same_padded(self.strided, x)" in code
    assert 'max_pooled = same_padded(self.max_pooled, dilated, value=float("-inf"))' in code
    assert 'self.even = nn.Conv2d(4, 4, kernel_size=2, padding="same")' in code  # stride 1: PyTorch's own


def test_ceil_mode_pools_are_not_specialised():
    model = parse_text(CEIL_MODE, "ceil.nn")
    program = keras_generator.plan(model)
    assert not [d for d in program.diagnostics if d.code == "size-specialised"]


def test_a_size_bound_ceil_mode_pool_says_so():
    # stride 3 with padding 1 and kernel 3: PyTorch drops a last window that starts in the end padding, which
    # depends on the size. At a declared size the code holds for that size and says so; at '?' it is refused.
    fixed = parse_text("model P {\n input x: float32[2, 10, 11]\n p = max_pool2d(x, 3, stride=3, padding=1, "
                       "ceil_mode=true)\n output p\n}\n", "p.nn")
    program = keras_generator.plan(fixed)
    assert [d.code for d in program.diagnostics] == ["size-specialised"]
    assert "# Specialised to the declared input size: ceil_mode's end padding" in \
        keras_generator.generate(fixed, "p.nn")
    free = parse_text("model P {\n input x: float32[2, ?, ?]\n p = max_pool2d(x, 3, stride=3, padding=1, "
                      "ceil_mode=true)\n output p\n}\n", "p.nn")
    assert [d.code for d in keras_generator.plan(free).diagnostics] == ["unsupported-for-target"]
