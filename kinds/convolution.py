"""Convolutions: 1-D to 3-D, transposed, depthwise."""
from __future__ import annotations

from nnpivot.metamodel import shapes as S
from nnpivot.metamodel.shapes import ShapeError, explicit_pads, fmt, per_axis, same_pads, spatial_geometry, window_out

from .keras_mapping import Arg as KerasArg
from .keras_mapping import KerasClass, KerasMapping, Weights, padding_spec, spatial_dims, tuple_or_int
from .pysyntax import is_symbolic, literal
from .spec import SPATIAL, ex, keras, kind, pytorch
from .torch_mapping import (
    Arg,
    TorchMapping,
    channels_of,
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
    kind(f"conv{d}d", f"Conv{d}d", S.conv(d), f"{d}-D convolution.",
         [ex(f"conv{d}d(x, 4, kernel_size=3)", SPATIAL[d]),
          ex(f"conv{d}d(x, 4, kernel_size=2, stride=2, padding=same)", SPATIAL[d]),
          ex(f"conv{d}d(x, 6, kernel_size=3, padding=same, dilation=2, bias=false)", SPATIAL[d])]
         + ([ex("conv2d(x, 6, kernel_size=4, stride=3, padding=same, groups=2)", ("x: float32[4, 16, 16]",)),
             ex("conv2d(x, 4, kernel_size=[3, 2], padding=[[1, 0], [2, 1]])"),
             ex("conv2d(x, 4, kernel_size=3, stride=[2, 3], padding=2, dilation=2)")] if d == 2 else []),
         positional=("filters",), required=("filters", "kernelSize"))
for d in (1, 2, 3):
    kind(f"conv_transpose{d}d", f"ConvTranspose{d}d", S.conv_transpose(d), f"{d}-D transposed convolution.",
         [ex(f"conv_transpose{d}d(x, 4, kernel_size=3, stride=2)", SPATIAL[d]),
          ex(f"conv_transpose{d}d(x, 4, kernel_size=2, stride=2, padding=same)", SPATIAL[d])]
         + ([ex("conv_transpose2d(x, 4, kernel_size=3, stride=2, padding=1, output_padding=1)")] if d == 2 else []),
         positional=("filters",), required=("filters", "kernelSize"))



def _depthwise_shape(node, shapes):
    (x,) = shapes
    if len(x) != 4:
        raise ShapeError(f"expects (N, C, H, W), got {fmt(x)}")
    if node.depthMultiplier <= 0:
        raise ShapeError("depth_multiplier must be positive")
    if node.inChannels and x[1] is not None and node.inChannels != x[1]:
        raise ShapeError(f"declared with {node.inChannels} input channels but fed {x[1]} ({fmt(x)})")
    kernel, stride, dilation, pads = spatial_geometry(node, x, 2)
    spatial = [window_out(s, k, st, d, p) for s, k, st, d, p in zip(x[2:], kernel, stride, dilation, pads)]
    return [(x[0], None if x[1] is None else _depthwise_outputs(x[1], node.depthMultiplier), *spatial)]


def _depthwise_outputs(channels, multiplier):
    """A depthwise convolution's output channels; with multiplier 1 the input's channels as they are (the
    symbolic number of a parameterised block's generated code stays the parameter it is written as)."""
    return channels if multiplier == 1 else channels * multiplier


kind("depthwise_conv2d", "DepthwiseConv2d", _depthwise_shape,
     "2-D depthwise convolution: each channel convolved on its own, depth_multiplier outputs per channel.",
     [ex("depthwise_conv2d(x, kernel_size=3)"),
      ex("depthwise_conv2d(x, 2, kernel_size=3, stride=2, padding=same, bias=false)"),
      ex("depthwise_conv2d(x, kernel_size=[3, 2], padding=[[1, 1], [0, 0]], dilation=2)")],
     positional=("depthMultiplier",), required=("kernelSize",))

# --- PyTorch ---------------------------------------------------------------------------------

# Convolution: symmetric pads go into the layer, asymmetric pads become an F.pad before it; 'same' is
# PyTorch's own at stride 1 and the generated same_padded helper (pads from the run-time size) above it.
def _conv_padding(site):
    _, _, _, pads = geometry(site)
    if str(site.node.padding) == "same":
        # PyTorch's own 'same' is TensorFlow's at stride 1 (odd pads at the end too), at every input size
        return 0 if runtime_same(site) else "same"
    if not is_symmetric(pads):
        return 0
    return compact(b for b, _ in pads)


def _conv_padding_mode(site):
    _, _, _, pads = geometry(site)
    return str(site.node.paddingMode) if not runtime_same(site) and is_symmetric(pads) else "zeros"


_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _conv_forward(site):
    _, _, _, pads = geometry(site)
    operand = site.x
    if runtime_same(site):
        mode = _PAD_MODES[str(site.node.paddingMode)]
        return same_padded(site, **({} if mode == "constant" else {"mode": literal(mode)}))
    if str(site.node.padding) != "same" and not is_symmetric(pads):
        mode = _PAD_MODES[str(site.node.paddingMode)]
        extra = "" if mode == "constant" else f", mode={literal(mode)}"
        operand = f"F.pad({site.x}, {literal(torch_pad_order(pads))}{extra})"
    return f"{site.module}({operand})"


# Transposed convolution: 'same' (Keras: output = input * stride) and explicit pads both crop
# the full output; PyTorch crops symmetrically, so the asymmetric rest is sliced off.
def _transpose_crops(site):
    """Per axis: (crop at the begin, crop at the end, output padding) in pivot terms."""
    kernel, stride, dilation, _ = geometry(site)
    dims = site.spatial
    mode = str(site.node.padding)
    if mode == "same":
        crops = []
        for k, s, d in zip(kernel, stride, dilation):
            total = d * (k - 1) + 1 - s
            crops.append((total // 2, total - total // 2, 0) if total >= 0 else (0, 0, -total))
        return crops
    pads = explicit_pads(site.node, dims) if mode == "explicit" else [(0, 0)] * dims
    out_pad = per_axis(site.attr("outputPadding"), dims, 0, "output_padding")
    return [(b, e, op) for (b, e), op in zip(pads, out_pad)]


def _transpose_forward(site):
    crops = [(begin - min(begin, end), end - min(begin, end)) for begin, end, _ in _transpose_crops(site)]
    return cropped(f"{site.module}({site.x})", crops)


def _conv_parameters(site):
    node = site.node
    kernel = tuple(expanded(site, "kernelSize", 0))
    shapes = {"weight": (node.filters, site.shape[1] // node.groups, *kernel)}
    return shapes | ({"bias": (node.filters,)} if node.bias else {})


def _transpose_parameters(site):
    node = site.node
    kernel = tuple(expanded(site, "kernelSize", 0))
    shapes = {"weight": (site.shape[1], node.filters // node.groups, *kernel)}
    return shapes | ({"bias": (node.filters,)} if node.bias else {})



_in_channels = Arg("in_channels", derive=channels_of, positional=True)
_bias = Arg("bias", "bias", True)
for d in (1, 2, 3):
    pytorch(f"conv{d}d", TorchMapping(
        f"nn.Conv{d}d",
        (_in_channels, Arg("out_channels", "filters", positional=True),
         Arg("kernel_size", "kernelSize", derive=kernel_size_of),
         per_axis_arg("stride", "stride", 1),
         Arg("padding", derive=_conv_padding, default=0),
         per_axis_arg("dilation", "dilation", 1),
         Arg("groups", "groups", 1), _bias,
         Arg("padding_mode", "paddingMode", "zeros", derive=_conv_padding_mode)),
        forward=_conv_forward, parameters=_conv_parameters, functions=(f"F.conv{d}d",)))
    pytorch(f"conv_transpose{d}d", TorchMapping(
        f"nn.ConvTranspose{d}d",
        (_in_channels, Arg("out_channels", "filters", positional=True),
         Arg("kernel_size", "kernelSize", derive=kernel_size_of),
         per_axis_arg("stride", "stride", 1),
         Arg("padding", default=0, derive=lambda site: compact(min(b, e) for b, e, _ in _transpose_crops(site))),
         Arg("output_padding", default=0, derive=lambda site: compact(op for _, _, op in _transpose_crops(site))),
         Arg("groups", "groups", 1), _bias,
         per_axis_arg("dilation", "dilation", 1)),
        forward=_transpose_forward, parameters=_transpose_parameters,
        unsupported=lambda site: (None if str(site.node.paddingMode) == "zeros" else
                                  f"transposed convolution with padding_mode={site.node.paddingMode}"),
        functions=(f"F.conv_transpose{d}d",)))


# A depthwise convolution is PyTorch's Conv2d with one group per input channel.
pytorch("depthwise_conv2d", TorchMapping(
    "nn.Conv2d",
    (_in_channels,
     Arg("out_channels", "depthMultiplier", positional=True,
         derive=lambda site: _depthwise_outputs(site.shape[1], site.node.depthMultiplier),
         read=lambda bound: bound["out_channels"] // bound["in_channels"]),
     Arg("kernel_size", "kernelSize", derive=kernel_size_of),
     per_axis_arg("stride", "stride", 1),
     Arg("padding", derive=_conv_padding, default=0),
     per_axis_arg("dilation", "dilation", 1),
     Arg("groups", default=1, derive=channels_of), _bias,
     Arg("padding_mode", "paddingMode", "zeros", derive=_conv_padding_mode)),
    forward=_conv_forward,
    parameters=lambda site: {"weight": (site.shape[1] * site.node.depthMultiplier, 1,
                                        *expanded(site, "kernelSize", 0))}
    | ({"bias": (site.shape[1] * site.node.depthMultiplier,)} if site.node.bias else {}),
    recognise=lambda bound: isinstance(bound.get("groups"), int) and bound["groups"] > 1
    and bound["groups"] == bound.get("in_channels")))


# --- Keras -----------------------------------------------------------------------------------

def emit_conv(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    kernel, stride, dilation, pads = spatial_geometry(node, x.shape, dims)
    mode, padding_mode = node.padding.name, node.paddingMode.name
    if None in pads and padding_mode != "zeros":
        ctx.fail(f"'same' padding with padding_mode={padding_mode} at a stride above 1 needs a known input size")
        return [x.perm]
    # Keras refuses strides with dilation: the dilated convolution at stride 1 and every stride-th output of it
    # are the same numbers (with the pads of the strided one, so they must be known).
    strided_after = max(stride) > 1 and max(dilation) > 1
    if strided_after and None in pads:
        ctx.fail("'same' padding with both stride and dilation above 1 needs a known input size")
        return [x.perm]
    # Explicit pads that are TensorFlow's 'same' pads (3x3, pad 1, stride 1) are written as such; at stride 1
    # only, since above it TensorFlow's pads change with the input size and explicit ones do not. A stride
    # that is a block parameter's expression keeps its pads explicit: one code serves every stride.
    fixed_stride = max(stride) == 1 and not is_symbolic(stride)
    same = [same_pads(None, k, 1, d) for k, d in zip(kernel, dilation)] if fixed_stride else None
    is_same = mode == "same" or (mode == "explicit" and [tuple(p) for p in pads] == same)
    keras_padding = "same" if is_same and padding_mode == "zeros" and not strided_after else "valid"
    source = x.expr if keras_padding == "same" else ctx.pad(
        x, pads, mode="constant" if padding_mode == "zeros" else padding_mode,
        layer_cls=f"layers.ZeroPadding{dims}D")
    layer = ctx.layer(ctx.mapping.layer, ctx.kwargs(
        kernel_size=tuple_or_int(kernel), strides=1 if strided_after else tuple_or_int(stride),
        padding=keras_padding, dilation_rate=tuple_or_int(dilation)))
    if strided_after:
        steps = ", ".join(f"::{s}" if s > 1 else ":" for s in stride)
        ctx.assign(f"{layer}({source})[:, {steps}]")
    else:
        ctx.assign(f"{layer}({source})")
    return [x.perm]


def emit_conv_transpose(ctx):
    node, x = ctx.node, ctx.x
    dims = spatial_dims(node)
    kernel, stride, dilation, _ = spatial_geometry(node, x.shape, dims)
    out_pad = per_axis(node.outputPadding, dims, 0, "output_padding")
    if node.groups != 1:
        ctx.fail("Keras transposed convolutions have no groups")
    mode = node.padding.name
    crops = explicit_pads(node, dims) if mode == "explicit" else [(0, 0)] * dims
    computed = {"kernel_size": tuple_or_int(kernel), "strides": tuple_or_int(stride),
                "padding": "same" if mode == "same" else "valid", "dilation_rate": tuple_or_int(dilation)}
    # Keras' valid output is max(k, s) + (i - 1) s unless output_padding is given; the pivot's is k + (i - 1) s + op.
    if mode != "same" and (any(out_pad) or any(k < s for k, s in zip(kernel, stride))):
        computed["output_padding"] = tuple_or_int(out_pad)
    layer = ctx.layer(f"layers.Conv{dims}DTranspose", ctx.kwargs(**computed))
    result = f"{layer}({x.expr})"
    if any(b or e for b, e in crops):
        ctx.graph.line(f"{ctx.var} = {result}")
        cropper = ctx.layer(f"layers.Cropping{dims}D", [f"cropping={literal(padding_spec(crops))}"],
                            suffix="_crop")
        result = f"{cropper}({ctx.var})"
    ctx.assign(result)
    return [x.perm]



def _conv_args(transposed: bool):
    return (KerasArg("filters", "filters", positional=True), KerasArg("kernel_size", "kernelSize"),
            KerasArg("strides", "stride", default=1), KerasArg("padding", "padding", default="valid"),
            *((KerasArg("output_padding"),) if transposed else ()),
            KerasArg("dilation_rate", "dilation", default=1),
            *(() if transposed else (KerasArg("groups", "groups", default=1),)),
            KerasArg("use_bias", "bias", default=True))



def _conv_to_keras(np, node, params, info):
    weight = params["weight"]
    kernel = weight.transpose((*range(2, weight.ndim), 1, 0))
    return [kernel] + ([params["bias"]] if node.bias else [])


def _conv_from_keras(np, node, arrays, info):
    kernel = arrays[0]
    rank = kernel.ndim
    weight = kernel.transpose((rank - 1, rank - 2, *range(rank - 2)))
    return {"weight": weight, **({"bias": arrays[1]} if node.bias else {})}


_CONV_WEIGHTS = Weights(_conv_to_keras, _conv_from_keras)
_CONV_SIGNATURE = ("filters", "kernel_size", "strides", "padding")
# SeparableConv{1,2}D: a depthwise convolution (a conv1d with a group per channel in 1D), then a pointwise one.
_SEPARABLE = {d: KerasClass(f"SeparableConv{d}D", _CONV_SIGNATURE, "separable_conv", (f"SeparableConvolution{d}D",))
              for d in (1, 2)}
for d in (1, 2, 3):
    keras(f"conv{d}d", KerasMapping(f"layers.Conv{d}D", emit_conv, _conv_args(False), "channels_last", _CONV_WEIGHTS,
                                    signature=_CONV_SIGNATURE, reader="conv", aliases=(f"Convolution{d}D",),
                                    reads=(_SEPARABLE[1],) if d == 1 else ()))
    keras(f"conv_transpose{d}d", KerasMapping(f"layers.Conv{d}DTranspose", emit_conv_transpose, _conv_args(True),
                                              "channels_last", _CONV_WEIGHTS, signature=_CONV_SIGNATURE,
                                              reader="conv_transpose", aliases=(f"Convolution{d}DTranspose",)))


def _depthwise_to_keras(np, node, params, info):
    weight = params["weight"]  # (C * m, 1, kh, kw): output c * m + j comes from channel c
    channels = weight.shape[0] // node.depthMultiplier
    kernel = weight.reshape(channels, node.depthMultiplier, *weight.shape[2:]).transpose(2, 3, 0, 1)
    return [kernel] + ([params["bias"]] if node.bias else [])


def _depthwise_from_keras(np, node, arrays, info):
    kernel = arrays[0]  # (kh, kw, C, m)
    weight = kernel.transpose(2, 3, 0, 1).reshape(kernel.shape[2] * kernel.shape[3], 1, *kernel.shape[:2])
    return {"weight": weight, **({"bias": arrays[1]} if node.bias else {})}


keras("depthwise_conv2d", KerasMapping(
    "layers.DepthwiseConv2D", emit_conv,
    (KerasArg("kernel_size", "kernelSize", positional=True), KerasArg("strides", "stride", default=1),
     KerasArg("padding", "padding", default="valid"), KerasArg("depth_multiplier", "depthMultiplier", default=1),
     KerasArg("dilation_rate", "dilation", default=1), KerasArg("use_bias", "bias", default=True)),
    "channels_last", Weights(_depthwise_to_keras, _depthwise_from_keras), reader="conv", reads=(_SEPARABLE[2],)))
