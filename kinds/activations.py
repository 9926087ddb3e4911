"""Activations: elementwise nonlinearities, PReLU, softmax and log-softmax."""
from __future__ import annotations

from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import UNSET, Code, KerasMapping, Weights, emit_activation_fn, emit_layer, emit_op
from .keras_mapping import Arg as KerasArg
from .pysyntax import literal
from .spec import VEC, ex, keras, kind, pytorch
from .torch_mapping import Arg, TorchMapping

for keyword, name, extra in (
        ("relu", "ReLU", ()), ("relu6", "ReLU6", ()), ("selu", "SELU", ()), ("silu", "SiLU", ()),
        ("mish", "Mish", ()), ("sigmoid", "Sigmoid", ()), ("hardsigmoid", "Hardsigmoid", ()),
        ("hardswish", "Hardswish", ()), ("tanh", "Tanh", ()),
        ("leaky_relu", "LeakyReLU", ("leaky_relu(x, 0.2)",)), ("elu", "ELU", ("elu(x, 0.5)",)),
        ("gelu", "GELU", ("gelu(x, approximate=tanh)",)),
        ("softplus", "Softplus", ("softplus(x, beta=2.0, threshold=10.0)",))):
    positional = {"LeakyReLU": ("negativeSlope",), "ELU": ("alpha",)}.get(name, ())
    kind(keyword, name, S.same_shape, f"{name} activation.", [ex(f"{keyword}(x)")] + [ex(e) for e in extra],
         positional=positional, category="activation")
kind("hardtanh", "Hardtanh", S.same_shape, "Hardtanh activation: clips to [min_val, max_val].",
     [ex("hardtanh(x)"), ex("hardtanh(x, -2.0, 0.5)", VEC)], positional=("minVal", "maxVal"), category="activation")
kind("prelu", "PReLU", S.prelu, "PReLU activation with learned slopes (one, or one per channel).",
     [ex("prelu(x)"), ex("prelu(x, num_parameters=3)")], category="activation")
for keyword, name in (("softmax", "Softmax"), ("log_softmax", "LogSoftmax")):
    kind(keyword, name, S.softmax, f"{name} along an axis.",
         [ex(f"{keyword}(x)", VEC), ex(f"{keyword}(x, axis=1)")], positional=("axis",), category="activation")


# --- PyTorch ---------------------------------------------------------------------------------

# Tensor methods that are spellings of an activation too.
TENSOR_METHODS = {keyword: (f"Tensor.{keyword}",) for keyword in ("relu", "sigmoid", "tanh", "softmax", "log_softmax")}

for keyword, cls, args in (
        ("relu", "nn.ReLU", ()), ("relu6", "nn.ReLU6", ()), ("selu", "nn.SELU", ()), ("silu", "nn.SiLU", ()),
        ("mish", "nn.Mish", ()), ("sigmoid", "nn.Sigmoid", ()), ("hardsigmoid", "nn.Hardsigmoid", ()),
        ("hardswish", "nn.Hardswish", ()), ("tanh", "nn.Tanh", ()),
        ("leaky_relu", "nn.LeakyReLU", (Arg("negative_slope", "negativeSlope", 0.01),)),
        ("elu", "nn.ELU", (Arg("alpha", "alpha", 1.0),)),
        ("gelu", "nn.GELU", (Arg("approximate", "approximate", "none"),)),
        ("softplus", "nn.Softplus", (Arg("beta", "beta", 1.0), Arg("threshold", "threshold", 20.0))),
        ("hardtanh", "nn.Hardtanh", (Arg("min_val", "minVal", -1.0), Arg("max_val", "maxVal", 1.0))),
        ("prelu", "nn.PReLU", (Arg("num_parameters", "numParameters", 1), Arg("init", "init", 0.25))),
        ("softmax", "nn.Softmax", (Arg("dim", "axis"),)),
        ("log_softmax", "nn.LogSoftmax", (Arg("dim", "axis"),))):
    pytorch(keyword, TorchMapping(
        cls, args, functions=(f"F.{keyword}", f"torch.{keyword}", *TENSOR_METHODS.get(keyword, ())),
        parameters=(lambda site: {"weight": (site.node.numParameters,)}) if keyword == "prelu" else None))



# --- Keras -----------------------------------------------------------------------------------

