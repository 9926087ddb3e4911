"""Issue 12 step 3: a helper class used with different constructor arguments imports as ONE parameterised block.

The sources below are written as people write them (a U-Net DoubleConv at several widths, a SqueezeNet Fire
module, a ResNet BasicBlock whose shortcut exists only when the shape changes). Each imports with one block
per source class, migrates to Keras and back with one class per source class, and the migrated weights give
the original's outputs when the generated models are loaded with the users' own loaders and called in the
users' layouts at two input sizes.
"""
from __future__ import annotations

import importlib.util
import re
import sys

import numpy as np
import pytest
from conftest import ROOT

from nnpivot.compare import differences
from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.metamodel.blocks import argument_values, specialise
from nnpivot.migrate import migrate, source_key

CORPUS = ROOT / "samples" / "corpus"

UNET = '''\
import torch
import torch.nn as nn


class DoubleConv(nn.Module):
    """(conv => BN => ReLU) * 2, the U-Net building block."""

    def __init__(self, in_channels, out_channels, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.net(x)


class SmallUNet(nn.Module):
    def __init__(self, in_channels=3, classes=2, base=8):
        super().__init__()
        self.down1 = DoubleConv(in_channels, base)
        self.down2 = DoubleConv(base, base * 2)
        self.bottom = DoubleConv(base * 2, base * 4)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(base * 4, base * 2, kernel_size=2, stride=2)
        self.dec2 = DoubleConv(base * 4, base * 2)
        self.up1 = nn.ConvTranspose2d(base * 2, base, kernel_size=2, stride=2)
        self.dec1 = DoubleConv(base * 2, base)
        self.head = nn.Conv2d(base, classes, kernel_size=1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        b = self.bottom(self.pool(d2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], dim=1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
        return self.head(u1)
'''

FIRE = '''\
import torch
import torch.nn as nn


class Fire(nn.Module):
    def __init__(self, in_channels, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = nn.Conv2d(in_channels, squeeze, kernel_size=1)
        self.squeeze_act = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_act(self.squeeze(x))
        return torch.cat([self.act(self.expand1x1(x)), self.act(self.expand3x3(x))], 1)


class TinySqueezeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 4, 8, 8),
            Fire(16, 4, 8, 8),
            Fire(16, 8, 16, 16),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(32, 8, 16, 24),
        )
        self.classifier = nn.Sequential(
            nn.Conv2d(40, num_classes, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)
'''

RESNET = '''\
import torch.nn as nn
import torch.nn.functional as F

STAGES = [(16, 1), (32, 2), (32, 1)]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class SmallResNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, width = [], 16
        for planes, stride in STAGES:
            blocks.append(BasicBlock(width, planes, stride))
            width = planes
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        out = self.pool(self.blocks(self.stem(x)))
        return self.fc(out.flatten(1))
'''

MOBILE = '''\
import torch
import torch.nn as nn

SETTINGS = [(1, 8, 1), (4, 12, 2), (4, 12, 1), (4, 16, 2)]   # expansion, channels, stride


class Inverted(nn.Module):
    """Expand (only when the ratio is not 1), depthwise, project; the shortcut only where the shape is kept."""

    def __init__(self, inp, oup, stride, ratio):
        super().__init__()
        hidden = inp * ratio
        self.residual = stride == 1 and inp == oup
        layers = []
        if ratio != 1:
            layers += [nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        if self.residual:
            return x + self.body(x)
        return self.body(x)


class TinyMobileNet(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6())
        blocks, width = [], 8
        for ratio, channels, stride in SETTINGS:
            blocks.append(Inverted(width, channels, stride, ratio))
            width = channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(x.mean((2, 3)))
'''

# source file, network class, block classes, (channels, two input sizes)
SOURCES = {
    "unet": (UNET, "SmallUNet", ["DoubleConv"], (3, (16, 24))),
    "squeezenet": (FIRE, "TinySqueezeNet", ["Fire"], (3, (33, 47))),
    "resnet": (RESNET, "SmallResNet", ["BasicBlock"], (3, (16, 20))),
}


