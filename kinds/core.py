"""Core layers: dense, dropout, embedding."""
from __future__ import annotations

from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import UNSET, KerasClass, KerasMapping, Weights
from .keras_mapping import Arg as KerasArg
from .pysyntax import literal
from .spec import SEQ, SIGNAL, VEC, ex, keras, kind, pytorch
from .torch_mapping import Arg, TorchMapping, declared_size

kind("dense", "Dense", S.dense, "Fully connected layer on the last axis.",
     [ex("dense(x, 5)", VEC), ex("dense(x, 4, bias=false)", SEQ)], positional=("units",), required=("units",))
kind("dropout", "Dropout", S.same_shape, "Dropout (identity at inference).",
     [ex("dropout(x, 0.3)", VEC), ex("dropout(x, 0.2, spatial=true)")], positional=("rate",))
kind("embedding", "Embedding", S.embedding, "Lookup table of vectors for integer indices.",
     [ex("embedding(x, 50, 8)", ("x: int64[10]",)), ex("embedding(x, 30, 6, padding_idx=0)", ("x: int64[9]",))],
     positional=("numEmbeddings", "embeddingDim"), required=("numEmbeddings", "embeddingDim"))
kind("add_learned", "AddLearned", S.add_learned,
     "Adds a trainable tensor of a declared shape (a learned position table), broadcast from the right.",
     [ex("add_learned(x, [7, 12])", SEQ), ex("add_learned(x, [1, 20], batch_axis=true)", SIGNAL)],
     positional=("shape",), required=("shape",))


# --- PyTorch ---------------------------------------------------------------------------------

def _dropout_class(site):
    if not site.attr("spatial"):
        return "nn.Dropout"
    return f"nn.Dropout{min(max(site.rank - 2, 1), 3)}d"



_bias = Arg("bias", "bias", True)
pytorch("dense", TorchMapping(
    "nn.Linear",
    (Arg("in_features", derive=lambda site: declared_size(site, site.shape[-1]), positional=True),
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


def learned_shape(node) -> tuple:
    """The learned tensor's shape in PyTorch and in the pivot's weights: the declared one, after a 1 for the
    batch when the source wrote one."""
    return (1, *node.shape) if node.batchAxis else tuple(node.shape)


pytorch("add_learned", TorchMapping(
    # Weight initialisation is not part of the pivot (as for every layer): the tensor starts at zeros.
    declaration=lambda site: f"nn.Parameter(torch.zeros({', '.join(literal(d) for d in learned_shape(site.node))}))",
    forward="{x} + {module}",
    parameters=lambda site: {"weight": learned_shape(site.node)}))


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
    padded = ctx.node.eIsSet("paddingIdx")  # the generated subclass keeps the padding row out of training
    layer = ctx.layer(PADDED_EMBEDDING if padded else ctx.mapping.layer,
                      ctx.kwargs(padding_idx=ctx.node.paddingIdx % ctx.node.numEmbeddings if padded else UNSET))
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [L.identity(len(ctx.out_shapes[0]))]


# the Embedding subclass generated Keras code defines when a padding row must get no gradient
PADDED_EMBEDDING = "PaddedEmbedding"



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
                            layout="last_axis", signature=("units", "activation"),
                            weights=Weights(_dense_to_keras, _dense_from_keras,
                                            info=lambda layer, code, node: code.dense_rows.get(node.name))))
keras("dropout", KerasMapping("layers.Dropout", emit_dropout, (KerasArg("rate", "rate", positional=True),),
                              "dropout", note="spatial=true: layers.SpatialDropout{n}D", reader="dropout",
                              reads=tuple(KerasClass(f"SpatialDropout{d}D", ("rate",), "dropout") for d in (1, 2, 3))))
keras("embedding", KerasMapping("layers.Embedding", emit_embedding, (
    KerasArg("input_dim", "numEmbeddings", positional=True), KerasArg("output_dim", "embeddingDim", positional=True),
    KerasArg("padding_idx", "paddingIdx", default=None)),
    "pivot", Weights(lambda np, node, params, info: [params["weight"]],
                     lambda np, node, arrays, info: {"weight": arrays[0]}),
    note=f"padding_idx: the generated {PADDED_EMBEDDING} subclass, whose padding row gets no gradient; not a mask",
    reads=(KerasClass(PADDED_EMBEDDING),),
    defaults={"mask_zero": False, "sparse": False}))


def keras_learned_shape(node, perm) -> tuple:
    """The Keras variable's shape on an input laid out as ``perm``: PyTorch's where the layout is the pivot's, else
    the tensor at the input's rank (1s in front) with its axes in the input's layout, the batch axis kept only
    when the source wrote one."""
    if L.is_identity(perm):
        return learned_shape(node)
    full = (1,) * (len(perm) - len(node.shape)) + tuple(node.shape)
    permuted = tuple(full[axis] for axis in perm)
    return permuted if node.batchAxis else permuted[1:]


def emit_add_learned(ctx):
    # A bare Layer holds the variable, so its weights load and save by layer name like any other layer's.
    holder = ctx.layer("layers.Layer", [])
    shape = keras_learned_shape(ctx.node, ctx.x.perm)
    ctx.graph.init.append(f"        {holder}.tensor = {holder}.add_weight(shape={literal(shape)}, "
                          f"initializer={literal('zeros')}, name={literal('tensor')})")
    ctx.graph.init.append(f"        {holder}.build(None)  # built: its one variable exists")
    ctx.assign(f"{ctx.x.expr} + {holder}.tensor")
    return [ctx.x.perm]


def _full_rank(node, perm) -> tuple:
    return (1,) * (len(perm) - len(node.shape)) + tuple(node.shape)


def _layout(node, perm, keras_shape) -> tuple:
    """The layout of the node's input in Keras: the generated code's, else (a hand-written source, whose
    importer reads a weight only on a tensor in the pivot's layout) the pivot's, checked on the weight's shape."""
    if perm is not None:
        return perm
    if tuple(keras_shape) != learned_shape(node):
        raise ValueError(f"a weight of shape {tuple(keras_shape)} where {learned_shape(node)} is expected")
    return L.identity(len(node.shape) + 1)


def _learned_to_keras(np, node, params, perm):
    if perm is None:
        return [params["weight"]]
    full = params["weight"].reshape(_full_rank(node, perm))
    return [full.transpose(perm).reshape(keras_learned_shape(node, perm))]


def _learned_from_keras(np, node, arrays, perm):
    perm = _layout(node, perm, arrays[0].shape)
    keras_full = tuple(_full_rank(node, perm)[axis] for axis in perm)
    return {"weight": arrays[0].reshape(keras_full).transpose(L.inverse(perm)).reshape(learned_shape(node))}


keras("add_learned", KerasMapping(None, emit_add_learned, layout="any",
                                  weights=Weights(_learned_to_keras, _learned_from_keras,
                                                  info=lambda layer, code, node: getattr(code, "perms", {}).get(node.name)),
                                  note="a Layer holding the tensor (add_weight), added to the input"))
