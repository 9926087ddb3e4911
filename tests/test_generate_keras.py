"""Keras 3 generator: every registry example is generated, linted, run and compared with PyTorch.

The reference is PyTorch computing the pivot's meaning directly (``torch.nn``
modules and ``torch.nn.functional``), on random weights in pivot layout. The
same weights go pivot -> Keras (``assign_store``) and back
(``store_from_keras``), and both directions must agree to 1e-5.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as K
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS, kind_of
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.shapes import per_axis, spatial_geometry
from nnpivot.shapes import infer_shapes
from nnpivot.weights import WeightStore

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]  # static tests live in test_generate_static.py
ROOT = Path(__file__).resolve().parent.parent
ATOL = 1e-5
BATCH = 2


# =============================================================================
# PyTorch reference: the pivot's meaning, computed directly
# =============================================================================

def _torch_pads(pairs) -> tuple:
    """Per-axis (begin, end) pairs in axis order as F.pad's tuple (last axis first)."""
    return tuple(v for b, e in reversed(list(pairs)) for v in (b, e))


def _dims(node) -> int:
    return int(node.eClass.name[-2])


def _conv_build(node, shapes):
    d = _dims(node)
    kernel = per_axis(node.kernelSize, d, 0, "kernel")
    cls = getattr(nn, node.eClass.name)
    return cls(shapes[0][1], node.filters, kernel, groups=node.groups, bias=node.bias)


def _conv_run(node, module, xs, shapes):
    d = _dims(node)
    _, stride, dilation, pads = spatial_geometry(node, shapes[0], d)
    mode = {"zeros": "constant"}.get(node.paddingMode.name, node.paddingMode.name)
    x = F.pad(xs[0], _torch_pads(pads), mode=mode)
    return [getattr(F, f"conv{d}d")(x, module.weight, module.bias, stride=stride, dilation=dilation,
                                     groups=node.groups)]


