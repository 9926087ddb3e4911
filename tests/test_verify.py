"""``nnpivot verify`` and ``nnpivot weights convert``: passes, failures that name the node, diagnostics."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import torch
from conftest import ROOT

from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import detect_framework, enliven, load_source_module, random_inputs
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.verify import verify
from nnpivot.weights import WeightStore

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]  # static tests live in test_generate_static.py
LENET = ROOT / "samples" / "lenet5.nn"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """LeNet-5 generated to both frameworks, a broken PyTorch copy, a checkpoint and a wider model."""
    folder = tmp_path_factory.mktemp("verify")
    model = parse_file(LENET)
    torch_code = pytorch_generator.generate(model, "lenet5.nn")
    paths = {"model": LENET, "pt": folder / "lenet_torch.py", "keras": folder / "lenet_keras.py",
             "broken": folder / "lenet_broken.py", "ckpt": folder / "lenet.pt", "wide": folder / "lenet8.nn"}
    paths["pt"].write_text(torch_code)
    paths["keras"].write_text(keras_generator.generate(model, "lenet5.nn"))
    assert "self.t3 = nn.Tanh()" in torch_code
    paths["broken"].write_text(torch_code.replace("self.t3 = nn.Tanh()", "self.t3 = nn.ReLU()"))
    torch.manual_seed(0)
    torch.save(load_source_module(paths["pt"]).LeNet5().state_dict(), paths["ckpt"])
    paths["wide"].write_text(LENET.read_text().replace("conv2d(x, 6,", "conv2d(x, 8,"))
    return paths


def cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- verify -------------------------------------------------------------------------------

def test_generated_files_verify_both_ways(files, capsys):
    for a, b in (("pt", "keras"), ("keras", "pt")):
        status, out, err = cli(capsys, "verify", files[a], files[b], "--model", files["model"], "--inputs", 5)
        assert status == 0, out + err
        assert "PASS" in out and "5 random inputs" in out
        difference = float(out.split("max abs difference: ")[1].split()[0])
        assert difference <= 1e-5


def test_changed_activation_fails_and_names_the_first_divergent_node(files, capsys):
    status, out, _ = cli(capsys, "verify", files["broken"], files["keras"], "--model", files["model"])
    assert status == 1
    assert "FAIL" in out
    assert "first divergent node: t3 (tanh)" in out


def test_verify_api_reports_every_compared_node(files):
    result = verify(files["keras"], files["broken"], files["model"], inputs=4, seed=3)
    assert not result.passed and result.max_abs_diff > 1e-3
    assert result.first_divergent_node == "t3"
    compared = [n.path for n in result.nodes]
    assert compared[:4] == ["c1", "t1", "s2", "c3"]  # the nodes before t3 agree
    assert all(n.max_abs_diff < 1e-5 for n in result.nodes[:4])
    assert result.frameworks == ("keras", "pytorch")


def test_tolerance_decides_the_exit_status(files, capsys):
    status, out, _ = cli(capsys, "verify", files["broken"], files["keras"], "--model", files["model"],
                         "--atol", "100", "--inputs", 2)
    assert status == 0 and "PASS" in out


def test_verify_with_given_weights(files, capsys):
    status, out, err = cli(capsys, "verify", files["pt"], files["keras"], "--model", files["model"],
                           "--weights", files["ckpt"], "--inputs", 3)
    assert status == 0, err
    assert f"weights from {files['ckpt']}" in out


def test_hand_written_pytorch_file_with_other_names(tmp_path, capsys):
    model = tmp_path / "mlp.nn"
    model.write_text("model Mlp { input x: float32[6]  h = dense(x, 5)  r = relu(h)  o = dense(r, 3)  output o }")
    hand = tmp_path / "net.py"
    hand.write_text("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
                    "        super().__init__()\n        self.layers = nn.Sequential(nn.Linear(6, 5), nn.ReLU(),"
                    " nn.Linear(5, 3))\n\n    def forward(self, x):\n        return self.layers(x)\n")
    generated = tmp_path / "mlp_keras.py"
    generated.write_text(keras_generator.generate(parse_file(model), "mlp.nn"))
    status, out, err = cli(capsys, "verify", hand, generated, "--model", model, "--inputs", 4)
    assert status == 0, out + err


def test_missing_and_unrecognizable_files(files, tmp_path, capsys):
    status, _, err = cli(capsys, "verify", tmp_path / "nope.py", files["keras"], "--model", files["model"])
    assert status == 1 and "error[file-not-found]" in err and "nope.py" in err
    plain = tmp_path / "plain.py"
    plain.write_text("x = 1\n")
    status, _, err = cli(capsys, "verify", plain, files["keras"], "--model", files["model"])
    assert status == 1 and "error[framework-unknown]" in err
    status, _, err = cli(capsys, "verify", files["pt"], files["keras"], "--model", tmp_path / "nope.nn")
    assert status == 1 and "error[file-not-found]" in err


def test_a_model_file_that_raises_is_located(files, tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\n\nraise RuntimeError('no GPU here')\n")
    status, _, err = cli(capsys, "verify", bad, files["keras"], "--model", files["model"])
    assert status == 1
    assert f"{bad}:3: error[model-file-failed]" in err and "no GPU here" in err
    assert "Traceback" not in err


def test_framework_is_read_from_imports(files, tmp_path):
    assert detect_framework(files["pt"]) == "pytorch"
    assert detect_framework(files["keras"]) == "keras"
    broken = tmp_path / "syntax.py"
    broken.write_text("import torch\ndef f(:\n")
    with pytest.raises(NNPivotError) as caught:
        detect_framework(broken)
    assert caught.value.diagnostics[0].code == "syntax-error"
    assert caught.value.diagnostics[0].location.line == 2


def test_random_inputs_index_embeddings_and_hit_the_padding_index():
    model = parse_text("model E { input t: int64[30]  e = embedding(t, 7, 4, padding_idx=5)  output e }")
    (tokens,) = random_inputs(model, 6, seed=1)
    assert tokens.shape == (6, 30) and tokens.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() < 7
    assert all((row == 5).any() for row in tokens)


def test_enliven_randomizes_constant_arrays_only():
    store = WeightStore({"bn.running_var": np.ones(4, np.float32), "bn.running_mean": np.zeros(4, np.float32),
                         "fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3)})
    lively = enliven(store, seed=0)
    assert np.all(lively["bn.running_var"] > 0) and len(set(lively["bn.running_var"].tolist())) == 4
    assert np.any(lively["bn.running_mean"] != 0)
    np.testing.assert_array_equal(lively["fc.weight"], store["fc.weight"])
    assert lively["bn.running_var"].dtype == np.float32


# --- weights convert ---------------------------------------------------------------------

def test_weights_convert_both_directions(files, tmp_path, capsys):
    h5, back, npz = tmp_path / "lenet.weights.h5", tmp_path / "back.pt", tmp_path / "lenet.npz"
    assert cli(capsys, "weights", "convert", "--model", files["model"], "--from", files["ckpt"], "--to", h5)[0] == 0
    assert cli(capsys, "weights", "convert", "--model", files["model"], "--from", h5, "--to", back)[0] == 0
    assert cli(capsys, "weights", "convert", "--model", files["model"], "--from", back, "--to", npz)[0] == 0
    original, returned = torch.load(files["ckpt"]), torch.load(back)
    assert set(original) == set(returned)
    for key in original:
        np.testing.assert_array_equal(original[key].numpy(), returned[key].numpy())
    stored = WeightStore.load(npz)
    np.testing.assert_array_equal(stored["c1.weight"], original["c1.weight"].numpy())


def test_weights_from_keras_drive_both_files(files, tmp_path, capsys):
    h5 = tmp_path / "k.weights.h5"
    assert cli(capsys, "weights", "convert", "--model", files["model"], "--from", files["ckpt"], "--to", h5)[0] == 0
    status, out, err = cli(capsys, "verify", files["keras"], files["pt"], "--model", files["model"], "--weights", h5,
                           "--inputs", 3)
    assert status == 0, out + err


def test_shape_mismatch_names_the_parameter(files, tmp_path, capsys):
    status, _, err = cli(capsys, "weights", "convert", "--model", files["wide"], "--from", files["ckpt"],
                         "--to", tmp_path / "w.npz")
    assert status == 1
    assert "error[weight-shape-mismatch]: 'c1.weight' has shape (6, 1, 5, 5)" in err
    assert "(8, 1, 5, 5)" in err and f"{files['wide']}:5:5:" in err
    assert not (tmp_path / "w.npz").exists()
    h5 = tmp_path / "narrow.weights.h5"
    cli(capsys, "weights", "convert", "--model", files["model"], "--from", files["ckpt"], "--to", h5)
    status, _, err = cli(capsys, "weights", "convert", "--model", files["wide"], "--from", h5,
                         "--to", tmp_path / "w.pt")
    assert status == 1
    assert "error[weight-shape-mismatch]: 'c1' kernel (vars/0) has shape (5, 5, 1, 6)" in err
    assert not (tmp_path / "w.pt").exists()


def test_weight_store_with_a_wrong_shape_is_refused(files, tmp_path, capsys):
    npz = tmp_path / "bad.npz"
    store = WeightStore({k: v.numpy() for k, v in torch.load(files["ckpt"]).items()})
    store["f7.bias"] = np.zeros(11, np.float32)
    store.save(npz)
    status, _, err = cli(capsys, "weights", "convert", "--model", files["model"], "--from", npz, "--to",
                         tmp_path / "x.pt")
    assert status == 1 and "'f7.bias' has shape (11)" in err and "expects (10)" in err


def test_weights_convert_refusals(files, tmp_path, capsys):
    status, _, err = cli(capsys, "weights", "convert", "--model", files["model"], "--from", tmp_path / "none.pt",
                         "--to", tmp_path / "x.npz")
    assert status == 1 and "error[file-not-found]" in err
    existing = tmp_path / "exists.npz"
    existing.write_text("keep me")
    status, _, err = cli(capsys, "weights", "convert", "--model", files["model"], "--from", files["ckpt"],
                         "--to", existing)
    assert status == 1 and "error[output-exists]" in err and existing.read_text() == "keep me"
    assert cli(capsys, "weights", "convert", "--model", files["model"], "--from", files["ckpt"], "--to", existing,
               "--force")[0] == 0
    assert "c1.weight" in WeightStore.load(existing)
    status, _, err = cli(capsys, "weights", "convert", "--model", files["model"], "--from", files["ckpt"],
                         "--to", tmp_path / "x.onnx")
    assert status == 2 and "error[unknown-weights-format]" in err
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    status, _, err = cli(capsys, "weights", "convert", "--model", files["model"], "--from", garbage,
                         "--to", tmp_path / "y.npz")
    assert status == 1 and "error[weights-unreadable]" in err




# --- several input sizes ----------------------------------------------------------------------

STRIDED_SAME = """
model Strided {
    input x: float32[3, ?, ?]
    c = conv2d(x, 4, kernel_size=3, stride=2, padding=same)
    p = max_pool2d(c, 2, ceil_mode=true)
    output p
}
"""


def test_verify_checks_three_sizes_of_a_model_with_window_arithmetic(tmp_path, capsys):
    model_path = tmp_path / "strided.nn"
    model_path.write_text(STRIDED_SAME)
    model = parse_text(STRIDED_SAME, "strided.nn")
    (tmp_path / "strided_torch.py").write_text(pytorch_generator.generate(model, "strided.nn"))
    (tmp_path / "strided_keras.py").write_text(keras_generator.generate(model, "strided.nn"))
    result = verify(tmp_path / "strided_torch.py", tmp_path / "strided_keras.py", model_path, inputs=3)
    assert result.passed and len(result.sizes) == 3 and len(set(result.sizes)) == 3
    assert {size % 2 for size in result.sizes} == {0, 1}  # odd sizes take other 'same' pads than even ones
    status, out, _ = cli(capsys, "verify", tmp_path / "strided_torch.py", tmp_path / "strided_keras.py", "--model",
                         model_path, "--inputs", 3)
    assert status == 0 and "input sizes checked: 3x8x8 (max abs difference " in out
    assert out.count("max abs difference") == 4  # the overall one and one per size


def test_code_specialised_to_one_size_fails_at_another(tmp_path):
    # PyTorch code with the symmetric pad that TensorFlow's 'same' takes at odd sizes only (stride 2, kernel 3):
    # right at 11, wrong at 8, where TensorFlow pads 0 before and 1 after (the output sizes agree at both).
    model_path = tmp_path / "strided.nn"
    model_path.write_text(STRIDED_SAME)
    model = parse_text(STRIDED_SAME, "strided.nn")
    baked = tmp_path / "baked_torch.py"
    baked.write_text(
        "from torch import nn\n\n\n"
        "class Strided(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.c = nn.Conv2d(3, 4, kernel_size=3, stride=2, padding=1)\n"
        "        self.p = nn.MaxPool2d(2, ceil_mode=True)\n\n"
        "    def forward(self, x):\n"
        "        return self.p(self.c(x))\n")
    keras_path = tmp_path / "strided_keras.py"
    keras_path.write_text(keras_generator.generate(model, "strided.nn"))
    assert verify(baked, keras_path, model_path, inputs=3, sizes=[11]).passed
    result = verify(baked, keras_path, model_path, inputs=3)
    assert not result.passed and result.sizes == [8] and result.size_diffs[0] > 1e-3
