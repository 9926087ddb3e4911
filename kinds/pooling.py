"""Pooling: max and average (1-D to 3-D), adaptive, global."""
from __future__ import annotations

from nnpivot.metamodel import is_kind
from nnpivot.metamodel import shapes as S
from nnpivot.metamodel.shapes import spatial_geometry

from . import layout as L
from .keras_mapping import UNSET, KerasClass, KerasMapping, pad_widths, spatial_dims, tuple_or_int
from .keras_mapping import Arg as KerasArg
from .pysyntax import literal
from .spec import SIGNAL, SPATIAL, ex, keras, kind, pytorch
from .torch_mapping import (
    Arg,
    TorchMapping,
    compact,
    cropped,
    expanded,
    geometry,
    is_symmetric,
    kernel_size_of,
    per_axis_arg,
    runtime_same,
    same_padded,
    torch_pad_order,
)

for d in (1, 2, 3):
    for op in ("max", "avg"):
        kind(f"{op}_pool{d}d", f"{op.capitalize()}Pool{d}d", S.pool(d), f"{d}-D {op} pooling.",
             [ex(f"{op}_pool{d}d(x, 2)", SPATIAL[d]),
              ex(f"{op}_pool{d}d(x, 3, stride=2, padding=same)", SPATIAL[d])]
             + ([ex(f"{op}_pool2d(x, 3, stride=2, padding=1, ceil_mode=true)")] if d == 2 else []),
             positional=("kernelSize",), required=("kernelSize",))
_adaptive_sizes = {1: "4", 2: "[4, 4]", 3: "[3, 2, 3]"}  # uneven windows in 3-D: 6 -> 3, 8 -> 2 and 3
for d in (1, 2, 3):
    for op in ("avg", "max"):
        kind(f"adaptive_{op}_pool{d}d", f"Adaptive{op.capitalize()}Pool{d}d", S.adaptive_pool(d),
             f"{d}-D adaptive {op} pooling to a fixed output size.",
             [ex(f"adaptive_{op}_pool{d}d(x, {_adaptive_sizes[d]})", SPATIAL[d]),
              ex(f"adaptive_{op}_pool{d}d(x, 1)", SPATIAL[d])],
             positional=("outputSize",), required=("outputSize",))
for op in ("avg", "max"):
    kind(f"global_{op}_pool", f"Global{op.capitalize()}Pool", S.global_pool,
         f"Global {op} pooling over all spatial axes.",
         # keeping its axes over one to three spatial axes it is the adaptive pooling to one cell (canonical-forms)
         [ex(f"global_{op}_pool(x)"), ex(f"global_{op}_pool(x)", SIGNAL)])


# --- PyTorch ---------------------------------------------------------------------------------

# Pooling: TensorFlow 'same' puts the extra pad at the end. PyTorch pads symmetrically, but with
# ceil_mode its last window may run past the end, which covers exactly that extra pad when the
# stride is 2 or more; at stride 1 the larger pad goes on both sides and the first output is
# dropped. Max pooling ignores the outside, average pooling with count_include_pad=False does
# not count it.
def _pool_same_axes(site):
    """Per axis: (torch padding, outputs to drop at the begin, needs ceil_mode)."""
    _, stride, _, pads = geometry(site)
    axes = []
    for (begin, end), step in zip(pads, stride):
        if begin == end:
            axes.append((begin, 0, False))
        elif step == 1:
            axes.append((end, 1, False))
        else:
            axes.append((begin, 0, True))
    return axes


def _pool_padding(site):
    _, _, _, pads = geometry(site)
    if runtime_same(site):
        return 0
    if str(site.node.padding) == "same":
        return compact(pad for pad, _, _ in _pool_same_axes(site))
    if str(site.node.padding) == "explicit" and not is_symmetric(pads):
        return 0
    return compact(b for b, _ in pads)


def _pool_ceil_mode(site):
    same = str(site.node.padding) == "same" and not runtime_same(site) \
        and any(ceil for _, _, ceil in _pool_same_axes(site))
    return bool(site.node.ceilMode) or same


def _count_include_pad(site):
    _, _, _, pads = geometry(site)
    if runtime_same(site):
        return True  # same_padded divides by the cells of the input itself
    if str(site.node.padding) == "same":
        return not any(b or e for b, e in pads)
    return bool(site.node.countIncludePad)


def _pool_forward(fill: str):
    def forward(site):
        _, _, _, pads = geometry(site)
        operand = site.x
        if runtime_same(site):
            return same_padded(site, **({} if fill == "0" else {"value": fill}))
        if str(site.node.padding) == "explicit" and not is_symmetric(pads):
            value = "" if fill == "0" else f", value={fill}"
            operand = f"F.pad({site.x}, {literal(torch_pad_order(pads))}{value})"
        call = f"{site.module}({operand})"
        if str(site.node.padding) == "same":
            return cropped(call, [(drop, 0) for _, drop, _ in _pool_same_axes(site)])
        return call
    return forward