def _module(path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _classes(code: str) -> list[str]:
    return re.findall(r"^class (\w+)\(", code, re.MULTILINE)


@pytest.mark.parametrize("name", SOURCES)
def test_one_block_per_source_class(name, tmp_path):
    source, _, blocks, _ = SOURCES[name]
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    model, _ = import_pytorch(path)
    assert [b.name for b in model.blocks] == blocks
    calls = [n for n in model.nodes if n.eClass.name == "BlockCall"]
    assert len(calls) >= 3 and all(c.block is model.blocks[0] for c in calls)
    # every call has its own arguments, and they are the constructor's
    values = [tuple(argument_values(c).values()) for c in calls]
    assert len(set(values)) > 1


def test_optional_shortcut_is_a_guard_with_the_source_test(tmp_path):
    path = tmp_path / "resnet.py"
    path.write_text(RESNET, encoding="utf-8")
    model, _ = import_pytorch(path)
    [block] = model.blocks
    [guard] = block.guards
    assert sorted(n.name for n in guard.nodes) == ["shortcut_0", "shortcut_1"]
    assert (guard.result.name, guard.otherwise.name) == ("shortcut_1", "x")
    condition = guard.condition   # stride != 1 or in_planes != self.expansion * planes: expansion is no parameter
    assert condition is not None
    calls = [n for n in model.nodes if n.eClass.name == "BlockCall"]
    assert [tuple(v for v in argument_values(c).values()) for c in calls] == [(16, 16, 1), (16, 32, 2), (32, 32, 1)]


def test_an_optional_layer_shifting_list_positions_and_an_optional_shortcut_are_two_guards(tmp_path):
    path = tmp_path / "mobile.py"
    path.write_text(MOBILE, encoding="utf-8")
    model, report = import_pytorch(path)
    [block] = model.blocks
    by_result = {g.result.name: g for g in block.guards}
    assert sorted(by_result) == ["add", "body_2"]
    assert sorted(n.name for n in by_result["body_2"].nodes) == ["body_0", "body_1", "body_2"]
    assert (by_result["body_2"].otherwise.name, by_result["add"].otherwise.name) == ("x", "body_7")
    ratio = next(p for p in block.parameters if p.name == "ratio")
    ratios = [values[ratio] for values in
              (argument_values(c) for c in model.nodes if c.eClass.name == "BlockCall")]
    assert ratios == [1, 4, 4, 4]
    # the first call has no expansion: its depthwise layer is body.0 of its checkpoint, the others' body.3
    assert source_key(model, report, "blocks_0.body_3.weight") == "blocks.0.body.0.weight"
    assert source_key(model, report, "blocks_1.body_3.weight") == "blocks.1.body.3.weight"
    assert source_key(model, report, "blocks_0.body_7.running_var") == "blocks.0.body.4.running_var"


def test_resnet_like_bottleneck_binds_an_arithmetic_expression(tmp_path):
    source = '''\
import torch.nn as nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes):
        super().__init__()
        self.reduce = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.conv = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.expand = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.expand(self.conv(self.relu(self.reduce(x)))))


class Stack(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Bottleneck(3, 4)
        self.b = Bottleneck(16, 8)
        self.c = Bottleneck(32, 2)

    def forward(self, x):
        return self.c(self.b(self.a(x)))
'''
    path = tmp_path / "stack.py"
    path.write_text(source, encoding="utf-8")
    model, _ = import_pytorch(path)
    assert [b.name for b in model.blocks] == ["Bottleneck"]
    expand = next(n for n in model.blocks[0].nodes if n.name == "expand")
    # in_channels is the parameter itself; the filters are the parameter times the expansion
    assert [b.value.eClass.name for b in expand.bindings].count("ParameterRef") == 1
    [value] = [b.value for b in expand.bindings if b.value.eClass.name == "BinaryExpression"]
    assert (value.eClass.name, value.operator.name, value.left.parameter.name, value.right.value) == \
        ("BinaryExpression", "mul", "planes", 4)


def test_attributes_no_simple_expression_fits_keep_one_block_per_use(tmp_path):
    source = '''\
import torch.nn as nn


class Square(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = nn.Linear(4, width * width)

    def forward(self, x):
        return self.proj(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Square(2)
        self.b = Square(3)

    def forward(self, x):
        return self.a(x) + self.b(x)[:, :4]
'''
    path = tmp_path / "square.py"
    path.write_text(source, encoding="utf-8")
    model, _ = import_pytorch(path, input_shapes=[(4,)])
    assert [b.name for b in model.blocks] == ["Square", "Square2"]
    assert all(not b.parameters for b in model.blocks)


def test_a_padding_differing_per_use_is_bound_and_prints_back(tmp_path):
    # A padding bound to a parameter is written as an expression in the .nn text: read back, every call pads
    # by its own dilation (not the first use's padding).
    source = '''\
import torch.nn as nn


class Dilated(nn.Module):
    def __init__(self, channels, dilation):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)

    def forward(self, x):
        return self.conv(x).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Dilated(4, 1)
        self.b = Dilated(4, 2)

    def forward(self, x):
        return self.b(self.a(x))
'''
    path = tmp_path / "dilated.py"
    path.write_text(source, encoding="utf-8")
    model, _ = import_pytorch(path, input_shapes=[(4, 16)])
    assert [b.name for b in model.blocks] == ["Dilated"]
    text = to_text(model)
    assert "        conv = conv1d(x, 4, in_channels=4, kernel_size=3, padding=dilation, dilation=dilation)\n" in text
    again = parse_text(text, "dilated.nn")
    assert differences(model, again) == []
    assert to_text(again) == text
    block = again.blocks[0]
    pads = [list(next(n for n in specialise(block, argument_values(call)).nodes if n.name == "conv").pads)
            for call in again.nodes if call.eClass.name == "BlockCall"]
    assert pads == [[1, 1], [2, 2]]


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("name", SOURCES)
def test_migrates_to_keras_and_back_with_weights(name, tmp_path):
    import keras
    import torch

    source, network, blocks, (channels, sizes) = SOURCES[name]
    path = tmp_path / f"{name}_source.py"
    path.write_text(source, encoding="utf-8")
    original_module = _module(path, f"{name}_source")
    torch.manual_seed(3)
    original = getattr(original_module, network)()
    with torch.no_grad():   # running statistics away from 0/1, so the comparison exercises them
        for module in original.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    original.eval()
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)

    keras_path, keras_weights = tmp_path / f"{name}_keras.py", tmp_path / "migrated.weights.h5"
    result = migrate(path, "keras", keras_path, weights=checkpoint, weights_out=keras_weights)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    keras_code = keras_path.read_text(encoding="utf-8")
    assert _classes(keras_code) == [*blocks, network]

    back_path, back_weights = tmp_path / f"{name}_back.py", tmp_path / "back.pt"
    result = migrate(keras_path, "pytorch", back_path, weights=keras_weights, weights_out=back_weights,
                     input_shapes=[(sizes[0], sizes[0], channels)])   # the Keras model is built on call: given
    assert result.failed is None, [str(d) for d in result.diagnostics]
    assert _classes(back_path.read_text(encoding="utf-8")) == [*blocks, network]

    keras_model = getattr(_module(keras_path, f"{name}_keras"), network)()
    keras_model(np.zeros((1, sizes[0], sizes[0], channels), np.float32))
    keras_model.load_weights(keras_weights)
    back = getattr(_module(back_path, f"{name}_back"), network)()
    back.load_state_dict(torch.load(back_weights))
    back.eval()

    rng = np.random.default_rng(1)
    for size in sizes:
        images = rng.standard_normal((2, channels, size, size)).astype(np.float32)   # channels-first
        with torch.no_grad():
            expected = original(torch.from_numpy(images)).numpy()
            again = back(torch.from_numpy(images)).numpy()
        found = np.asarray(keras_model(np.transpose(images, (0, 2, 3, 1))))          # channels-last
        if found.ndim == 4:
            found = np.transpose(found, (0, 3, 1, 2))
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < 1e-5, (size, np.abs(found - expected).max())
        assert np.abs(again - expected).max() < 1e-5, (size, np.abs(again - expected).max())
    del keras


