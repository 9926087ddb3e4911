"""Shape functions of the layer kinds, in pivot layout.

A shape is a tuple of ints with the batch axis first; ``None`` stands for a
size known only at run time (the batch, a free sequence length). Each function
takes the node and the shapes of its inputs and returns the list of its output
shapes, or raises ShapeError with a message that names what does not fit.
"""
from __future__ import annotations

import math

Shape = tuple


class ShapeError(ValueError):
    """An input shape the node cannot take."""

    code = "shape-mismatch"  # the diagnostic code shape inference reports it with


class AxisError(ShapeError):
    """An axis-valued attribute outside the rank of the tensor it applies to."""

    code = "out-of-range"


def fmt(shape: Shape) -> str:
    return "(" + ", ".join("N" if i == 0 and d is None else ("?" if d is None else str(d))
                           for i, d in enumerate(shape)) + ")"


def axis_index(axis: int, rank: int, what: str = "axis") -> int:
    """A pivot axis (negative counts from the end) as a non-negative index."""
    if not -rank <= axis < rank:
        raise AxisError(f"{what} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank


def per_axis(values, count: int, default: int, name: str) -> list[int]:
    """An attribute given once or once per spatial axis, expanded to ``count`` values."""
    values = list(values)
    if not values:
        return [default] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ShapeError(f"{name} has {len(values)} values but the input has {count} spatial axes")
    return values


def explicit_pads(node, count: int) -> list[tuple[int, int]]:
    pads = list(node.pads)
    if len(pads) == 1:
        pads = pads * (2 * count)
    elif len(pads) == count:
        pads = [p for p in pads for _ in (0, 1)]
    if len(pads) != 2 * count:
        raise ShapeError(f"pads has {len(pads)} values; expected {2 * count} (begin and end per spatial axis)")
    return [(pads[2 * i], pads[2 * i + 1]) for i in range(count)]


def same_pads(size, kernel, stride, dilation) -> tuple[int, int] | None:
    """TensorFlow's 'same' padding: the extra pixel goes to the end (bottom/right).

    At stride 1 the pads do not depend on the size; at a larger stride they do, and an unknown
    size (``None``) has None pads (the output size, ceil(size / stride), is unknown as well).
    """
    effective = (kernel - 1) * dilation + 1
    if size is None:
        return ((effective - 1) // 2, effective - 1 - (effective - 1) // 2) if stride == 1 else None
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def spatial_geometry(node, shape: Shape, dims: int, dilation_default=True):
    """Kernel, stride, dilation and (begin, end) pads of a convolution or pooling node."""
    if len(shape) != dims + 2:
        raise ShapeError(f"expects a tensor of rank {dims + 2} (N, C, {dims} spatial axes), got {fmt(shape)}")
    kernel = per_axis(node.kernelSize, dims, 0, "kernel_size")
    if any(k <= 0 for k in kernel):
        raise ShapeError("kernel_size must be given and positive")
    is_pool = hasattr(node, "ceilMode")
    stride = per_axis(node.stride, dims, kernel[0] if is_pool else 1, "stride")
    if is_pool and not list(node.stride):
        stride = list(kernel)
    dilation = per_axis(getattr(node, "dilation", []), dims, 1, "dilation")
    mode = str(node.padding)
    if mode == "same":
        pads = [same_pads(s, k, st, d) for s, k, st, d in zip(shape[2:], kernel, stride, dilation)]
    elif mode == "explicit":
        pads = explicit_pads(node, dims)
    else:
        pads = [(0, 0)] * dims
    return kernel, stride, dilation, pads


def window_out(size, kernel, stride, dilation, pad, ceil_mode=False):
    if size is None or pad is None:
        return None
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    if span < 0:
        raise ShapeError(f"a window of {dilation * (kernel - 1) + 1} does not fit an axis of size {size}"
                         f" padded by {pad[0] + pad[1]}")
    if ceil_mode:
        out = math.ceil(span / stride) + 1
        if (out - 1) * stride >= size + pad[0]:  # PyTorch: the last window starts inside the input
            out -= 1
        return out
    return span // stride + 1


def conv(dims):
    def shape_fn(node, shapes):
        (x,) = shapes
        kernel, stride, dilation, pads = spatial_geometry(node, x, dims)
        channels = x[1]
        groups = node.groups
        if node.filters <= 0:
            raise ShapeError("filters must be positive")
        if node.inChannels and channels is not None and node.inChannels != channels:
            raise ShapeError(f"declared with {node.inChannels} input channels but fed {channels} ({fmt(x)})")
        if channels is not None and (channels % groups or node.filters % groups):
            raise ShapeError(f"groups={groups} must divide the {channels} input and {node.filters} output channels")
        spatial = [window_out(s, k, st, d, p) for s, k, st, d, p in zip(x[2:], kernel, stride, dilation, pads)]
        return [(x[0], node.filters, *spatial)]
    return shape_fn


def conv_transpose(dims):
    def shape_fn(node, shapes):
        (x,) = shapes
        kernel, stride, dilation, _ = spatial_geometry(node, x, dims)
        out_pad = per_axis(node.outputPadding, dims, 0, "output_padding")
        channels = x[1]
        if node.inChannels and channels is not None and node.inChannels != channels:
            raise ShapeError(f"declared with {node.inChannels} input channels but fed {channels} ({fmt(x)})")
        mode = str(node.padding)
        spatial = []
        for i, size in enumerate(x[2:]):
            if size is None:
                spatial.append(None)
            elif mode == "same":  # Keras: output = input * stride
                spatial.append(size * stride[i])
            else:
                pb, pe = explicit_pads(node, dims)[i] if mode == "explicit" else (0, 0)
                spatial.append((size - 1) * stride[i] - pb - pe + dilation[i] * (kernel[i] - 1) + out_pad[i] + 1)
        return [(x[0], node.filters, *spatial)]
    return shape_fn


def pool(dims):
    def shape_fn(node, shapes):
        (x,) = shapes
        kernel, stride, dilation, pads = spatial_geometry(node, x, dims)
        spatial = [window_out(s, k, st, d, p, node.ceilMode)
                   for s, k, st, d, p in zip(x[2:], kernel, stride, dilation, pads)]
        return [(x[0], x[1], *spatial)]
    return shape_fn


def adaptive_pool(dims):
    def shape_fn(node, shapes):
        (x,) = shapes
        if len(x) != dims + 2:
            raise ShapeError(f"expects a tensor of rank {dims + 2}, got {fmt(x)}")
        return [(x[0], x[1], *per_axis(node.outputSize, dims, 1, "output_size"))]
    return shape_fn


def global_pool(node, shapes):
    (x,) = shapes
    if len(x) < 3:
        raise ShapeError(f"expects (N, C, spatial...), got {fmt(x)}")
    return [(x[0], x[1], *([1] * (len(x) - 2)))] if node.keepdims else [(x[0], x[1])]


def _check_feature(declared, actual, what, x):
    if declared and actual is not None and declared != actual:
        raise ShapeError(f"declared with {declared} {what} but fed {actual} ({fmt(x)})")


def batch_norm(dims):
    def shape_fn(node, shapes):
        (x,) = shapes
        if len(x) not in ((2, 3) if dims == 1 else (dims + 2,)):
            raise ShapeError(f"batch_norm{dims}d cannot normalize a tensor of shape {fmt(x)}")
        _check_feature(node.numFeatures, x[1], "features", x)
        return [x]
    return shape_fn


def channel_norm(attr):
    def shape_fn(node, shapes):
        (x,) = shapes
        if len(x) < 2:
            raise ShapeError(f"needs a channel axis, got {fmt(x)}")
        _check_feature(getattr(node, attr), x[1], "channels", x)
        if getattr(node, "numGroups", 0) and x[1] is not None and x[1] % node.numGroups:
            raise ShapeError(f"{node.numGroups} groups do not divide {x[1]} channels")
        return [x]
    return shape_fn


def layer_norm(node, shapes):
    (x,) = shapes
    normalized = list(node.normalizedShape)
    if normalized and tuple(x[len(x) - len(normalized):]) != tuple(normalized):
        raise ShapeError(f"normalizes over {tuple(normalized)} but the input ends with "
                         f"{tuple(x[len(x) - len(normalized):])} ({fmt(x)})")
    return [x]


def same_shape(node, shapes):
    return [shapes[0]]


def softmax(node, shapes):
    axis_index(node.axis, len(shapes[0]))
    return [shapes[0]]


def prelu(node, shapes):
    (x,) = shapes
    if node.numParameters != 1 and (len(x) < 2 or x[1] != node.numParameters):
        raise ShapeError(f"has {node.numParameters} slopes but the input has {x[1] if len(x) > 1 else 1} channels")
    return [x]


def dense(node, shapes):
    (x,) = shapes
    if len(x) < 2:
        raise ShapeError(f"needs a feature axis, got {fmt(x)}")
    _check_feature(node.inFeatures, x[-1], "input features", x)
    if node.units <= 0:
        raise ShapeError("units must be positive")
    return [(*x[:-1], node.units)]


def embedding(node, shapes):
    (x,) = shapes
    return [(*x, node.embeddingDim)]


def add_learned(node, shapes):
    (x,) = shapes
    table = list(node.shape)
    if not table or len(table) > len(x) - 1 or any(d <= 0 for d in table):
        raise ShapeError(f"shape {tuple(table)} must hold 1 to {len(x) - 1} positive sizes for an input {fmt(x)}")
    for size, axis in zip(reversed(table), reversed(x[1:])):
        if size != 1 and size != axis:  # the sum must keep the input's shape: no broadcasting of the input
            raise ShapeError(f"a tensor of shape {tuple(table)} cannot be added to an input {fmt(x)}")
    return [x]


def recurrent(node, shapes):
    (x,) = shapes
    if len(x) != 3:
        raise ShapeError(f"expects a sequence (N, T, F), got {fmt(x)}")
    batch, time = (x[0], x[1]) if node.batchFirst else (x[1], x[0])
    _check_feature(node.inputSize, x[2], "input features", x)
    directions = 2 if node.bidirectional else 1
    features = directions * node.hiddenSize
    if node.returnSequences:
        out = (batch, time, features) if node.batchFirst else (time, batch, features)
    else:
        out = (batch, features)
    state = (node.numLayers * directions, batch, node.hiddenSize)
    return [out, state, state] if node.eClass.name == "LSTM" else [out, state]


def attention(node, shapes):
    query = shapes[0]
    key = shapes[1] if len(shapes) > 1 else query
    if len(query) != 3 or len(key) != 3:
        raise ShapeError(f"expects (N, L, E) sequences, got {fmt(query)}")
    _check_feature(node.embedDim, query[2], "embedding features", query)
    if node.embedDim % node.numHeads:
        raise ShapeError(f"{node.numHeads} heads do not divide embed_dim {node.embedDim}")
    return [(query[0], query[1], node.embedDim), (query[0], query[1], key[1])]


def flatten(node, shapes):
    (x,) = shapes
    start, end = axis_index(node.startDim, len(x), "start_dim"), axis_index(node.endDim, len(x), "end_dim")
    if start > end:
        raise ShapeError(f"start_dim {node.startDim} comes after end_dim {node.endDim}")
    merged = x[start:end + 1]
    size = None if None in merged else math.prod(merged)
    return [(*x[:start], size, *x[end + 1:])]


def reshape(node, shapes):
    (x,) = shapes
    target = list(node.shape)
    if target.count(-1) > 1:
        raise ShapeError("shape may hold -1 only once")
    known = x[1:]
    if None in known:  # the -1 is what the sizes known only at run time give
        return [(x[0], *(None if d == -1 else d for d in target))]
    total = math.prod(known)
    fixed = math.prod(d for d in target if d != -1)
    if -1 in target:
        if fixed == 0 or total % fixed:
            raise ShapeError(f"cannot reshape {fmt(x)} into {tuple(target)}")
        target[target.index(-1)] = total // fixed
    elif fixed != total:
        raise ShapeError(f"cannot reshape {fmt(x)} ({total} values per sample) into {tuple(target)} ({fixed})")
    return [(x[0], *target)]


def permute(node, shapes):
    (x,) = shapes
    dims = [axis_index(d, len(x), "dims entry") for d in node.dims]
    if sorted(dims) != list(range(len(x))):
        raise ShapeError(f"dims {list(node.dims)} is not a permutation of the {len(x)} axes of {fmt(x)}")
    return [tuple(x[d] for d in dims)]


def _merge(a, b):
    return a if b is None else b if a is None else a if a == b else False


def concat(node, shapes):
    rank = len(shapes[0])
    axis = axis_index(node.axis, rank)
    out = list(shapes[0])
    for other in shapes[1:]:
        if len(other) != rank:
            raise ShapeError(f"cannot concatenate {fmt(shapes[0])} and {fmt(other)}: ranks differ")
        for i in range(rank):
            if i == axis:
                out[i] = None if out[i] is None or other[i] is None else out[i] + other[i]
            elif _merge(out[i], other[i]) is False:
                raise ShapeError(f"cannot concatenate {fmt(shapes[0])} and {fmt(other)} on axis {node.axis}: "
                                 f"axis {i} differs")
            else:
                out[i] = _merge(out[i], other[i])
    return [tuple(out)]


def stack(node, shapes):
    first = shapes[0]
    for other in shapes[1:]:
        if len(other) != len(first) or any(_merge(a, b) is False for a, b in zip(first, other)):
            raise ShapeError(f"cannot stack {fmt(first)} and {fmt(other)}")
    axis = axis_index(node.axis, len(first) + 1)
    return [(*first[:axis], len(shapes), *first[axis:])]


def split(node, shapes):
    (x,) = shapes
    axis = axis_index(node.axis, len(x))
    sizes = list(node.sizes)
    if not sizes:
        raise ShapeError("sizes must be given")
    if x[axis] is not None and sum(sizes) != x[axis]:
        raise ShapeError(f"sizes {sizes} add up to {sum(sizes)} but axis {node.axis} of {fmt(x)} has {x[axis]}")
    return [tuple(s if i == axis else d for i, d in enumerate(x)) for s in sizes]


def broadcast(node, shapes):
    if len(shapes) == 1:
        return [shapes[0]]
    a, b = shapes
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + tuple(a), (1,) * (rank - len(b)) + tuple(b)
    out = []
    for i, (p, q) in enumerate(zip(a, b)):
        if p == 1:
            out.append(q)
        elif q == 1 or p is None or q is None or p == q:
            out.append(p if q in (1, None) else q)
        else:
            raise ShapeError(f"shapes {fmt(shapes[0])} and {fmt(shapes[1])} do not broadcast (axis {i}: {p} vs {q})")
    return [tuple(out)]


def matmul(node, shapes):
    a, b = shapes
    if len(a) < 2 or len(b) < 2:
        raise ShapeError("matmul needs operands of rank 2 or more")
    if a[-1] is not None and b[-2] is not None and a[-1] != b[-2]:
        raise ShapeError(f"cannot multiply {fmt(a)} by {fmt(b)}: {a[-1]} != {b[-2]}")
    batch = broadcast(node, [a[:-2] or (1,), b[:-2] or (1,)])[0] if (a[:-2] or b[:-2]) else ()
    return [(*batch, a[-2], b[-1])]


def reduction(node, shapes):
    (x,) = shapes
    axes = sorted({axis_index(a, len(x)) for a in node.axes}) if list(node.axes) else list(range(1, len(x)))
    if node.keepdims:
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def squeeze(node, shapes):
    (x,) = shapes
    axes = {axis_index(a, len(x)) for a in node.axes} if list(node.axes) else {i for i, d in enumerate(x) if d == 1}
    for a in axes:
        if x[a] not in (1, None):
            raise ShapeError(f"cannot squeeze axis {a} of size {x[a]} in {fmt(x)}")
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def unsqueeze(node, shapes):
    (x,) = shapes
    axis = axis_index(node.axis, len(x) + 1)
    return [(*x[:axis], 1, *x[axis:])]


def slice_(node, shapes):
    (x,) = shapes
    out = list(x)
    axes, starts, ends = list(node.axes), list(node.starts), list(node.ends)
    steps = list(node.steps) or [1] * len(axes)
    if not (len(axes) == len(starts) == len(ends) == len(steps)):
        raise ShapeError("axes, starts, ends and steps must have the same length")
    for axis, start, end, step in zip(axes, starts, ends, steps):
        i = axis_index(axis, len(x))
        if step <= 0:
            raise ShapeError("slice steps must be positive")
        out[i] = None if x[i] is None else len(range(x[i])[start:end:step])
    return [tuple(out)]


def index(node, shapes):
    (x,) = shapes
    i = axis_index(node.axis, len(x))
    if x[i] is not None and not -x[i] <= node.index < x[i]:
        raise ShapeError(f"index {node.index} is out of range for axis {node.axis} of size {x[i]}")
    return [tuple(d for j, d in enumerate(x) if j != i)]


def pad(node, shapes):
    (x,) = shapes
    pads = list(node.pads)
    count = len(pads) // 2
    if len(pads) % 2 or count > len(x) - 1:
        raise ShapeError(f"pads must hold a begin and an end for some trailing axes of {fmt(x)}")
    out = list(x)
    for k in range(count):
        i = len(x) - count + k
        out[i] = None if x[i] is None else x[i] + pads[2 * k] + pads[2 * k + 1]
    return [tuple(out)]


def upsample(node, shapes):
    (x,) = shapes
    dims = len(x) - 2
    if list(node.size):
        return [(x[0], x[1], *per_axis(node.size, dims, 1, "size"))]
    scale = list(node.scaleFactor)
    if not scale:
        raise ShapeError("upsample needs scale_factor or size")
    scale = scale * dims if len(scale) == 1 else scale
    return [(x[0], x[1], *(None if s is None else math.floor(s * f) for s, f in zip(x[2:], scale)))]


def pixel_shuffle(node, shapes):
    (x,) = shapes
    r = node.upscaleFactor
    if len(x) != 4 or (x[1] is not None and x[1] % (r * r)):
        raise ShapeError(f"pixel_shuffle({r}) needs (N, C*{r * r}, H, W), got {fmt(x)}")
    return [(x[0], None if x[1] is None else x[1] // (r * r), *(None if s is None else s * r for s in x[2:]))]
