"""Attention: multi-head scaled dot-product attention."""
from __future__ import annotations

from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import UNSET, KerasMapping, Weights, states_used
from .keras_mapping import Arg as KerasArg
from .spec import SEQ, ex, keras, kind, pytorch
from .torch_mapping import HELPERS, Arg, TorchMapping


def head_dims(node) -> tuple[int, int, int]:
    """Each head's key size, each head's value size and the output features (Keras key_dim, value_dim and
    output_shape; PyTorch's nn.MultiheadAttention has embed_dim / num_heads, the same, and embed_dim)."""
    key = node.keyDim or node.embedDim // node.numHeads
    return key, node.valueDim or key, node.outputDim or node.embedDim


def projected(node) -> bool:
    """Head sizes nn.MultiheadAttention cannot express (it splits embed_dim over the heads)."""
    split = node.embedDim // node.numHeads if node.embedDim % node.numHeads == 0 else None
    return head_dims(node) != (split, split, node.embedDim)


def _attention_shape(node, shapes):
    if not projected(node):
        return S.attention(node, shapes)
    query = shapes[0]
    key = shapes[1] if len(shapes) > 1 else query
    if len(query) != 3 or len(key) != 3:
        raise S.ShapeError(f"expects (N, L, E) sequences, got {S.fmt(query)}")
    if query[2] is not None and query[2] != node.embedDim:
        raise S.ShapeError(f"embed_dim {node.embedDim} != the query's {query[2]} features")
    return [(query[0], query[1], head_dims(node)[2]), (query[0], query[1], key[1])]