def _conv_transpose_run(node, module, xs, shapes):
    d = _dims(node)
    _, stride, dilation, _ = spatial_geometry(node, shapes[0], d)
    out_pad = per_axis(node.outputPadding, d, 0, "output_padding")
    full = getattr(F, f"conv_transpose{d}d")(xs[0], module.weight, module.bias, stride=stride,
                                             output_padding=out_pad, dilation=dilation, groups=node.groups)
    sizes = shapes[0][2:]
    if node.padding.name == "same":  # TensorFlow: output = input * stride, extra crop at the end
        crops = []
        for i, n in enumerate(sizes):
            total = full.shape[2 + i] - n * stride[i]
            crops.append((total // 2, total - total // 2))
    elif node.padding.name == "explicit":
        pads = list(node.pads)
        pads = pads * (2 * d) if len(pads) == 1 else [p for p in pads for _ in (0, 1)] if len(pads) == d else pads
        crops = [(pads[2 * i], pads[2 * i + 1]) for i in range(d)]
    else:
        crops = [(0, 0)] * d
    index = [slice(None), slice(None)] + [slice(b, full.shape[2 + i] - e) for i, (b, e) in enumerate(crops)]
    return [full[tuple(index)]]


def _pool_run(node, module, xs, shapes):
    d = _dims(node)
    kernel, stride, dilation, pads = spatial_geometry(node, shapes[0], d)
    x = xs[0]
    is_max = "Max" in node.eClass.name
    fn = getattr(F, f"{'max' if is_max else 'avg'}_pool{d}d")
    symmetric = all(b == e for b, e in pads)
    if node.padding.name == "same":
        if is_max:
            return [fn(F.pad(x, _torch_pads(pads), value=float("-inf")), kernel, stride)]
        padded, ones = F.pad(x, _torch_pads(pads)), F.pad(torch.ones_like(x), _torch_pads(pads))
        return [fn(padded, kernel, stride) / fn(ones, kernel, stride)]
    if node.padding.name == "explicit" and not symmetric:
        raise AssertionError("no asymmetric pooling examples")
    padding = [b for b, _ in pads]
    if is_max:
        return [fn(x, kernel, stride, padding=padding, dilation=dilation, ceil_mode=node.ceilMode)]
    return [fn(x, kernel, stride, padding=padding, ceil_mode=node.ceilMode,
               count_include_pad=node.countIncludePad)]


def _recurrent_build(node, shapes):
    cls = getattr(nn, {"SimpleRNN": "RNN"}.get(node.eClass.name, node.eClass.name))
    extra = {"nonlinearity": node.nonlinearity.name} if is_kind(node, "SimpleRNN") else {}
    return cls(shapes[0][2], node.hiddenSize, num_layers=node.numLayers, bias=node.bias,
               batch_first=node.batchFirst, dropout=node.dropout, bidirectional=node.bidirectional, **extra)


def _recurrent_run(node, module, xs, shapes):
    out, state = module(xs[0])
    states = list(state) if isinstance(state, tuple) else [state]
    if not node.returnSequences:  # the last layer's final state, both directions (Keras' meaning)
        h = states[0]
        out = torch.cat((h[-2], h[-1]), dim=1) if node.bidirectional else h[-1]
    return [out, *states]


class _HeadsOfTheirOwn(nn.Module):
    """Attention heads of their own sizes (key_dim, value_dim, output_dim), written here independently of the
    generated module: torch's scaled_dot_product_attention on the split heads."""

    def __init__(self, node, key_features, value_features):
        super().__init__()
        heads = node.numHeads
        self.key_dim = node.keyDim or node.embedDim // heads
        self.value_dim = node.valueDim or self.key_dim
        self.query = nn.Linear(node.embedDim, heads * self.key_dim, bias=node.bias)
        self.key = nn.Linear(key_features, heads * self.key_dim, bias=node.bias)
        self.value = nn.Linear(value_features, heads * self.value_dim, bias=node.bias)
        self.output = nn.Linear(heads * self.value_dim, node.outputDim or node.embedDim, bias=node.bias)
        self.heads = heads

    def forward(self, query, key, value):
        def split(x, size):
            return x.reshape(x.shape[0], x.shape[1], self.heads, size).permute(0, 2, 1, 3)
        q, k = split(self.query(query), self.key_dim), split(self.key(key), self.key_dim)
        v = split(self.value(value), self.value_dim)
        attended = F.scaled_dot_product_attention(q, k, v).permute(0, 2, 1, 3)
        weights = torch.softmax(torch.einsum("nhqd,nhkd->nhqk", q, k) / self.key_dim ** 0.5, dim=-1)
        return self.output(attended.reshape(*attended.shape[:2], -1)), weights.mean(dim=1)


def _attention_build(node, shapes):
    key = shapes[1] if len(shapes) > 1 else shapes[0]
    value = shapes[2] if len(shapes) > 2 else key
    if node.keyDim or node.valueDim or node.outputDim:
        return _HeadsOfTheirOwn(node, key[2], value[2])
    return nn.MultiheadAttention(node.embedDim, node.numHeads, dropout=node.dropout, bias=node.bias,
                                 batch_first=True, kdim=key[2], vdim=value[2])


def _attention_run(node, module, xs, shapes):
    query = xs[0]
    key = xs[1] if len(xs) > 1 else query
    value = xs[2] if len(xs) > 2 else key
    if isinstance(module, _HeadsOfTheirOwn):
        return list(module(query, key, value))
    out, weights = module(query, key, value, need_weights=True, average_attn_weights=True)
    return [out, weights]


def _reduce(fn):
    def run(node, module, xs, shapes):
        rank = len(shapes[0])
        axes = sorted({a % rank for a in node.axes}) if list(node.axes) else list(range(1, rank))
        return [fn(xs[0], dim=axes, keepdim=node.keepdims)]
    return run


def _slice_run(node, module, xs, shapes):
    x = xs[0]
    index = [slice(None)] * x.dim()
    steps = list(node.steps) or [1] * len(node.axes)
    for axis, start, end, step in zip(node.axes, node.starts, node.ends, steps):
        index[axis % x.dim()] = slice(start, end, step)
    return [x[tuple(index)]]


def _pad_run(node, module, xs, shapes):
    pads = list(node.pads)
    pairs = [(pads[2 * k], pads[2 * k + 1]) for k in range(len(pads) // 2)]
    mode = node.mode.name
    return [F.pad(xs[0], _torch_pads(pairs), mode=mode, value=node.value if mode == "constant" else None)]


def _upsample_run(node, module, xs, shapes):
    mode = node.mode.name
    extra = {"align_corners": node.alignCorners} if mode == "bilinear" else {}
    if list(node.size):
        return [F.interpolate(xs[0], size=list(node.size), mode=mode, **extra)]
    scale = list(node.scaleFactor)
    return [F.interpolate(xs[0], scale_factor=scale[0] if len(scale) == 1 else scale, mode=mode, **extra)]


def _arithmetic(op):
    def run(node, module, xs, shapes):
        if len(xs) == 2:
            return [op(xs[0], xs[1])]
        scalar = torch.tensor(node.scalar, dtype=xs[0].dtype)
        return [op(scalar, xs[0]) if node.scalarFirst else op(xs[0], scalar)]
    return run


def _single(fn):
    return lambda node, module, xs, shapes: [fn(node, xs[0])]


def _module_run(node, module, xs, shapes):
    return [module(xs[0])]


REFERENCE = {
    "dense": (lambda n, s: nn.Linear(s[0][-1], n.units, bias=n.bias), _module_run),
    **{f"conv{d}d": (_conv_build, _conv_run) for d in (1, 2, 3)},
    **{f"conv_transpose{d}d": (lambda n, s: getattr(nn, n.eClass.name)(
        s[0][1], n.filters, per_axis(n.kernelSize, _dims(n), 0, "k"), groups=n.groups, bias=n.bias),
        _conv_transpose_run) for d in (1, 2, 3)},
    **{f"{op}_pool{d}d": (None, _pool_run) for d in (1, 2, 3) for op in ("max", "avg")},
    **{f"adaptive_{op}_pool{d}d": (None, _single(lambda n, x, op=op, d=d: getattr(F, f"adaptive_{op}_pool{d}d")(
        x, list(n.outputSize) if len(n.outputSize) > 1 else n.outputSize[0])))
       for d in (1, 2) for op in ("avg", "max")},
    "global_avg_pool": (None, _single(lambda n, x: x.mean(dim=tuple(range(2, x.dim())), keepdim=n.keepdims))),
    "global_max_pool": (None, _single(lambda n, x: x.amax(dim=tuple(range(2, x.dim())), keepdim=n.keepdims))),
    **{f"batch_norm{d}d": (lambda n, s: getattr(nn, n.eClass.name)(
        s[0][1], eps=n.eps, momentum=n.momentum, affine=n.affine), _module_run) for d in (1, 2, 3)},
    "instance_norm": (lambda n, s: getattr(nn, f"InstanceNorm{len(s[0]) - 2}d")(s[0][1], eps=n.eps, affine=n.affine),
                      _module_run),
    "layer_norm": (lambda n, s: nn.LayerNorm(list(n.normalizedShape) or [s[0][-1]], eps=n.eps,
                                             elementwise_affine=n.elementwiseAffine, bias=n.bias), _module_run),
    "group_norm": (lambda n, s: nn.GroupNorm(n.numGroups, s[0][1], eps=n.eps, affine=n.affine), _module_run),
    "dropout": (None, _single(lambda n, x: x)),
    "embedding": (lambda n, s: nn.Embedding(n.numEmbeddings, n.embeddingDim,
                                            padding_idx=n.paddingIdx if n.eIsSet("paddingIdx") else None),
                  _module_run),
    **{k: (_recurrent_build, _recurrent_run) for k in ("simple_rnn", "lstm", "gru")},
    "multi_head_attention": (_attention_build, _attention_run),
    "relu": (None, _single(lambda n, x: F.relu(x))),
    "relu6": (None, _single(lambda n, x: F.relu6(x))),
    "selu": (None, _single(lambda n, x: F.selu(x))),
    "silu": (None, _single(lambda n, x: F.silu(x))),
    "mish": (None, _single(lambda n, x: F.mish(x))),
    "sigmoid": (None, _single(lambda n, x: torch.sigmoid(x))),
    "hardsigmoid": (None, _single(lambda n, x: F.hardsigmoid(x))),
    "hardswish": (None, _single(lambda n, x: F.hardswish(x))),
    "tanh": (None, _single(lambda n, x: torch.tanh(x))),
    "leaky_relu": (None, _single(lambda n, x: F.leaky_relu(x, n.negativeSlope))),
    "elu": (None, _single(lambda n, x: F.elu(x, n.alpha))),
    "gelu": (None, _single(lambda n, x: F.gelu(x, approximate=n.approximate.name))),
    "softplus": (None, _single(lambda n, x: F.softplus(x, beta=n.beta, threshold=n.threshold))),
    "prelu": (lambda n, s: nn.PReLU(n.numParameters, init=n.init), _module_run),
    "softmax": (None, _single(lambda n, x: F.softmax(x, dim=n.axis))),
    "log_softmax": (None, _single(lambda n, x: F.log_softmax(x, dim=n.axis))),
    "flatten": (None, _single(lambda n, x: torch.flatten(x, n.startDim, n.endDim))),
    "reshape": (None, _single(lambda n, x: x.reshape(x.shape[0], *n.shape))),
    "permute": (None, _single(lambda n, x: x.permute(*n.dims))),
    "concat": (None, lambda n, m, xs, s: [torch.cat(xs, dim=n.axis)]),
    "stack": (None, lambda n, m, xs, s: [torch.stack(xs, dim=n.axis)]),
    "split": (None, lambda n, m, xs, s: list(torch.split(xs[0], list(n.sizes), dim=n.axis))),
    "add": (None, _arithmetic(torch.add)), "sub": (None, _arithmetic(torch.sub)),
    "mul": (None, _arithmetic(torch.mul)), "div": (None, _arithmetic(torch.div)),
    "matmul": (None, lambda n, m, xs, s: [torch.matmul(xs[0], xs[1])]),
    "mean": (None, _reduce(torch.mean)), "sum": (None, _reduce(torch.sum)),
    "max": (None, _reduce(torch.amax)), "min": (None, _reduce(torch.amin)),
    "squeeze": (None, _single(lambda n, x: torch.squeeze(x, tuple(n.axes)) if list(n.axes) else x.squeeze())),
    "unsqueeze": (None, _single(lambda n, x: torch.unsqueeze(x, n.axis))),
    "slice": (None, _slice_run),
    "index": (None, _single(lambda n, x: x.select(n.axis, n.index))),
    "normalize": (None, _single(lambda n, x: F.normalize(x, p=n.p, dim=n.axis, eps=n.eps))),
    "pad": (None, _pad_run),
    "upsample": (None, _upsample_run),
    "pixel_shuffle": (None, _single(lambda n, x: F.pixel_shuffle(x, n.upscaleFactor))),
    "identity": (None, _single(lambda n, x: x)),
}


class TorchReference:
    """Runs a pivot model with PyTorch; its parameters are the pivot weight store (pivot layout)."""

    def __init__(self, model, seed: int = 0):
        self.model = model
        self.shapes, _ = infer_shapes(model)
        self.modules: dict[str, nn.Module] = {}
        torch.manual_seed(seed)
        self._build(model, "")
        generator = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for module in self.modules.values():
                for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
                    if tensor.dtype.is_floating_point:
                        noise = torch.rand(tensor.shape, generator=generator)
                        tensor.copy_(noise + 0.5 if "var" in name else (noise - 0.5) * 0.8)

    def _build(self, graph, prefix):
        for node in graph.nodes:
            if is_kind(node, "BlockCall"):
                self._build(node.block, f"{prefix}{node.name}.")
                continue
            kind = kind_of(node)
            if kind is None:
                continue
            build = REFERENCE[kind.keyword][0]
            if build is not None:
                operands = [self.shapes.of(dep) for dep in node.inputs]
                self.modules[prefix + node.name] = build(node, operands).eval()

    def store(self) -> WeightStore:
        store = WeightStore()
        for path, module in self.modules.items():
            for name, tensor in module.state_dict().items():
                if not name.endswith("num_batches_tracked"):
                    store[f"{path}.{name}"] = tensor.detach().numpy().copy()
        return store

    def load(self, store: WeightStore) -> None:
        for path, module in self.modules.items():
            state = {k: torch.from_numpy(np.asarray(v)) for k, v in store.for_node(path).items()}
            missing = [k for k in module.state_dict() if k not in state and not k.endswith("num_batches_tracked")]
            assert not missing, f"{path}: the store lacks {missing}"
            module.load_state_dict(state, strict=False)

    @torch.no_grad()
    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        tensors = [torch.from_numpy(a) for a in inputs]
        return [t.numpy() for t in self._run(self.model, "", tensors)]

    def _run(self, graph, prefix, arguments):
        values = {}
        for node, value in zip(graph_inputs(graph), arguments):
            values[(node, 0)] = value
        for node in topological_order(graph):
            if is_kind(node, "Input"):
                continue
            if is_kind(node, "Select"):
                values[(node, 0)] = values[(node.inputs[0], node.index)]
                continue
            operands = [values[(dep, 0)] for dep in node.inputs]
            if is_kind(node, "BlockCall"):
                outs = self._run(node.block, f"{prefix}{node.name}.", operands)
            else:
                run = REFERENCE[kind_of(node).keyword][1]
                outs = run(node, self.modules.get(prefix + node.name), operands,
                           [self.shapes.of(dep) for dep in node.inputs])
            for i, out in enumerate(outs):
                values[(node, i)] = out
        return [values[(node, 0)] for node in graph.outputs]


# =============================================================================
# Models under test
# =============================================================================

def example_text(example) -> str:
    lines = ["model T {"] + [f"    input {i}" for i in example.inputs]
    return "\n".join(lines + [f"    result = {example.call}", "    output result", "}"]) + "\n"


# Kinds with a hand-written torch reference above; every kind, these and any added since, is also
# compared with its generated PyTorch code by test_equivalence_kinds.py.
EXAMPLES = [(f"{keyword}-{i}", example_text(example))
            for keyword, kind in KINDS.items() if keyword in REFERENCE for i, example in enumerate(kind.examples)]

# Kinds whose Keras form cannot be exact: the generator must say so (none today).
EXPECTED_DIAGNOSTICS: dict[str, str] = {}

# Layout, state and block situations the one-kind examples do not reach.
SCENARIOS = {
    "conv-flatten-dense": """model T {
        input x: float32[3, 8, 8]
        c = conv2d(x, 4, kernel_size=3, padding=same)
        f = flatten(c)
        d = dense(f, 5)
        output d
    }""",
    "embedding-permute-conv1d": """model T {
        input tokens: int64[12]
        e = embedding(tokens, 30, 6)
        p = permute(e, [0, 2, 1])
        c = conv1d(p, 5, kernel_size=3)
        r = relu(c)
        g = global_max_pool(r)
        output g
    }""",
    "sequence-permute-conv1d": """model T {
        input x: float32[12, 5]
        p = permute(x, [0, 2, 1])
        c = conv1d(p, 4, kernel_size=3)
        g = global_avg_pool(c)
        output g
    }""",
    "int32-and-float-inputs": """model T {
        input t: int32[6]
        input f: float32[6, 4]
        e = embedding(t, 10, 4)
        s = add(e, f)
        output s
    }""",
    "conv-flatten-dropout-dense": """model T {
        input x: float32[2, 6, 6]
        c = conv2d(x, 3, kernel_size=3)
        f = flatten(c)
        d = dropout(f, 0.5)
        a = relu(d)
        h = dense(a, 4)
        g = dense(f, 3)
        output h
        output g
    }""",
    "long-names": """model VeryLongModelName {
        input some_really_long_input_name: float32[7, 12]
        input other_really_long_input_name: float32[3, 16, 16]
        a_really_quite_long_recurrent_node_name = gru(some_really_long_input_name, 5, num_layers=2,
                                                      bidirectional=true, bias=false, dropout=0.25)
        hidden_states_of_the_recurrent_node = a_really_quite_long_recurrent_node_name[1]
        a_really_quite_long_convolution_node_name = conv_transpose2d(other_really_long_input_name, 4,
            kernel_size=[3, 2], stride=[2, 3], padding=[[1, 0], [2, 1]], output_padding=[1, 0])
        pooled_with_a_long_name = max_pool2d(a_really_quite_long_convolution_node_name, [3, 2], stride=2,
                                             padding=[[1, 1], [0, 0]], ceil_mode=true)
        averaged_with_a_long_name = avg_pool2d(pooled_with_a_long_name, 3, stride=2, padding=1,
                                               ceil_mode=true, count_include_pad=false)
        output hidden_states_of_the_recurrent_node
        output averaged_with_a_long_name
    }""",
    "conv-reshape": """model T {
        input x: float32[3, 6, 6]
        c = conv2d(x, 4, kernel_size=3)
        r = reshape(c, [16, 4])
        output r
    }""",
    "channels-last-axes": """model T {
        input x: float32[3, 6, 6]
        input y: float32[2, 6, 6]
        a = conv2d(x, 4, kernel_size=3, padding=same)
        b = concat(a, y, axis=1)
        s = softmax(b, axis=1)
        m = mean(s, [2, 3], keepdims=true)
        i = index(s, axis=1, index=2)
        v = slice(s, axes=[1, 3], starts=[1, 0], ends=[4, 5])
        n = normalize(s, axis=1)
        p = pad(s, [1, 2], value=1.5)
        u = unsqueeze(i, 1)
        output m
        output u
        output v
        output n
        output p
    }""",
    "lstm-states": """model T {
        input x: float32[6, 5]
        seq = lstm(x, 4, num_layers=2, bidirectional=true, dropout=0.3)
        h = seq[1]
        c = seq[2]
        output seq
        output h
        output c
    }""",
    "gru-states-last": """model T {
        input x: float32[6, 5]
        last = gru(x, 3, num_layers=2, return_sequences=false)
        h = last[1]
        output last
        output h
    }""",
    "rnn-time-major": """model T {
        input x: float32[6, 5]
        r = simple_rnn(x, 3, batch_first=false)
        output r
    }""",
    "attention-weights": """model T {
        input q: float32[5, 8]
        input kv: float32[7, 8]
        a = multi_head_attention(q, kv, kv, 8, 2)
        w = a[1]
        output a
        output w
    }""",
    "prelu-channels-last": """model T {
        input x: float32[3, 6, 6]
        c = conv2d(x, 4, kernel_size=3)
        p = prelu(c, num_parameters=4)
        output p
    }""",
}
SAMPLES_RUN = ["lenet5", "small_resnet", "text_classifier", "cnn_rnn", "tf_tutorial_cnn", "transformer_encoder"]
GENERATED_ONLY = sorted({p.stem for p in (ROOT / "samples").glob("*.nn")} - set(SAMPLES_RUN))  # large inputs


def test_every_kind_has_examples_under_test():
    assert {case.split("-")[0] for case, _ in EXAMPLES} == set(REFERENCE) <= set(KINDS)
    assert len(EXAMPLES) == sum(len(KINDS[k].examples) for k in REFERENCE) >= 140
    assert set(EXPECTED_DIAGNOSTICS) <= {case for case, _ in EXAMPLES}


# =============================================================================
# Generation, once per module, with one batched ruff run
# =============================================================================

def _all_models():
    models = {case: parse_text(text, f"{case}.nn") for case, text in EXAMPLES}
    models.update({case: parse_text(text, f"{case}.nn") for case, text in SCENARIOS.items()})
    models.update({name: parse_file(ROOT / "samples" / f"{name}.nn") for name in SAMPLES_RUN + GENERATED_ONLY})
    return models


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keras_code")
    results = {}
    for case, model in _all_models().items():
        try:
            code = K.generate(model, f"{case}.nn")
        except NNPivotError as exc:
            results[case] = (model, None, exc.diagnostics)
            continue
        (folder / f"{case.replace('-', '_')}.py").write_text(code)
        results[case] = (model, code, [])
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run([*ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=folder,
                           capture_output=True, text=True, check=False)
    form = subprocess.run([*ruff, "format", "--no-cache", "--check", "."], cwd=folder, capture_output=True,
                          text=True, check=False)
    return results, check.stdout + form.stdout


def _keras_run(model, code, store, inputs):
    namespace: dict = {}
    exec(compile(code, f"<{model.name}>", "exec"), namespace)  # noqa: S102 - the generated code under test
    keras_model = namespace[model.name]()
    in_perms, out_perms = K.keras_layouts(model)
    keras_inputs = [np.transpose(a, p) for a, p in zip(inputs, in_perms)]
    feed = keras_inputs[0] if len(keras_inputs) == 1 else keras_inputs
    keras_model(feed)
    diagnostics = K.assign_store(keras_model, model, store)
    assert not diagnostics, diagnostics
    outputs = keras_model(feed)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    # Back to pivot layout for the comparison.
    pivot = [np.transpose(keras.ops.convert_to_numpy(o), np.argsort(p)) for o, p in zip(outputs, out_perms)]
    return keras_model, pivot


def _inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    arrays = []
    for node in graph_inputs(model):
        shape = (BATCH, *node.shape)
        if node.dtype.name.startswith("int"):
            arrays.append(rng.integers(0, 9, size=shape).astype(node.dtype.name))
        else:
            # Wide enough to reach saturation regions (ReLU6 above 6, hard sigmoid beyond +-3).
            arrays.append((3.0 * rng.standard_normal(shape)).astype("float32"))
    return arrays


def _check_numerics(case, generated_results):
    results, _ = generated_results
    model, code, diagnostics = results[case]
    assert code is not None, diagnostics
    reference = TorchReference(model)
    store = reference.store()
    inputs = _inputs(model)
    expected = reference(inputs)
    keras_model, actual = _keras_run(model, code, store, inputs)
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=1e-4)
    # Keras -> pivot -> PyTorch gives the same function again.
    back, diagnostics = K.store_from_keras(keras_model, model)
    assert not diagnostics
    reference.load(back)
    for got, want in zip(actual, reference(inputs)):
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("case", [case for case, _ in EXAMPLES])
def test_kind_example_matches_pytorch(case, generated):
    results, _ = generated
    if case in EXPECTED_DIAGNOSTICS:
        _, code, diagnostics = results[case]
        assert code is None and [d.code for d in diagnostics] == [EXPECTED_DIAGNOSTICS[case]]
        return
    _check_numerics(case, generated)


@pytest.mark.parametrize("case", list(SCENARIOS) + SAMPLES_RUN)
def test_scenario_matches_pytorch(case, generated):
    _check_numerics(case, generated)


def test_generated_code_passes_ruff(generated):
    results, report = generated
    assert sum(code is not None for _, code, _ in results.values()) >= len(EXAMPLES)
    assert report.strip() == "" or "All checks passed" in report and "would be reformatted" not in report, report


def test_generated_code_imports_only_keras(generated):
    results, _ = generated
    for case, (_, code, _) in results.items():
        if code is None:
            continue
        imports = [line for line in code.splitlines() if line.startswith(("import ", "from "))]
        assert all(line in ("import keras", "from keras import layers, ops", "from keras import layers",
                            "from keras import ops") for line in imports), (case, imports)
        assert code.startswith("# Generated by nnpivot ") and "nnpivot" not in code.split("\n", 1)[1]


# =============================================================================
# Layout decisions
# =============================================================================

def test_image_inputs_become_channels_last(generated):
    results, _ = generated
    model = results["conv2d-0"][0]
    assert K.keras_layouts(model) == ([(0, 2, 3, 1)], [(0, 2, 3, 1)])


def test_permute_feeding_conv1d_disappears(generated):
    results, _ = generated
    model, code, _ = results["embedding-permute-conv1d"]
    body = code.split("\n", 1)[1]
    assert "transpose" not in body and "permute" not in body
    assert K.keras_layouts(model) == ([(0, 1)], [(0, 1)])


def test_rank_3_inputs_keep_their_layout(generated):
    # (N, T, F) in both frameworks: a Conv1d reading the input as (N, C, L) maps gets an explained transpose,
    # and one behind the permute that turns (N, T, C) into channels-first needs none.
    results, _ = generated
    model, code, _ = results["conv1d-0"]
    assert K.keras_layouts(model) == ([(0, 1, 2)], [(0, 1, 2)])
    assert "# Transposed: conv1d works on channels-last maps.\n        x_cl = ops.transpose(x, (0, 2, 1))" in code
    model, code, _ = results["sequence-permute-conv1d"]
    assert "transpose" not in code.split("\n", 1)[1] and "self.c(x)" in code
    assert K.keras_layouts(model) == ([(0, 1, 2)], [(0, 1)])


def test_non_float_inputs_are_cast_to_their_dtype(generated):
    results, _ = generated
    _, code, _ = results["int32-and-float-inputs"]
    assert '        t = ops.cast(t, "int32")\n' in code and "ops.cast(f" not in code
    namespace: dict = {}
    exec(compile(code, "<int32-and-float-inputs>", "exec"), namespace)  # noqa: S102 - the generated code
    ids = np.arange(12).reshape(2, 6) % 10  # NumPy's default int64, as a user's data would be
    output = namespace["T"]()([ids, np.zeros((2, 6, 4), "float32")])
    assert tuple(output.shape) == (2, 6, 4) and keras.backend.standardize_dtype(output.dtype) == "float32"


def test_flatten_before_dense_stays_idiomatic(generated):
    results, _ = generated
    model, code, _ = results["conv-flatten-dense"]
    assert "layers.Flatten" in code and "transpose" not in code
    assert "d" in K.plan(model).code.dense_rows
    model, code, _ = results["conv-flatten-dropout-dense"]
    assert "transpose" not in code and set(K.plan(model).code.dense_rows) == {"h", "g"}


def test_reshape_of_maps_gets_an_explained_transpose(generated):
    results, _ = generated
    model, code, _ = results["conv-reshape"]
    assert "# Transposed: reshape depends on the pivot's axis order." in code
    assert "ops.transpose(c, (0, 3, 1, 2))" in code
    assert K.explicit_transposes(model) == ["T: c -> c_cf (reshape depends on the pivot's axis order)"]


def test_axes_are_translated_to_channels_last(generated):
    results, _ = generated
    _, code, _ = results["channels-last-axes"]
    assert "ops.concatenate([a, y], axis=3)" in code
    assert "layers.Softmax(name=" in code  # channel axis 1 is Keras' last axis


def test_stacked_bidirectional_layers_are_named_per_layer(generated):
    results, _ = generated
    _, code, _ = results["lstm-states"]
    assert 'name="seq_l0"' in code and 'name="seq_l1"' in code and 'layers.Dropout(0.3, name="seq_drop1")' in code
    assert "ops.stack([" in code


def test_adaptive_pooling_is_pytorchs_at_every_input_size(tmp_path):
    """Uneven windows included, on channels-last input of sizes other than the declared one."""
    model = parse_text("model T {\n input x: float32[3, 10, 10]\n a = adaptive_avg_pool2d(x, [3, 4])\n"
                       " m = adaptive_max_pool2d(x, 3)\n output a, m\n}\n", "uneven.nn")
    code = K.generate(model, "uneven.nn")
    assert "layers.AdaptiveAveragePooling2D((3, 4)" in code and "layers.AdaptiveMaxPooling2D(3" in code
    path = tmp_path / "uneven.py"
    path.write_text(code, encoding="utf-8")
    namespace = {"__name__": "uneven"}
    exec(compile(code, str(path), "exec"), namespace)  # noqa: S102 - the generated code under test
    keras_model = namespace["T"]()
    for size in ((10, 10), (13, 7)):
        x = np.random.default_rng(0).standard_normal((2, 3, *size)).astype("float32")
        got_avg, got_max = keras_model(np.transpose(x, (0, 2, 3, 1)))  # the user's channels-last batch
        want_avg = F.adaptive_avg_pool2d(torch.from_numpy(x), (3, 4)).numpy()
        want_max = F.adaptive_max_pool2d(torch.from_numpy(x), 3).numpy()
        np.testing.assert_allclose(np.transpose(np.asarray(got_avg), (0, 3, 1, 2)), want_avg, atol=1e-6)
        np.testing.assert_allclose(np.transpose(np.asarray(got_max), (0, 3, 1, 2)), want_max, atol=1e-6)


# =============================================================================
# Files and weights (the samples' golden code: test_equivalence_samples.py)
# =============================================================================

def test_generate_file_refuses_to_overwrite(tmp_path, generated):
    results, _ = generated
    model = results["dense-0"][0]
    target = tmp_path / "net.py"
    K.generate_file(model, target, "dense.nn")
    first = target.read_text()
    target.write_text("# mine\n")
    with pytest.raises(NNPivotError) as info:
        K.generate_file(model, target, "dense.nn")
    assert [d.code for d in info.value.diagnostics] == ["output-exists"]
    assert target.read_text() == "# mine\n"
    K.generate_file(model, target, "dense.nn", force=True)
    assert target.read_text() == first


def test_weights_h5_round_trip(tmp_path, generated):
    results, _ = generated
    model = results["lstm-states"][0]
    store = TorchReference(model, seed=3).store()
    path = tmp_path / "lstm.weights.h5"
    assert K.write_weights_h5(path, model, store) == []
    back, diagnostics = K.read_weights_h5(path, model)
    assert not diagnostics
    for key in store:
        if key.startswith("seq.bias"):
            continue  # Keras holds b_ih + b_hh as one bias
        np.testing.assert_allclose(back[key], store[key], atol=1e-6)
    for layer in range(2):
        for direction in ("", "_reverse"):
            suffix = f"_l{layer}{direction}"
            np.testing.assert_allclose(back[f"seq.bias_ih{suffix}"] + back[f"seq.bias_hh{suffix}"],
                                       store[f"seq.bias_ih{suffix}"] + store[f"seq.bias_hh{suffix}"], atol=1e-6)
    assert K.write_weights_h5(path, model, store)[0].code == "output-exists"


def test_weight_shape_mismatch_names_the_parameter(generated):
    results, _ = generated
    model = results["dense-0"][0]
    keras_model = K.build_keras_model(model)
    store = TorchReference(model).store()
    store["result.weight"] = np.zeros((5, 21), dtype="float32")
    diagnostics = K.assign_store(keras_model, model, store)
    assert [d.code for d in diagnostics] == ["weight-shape-mismatch"]
    assert diagnostics[0].message.startswith("result.weight:") and "(5, 21)" in diagnostics[0].message
    store = WeightStore({"result.weight": np.zeros((5, 20), dtype="float32")})
    assert [str(d) for d in K.assign_store(keras_model, model, store)] == [
        "dense-0.nn:3:5: error[weight-missing]: result.bias: the weight store has no such array"]


