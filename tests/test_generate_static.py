"""Generator tests that run no framework: mappings, diagnostics, files, the text of generated code.

They live apart from test_generate_keras.py / test_generate_pytorch.py / test_verify.py, which import
torch and Keras at the top (marked ``torch`` / ``tensorflow``), so a missing framework never hides them.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent
BN_MODEL = "model Bn { input x: float32[3, 8, 8]  c = conv2d(x, 4, kernel_size=3)  n = batch_norm2d(c)  output n }"


def one_kind_model(call: str, inputs) -> object:
    text = "model k {\n" + "".join(f"  input {d}\n" for d in inputs) + f"  result = {call}\n  output result\n}}\n"
    return parse_text(text, "example.nn")


# --- Keras -------------------------------------------------------------------------------------------

def test_mapping_reads_backwards():
    index = K.keras_index()
    assert index["layers.Conv2D"] == ["conv2d"]
    assert set(index["layers.BatchNormalization"]) == {"batch_norm1d", "batch_norm2d", "batch_norm3d"}
    momentum = next(a for a in KINDS["batch_norm2d"].mappings["keras"].args if a.keras == "momentum")
    assert momentum.pivot == "momentum" and momentum.from_keras(0.99) == pytest.approx(0.01)


def test_every_kind_has_a_keras_mapping():
    for keyword, kind in KINDS.items():
        mapping = kind.mappings["keras"]
        assert mapping.layout in K.WANTS, keyword
        # A kind has Keras weight converters exactly when it has PyTorch parameters.
        assert (mapping.weights is None) == (kind.mappings["pytorch"].parameters is None), keyword


def test_training_function_uses_compile_and_fit():
    model = parse_file(ROOT / "samples" / "text_classifier.nn")
    code = K.generate(model, "text_classifier.nn")
    assert "def train(model, x, y):" in code
    # its LSTMs train PyTorch's two biases: the optimizer steps their one Keras bias twice; its Embedding's
    # gradient is summed over repeated tokens before Adam squares it, as PyTorch's is (TorchAdam; issue 11)
    assert "class TorchAdam(keras.optimizers.Adam):" in code and "class TwoBiasTorchAdam(TorchAdam):" in code
    assert 'TwoBiasTorchAdam(learning_rate=0.001,two_bias_layers=("bilstm","last"))' in "".join(code.split())
    assert "keras.losses.CategoricalCrossentropy()" in code and 'metrics=["accuracy"]' in code
    assert "model.fit(x, y, epochs=5, batch_size=64)" in code


def test_cross_entropy_on_softmax_output_reads_probabilities():
    text = ("model C {{ input x: float32[4]\n d = dense(x, 3)\n {last}\n output {out}\n"
            " training {{ optimizer sgd(learning_rate=0.1) loss cross_entropy epochs 1 batch_size 2 }} }}")
    probabilities = K.generate(parse_text(text.format(last="p = softmax(d)", out="p")), "c.nn")
    logits = K.generate(parse_text(text.format(last="", out="d")), "c.nn")
    assert "SparseCategoricalCrossentropy()" in probabilities
    assert "SparseCategoricalCrossentropy(from_logits=True)" in logits


# --- PyTorch -----------------------------------------------------------------------------------------

def test_strided_same_is_computed_from_the_run_time_size():
    # Issue 9: the pads of TensorFlow's 'same' at stride 2 depend on the size (10 -> (0, 1), 9 -> (1, 1)), so
    # they are computed when called, not written for the declared size (formerly F.pad(x, (1, 1, 0, 1))).
    conv = P.generate(one_kind_model("conv2d(x, 4, kernel_size=3, stride=2, padding=same)", ("x: float32[3, 10, 9]",)))
    assert "result = same_padded(self.result, x)" in conv and "F.pad(x, (" not in conv
    assert "self.result = nn.Conv2d(3, 4, kernel_size=3, stride=2)\n" in conv and conv.count("def same_padded(") == 1
    stride_one = P.generate(one_kind_model("conv2d(x, 4, kernel_size=3, padding=same)", ("x: float32[3, 10, 9]",)))
    assert 'padding="same"' in stride_one and "same_padded" not in stride_one
    pool = P.generate(one_kind_model("max_pool2d(x, 3, stride=2, padding=same)", ("x: float32[3, 10, 9]",)))
    assert 'result = same_padded(self.result, x, value=float("-inf"))' in pool and "ceil_mode" not in pool


def test_generate_file_refuses_to_overwrite(tmp_path):
    model = parse_text(BN_MODEL, "bn.nn")
    target = tmp_path / "bn.py"
    P.generate_file(model, target, "bn.nn")
    first = target.read_text()
    with pytest.raises(NNPivotError) as raised:
        P.generate_file(model, target, "bn.nn")
    assert raised.value.diagnostics[0].code == "output-exists"
    target.write_text("changed")
    P.generate_file(model, target, "bn.nn", force=True)
    assert target.read_text() == first
    assert [p.name for p in tmp_path.iterdir()] == ["bn.py"]  # no temporary left behind


def test_unsupported_semantics_are_diagnostics():
    model = parse_text("model G { input x: float32[5, 4]  g = gru(x, 3, reset_after=false)  output g }", "g.nn")
    text, diagnostics = P.generate_code(model, "g.nn")
    assert text is None
    assert [d.code for d in diagnostics] == ["unsupported-in-pytorch"]
    assert str(diagnostics[0]).startswith("g.nn:1:")


# --- verify ------------------------------------------------------------------------------------------

def test_help_says_the_files_are_executed(capsys):
    assert main(["verify", "--help"]) == 0
    assert "EXECUTED" in capsys.readouterr().out
