"""Shared weights (``Node.weightsOf``, ``shares=`` in the DSL) across the toolkit.

A siamese model (a layer, an LSTM and a block call applied twice, a layer applied
twice inside the block) is generated to PyTorch and Keras: one module or layer
object per shared set, no weight keys for the sharing nodes, and both generated
models compute the same function in both weight directions. The five corpus
files that share layers import with exact sharing (no ``shared-weights``
warning) and verify against their generated translation through the generic
runners (the source file executed as it is, weights matched by name or layer).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import ROOT
from pivot_models import siamese

from nnpivot.frameworks import enliven, open_model_file, runner_for_code
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import parse_text
from nnpivot.migrate import import_source
from nnpivot.validators import validate
from nnpivot.verify import verify_runners

CORPUS = ROOT / "samples" / "corpus"
ENTRIES = {e["path"]: e for e in json.loads((CORPUS / "manifest.json").read_text())["entries"]}
SHARING_FILES = {  # file -> (sharing node, owner) pairs the importer must produce
    "keras/gru_shared_encoder.py": {"embedding_1": "embedding", "encoder_1": "encoder"},
    "keras/mlp_shared_dense.py": {"shared_projection_1": "shared_projection"},
    "pytorch/cnn_siamese.py": {"encoder_0_1": "encoder_0", "encoder_3_1": "encoder_3", "encoder_7_1": "encoder_7"},
    "pytorch/rnn_two_encoders.py": {"embedding_1": "embedding"},
}
# Not a sharing file: its functional model lists layers in another order than the generated one.
VERIFIED_FILES = [*SHARING_FILES, "keras/cnn_resnet_functional.py"]
OTHER = {"pytorch": "keras", "keras": "pytorch"}
GENERATORS = {"pytorch": pytorch_generator.generate, "keras": keras_generator.generate}

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]


@pytest.fixture(scope="module")
def model():
    built = siamese()
    assert [d for d in validate(built) if d.is_error] == []
    return built


@pytest.fixture(scope="module")
def codes(model):
    return {target: generate(model, "siamese.nn") for target, generate in GENERATORS.items()}


def test_sharing_model_prints_and_parses_back(model):
    text = to_text(model)
    assert "rnn_right = lstm(right, 6, return_sequences=false, shares=rnn)" in text
    assert "enc_right = Encoder(rnn_right, shares=enc)" in text
    assert "again = dense(act, 6, shares=proj)" in text
    assert to_text(parse_text(text)) == text


def test_pytorch_code_has_one_module_per_shared_set(codes):
    code = codes["pytorch"]
    assert code.count("nn.LSTM(") == 1 and code.count("= Encoder()") == 1 and code.count("nn.Linear(6, 6)") == 1
    assert "_, (rnn_right, _) = self.rnn(right)" in code and "rnn_right = rnn_right[-1]" in code
    assert "enc_right = self.enc(rnn_right)" in code
    assert "again = self.proj(act)" in code


def test_keras_code_calls_the_shared_layer_objects_again(codes):
    code = codes["keras"]
    assert code.count("layers.LSTM(") == 1 and code.count('= Encoder(name="enc")') == 1
    assert code.count("layers.Dense(6") == 1
    assert "self.rnn(right)" in code and "self.enc(rnn_right)" in code and "self.proj(act)" in code


def test_sharing_nodes_have_no_weight_keys(model):
    keys = [slot.pivot_key for slot in pytorch_generator.parameter_slots(model)]
    assert keys and not [k for k in keys if k.split(".")[0] in ("rnn_right", "enc_right") or ".again." in k]
    assert "enc.proj.weight" in keys and "rnn.weight_ih_l0" in keys


@pytest.mark.torch
@pytest.mark.tensorflow
def test_generated_models_agree_in_both_weight_directions(model, codes, tmp_path):
    torch_runner = runner_for_code(codes["pytorch"], tmp_path / "torch_model.py", model, "pytorch")
    keras_runner = runner_for_code(codes["keras"], tmp_path / "keras_model.py", model, "keras")
    keras_native = keras_runner.native_store()
    torch_native = torch_runner.native_store()
    assert set(keras_native) == set(torch_native)
    forward = verify_runners(torch_runner, keras_runner, model, inputs=10, atol=1e-5)
    backward = verify_runners(keras_runner, torch_runner, model, store=enliven(keras_native, seed=1), inputs=10,
                              atol=1e-5, seed=1)
    print(f"siamese: PyTorch->Keras {forward.max_abs_diff:.3g}, Keras->PyTorch {backward.max_abs_diff:.3g}")
    assert forward.passed and backward.passed, (forward.max_abs_diff, backward.max_abs_diff)
    # one set of weights really serves both branches: equal inputs give a zero distance before the head
    left = np.random.default_rng(2).standard_normal((3, 5, 6)).astype(np.float32)
    outputs = torch_runner.run([left, left])[0]
    bias = torch_runner.obj.score.bias.detach().numpy()
    assert np.allclose(outputs, bias, atol=1e-6)


def test_a_shared_dense_after_flatten_of_different_layouts_is_refused():
    # one Dense read after a Flatten of channels-last maps (rows reordered) and after a plain vector
    text = ("model M {\n  input x: float32[2, 3, 3]\n  input v: float32[18]\n  f = flatten(x)\n"
            "  c = conv2d(x, 2, kernel_size=1)\n  g = flatten(c)\n  a = dense(g, 4)\n  b = dense(v, 4, shares=a)\n"
            "  output f, a, b\n}\n")
    model = parse_text(text, "m.nn")
    assert [d for d in validate(model) if d.is_error] == []
    with pytest.raises(Exception) as caught:
        keras_generator.generate(model, "m.nn")
    assert "shares the weights of 'a'" in str(caught.value)


def _import(path):
    entry = ENTRIES[path]
    return import_source(CORPUS / path, entry["framework"], entry["model"], entry["kwargs"],
                         [spec["shape"] for spec in entry["inputs"]])


@pytest.mark.parametrize("path", list(SHARING_FILES))
def test_corpus_file_imports_with_exact_sharing(path):
    model, report = _import(path)
    assert not [d for d in report.diagnostics if d.code == "shared-weights"]
    assert [d for d in validate(model) if d.is_error] == []
    sharing = {n.name: n.weightsOf.name for n in model.nodes if n.weightsOf is not None}
    assert sharing == SHARING_FILES[path]
    exact = report.exact
    names = {getattr(e, "node", None) for e in exact} if exact and not isinstance(exact[0], str) else None
    if names is not None:  # the PyTorch report lists entries, the Keras one lines of text
        assert set(sharing) <= names
    else:
        assert all(any(name in line for line in exact) for name in sharing)


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("path", VERIFIED_FILES)
def test_corpus_file_verifies_through_the_generic_runners(path, tmp_path):
    entry = ENTRIES[path]
    framework, target = entry["framework"], OTHER[entry["framework"]]
    model, _ = _import(path)
    generated = tmp_path / "migrated.py"
    generated.write_text(GENERATORS[target](model, path))
    source = open_model_file(CORPUS / path, model, framework, model_name=entry["model"],
                             model_args=entry["kwargs"] or None)
    result = verify_runners(source, open_model_file(generated, model, target), model, inputs=5, atol=1e-5)
    assert result.passed, (result.max_abs_diff, result.first_divergent_node)
