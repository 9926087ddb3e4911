"""Normalization: batch, instance, layer and group normalization, and Keras' feature Normalization."""
from __future__ import annotations

from nnpivot.metamodel import is_kind
from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import Arg as KerasArg
from .keras_mapping import KerasMapping, Weights
from .pysyntax import literal
from .spec import IMG, SEQ, SIGNAL, TWO_MAPS, VOLUME, ex, keras, kind, pytorch
from .torch_mapping import HELPERS, Arg, TorchMapping, affine, channels_of, compact

for d, inp in ((1, SEQ), (2, IMG), (3, VOLUME)):
    kind(f"batch_norm{d}d", f"BatchNorm{d}d", S.batch_norm(d), f"Batch normalization over the channel axis ({d}-D).",
         [ex(f"batch_norm{d}d(x)", inp if d != 1 else SIGNAL), ex(f"batch_norm{d}d(x, eps=0.001, momentum=0.01)",
                                                                   inp if d != 1 else ("x: float32[6]",))])
kind("instance_norm", "InstanceNorm", S.channel_norm("numFeatures"),
     "Instance normalization: per sample and channel over the spatial axes.",
     [ex("instance_norm(x)"), ex("instance_norm(x, affine=true, eps=0.001)", SIGNAL)])
kind("layer_norm", "LayerNorm", S.layer_norm, "Layer normalization over the trailing axes.",
     [ex("layer_norm(x, 12)", SEQ), ex("layer_norm(x, [3, 16, 16], eps=0.001)")],
     positional=("normalizedShape",))
kind("group_norm", "GroupNorm", S.channel_norm("numChannels"), "Group normalization over channel groups.",
     [ex("group_norm(x, 2)", TWO_MAPS[:1]), ex("group_norm(x, 3, affine=false)")],
     positional=("numGroups",), required=("numGroups",))
kind("normalization", "Normalization", S.channel_norm("numFeatures"),
     "Keras' feature normalization: (x - mean) / max(sqrt(variance), eps) per channel, from stored statistics.",
     [ex("normalization(x)"), ex("normalization(x)", SEQ)])


# --- PyTorch ---------------------------------------------------------------------------------

def _layer_norm_shape(site):
    return tuple(site.attr("normalizedShape")) or (site.shape[-1],)


def _layer_norm_parameters(site):
    if not site.attr("elementwiseAffine"):
        return {}
    shape = _layer_norm_shape(site)
    return {"weight": shape} | ({"bias": shape} if site.attr("bias") else {})


def _running_stats(site):
    return ({"running_mean": (site.shape[1],), "running_var": (site.shape[1],)}
            if site.attr("trackRunningStats") else {})



_bias = Arg("bias", "bias", True)
for d in (1, 2, 3):
    pytorch(f"batch_norm{d}d", TorchMapping(
        f"nn.BatchNorm{d}d",
        (Arg("num_features", derive=channels_of, positional=True), Arg("eps", "eps", 1e-5),
         Arg("momentum", "momentum", 0.1), Arg("affine", "affine", True),
         Arg("track_running_stats", "trackRunningStats", True)),
        parameters=affine("affine", lambda site: (site.shape[1],), _running_stats),
        functions=("F.batch_norm",)))
pytorch("instance_norm", TorchMapping(
    lambda site: f"nn.InstanceNorm{site.rank - 2}d",
    (Arg("num_features", derive=channels_of, positional=True), Arg("eps", "eps", 1e-5),
     Arg("affine", "affine", False)),
    parameters=affine("affine", lambda site: (site.shape[1],)),
    classes=("nn.InstanceNorm1d", "nn.InstanceNorm2d", "nn.InstanceNorm3d"), functions=("F.instance_norm",),
    signatures=dict.fromkeys((f"nn.InstanceNorm{d}d" for d in (1, 2, 3)),
                             ("num_features", "eps", "momentum", "affine", "track_running_stats"))))