@pytest.mark.torch
@pytest.mark.tensorflow
def test_corpus_tcn_is_one_causal_block_in_both_frameworks_with_its_weights(tmp_path):
    """The corpus TCN: one CausalBlock whose left pad (kernel_size - 1) * dilation is computed from its
    arguments, migrated to Keras and back with one block class each; the migrated weights, loaded strictly by
    the users' own loaders, give the original's outputs at two sequence lengths."""
    import torch

    source = CORPUS / "pytorch" / "conv1d_dilated_tcn.py"
    model, _ = import_pytorch(source, model_name="TCN", input_shapes=[(3, 32)])
    assert [b.name for b in model.blocks] == ["CausalBlock"]
    assert "padding=[[(kernel_size - 1) * dilation, 0]]" in to_text(model)

    original = _module(source, "corpus_tcn_source").TCN()
    torch.manual_seed(5)
    with torch.no_grad():
        for parameter in original.parameters():
            parameter.uniform_(-0.5, 0.5)
    original.eval()
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)

    keras_path, keras_weights = tmp_path / "tcn_keras.py", tmp_path / "migrated.weights.h5"
    result = migrate(source, "keras", keras_path, weights=checkpoint, weights_out=keras_weights)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    keras_code = keras_path.read_text(encoding="utf-8")
    assert _classes(keras_code) == ["CausalBlock", "TCN"]
    assert "layers.ZeroPadding1D(\n            padding=((kernel_size - 1) * dilation, 0)" in keras_code

    back_path, back_weights = tmp_path / "tcn_back.py", tmp_path / "back.pt"
    result = migrate(keras_path, "pytorch", back_path, weights=keras_weights, weights_out=back_weights,
                     input_shapes=[(3, -1)])   # the Keras model is built on call: given, length left free
    assert result.failed is None, [str(d) for d in result.diagnostics]
    back_code = back_path.read_text(encoding="utf-8")
    assert _classes(back_code) == ["CausalBlock", "TCN"]
    assert "F.pad(x, ((self.kernel_size - 1) * self.dilation, 0))" in back_code

    lengths = (32, 45)
    keras_model = _module(keras_path, "corpus_tcn_keras").TCN()
    keras_model(np.zeros((1, 3, lengths[0]), np.float32))   # a Conv1d's (N, C, L), as the source reads it
    keras_model.load_weights(keras_weights)
    back = _module(back_path, "corpus_tcn_back").TCN()
    back.load_state_dict(torch.load(back_weights))   # strict: every key maps
    back.eval()

    rng = np.random.default_rng(2)
    for length in lengths:
        signals = rng.standard_normal((2, 3, length)).astype(np.float32)
        with torch.no_grad():
            expected = original(torch.from_numpy(signals)).numpy()
            again = back(torch.from_numpy(signals)).numpy()
        found = np.asarray(keras_model(signals))
        assert found.shape == expected.shape == (2, 1)
        assert np.abs(found - expected).max() < 1e-5, (length, np.abs(found - expected).max())
        assert np.abs(again - expected).max() < 1e-5, (length, np.abs(again - expected).max())


