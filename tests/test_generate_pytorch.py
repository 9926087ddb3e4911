"""PyTorch generator and weights: every registry example generated, linted, run and round-tripped.

Each example of each kind becomes a one-kind model; its generated module must
pass ``ruff check`` and ``ruff format --check`` (one ruff call for all of them),
run on a random batch with the statically inferred output shape, and declare
exactly the parameters the mapping table promises, so that a state_dict goes
to the pivot store and back unchanged. ``same`` padding is checked numerically
against TensorFlow's definition (pad by ``same_pads`` with the extra pixel at
the end, then an unpadded operation).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from counts import EXAMPLE_COUNT, KIND_COUNT
from golden import check_golden
from torch import nn

from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import pytorch as P
from nnpivot.generators.codegen import class_name
from nnpivot.graph import graph_inputs
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS
from nnpivot.metamodel.shapes import per_axis, same_pads
from nnpivot.shapes import infer_shapes
from nnpivot.weights import WeightStore

pytestmark = pytest.mark.torch  # static tests live in test_generate_static.py
ROOT = Path(__file__).resolve().parent.parent
BATCH = 2
EXAMPLES = [(keyword, i, example) for keyword, kind in KINDS.items() for i, example in enumerate(kind.examples)]
IDS = [f"{keyword}-{i}" for keyword, i, _ in EXAMPLES]

# Extra `same` cases beyond the registry examples: even kernels at stride 1, strides that leave an
# asymmetric pad, dilation, and transposed convolutions whose kernel is smaller than the stride.
SAME_CASES = [
    ("conv1d(x, 4, kernel_size=2, padding=same)", "x: float32[3, 11]"),
    ("conv2d(x, 4, kernel_size=4, padding=same)", "x: float32[3, 9, 8]"),
    ("conv2d(x, 4, kernel_size=3, stride=2, padding=same)", "x: float32[3, 10, 9]"),
    ("conv2d(x, 4, kernel_size=3, stride=2, padding=same, padding_mode=reflect)", "x: float32[3, 10, 9]"),
    ("conv3d(x, 2, kernel_size=2, stride=[1, 2, 3], padding=same, dilation=2)", "x: float32[2, 5, 7, 8]"),
    ("max_pool2d(x, 2, stride=1, padding=same)", "x: float32[3, 7, 6]"),
    ("max_pool1d(x, 4, stride=3, padding=same)", "x: float32[3, 17]"),
    ("avg_pool2d(x, 2, stride=1, padding=same)", "x: float32[3, 7, 6]"),
    ("avg_pool1d(x, 4, stride=3, padding=same)", "x: float32[3, 17]"),
    ("avg_pool3d(x, 3, stride=2, padding=same)", "x: float32[2, 6, 7, 5]"),
    ("conv_transpose2d(x, 4, kernel_size=3, stride=2, padding=same)", "x: float32[3, 5, 6]"),
    ("conv_transpose1d(x, 4, kernel_size=5, stride=2, padding=same)", "x: float32[3, 7]"),
    ("conv_transpose1d(x, 4, kernel_size=1, stride=3, padding=same)", "x: float32[3, 7]"),
    ("conv_transpose2d(x, 4, kernel_size=4, stride=[1, 2], padding=same, dilation=[2, 1])", "x: float32[3, 5, 6]"),
]


def one_kind_model(call: str, inputs) -> object:
    text = "model k {\n" + "".join(f"  input {d}\n" for d in inputs) + f"  result = {call}\n  output result\n}}\n"
    return parse_text(text, "example.nn")


def random_inputs(model) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for node in graph_inputs(model):
        shape = (BATCH, *node.shape)
        if str(node.dtype).startswith("int"):
            tensors.append(torch.randint(0, 10, shape, generator=generator))
        else:
            tensors.append(torch.randn(shape, generator=generator))
    return tensors


def load_module(code: str, path: Path, name: str):
    namespace = {"__name__": path.stem}
    exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - the code under test
    return namespace[name]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Every registry example generated once: id -> (model, code, path)."""
    folder = tmp_path_factory.mktemp("pytorch")
    cases = {}
    for case_id, (_, _, example) in zip(IDS, EXAMPLES):
        model = one_kind_model(example.call, example.inputs)
        code = P.generate(model, f"{case_id}.nn")
        path = folder / f"{case_id.replace('-', '_')}.py"
        path.write_text(code, encoding="utf-8")
        cases[case_id] = (model, code, path)
    return folder, cases