pytorch("layer_norm", TorchMapping(
    "nn.LayerNorm",
    (Arg("normalized_shape", positional=True, derive=lambda site: compact(_layer_norm_shape(site))
         if len(_layer_norm_shape(site)) == 1 else _layer_norm_shape(site)),
     Arg("eps", "eps", 1e-5), Arg("elementwise_affine", "elementwiseAffine", True), _bias),
    parameters=_layer_norm_parameters, functions=("F.layer_norm",)))
pytorch("group_norm", TorchMapping(
    "nn.GroupNorm",
    (Arg("num_groups", "numGroups", positional=True), Arg("num_channels", derive=channels_of, positional=True),
     Arg("eps", "eps", 1e-5), Arg("affine", "affine", True)),
    parameters=affine("affine", lambda site: (site.shape[1],)), functions=("F.group_norm",)))

# Keras' Normalization, which torch lacks: written once into the generated code where needed (the PyTorch importer
# reads it back by its exact code). Keras divides by max(sqrt(variance), epsilon), not by sqrt(variance + eps).
FEATURE_NORMALIZATION = "FeatureNormalization"
FEATURE_NORMALIZATION_CODE = '''class FeatureNormalization(nn.Module):
    """(x - mean) / max(sqrt(variance), eps) per channel (axis 1), as Keras' Normalization layer."""

    def __init__(self, num_features, eps=1e-7):
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("variance", torch.ones(num_features))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = torch.clamp(torch.sqrt(self.variance), min=self.eps)
        return (x - self.mean.view(shape)) / scale.view(shape)
'''
HELPERS[FEATURE_NORMALIZATION] = FEATURE_NORMALIZATION_CODE
pytorch("normalization", TorchMapping(
    FEATURE_NORMALIZATION, (Arg("num_features", derive=channels_of, positional=True), Arg("eps", "eps", 1e-7)),
    parameters=lambda site: {"mean": (site.shape[1],), "variance": (site.shape[1],)}, generated=FEATURE_NORMALIZATION))


# --- Keras -----------------------------------------------------------------------------------