DILATED_STACK = '''\
import torch
import torch.nn as nn


class Dilated(nn.Module):
    """A dilated 3-tap convolution; at dilation 1 it pads nothing (padding=0 is a valid convolution)."""

    def __init__(self, channels, dilation):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size=3, padding=dilation - 1, dilation=dilation)

    def forward(self, x):
        return torch.tanh(self.conv(x))


class Stack(nn.Module):
    def __init__(self, channels=4):
        super().__init__()
        self.layers = nn.Sequential(Dilated(channels, 1), Dilated(channels, 2), Dilated(channels, 3))

    def forward(self, x):
        return self.layers(x)
'''


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_padding_that_is_zero_for_one_use_binds_and_migrates_as_one_class(tmp_path):
    import torch

    path = tmp_path / "stack.py"
    path.write_text(DILATED_STACK, encoding="utf-8")
    model, _ = import_pytorch(path, input_shapes=[(4, 24)])
    assert [b.name for b in model.blocks] == ["Dilated"]   # valid at dilation 1, explicit above: one block
    assert "padding=dilation - 1, dilation=dilation)" in to_text(model)
    first = next(n for n in model.nodes if n.eClass.name == "BlockCall")
    conv = next(n for n in specialise(model.blocks[0], argument_values(first)).nodes if n.name == "conv")
    assert (str(conv.padding), list(conv.pads)) == ("valid", [])   # no pads is no padding, as imported

    torch.manual_seed(1)
    original = _module(path, "dilated_stack_source").Stack().eval()
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)
    keras_path, keras_weights = tmp_path / "stack_keras.py", tmp_path / "migrated.weights.h5"
    result = migrate(path, "keras", keras_path, weights=checkpoint, weights_out=keras_weights)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    keras_code = keras_path.read_text(encoding="utf-8")
    assert _classes(keras_code) == ["Dilated", "Stack"]
    assert 'layers.ZeroPadding1D(padding=dilation - 1, name="conv_pad")' in keras_code
    torch_path = tmp_path / "stack_torch.py"
    assert migrate(path, "pytorch", torch_path).failed is None
    assert _classes(torch_path.read_text(encoding="utf-8")) == ["Dilated", "Stack"]

    lengths = (24, 31)
    keras_model = _module(keras_path, "dilated_stack_keras").Stack()
    keras_model(np.zeros((1, 4, lengths[0]), np.float32))   # a Conv1d's (N, C, L), as the source reads it
    keras_model.load_weights(keras_weights)
    rng = np.random.default_rng(4)
    for length in lengths:
        signals = rng.standard_normal((2, 4, length)).astype(np.float32)
        with torch.no_grad():
            expected = original(torch.from_numpy(signals)).numpy()
        found = np.asarray(keras_model(signals))
        assert found.shape == expected.shape == (2, 4, length - 6)
        assert np.abs(found - expected).max() < 1e-5, (length, np.abs(found - expected).max())


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_a_block_with_an_optional_expansion_and_shortcut_migrates_as_one_class_with_its_weights(target, tmp_path):
    import keras
    import torch

    path = tmp_path / "mobile_source.py"
    path.write_text(MOBILE, encoding="utf-8")
    torch.manual_seed(5)
    original = _module(path, "mobile_source").TinyMobileNet()
    with torch.no_grad():
        for module in original.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
    original.eval()
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)
    code = tmp_path / f"mobile_{target}.py"
    weights = tmp_path / ("migrated.pt" if target == "pytorch" else "migrated.weights.h5")
    result = migrate(path, target, code, weights=checkpoint, weights_out=weights)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    text = code.read_text(encoding="utf-8")
    assert _classes(text) == ["Inverted", "TinyMobileNet"]
    assert "if self.ratio != 1:" in text and "if self.stride == 1 and self.inp == self.oup:" in text
    migrated = _module(code, f"mobile_{target}").TinyMobileNet()
    if target == "pytorch":
        migrated.load_state_dict(torch.load(weights))
        migrated.eval()
    else:
        migrated(np.zeros((1, 16, 16, 3), np.float32))
        migrated.load_weights(weights)
    rng = np.random.default_rng(2)
    for size in (16, 21):
        images = rng.standard_normal((2, 3, size, size)).astype(np.float32)   # channels-first
        with torch.no_grad():
            expected = original(torch.from_numpy(images)).numpy()
            if target == "pytorch":
                found = migrated(torch.from_numpy(images)).numpy()
        if target == "keras":
            found = np.asarray(migrated(np.transpose(images, (0, 2, 3, 1))))     # channels-last
        assert found.shape == expected.shape
        assert np.abs(found - expected).max() < 1e-5, (size, np.abs(found - expected).max())
    del keras