def test_count_guard():
    """A new kind or example must come with a PyTorch mapping and is then tested here."""
    assert len(KINDS) == KIND_COUNT
    assert len(EXAMPLES) == EXAMPLE_COUNT
    assert all(isinstance(kind.mappings.get("pytorch"), P.TorchMapping) for kind in KINDS.values())


def assert_ruff_clean(folder: Path) -> None:
    """``ruff check`` and ``ruff format --check`` with ruff's default rules, one call each for a folder."""
    for command in (["check"], ["format", "--check"]):
        run = subprocess.run([sys.executable, "-m", "ruff", *command, "--isolated", "--no-cache", str(folder)],
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_generated_code_passes_ruff(generated):
    folder, _ = generated
    assert len(list(folder.glob("*.py"))) == len(EXAMPLES)
    assert_ruff_clean(folder)


@pytest.mark.parametrize("case_id", IDS)
def test_example_runs_with_inferred_shape_and_weights_round_trip(case_id, generated):
    model, code, path = generated[1][case_id]
    assert code.startswith("# Generated by nnpivot ")
    assert "nnpivot" not in code.split("\n", 1)[1]
    net = load_module(code, path, class_name(model.name))().eval()
    table, _ = infer_shapes(model)
    with torch.no_grad():
        output = net(*random_inputs(model))
    expected = tuple(BATCH if d is None else d for d in table.operand(model.outputs[0]))
    assert tuple(output.shape) == expected

    state = net.state_dict()
    promised = {slot.torch_key: slot.shape for slot in P.parameter_slots(model)}
    actual = {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert actual == promised
    store, diagnostics = P.store_from_state_dict(model, state)
    assert diagnostics == []
    back = P.state_dict_from_store(model, store)
    assert back.keys() == state.keys()
    for key, tensor in state.items():
        assert torch.equal(back[key], tensor), key
    net.load_state_dict(back, strict=True)


# --- `same` padding against TensorFlow's definition ----------------------------------------------

def tf_pads(node, shape):
    """(begin, end) per spatial axis as TensorFlow computes them for 'same'."""
    dims = len(shape) - 2
    kernel = per_axis(node.kernelSize, dims, 0, "k")
    stride = per_axis(node.stride, dims, kernel[0] if hasattr(node, "ceilMode") else 1, "s")
    dilation = per_axis(getattr(node, "dilation", []), dims, 1, "d")
    return [same_pads(n, k, s, d) for n, k, s, d in zip(shape[2:], kernel, stride, dilation)], kernel, stride, dilation


def torch_pad_tuple(pads):
    return tuple(v for b, e in reversed(pads) for v in (b, e))


def reference(node, x, layer):
    """What TensorFlow's 'same' computes, from the module's own weights."""
    pads, kernel, stride, dilation = tf_pads(node, tuple(x.shape))
    dims = x.dim() - 2
    name = node.eClass.name
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):  # any kind written as a convolution module
        mode = {"zeros": "constant"}.get(str(node.paddingMode), str(node.paddingMode))
        padded = F.pad(x, torch_pad_tuple(pads), mode=mode)
        conv = getattr(F, f"conv{dims}d")
        return conv(padded, layer.weight, layer.bias, stride, 0, dilation, layer.groups)
    if name.startswith("MaxPool"):
        padded = F.pad(x, torch_pad_tuple(pads), value=float("-inf"))
        return getattr(F, f"max_pool{dims}d")(padded, kernel, stride, 0, dilation)
    if name.startswith("AvgPool"):  # TensorFlow averages over the valid positions only
        pool = getattr(F, f"avg_pool{dims}d")
        total = pool(F.pad(x, torch_pad_tuple(pads)), kernel, stride)
        count = pool(F.pad(torch.ones_like(x[:1, :1]), torch_pad_tuple(pads)), kernel, stride)
        return total / count
    # transposed convolution: the gradient of a 'same' convolution whose input is `stride` times larger
    big = [n * s for n, s in zip(x.shape[2:], stride)]
    pads = [same_pads(n, k, s, d) for n, k, s, d in zip(big, kernel, stride, dilation)]
    z = torch.zeros((x.shape[0], layer.weight.shape[1], *big), requires_grad=True)
    conv = getattr(F, f"conv{dims}d")
    y = conv(F.pad(z, torch_pad_tuple(pads)), layer.weight, None, stride, 0, dilation)
    (grad,) = torch.autograd.grad(y, z, grad_outputs=x)
    return grad + layer.bias.view(1, -1, *([1] * dims))


# Convolutions and pools (the kinds with strides); a conv_lstm2d's 'same' is checked against Keras itself
# (test_equivalence_kinds.py).
SAME_EXAMPLES = [(example.call, example.inputs) for keyword, _, example in EXAMPLES
                 if "padding=same" in example.call and KINDS[keyword].attribute("stride") is not None]
SAME_EXAMPLES += [(call, (decl,)) for call, decl in SAME_CASES]


@pytest.mark.parametrize(("call", "inputs"), SAME_EXAMPLES, ids=[c for c, _ in SAME_EXAMPLES])
def test_same_padding_matches_tensorflow_semantics(call, inputs, tmp_path):
    model = one_kind_model(call, inputs)
    code = P.generate(model, "same.nn")
    net = load_module(code, tmp_path / "same.py", class_name(model.name))().eval()
    (x,) = random_inputs(model)
    node = model.outputs[0]
    with torch.no_grad():
        actual = net(x)
    expected = reference(node, x, getattr(net, node.name))
    table, _ = infer_shapes(model)
    assert tuple(actual.shape) == tuple(BATCH if d is None else d for d in table.operand(node))
    assert torch.allclose(actual, expected.detach(), atol=1e-5), (actual - expected).abs().max()


def test_same_cases_are_lint_clean(tmp_path):
    for i, (call, decl) in enumerate(SAME_CASES):
        (tmp_path / f"case_{i}.py").write_text(P.generate(one_kind_model(call, (decl,)), "same.nn"))
    assert_ruff_clean(tmp_path)


# --- whole models -----------------------------------------------------------------------------------

SAMPLES = sorted((ROOT / "samples").glob("*.nn"))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_code_runs(path, tmp_path):
    """Shapes and state_dict round trip; the code itself is golden in test_equivalence_samples.py."""
    model = parse_file(path)
    code = P.generate(model, path.name)
    net = load_module(code, tmp_path / f"{path.stem}.py", class_name(model.name))().eval()
    with torch.no_grad():
        outputs = net(*random_inputs(model))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    table, _ = infer_shapes(model)
    for output, node in zip(outputs, model.outputs):
        assert tuple(output.shape) == tuple(BATCH if d is None else d for d in table.operand(node))
    state = net.state_dict()
    store, diagnostics = P.store_from_state_dict(model, state)
    assert diagnostics == []
    assert all(torch.equal(P.state_dict_from_store(model, store)[k], v) for k, v in state.items())


def test_sample_code_is_lint_clean(tmp_path):
    for path in SAMPLES:
        (tmp_path / f"{path.stem}.py").write_text(P.generate(parse_file(path), path.name))
    assert_ruff_clean(tmp_path)


GOLDEN_MODELS = {
    "multi_output": """
model MultiOutput "Selects, split, block with two outputs, explicit pads, training" {
  input x: float32[4, 12, 12]
  input seq: float32[6, 10]
  pre = pad(x, [1, 0, 0, 1], mode=reflect)
  c = conv2d(pre, 8, kernel_size=[3, 2], padding=[[1, 0], [2, 1]], padding_mode=zeros)
  halves = split(c, [3, 5])
  a = halves[0]
  b = halves[1]
  pair = TwoWay(a)
  left = pair[0]
  right = pair[1]
  rec = lstm(seq, 5, num_layers=2, bidirectional=true, return_sequences=false)
  h = rec[1]
  cell = rec[2]
  merged = concat(left, right, b, axis=1)
  flat = flatten(merged)
  fc = dense(flat, 3)
  output fc
  output rec
  output h
  output cell
  block TwoWay {
    input x
    up = conv_transpose2d(x, 2, kernel_size=3, stride=2, padding=same)
    down = avg_pool2d(up, 2)
    mx = max_pool2d(x, 3, stride=1, padding=same)
    output down
    output mx
  }
  training {
    optimizer sgd(learning_rate=0.01, momentum=0.9, nesterov=1)
    loss mse
    epochs 2
    batch_size 8
    metrics mae
  }
}
""",
}


@pytest.mark.parametrize("name", sorted(GOLDEN_MODELS))
def test_golden_model(name, tmp_path):
    model = parse_text(GOLDEN_MODELS[name], f"{name}.nn")
    code = P.generate(model, f"{name}.nn")
    check_golden(f"pytorch/{name}.py", code)
    module = load_module(code, tmp_path / f"{name}.py", class_name(model.name))
    net = module().eval()
    with torch.no_grad():
        outputs = net(*random_inputs(model))
    table, _ = infer_shapes(model)
    assert [tuple(o.shape) for o in outputs] == [
        tuple(BATCH if d is None else d for d in table.operand(node)) for node in model.outputs]


def test_training_function_trains(tmp_path):
    text = "model Tiny { input x: float32[4]  fc = dense(x, 3)  output fc\n" \
           "  training { optimizer adam(learning_rate=0.05, beta_1=0.8) loss cross_entropy epochs 3 batch_size 4" \
           " metrics accuracy } }"
    model = parse_text(text, "tiny.nn")
    namespace = {"__name__": "tiny"}
    exec(compile(P.generate(model, "tiny.nn"), "tiny.py", "exec"), namespace)  # noqa: S102
    torch.manual_seed(0)
    inputs = torch.randn(16, 4)
    targets = inputs[:, :3].argmax(dim=1)
    net = namespace["Tiny"]()
    before = torch.nn.functional.cross_entropy(net(inputs), targets).item()
    namespace["train"](net, torch.utils.data.TensorDataset(inputs, targets), epochs=20)
    after = torch.nn.functional.cross_entropy(net(inputs), targets).item()
    assert after < before


# --- weights: diagnostics and checkpoints ---------------------------------------------------------------

BN_MODEL = "model Bn { input x: float32[3, 8, 8]  c = conv2d(x, 4, kernel_size=3)  n = batch_norm2d(c)  output n }"


def test_weight_diagnostics_name_the_parameter():
    model = parse_text(BN_MODEL, "bn.nn")
    state = {"c.weight": torch.zeros(4, 3, 5, 5), "n.weight": torch.ones(4), "n.bias": torch.zeros(4),
             "n.running_mean": torch.zeros(4), "n.running_var": torch.ones(4),
             "n.num_batches_tracked": torch.tensor(3), "extra.weight": torch.zeros(1)}
    store, diagnostics = P.store_from_state_dict(model, state)
    codes = {d.code: str(d) for d in diagnostics}
    assert set(codes) == {"weight-shape-mismatch", "weight-missing", "weight-unexpected"}
    assert "'c.weight'" in codes["weight-shape-mismatch"] and "(4, 3, 5, 5)" in codes["weight-shape-mismatch"]
    assert "(4, 3, 3, 3)" in codes["weight-shape-mismatch"]
    assert "c.bias" in codes["weight-missing"]
    assert "extra.weight" in codes["weight-unexpected"]
    assert "n.num_batches_tracked" not in store and "n.running_var" in store
    with pytest.raises(NNPivotError) as raised:
        P.state_dict_from_store(model, store)
    assert {d.code for d in raised.value.diagnostics} == {"weight-missing"}


def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = parse_text(BN_MODEL, "bn.nn")
    net = load_module(P.generate(model, "bn.nn"), tmp_path / "bn.py", "Bn")()
    path = tmp_path / "bn.pt"
    P.write_checkpoint(net.state_dict(), path)
    with pytest.raises(NNPivotError) as raised:
        P.write_checkpoint(net.state_dict(), path)
    assert raised.value.diagnostics[0].code == "output-exists"
    store, diagnostics = P.read_weights(model, path)
    assert diagnostics == [] and isinstance(store, WeightStore)
    np.testing.assert_array_equal(store["c.weight"], net.c.weight.detach().numpy())
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, tmp_path / "wrapped.pt")
    assert P.read_checkpoint(tmp_path / "wrapped.pt").keys() == net.state_dict().keys()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(NNPivotError) as raised:
        P.read_checkpoint(tmp_path / "junk.pt")
    assert raised.value.diagnostics[0].code == "weights-unreadable"
    P.write_weights(model, store, tmp_path / "again.pt")
    assert torch.equal(torch.load(tmp_path / "again.pt", weights_only=True)["c.weight"], net.c.weight.detach())


def test_reserved_names_are_renamed_consistently(tmp_path):
    model = parse_text("model R { input x: float32[4]  train = dense(x, 2)  output train }", "r.nn")
    code = P.generate(model, "r.nn")
    assert "self.train_ = nn.Linear(4, 2)" in code
    net = load_module(code, tmp_path / "r.py", "R")()
    store, diagnostics = P.store_from_state_dict(model, net.state_dict())
    assert diagnostics == [] and set(store.keys()) == {"train.weight", "train.bias"}
    assert set(P.state_dict_from_store(model, store)) == {"train_.weight", "train_.bias"}
