"""Core layers: dense, dropout, embedding."""
from __future__ import annotations

from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import Arg as KerasArg
from .keras_mapping import KerasMapping, Weights, emit_layer
from .spec import SEQ, VEC, ex, keras, kind, pytorch
from .torch_mapping import Arg, TorchMapping

kind("dense", "Dense", S.dense, "Fully connected layer on the last axis.",
     [ex("dense(x, 5)", VEC), ex("dense(x, 4, bias=false)", SEQ)], positional=("units",), required=("units",))
kind("dropout", "Dropout", S.same_shape, "Dropout (identity at inference).",
     [ex("dropout(x, 0.3)", VEC), ex("dropout(x, 0.2, spatial=true)")], positional=("rate",))
kind("embedding", "Embedding", S.embedding, "Lookup table of vectors for integer indices.",
     [ex("embedding(x, 50, 8)", ("x: int64[10]",)), ex("embedding(x, 30, 6, padding_idx=0)", ("x: int64[9]",))],
     positional=("numEmbeddings", "embeddingDim"), required=("numEmbeddings", "embeddingDim"))


# --- PyTorch ---------------------------------------------------------------------------------

def _dropout_class(site):
    if not site.attr("spatial"):
        return "nn.Dropout"
    return f"nn.Dropout{min(max(site.rank - 2, 1), 3)}d"



_bias = Arg("bias", "bias", True)
pytorch("dense", TorchMapping(
    "nn.Linear",
    (Arg("in_features", derive=lambda site: site.shape[-1], positional=True),
     Arg("out_features", "units", positional=True), _bias),
    parameters=lambda site: {"weight": (site.node.units, site.shape[-1])} | (
        {"bias": (site.node.units,)} if site.node.bias else {}),
    functions=("F.linear",)))
pytorch("dropout", TorchMapping(
    _dropout_class, (Arg("p", "rate", 0.5),),
    classes=("nn.Dropout", "nn.Dropout1d", "nn.Dropout2d", "nn.Dropout3d"),
    functions=("F.dropout", "F.dropout1d", "F.dropout2d", "F.dropout3d")))
pytorch("embedding", TorchMapping(
    "nn.Embedding",
    (Arg("num_embeddings", "numEmbeddings", positional=True), Arg("embedding_dim", "embeddingDim", positional=True),
     Arg("padding_idx", "paddingIdx", None), Arg("max_norm", "maxNorm", None)),
    parameters=lambda site: {"weight": (site.node.numEmbeddings, site.node.embeddingDim)},
    functions=("F.embedding",)))


# --- Keras -----------------------------------------------------------------------------------

def emit_dense(ctx):
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    owner = ctx.node.weightsOf
    if owner is not None and ctx.x.flat != ctx.graph.dense_rows.get(owner.name):
        ctx.fail(f"shares the weights of '{owner.name}', whose input features come in another order in Keras "
                 "(a Flatten of channels-last maps on one side only)")
    if ctx.x.flat is not None and owner is None:
        ctx.graph.dense_rows[ctx.node.name] = ctx.x.flat
    return [ctx.x.perm]


def emit_dropout(ctx):
    rank = len(ctx.x.shape)
    # On (N, C) PyTorch's channel-wise dropout drops single features, which is plain dropout.
    if ctx.node.spatial and rank > 2:
        if rank not in (3, 4, 5):
            ctx.fail(f"spatial dropout needs (N, C, spatial...) maps, got rank {rank}")
            return [ctx.x.perm]
        layer = ctx.layer(f"layers.SpatialDropout{rank - 2}D", ctx.kwargs())
    else:
        layer = ctx.layer("layers.Dropout", ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_embedding(ctx):
    if ctx.node.eIsSet("maxNorm"):
        ctx.fail("max_norm renormalises rows during the lookup; Keras' Embedding has no equivalent")
    emit_layer(ctx)
    return [L.identity(len(ctx.out_shapes[0]))]



def _dense_to_keras(np, node, params, info):
    weight = params["weight"]
    if info is not None:  # rows follow the Keras Flatten order
        shape, perm = info
        weight = weight.reshape(weight.shape[0], *shape[1:]).transpose(0, *perm[1:]).reshape(weight.shape[0], -1)
    return [weight.T] + ([params["bias"]] if node.bias else [])


def _dense_from_keras(np, node, arrays, info):
    weight = arrays[0].T
    if info is not None:
        shape, perm = info
        keras_shape = [shape[a] for a in perm[1:]]
        rows = [1 + a for a in L.inverse(tuple(p - 1 for p in perm[1:]))]
        weight = weight.reshape(weight.shape[0], *keras_shape).transpose(0, *rows).reshape(weight.shape[0], -1)
    return {"weight": weight, **({"bias": arrays[1]} if node.bias else {})}


keras("dense", KerasMapping("layers.Dense", emit_dense, (KerasArg("units", "units", positional=True),
                                                         KerasArg("use_bias", "bias", default=True)),
                            layout="last_axis",
                            weights=Weights(_dense_to_keras, _dense_from_keras,
                                            info=lambda layer, code, node: code.dense_rows.get(node.name))))
keras("dropout", KerasMapping("layers.Dropout", emit_dropout, (KerasArg("rate", "rate", positional=True),),
                              "dropout", note="spatial=true: layers.SpatialDropout{n}D"))
keras("embedding", KerasMapping("layers.Embedding", emit_embedding, (
    KerasArg("input_dim", "numEmbeddings", positional=True), KerasArg("output_dim", "embeddingDim", positional=True)),
    "pivot", Weights(lambda np, node, params, info: [params["weight"]],
                     lambda np, node, arrays, info: {"weight": arrays[0]}),
    note="padding_idx only changes training in PyTorch; not a Keras mask"))