def _avg_pool_unsupported(site):
    _, _, _, pads = geometry(site)
    if str(site.node.padding) == "explicit" and not is_symmetric(pads) and not site.node.countIncludePad:
        return "average pooling with asymmetric explicit pads and count_include_pad=false"
    return None


def _spatial_axes(site):
    axes = tuple(range(2, site.rank))
    return axes[0] if len(axes) == 1 else axes


def _global_pool(method: str):
    def forward(site):
        keep = ", keepdim=True" if site.attr("keepdims") else ""
        return f"{site.x}.{method}(dim={literal(_spatial_axes(site))}{keep})"
    return forward



for d in (1, 2, 3):
    pytorch(f"max_pool{d}d", TorchMapping(
        f"nn.MaxPool{d}d",
        (Arg("kernel_size", "kernelSize", derive=kernel_size_of, positional=True),
         Arg("stride", "stride", None, to_torch=compact),
         Arg("padding", default=0, derive=_pool_padding),
         per_axis_arg("dilation", "dilation", 1),
         Arg("ceil_mode", "ceilMode", False, derive=_pool_ceil_mode)),
        forward=_pool_forward('float("-inf")'), functions=(f"F.max_pool{d}d",),
        signatures={f"nn.MaxPool{d}d": ("kernel_size", "stride", "padding", "dilation", "return_indices",
                                        "ceil_mode")}))
    pytorch(f"avg_pool{d}d", TorchMapping(
        f"nn.AvgPool{d}d",
        (Arg("kernel_size", "kernelSize", derive=kernel_size_of, positional=True),
         Arg("stride", "stride", None, to_torch=compact),
         Arg("padding", default=0, derive=_pool_padding),
         Arg("ceil_mode", "ceilMode", False, derive=_pool_ceil_mode),
         Arg("count_include_pad", "countIncludePad", True, derive=_count_include_pad)),
        forward=_pool_forward("0"), unsupported=_avg_pool_unsupported, functions=(f"F.avg_pool{d}d",)))
for d in (1, 2, 3):
    for op in ("avg", "max"):
        pytorch(f"adaptive_{op}_pool{d}d", TorchMapping(
            f"nn.Adaptive{op.capitalize()}Pool{d}d",
            (Arg("output_size", "outputSize", positional=True,
                 derive=lambda site: compact(expanded(site, "outputSize", 1))),),
            functions=(f"F.adaptive_{op}_pool{d}d",)))
pytorch("global_avg_pool", TorchMapping(forward=_global_pool("mean")))
pytorch("global_max_pool", TorchMapping(forward=_global_pool("amax")))


# --- Keras -----------------------------------------------------------------------------------