kind("multi_head_attention", "MultiHeadAttention", _attention_shape, "Multi-head scaled dot-product attention, "
     "with head sizes of its own (Keras key_dim, value_dim, output_shape) or embed_dim split over the heads.",
     [ex("multi_head_attention(x, 12, 3)", SEQ),
      ex("multi_head_attention(x, y, y, 12, 2)", ("x: float32[5, 12]", "y: float32[7, 12]")),
      ex("multi_head_attention(x, 12, 2, key_dim=5, value_dim=3, output_dim=9)", SEQ),
      ex("multi_head_attention(x, y, y, 12, 3, key_dim=2, bias=false)", ("x: float32[5, 12]", "y: float32[7, 12]"))],
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
    if projected(site.node):
        key, value, out = head_dims(site.node)
        heads = site.node.numHeads
        shapes = {}
        for name, size, features in (("query", key, embed), ("key", key, kdim), ("value", value, vdim),
                                     ("output", out, heads * value)):
            rows = size * heads if name != "output" else out
            shapes[f"{name}.weight"] = (rows, features)
            if site.node.bias:
                shapes[f"{name}.bias"] = (rows,)
        return shapes
    shapes = ({"in_proj_weight": (3 * embed, embed)} if kdim == vdim == embed else
              {"q_proj_weight": (embed, embed), "k_proj_weight": (embed, kdim), "v_proj_weight": (embed, vdim)})
    if site.node.bias:
        shapes["in_proj_bias"] = (3 * embed,)
    shapes["out_proj.weight"] = (embed, embed)
    if site.node.bias:
        shapes["out_proj.bias"] = (embed,)
    return shapes



# Head sizes nn.MultiheadAttention cannot express are computed by this module, written once into the generated
# code where needed (the PyTorch importer reads it back by its exact code); its arguments are the mapping's.
PROJECTED_ATTENTION = "ProjectedAttention"
PROJECTED_ATTENTION_CODE = '''class ProjectedAttention(nn.Module):
    """Multi-head attention whose heads have sizes of their own (Keras key_dim, value_dim,
    output_shape), which nn.MultiheadAttention cannot express. Batch first: (N, L, E)."""

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        kdim=None,
        vdim=None,
        key_dim=None,
        value_dim=None,
        output_dim=None,
    ):
        super().__init__()
        key_dim = key_dim or embed_dim // num_heads
        value_dim = value_dim or key_dim
        output_dim = output_dim or embed_dim
        self.num_heads, self.dropout = num_heads, dropout
        self.query = nn.Linear(embed_dim, num_heads * key_dim, bias=bias)
        self.key = nn.Linear(kdim or embed_dim, num_heads * key_dim, bias=bias)
        self.value = nn.Linear(vdim or embed_dim, num_heads * value_dim, bias=bias)
        self.output = nn.Linear(num_heads * value_dim, output_dim, bias=bias)

    def split_heads(self, x):
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, query, key, value):
        """Attended values, and the weights averaged over the heads (as nn.MultiheadAttention)."""
        q = self.split_heads(self.query(query))
        k = self.split_heads(self.key(key))
        v = self.split_heads(self.value(value))
        scores = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1)
        attended = F.dropout(scores, self.dropout, self.training) @ v
        return self.output(attended.transpose(1, 2).flatten(2)), scores.mean(dim=1)
'''
HELPERS[PROJECTED_ATTENTION] = PROJECTED_ATTENTION_CODE


def _own_size(attribute: str):
    """key_dim / value_dim / output_dim of the projected module as the node states it (None: its default)."""
    return lambda site: (getattr(site.node, attribute) or None) if projected(site.node) else None


pytorch("multi_head_attention", TorchMapping(
    lambda site: PROJECTED_ATTENTION if projected(site.node) else "nn.MultiheadAttention",
    (Arg("embed_dim", "embedDim", positional=True), Arg("num_heads", "numHeads", positional=True),
     Arg("dropout", "dropout", 0.0), Arg("bias", "bias", True),
     Arg("kdim", default=None, derive=lambda site: None if _attention_dims(site)[1] == site.node.embedDim
         else _attention_dims(site)[1]),
     Arg("vdim", default=None, derive=lambda site: None if _attention_dims(site)[2] == site.node.embedDim
         else _attention_dims(site)[2]),
     Arg("batch_first", default=False, derive=lambda site: not projected(site.node)),
     Arg("key_dim", default=None, derive=_own_size("keyDim")),
     Arg("value_dim", default=None, derive=_own_size("valueDim")),
     Arg("output_dim", default=None, derive=_own_size("outputDim"))),
    statements=_attention_statements, parameters=_attention_parameters, classes=("nn.MultiheadAttention",),
    generated=PROJECTED_ATTENTION, implied={"batch_first": True},
    signatures={"nn.MultiheadAttention": ("embed_dim", "num_heads", "dropout", "bias", "add_bias_kv", "add_zero_attn",
                                          "kdim", "vdim", "batch_first"),
                PROJECTED_ATTENTION: ("embed_dim", "num_heads", "dropout", "bias", "kdim", "vdim", "key_dim",
                                      "value_dim", "output_dim")}))



# --- Keras -----------------------------------------------------------------------------------

def emit_attention(ctx):
    node = ctx.node
    query = ctx.inputs[0].expr
    key = ctx.inputs[1].expr if len(ctx.inputs) > 1 else query
    value = ctx.inputs[2].expr if len(ctx.inputs) > 2 else key
    key_dim, value_dim, output_dim = head_dims(node)
    layer = ctx.layer("layers.MultiHeadAttention", ctx.kwargs(
        key_dim=key_dim, value_dim=value_dim if value_dim != key_dim else UNSET,
        output_shape=output_dim if output_dim != node.embedDim else UNSET))
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
    if projected(node):   # (in, H * d) kernels as Keras' (in, H, d) and the output's (H, d, out)
        arrays = []
        key_dim, value_dim, _ = head_dims(node)
        for name, size in zip(("query", "key", "value"), (key_dim, key_dim, value_dim)):
            weight = params[f"{name}.weight"]
            arrays.append(weight.T.reshape(weight.shape[1], heads, size))
            if node.bias:
                arrays.append(params[f"{name}.bias"].reshape(heads, size))
        output = params["output.weight"]
        arrays.append(output.T.reshape(heads, value_dim, output.shape[0]))
        return arrays + ([params["output.bias"]] if node.bias else [])
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
    if projected(node):
        out = {}
        for i, name in enumerate(("query", "key", "value")):
            kernel = arrays[i * step]
            out[f"{name}.weight"] = kernel.reshape(kernel.shape[0], -1).T
            if node.bias:
                out[f"{name}.bias"] = arrays[i * step + 1].reshape(-1)
        kernel = arrays[3 * step]
        out["output.weight"] = kernel.reshape(-1, kernel.shape[-1]).T
        if node.bias:
            out["output.bias"] = arrays[3 * step + 1]
        return out
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
    KerasArg("num_heads", "numHeads"), KerasArg("key_dim"), KerasArg("value_dim"), KerasArg("output_shape"),
    KerasArg("dropout", "dropout", default=0.0),
    KerasArg("use_bias", "bias", default=True)), "pivot", Weights(_attention_to_keras, _attention_from_keras),
    signature=("num_heads", "key_dim"), reader="attention"))
