"""Attention: multi-head scaled dot-product attention."""
from __future__ import annotations

from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import Arg as KerasArg
from .keras_mapping import KerasMapping, Weights, states_used
from .spec import SEQ, ex, keras, kind, pytorch
from .torch_mapping import Arg, TorchMapping

kind("multi_head_attention", "MultiHeadAttention", S.attention, "Multi-head scaled dot-product attention.",
     [ex("multi_head_attention(x, 12, 3)", SEQ),
      ex("multi_head_attention(x, y, y, 12, 2)", ("x: float32[5, 12]", "y: float32[7, 12]"))],
     positional=("embedDim", "numHeads"), required=("embedDim", "numHeads"), arity=(1, 3),
     output_count=2)  # attended values, attention weights


# --- PyTorch ---------------------------------------------------------------------------------

def _attention_dims(site):
    embed = site.node.embedDim
    key = site.in_shapes[1][-1] if len(site.in_shapes) > 1 else embed
    value = site.in_shapes[2][-1] if len(site.in_shapes) > 2 else key
    return embed, site.node.kdim or key, site.node.vdim or value


def _attention_statements(site):
    query = site.inputs[0]
    key = site.inputs[1] if len(site.inputs) > 1 else query
    value = site.inputs[2] if len(site.inputs) > 2 else key
    return [f"{site.outputs[0]}, {site.outputs[1]} = {site.module}({query}, {key}, {value})"]


def _attention_parameters(site):
    embed, kdim, vdim = _attention_dims(site)
    shapes = ({"in_proj_weight": (3 * embed, embed)} if kdim == vdim == embed else
              {"q_proj_weight": (embed, embed), "k_proj_weight": (embed, kdim), "v_proj_weight": (embed, vdim)})
    if site.node.bias:
        shapes["in_proj_bias"] = (3 * embed,)
    shapes["out_proj.weight"] = (embed, embed)
    if site.node.bias:
        shapes["out_proj.bias"] = (embed,)
    return shapes



pytorch("multi_head_attention", TorchMapping(
    "nn.MultiheadAttention",
    (Arg("embed_dim", "embedDim", positional=True), Arg("num_heads", "numHeads", positional=True),
     Arg("dropout", "dropout", 0.0), Arg("bias", "bias", True),
     Arg("kdim", default=None, derive=lambda site: None if _attention_dims(site)[1] == site.node.embedDim
         else _attention_dims(site)[1]),
     Arg("vdim", default=None, derive=lambda site: None if _attention_dims(site)[2] == site.node.embedDim
         else _attention_dims(site)[2]),
     Arg("batch_first", default=False, derive=lambda site: True)),
    statements=_attention_statements, parameters=_attention_parameters))



# --- Keras -----------------------------------------------------------------------------------

def emit_attention(ctx):
    node = ctx.node
    query = ctx.inputs[0].expr
    key = ctx.inputs[1].expr if len(ctx.inputs) > 1 else query
    value = ctx.inputs[2].expr if len(ctx.inputs) > 2 else key
    layer = ctx.layer("layers.MultiHeadAttention", ctx.kwargs(key_dim=node.embedDim // node.numHeads))
    args = [query, value] + ([f"key={key}"] if key != value else [])
    if states_used(ctx)[0]:
        scores = ctx.graph.fresh(f"{node.name}_scores")
        ctx.assign(f"{layer}({', '.join(args)}, return_attention_scores=True)", [ctx.var, scores])
        # PyTorch returns the attention weights averaged over the heads.
        ctx.graph.line(f"{ctx.out_vars[1]} = ops.mean({scores}, axis=1)")
    else:
        ctx.assign(f"{layer}({', '.join(args)})")
    return [L.identity(3), L.identity(3)]



def _attention_to_keras(np, node, params, info):
    embed, heads = node.embedDim, node.numHeads
    head_dim = embed // heads
    if "in_proj_weight" in params:
        weights = np.split(params["in_proj_weight"], 3)
    else:
        weights = [params["q_proj_weight"], params["k_proj_weight"], params["v_proj_weight"]]
    biases = np.split(params["in_proj_bias"], 3) if node.bias else [None] * 3
    arrays = []
    for weight, bias in zip(weights, biases):
        arrays.append(weight.T.reshape(weight.shape[1], heads, head_dim))
        if node.bias:
            arrays.append(bias.reshape(heads, head_dim))
    arrays.append(params["out_proj.weight"].T.reshape(heads, head_dim, embed))
    if node.bias:
        arrays.append(params["out_proj.bias"])
    return arrays


def _attention_from_keras(np, node, arrays, info):
    embed = node.embedDim
    step = 2 if node.bias else 1
    projections = [arrays[i * step].reshape(arrays[i * step].shape[0], embed).T for i in range(3)]
    out = {}
    if all(p.shape == (embed, embed) for p in projections):  # PyTorch packs q, k, v when all dims are E
        out["in_proj_weight"] = np.concatenate(projections)
    else:
        out.update(q_proj_weight=projections[0], k_proj_weight=projections[1], v_proj_weight=projections[2])
    if node.bias:
        out["in_proj_bias"] = np.concatenate([arrays[i * step + 1].reshape(-1) for i in range(3)])
    out["out_proj.weight"] = arrays[3 * step].reshape(embed, embed).T
    if node.bias:
        out["out_proj.bias"] = arrays[3 * step + 1]
    return out


keras("multi_head_attention", KerasMapping("layers.MultiHeadAttention", emit_attention, (
    KerasArg("num_heads", "numHeads"), KerasArg("key_dim"), KerasArg("dropout", "dropout", default=0.0),
    KerasArg("use_bias", "bias", default=True)), "pivot", Weights(_attention_to_keras, _attention_from_keras)))