def emit_batch_norm(ctx):
    if not ctx.node.trackRunningStats:
        ctx.fail("track_running_stats=false normalises with batch statistics at inference; Keras cannot")
    axis = L.target_axis(ctx.x.perm, 1)
    layer = ctx.layer("layers.BatchNormalization", ctx.kwargs(axis=-1 if axis == len(ctx.x.perm) - 1 else axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_group_norm(ctx):
    node = ctx.node
    axis = L.target_axis(ctx.x.perm, 1)
    groups = node.numGroups if is_kind(node, "GroupNorm") else -1  # instance norm: Keras' "a group per channel"
    layer = ctx.layer("layers.GroupNormalization", ctx.kwargs(
        groups=groups, axis=-1 if axis == len(ctx.x.perm) - 1 else axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_layer_norm(ctx):
    rank = len(ctx.x.shape)
    count = max(len(ctx.node.normalizedShape), 1)
    axes = [L.target_axis(ctx.x.perm, a) for a in range(rank - count, rank)]
    axis = -1 if axes == [rank - 1] else axes[0] if len(axes) == 1 else axes
    layer = ctx.layer("layers.LayerNormalization", ctx.kwargs(axis=axis))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


KERAS_EPSILON = 1e-7  # keras.config.epsilon(), which Normalization reads: global, not a layer argument


def emit_normalization(ctx):
    if ctx.node.eps != KERAS_EPSILON:
        ctx.fail(f"eps={ctx.node.eps} differs from Keras' global epsilon {KERAS_EPSILON}, which its Normalization uses")
    rank = len(ctx.x.perm)
    axis = L.target_axis(ctx.x.perm, 1)
    layer = ctx.layer("layers.Normalization", ctx.kwargs(axis=-1 if axis == rank - 1 else axis))
    # Built in __init__, eagerly: Normalization keeps its statistics as tensors made when it is built, which a
    # first build inside a traced call would leave in that call's graph.
    build_shape = tuple(ctx.x.shape[1] if a == axis else None for a in range(rank))
    ctx.graph.init.append(f"        {layer}.build({literal(build_shape)})")
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def _one_minus(value):
    return round(1.0 - value, 12)



def _batch_norm_to_keras(np, node, params, info):
    affine = [params["weight"], params["bias"]] if node.affine else []
    return affine + [params["running_mean"], params["running_var"]]


def _batch_norm_from_keras(np, node, arrays, info):
    names = (["weight", "bias"] if node.affine else []) + ["running_mean", "running_var"]
    return dict(zip(names, arrays))


def _affine_flags(node):
    if is_kind(node, "LayerNorm"):
        return node.elementwiseAffine, node.elementwiseAffine and node.bias
    return node.affine, node.affine



def _norm_to_keras(np, node, params, info):
    scale, center = _affine_flags(node)
    return ([params["weight"]] if scale else []) + ([params["bias"]] if center else [])


def _norm_from_keras(np, node, arrays, info):
    scale, center = _affine_flags(node)
    names = (["weight"] if scale else []) + (["bias"] if center else [])
    return dict(zip(names, arrays))


_NORM_AFFINE = (KerasArg("center", "affine", default=True), KerasArg("scale", "affine", default=True))
_NORM_WEIGHTS = Weights(_norm_to_keras, _norm_from_keras)
for d in (1, 2, 3):
    keras(f"batch_norm{d}d", KerasMapping("layers.BatchNormalization", emit_batch_norm, (
        KerasArg("axis", default=-1), KerasArg("momentum", "momentum", _one_minus, _one_minus, default=0.99),
        KerasArg("epsilon", "eps", default=1e-3), *_NORM_AFFINE), "any",
        Weights(_batch_norm_to_keras, _batch_norm_from_keras), signature=("axis", "momentum", "epsilon"),
        reader="batch_norm"))
# One Keras class, GroupNormalization, for both kinds (groups=-1 is the instance norm): one reader picks the kind.
_GROUP_NORM = {"signature": ("groups", "axis", "epsilon"), "reader": "group_norm"}
keras("instance_norm", KerasMapping("layers.GroupNormalization", emit_group_norm, (
    KerasArg("groups"), KerasArg("axis", default=-1), KerasArg("epsilon", "eps", default=1e-3), *_NORM_AFFINE),
    "any", _NORM_WEIGHTS, note="groups=-1: a group per channel", **_GROUP_NORM))
keras("group_norm", KerasMapping("layers.GroupNormalization", emit_group_norm, (
    KerasArg("groups", "numGroups"), KerasArg("axis", default=-1), KerasArg("epsilon", "eps", default=1e-3),
    *_NORM_AFFINE), "any", _NORM_WEIGHTS, **_GROUP_NORM))
keras("layer_norm", KerasMapping("layers.LayerNormalization", emit_layer_norm, (
    KerasArg("axis", default=-1), KerasArg("epsilon", "eps", default=1e-3),
    KerasArg("center", "elementwiseAffine", default=True), KerasArg("scale", "elementwiseAffine", default=True)),
    "layer_norm", _NORM_WEIGHTS, signature=("axis", "epsilon"), reader="layer_norm"))


def _normalization_to_keras(np, node, params, info):
    # Keras' third weight, the count of samples adapted on, only merges later adapt() calls.
    return [params["mean"], params["variance"], np.zeros((), dtype="int64")]


def _normalization_from_keras(np, node, arrays, info):
    return {"mean": arrays[0], "variance": arrays[1]}


keras("normalization", KerasMapping("layers.Normalization", emit_normalization, (
    KerasArg("axis", default=-1),), "any", Weights(_normalization_to_keras, _normalization_from_keras),
    note="epsilon: Keras' backend.epsilon() (1e-7), the floor of sqrt(variance)",
    signature=("axis", "mean", "variance", "invert"), reader="normalization"))
