"""If/else in parameterised blocks: a guard with an else branch, and a module both branches use declared once.

A transformer encoder layer is written once in .nn (samples/prepost_encoder_blocks.nn), pre-norm or post-norm (``if norm_first { ... } else
{ ... }``, the post-norm branch computing with the pre-norm branch's attention and LayerNorm through
``shares=``) and with relu or gelu chosen by a string parameter. It checks, prints back to the same text, reads
to the same tree with the direct reader and with textX, round-trips through XMI, and generates one class in
PyTorch and Keras whose shared modules are declared unconditionally (one weight name at every argument set);
both generated models, loaded strictly with the same weights and called directly at two sequence lengths,
agree within 1e-5. Mistakes in an else branch are located.

The corpus's sentence classifier, whose torch TransformerEncoderLayers differ in norm_first and activation,
migrates to one TransformerEncoderLayer class in each framework, equal to the source with its own weights.
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

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import save_xmi, to_xmi_string
from nnpivot.grammars import reader
from nnpivot.importers.nn_text import _meta, build_model, parse_text
from nnpivot.importers.xmi import load_xmi
from nnpivot.metamodel.blocks import argument_values, specialise
from nnpivot.migrate import migrate
from nnpivot.validators import validate

SAMPLE = ROOT / "samples" / "prepost_encoder_blocks.nn"
ENCODER = "".join(line for line in SAMPLE.read_text().splitlines(True) if not line.startswith("//"))
LENGTHS = (12, 7)


@pytest.fixture(scope="module")
def model():
    return parse_text(ENCODER, "encoder.nn")


def test_if_else_block_checks_and_prints_back(model):
    assert [str(d) for d in validate(model)] == []   # no warning either: an else branch's value is used
    text = to_text(model)
    assert text == ENCODER
    assert to_text(parse_text(text, "again.nn")) == text


def test_direct_reader_and_textx_read_the_same_model():
    direct, problems = build_model(reader.read(ENCODER), "encoder.nn", reader.LineColumns(ENCODER))
    textx, textx_problems = build_model(_meta().model_from_str(ENCODER, file_name="encoder.nn"), "encoder.nn")
    assert problems == textx_problems == []
    assert differences(direct, textx) == []
    guard = direct.blocks[0].guards[0]
    assert [n.name for n in guard.nodes] == ["norm1", "self_attn", "attended"]
    assert [n.name for n in guard.alternative] == ["post_attn", "post_sum", "post_norm1"]
    assert (guard.result.name, guard.otherwise.name) == ("attended", "post_norm1")


def test_if_else_block_round_trips_through_xmi(model, tmp_path):
    loaded = load_xmi(save_xmi(model, tmp_path / "encoder.xmi"))
    assert differences(model, loaded) == []
    assert to_xmi_string(loaded) == to_xmi_string(model)
    assert to_text(loaded) == ENCODER
    assert [n.name for n in loaded.blocks[0].guards[0].alternative] == ["post_attn", "post_sum", "post_norm1"]


def test_a_call_names_the_sharer_after_the_owner_it_leaves_out(model):
    pre_call, post_call = model.nodes[1], model.nodes[2]
    block = model.blocks[0]
    pre = specialise(block, argument_values(pre_call))
    post = specialise(block, argument_values(post_call))
    assert [n.name for n in pre.nodes] == ["src", "norm1", "self_attn", "attended", "norm2", "linear1", "act",
                                           "linear2", "residual"]
    assert [n.name for n in post.nodes] == ["src", "self_attn", "post_sum", "norm1", "linear1", "relu",
                                            "linear2", "residual", "norm2"]
    assert all(n.weightsOf is None for n in [*pre.nodes, *post.nodes])   # each owns its weights, by one name
    assert [n.name for n in post.outputs] == ["norm2"]


def test_generated_class_declares_shared_modules_once():
    model = parse_text(ENCODER, "encoder.nn")
    torch_code = pytorch_generator.generate(model, "encoder.nn")
    assert re.findall(r"^class (\w+)\(", torch_code, re.MULTILINE) == ["EncoderLayer", "PrePostEncoder"]
    init = torch_code.split("def forward")[0]
    for module in ("norm1", "self_attn", "norm2"):
        assert f"\n        self.{module} = " in init, module   # unconditional, at the __init__'s own level
    assert "        if self.norm_first:\n            norm1 = self.norm1(src)" in torch_code
    assert "        else:\n            post_attn, _ = self.self_attn(src, src, src)" in torch_code
    assert "            attended = post_norm1" in torch_code
    assert '        if activation == "gelu":\n            self.act = nn.GELU()\n        else:\n' in torch_code
    keras_code = keras_generator.generate(model, "encoder.nn")
    assert re.findall(r"^class (\w+)\(", keras_code, re.MULTILINE) == ["EncoderLayer", "PrePostEncoder"]
    assert '\n        self.norm1 = layers.LayerNormalization(epsilon=1e-05, name="norm1")' in keras_code
    assert "            post_norm1 = self.norm1(post_sum)" in keras_code


@pytest.mark.torch
@pytest.mark.tensorflow
def test_generated_models_agree_called_directly(model, tmp_path):
    import torch

    torch_module = load_generated(pytorch_generator.generate(model, "encoder.nn"), "encoder_torch")
    net = torch_module.PrePostEncoder().eval()
    keys = set(net.state_dict())
    assert {"pre.norm1.weight", "post.norm1.weight", "post.self_attn.in_proj_weight", "post.norm2.bias"} <= keys
    store, problems = pytorch_generator.store_from_state_dict(model, net.state_dict())
    assert problems == []
    store = enliven(store, seed=7)
    net.load_state_dict(pytorch_generator.state_dict_from_store(model, store))   # strict: every key maps

    keras_module = load_generated(keras_generator.generate(model, "encoder.nn"), "encoder_keras")
    layer = keras_module.PrePostEncoder()
    layer(np.zeros((1, LENGTHS[0], 16), np.float32))
    assert keras_generator.assign_store(layer, model, store) == []

    rng = np.random.default_rng(0)
    for length in LENGTHS:
        sequences = rng.standard_normal((2, length, 16)).astype(np.float32)
        with torch.no_grad():
            expected = net(torch.from_numpy(sequences)).numpy()
        found = np.asarray(layer(sequences))
        assert found.shape == expected.shape == (2, length, 16)
        assert np.abs(found - expected).max() < 1e-5, (length, np.abs(found - expected).max())

    weights = tmp_path / "encoder.weights.h5"   # the weights reload by name into a fresh instance
    layer.save_weights(weights)
    fresh = keras_module.PrePostEncoder()
    fresh(np.zeros((1, LENGTHS[0], 16), np.float32))
    fresh.load_weights(weights)
    probe = rng.standard_normal((1, LENGTHS[1], 16)).astype(np.float32)
    assert np.abs(np.asarray(fresh(probe)) - np.asarray(layer(probe))).max() == 0


@pytest.mark.parametrize("old,new,expected", [
    ("post_sum = add(src, post_attn)", "post_sum = add(self_attn, post_attn)",
     "encoder.nn:15:13: error[bad-guard]: 'post_sum' of the else branch reads 'self_attn' of the 'if' branch"),
    ("            attended = post_norm1\n", "            attended = norm1\n",
     "encoder.nn:17:24: error[bad-guard]: 'norm1' is inside the 'if': it is absent too"),
    ("            act = relu\n", "            act = linear1\n",
     "encoder.nn:27:19: error[bad-guard]: 'linear1' is not a node of the else branch"),
    ("            act = relu\n        }", "            act = relu\n        ",
     "encoder.nn:29:9: error[syntax-error]: expected '(', '[', '}' before 'linear2 ='"),
])
def test_mistakes_in_an_else_branch_are_located(old, new, expected):
    assert old in ENCODER
    with pytest.raises(NNPivotError) as caught:
        parse_text(ENCODER.replace(old, new, 1), "encoder.nn")
    found = [str(d) for d in caught.value.diagnostics]
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.torch
@pytest.mark.tensorflow
def test_pre_and_post_norm_torch_layers_migrate_to_one_class_equal_with_the_sources_weights(tmp_path):
    """pytorch/transformer_encoder_classifier.py with lively weights against both migrations, loaded strictly
    from the migrated checkpoints and called directly, at two sequence lengths."""
    import torch

    source = ROOT / "samples" / "corpus" / "pytorch" / "transformer_encoder_classifier.py"
    definitions = runpy.run_path(str(source))   # the test's own input; its training is guarded
    torch.manual_seed(5)
    original = definitions["SentenceEncoder"]().eval()
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, parameter in original.named_parameters():   # lively: LayerNorm scales away from one
            parameter.copy_(1 + 0.3 * torch.randn(parameter.shape, generator=generator) if "norm" in name
                            else 0.3 * torch.randn(parameter.shape, generator=generator))
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)

    torch_code, torch_weights = tmp_path / "migrated_torch.py", tmp_path / "migrated.pt"
    to_torch = migrate(source, "pytorch", torch_code, weights=checkpoint, weights_out=torch_weights)
    assert to_torch.ok, to_torch.report_text()
    keras_code, keras_weights = tmp_path / "migrated_keras.py", tmp_path / "migrated.weights.h5"
    to_keras = migrate(source, "keras", keras_code, weights=checkpoint, weights_out=keras_weights)
    assert to_keras.ok, to_keras.report_text()
    for code in (torch_code.read_text(), keras_code.read_text()):
        modules = r"^class (\w+)\((?:nn\.Module|keras\.layers\.Layer|keras\.Model)\)"   # not the optimizer's class
        assert re.findall(modules, code, re.MULTILINE) == ["TransformerEncoderLayer", "TransformerEncoder",
                                                           "SentenceEncoder"]
    assert "if self.norm_first:" in torch_code.read_text() and "if self.norm_first:" in keras_code.read_text()

    net = load_generated(torch_code.read_text(), "classifier_torch").SentenceEncoder().eval()
    net.load_state_dict(torch.load(torch_weights))   # strict: the source's keys, one norm1 per layer
    refine = {k for k in net.state_dict() if k.startswith("refine.")}   # the pre-norm layer: the source's keys
    assert refine == {k for k in original.state_dict() if k.startswith("refine.")}
    assert len(net.state_dict()) == len(original.state_dict())   # the encoder's layers are layers_<i> here
    keras_model = load_generated(keras_code.read_text(), "classifier_keras").SentenceEncoder()
    keras_model(np.ones((1, 12), np.int64))
    keras_model.load_weights(keras_weights)

    rng = np.random.default_rng(5)
    for length in (12, 7):
        tokens = rng.integers(1, 300, (3, length))
        with torch.no_grad():
            expected = original(torch.from_numpy(tokens)).numpy()
            found_torch = net(torch.from_numpy(tokens)).numpy()
        found_keras = np.asarray(keras_model(tokens))
        assert expected.shape == found_torch.shape == found_keras.shape == (3, 4)
        assert np.abs(found_torch - expected).max() < 1e-5, (length, np.abs(found_torch - expected).max())
        assert np.abs(found_keras - expected).max() < 1e-5, (length, np.abs(found_keras - expected).max())