def emit_gelu(ctx):
    if ctx.node.approximate.name == "tanh":
        ctx.assign(f"ops.gelu({ctx.x.expr}, approximate=True)")
        return [ctx.x.perm]
    layer = ctx.layer("layers.Activation", ['"gelu"'])
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_softplus(ctx):
    beta, threshold, x = ctx.node.beta, ctx.node.threshold, ctx.x.expr
    if beta == 1.0 and threshold >= 20.0:  # beyond 20, softplus(x) == x in float32
        return emit_activation_fn(ctx)
    # PyTorch's Softplus(beta, threshold): linear where beta * x exceeds the threshold.
    scaled = f"{x} * {literal(beta)}"
    ctx.assign(f"ops.where(ops.greater({scaled}, {literal(threshold)}), {x}, ops.softplus({scaled}) / {literal(beta)})")
    return [ctx.x.perm]


def emit_softmax(ctx):
    axis = L.target_axis(ctx.x.perm, ctx.node.axis)
    axis = -1 if axis == len(ctx.x.perm) - 1 else axis
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs(axis=axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_log_softmax(ctx):
    axis = L.target_axis(ctx.x.perm, ctx.node.axis)
    axis = -1 if axis == len(ctx.x.perm) - 1 else axis
    ctx.assign(f"ops.log_softmax({ctx.x.expr}, axis={axis})")
    return [ctx.x.perm]


def emit_prelu(ctx):
    rank, perm = len(ctx.x.shape), ctx.x.perm
    if ctx.node.numParameters == 1:
        shared = list(range(1, rank))
    else:
        channel = L.target_axis(perm, 1)
        shared = [a for a in range(1, rank) if a != channel]
    init = Code(f"keras.initializers.Constant({literal(ctx.node.init)})")
    layer = ctx.layer("layers.PReLU", ctx.kwargs(alpha_initializer=init, shared_axes=shared or UNSET))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [perm]



# One Keras class, ReLU, for both kinds (and for a leaky ReLU): one reader picks the kind from its arguments.
_RELU = {"signature": ("max_value", "negative_slope", "threshold"), "reader": "relu"}
# layers.Activation("<fn>") names the kind by its argument: one reader for every kind written so.
BY_NAME = {"signature": ("activation",), "reader": "activation"}
keras("relu", KerasMapping("layers.ReLU", emit_layer, **_RELU))
keras("relu6", KerasMapping("layers.ReLU", emit_layer, (KerasArg("max_value", constant=6.0),), note="max_value=6.0",
                            **_RELU))
keras("leaky_relu", KerasMapping("layers.LeakyReLU", emit_layer, (
    KerasArg("negative_slope", "negativeSlope", default=0.3),), signature=("negative_slope",),
    renamed={"alpha": "negative_slope"}, activations={"leaky_relu": {"negativeSlope": 0.2}}))
keras("elu", KerasMapping("layers.ELU", emit_layer, (KerasArg("alpha", "alpha", default=1.0),), signature=("alpha",)))
keras("prelu", KerasMapping("layers.PReLU", emit_prelu, (KerasArg("alpha_initializer"), KerasArg("shared_axes")),
                            weights=Weights(lambda np, node, params, info: [params["weight"].reshape(info)],
                                            lambda np, node, arrays, info: {"weight": arrays[0].reshape(-1)},
                                            info=lambda layer, code, node: tuple(layer.alpha.shape)),
                            reader="prelu"))
keras("hardtanh", KerasMapping("ops.clip", emit_op, (KerasArg("x_min", "minVal", positional=True),
                                                     KerasArg("x_max", "maxVal", positional=True))))
keras("gelu", KerasMapping("layers.Activation", emit_gelu, note="gelu; ops.gelu(approximate=True) for tanh",
                           **BY_NAME))
# With beta and threshold: ops.where(ops.greater(x * beta, threshold), x, ops.softplus(x * beta) / beta).
keras("softplus", KerasMapping("layers.Activation", emit_softplus, note="softplus",
                               functions={"ops.greater": "greater", "ops.where": "where"}, **BY_NAME))
keras("softmax", KerasMapping("layers.Softmax", emit_softmax, (KerasArg("axis", default=-1),), signature=("axis",),
                              reader="softmax"))
keras("log_softmax", KerasMapping("ops.log_softmax", emit_log_softmax))
# Other names Keras gives the functions: swish is silu, hard_swish hard_silu.
_OTHER_NAMES = {"silu": {"swish": {}}, "hardswish": {"hard_swish": {}}}
for keyword, fn in (("selu", "selu"), ("silu", "silu"), ("mish", "mish"), ("sigmoid", "sigmoid"), ("tanh", "tanh"),
                    ("hardsigmoid", "hard_sigmoid"), ("hardswish", "hard_silu")):
    keras(keyword, KerasMapping("layers.Activation", emit_activation_fn, note=fn,
                                activations=_OTHER_NAMES.get(keyword, {}), **BY_NAME))