def emit_pool(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    kernel, stride, dilation, pads = spatial_geometry(node, x.shape, dims)
    is_max = is_kind(node, "MaxPooling")
    if max(dilation) > 1:
        ctx.fail("Keras pooling has no dilation")
    extra = _ceil_mode_pads(ctx, kernel, stride, pads) if node.ceilMode else [0] * dims
    if extra is None:
        return [x.perm]
    counts = None
    if node.padding.name == "same" and not any(extra):
        keras_padding, source = "same", x.expr  # TensorFlow's same: padded cells are ignored, never counted
    else:
        keras_padding = "valid"
        full = [(b, e + more) for (b, e), more in zip(pads, extra)]
        if is_max and any(b or e for b, e in full):
            ctx.graph.body.append("        # Max pooling pads with -inf, as PyTorch does (explicit pads, ceil_mode).")
            source = ctx.pad(x, full, value=float("-inf"))
        elif is_max:
            source = x.expr
        elif any(extra) or (not node.countIncludePad and any(b or e for b, e in pads)):
            # Windows overhang the input (ceil_mode) or padding is not counted: average the
            # zero-padded values over the cells PyTorch counts (a pooled mask of ones).
            source = ctx.pad(x, full)
            spatial = {2 + i: p for i, p in enumerate(pads)}
            rest = {2 + i: (0, more) if node.countIncludePad else (b, e + more)
                    for i, ((b, e), more) in enumerate(zip(pads, extra))}
            counts = ctx.graph.fresh(node.name + "_counted")
            counted_pads = "padding included" if node.countIncludePad else "padding excluded"
            ctx.graph.body.append(f"        # Cells PyTorch counts in each window ({counted_pads}).")
            ctx.graph.line(f"{counts} = ops.ones_like({x.expr})")
            if node.countIncludePad:
                ctx.graph.line(f"{counts} = ops.pad({counts}, {literal(pad_widths(x.perm, spatial))}, "
                               "constant_values=1.0)")
            ctx.graph.line(f"{counts} = ops.pad({counts}, {literal(pad_widths(x.perm, rest))})")
        else:
            source = ctx.pad(x, pads, layer_cls=f"layers.ZeroPadding{dims}D")
    cls = f"layers.{'Max' if is_max else 'Average'}Pooling{dims}D"
    strides = UNSET if stride == kernel else tuple_or_int(stride)  # Keras' default stride is the pool size
    layer = ctx.layer(cls, ctx.kwargs(pool_size=tuple_or_int(kernel), strides=strides, padding=keras_padding))
    ctx.assign(f"{layer}({source})" if counts is None else f"{layer}({source}) / {layer}({counts})")
    return [x.perm]


def _ceil_mode_pads(ctx, kernel, stride, pads) -> list[int] | None:
    """The pad at the end of each axis that makes Keras' valid windows PyTorch's ceil_mode windows.

    stride - 1 more cells give ceil((n + b + e - k) / s) + 1 windows at every input size n; PyTorch drops
    a last window starting in the end padding, which cannot happen when e + s <= k (the last window starts
    at most at n + b + e - k + s - 1). Otherwise the pad depends on n: written for the declared size.
    """
    sizes, out = ctx.x.shape[2:], ctx.out_shapes[0][2:]
    if None not in pads and all(e + s <= k for k, s, (_, e) in zip(kernel, stride, pads)):
        return [s - 1 for s in stride]
    if None in sizes or None in pads:
        ctx.fail("ceil_mode with stride + end padding above the kernel size needs a known input size (PyTorch "
                 "drops a last window that starts in the padding)")
        return None
    ctx.specialise("ceil_mode's end padding, as PyTorch may drop a last window that starts in the padding")
    return [max(0, (o - 1) * s + k - (n + b + e)) for o, s, k, n, (b, e) in zip(out, stride, kernel, sizes, pads)]


def emit_adaptive_pool(ctx):
    # Keras 3's adaptive pooling uses PyTorch's windows (floor start, ceil end), at every input size. To one cell
    # it is a global pool keeping the axes: Keras' adaptive pool there also pools a window one cell longer than
    # the input, which a symbolic call (building, saving the weights) refuses.
    if all(size == 1 for size in ctx.out_shapes[0][2:]):
        cls = ctx.mapping.layer.replace("Adaptive", "Global")
        layer = ctx.layer(cls, ["keepdims=True"])
        ctx.assign(f"{layer}({ctx.x.expr})")
        return [ctx.x.perm]
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs())
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [ctx.x.perm]


def emit_global_pool(ctx):
    node, x = ctx.node, ctx.x
    dims = len(x.shape) - 2
    cls = f"layers.Global{'Max' if is_kind(node, 'GlobalMaxPool') else 'Average'}Pooling{dims}D"
    layer = ctx.layer(cls, ctx.kwargs())
    ctx.assign(f"{layer}({x.expr})")
    return [x.perm if node.keepdims else L.identity(2)]



POOL_ARGS = (KerasArg("pool_size", "kernelSize"), KerasArg("strides", "stride"),
             KerasArg("padding", "padding", default="valid"))
for d in (1, 2, 3):
    for op, cls, short in (("max", "Max", "Max"), ("avg", "Average", "Avg")):
        keras(f"{op}_pool{d}d", KerasMapping(f"layers.{cls}Pooling{d}D", emit_pool, POOL_ARGS, "channels_last",
                                             signature=("pool_size", "strides", "padding"), reader="pool",
                                             aliases=(f"{short}Pool{d}D",), defaults={"pool_size": 2}))
for d in (1, 2, 3):
    for op, cls in (("max", "Max"), ("avg", "Average")):
        keras(f"adaptive_{op}_pool{d}d", KerasMapping(
            f"layers.Adaptive{cls}Pooling{d}D", emit_adaptive_pool,
            (KerasArg("output_size", "outputSize", to_keras=tuple_or_int, positional=True),), "channels_last"))
for op, cls, short in (("max", "Max", "Max"), ("avg", "Average", "Avg")):
    keras(f"global_{op}_pool", KerasMapping(f"layers.Global{cls}Pooling2D", emit_global_pool,
                                            (KerasArg("keepdims", "keepdims", default=False),), "channels_last",
                                            note="1D/2D/3D by the input rank", aliases=(f"Global{short}Pool2D",),
                                            reads=tuple(KerasClass(f"Global{cls}Pooling{d}D",
                                                                   aliases=(f"Global{short}Pool{d}D",))
                                                        for d in (1, 3))))
