"""Tensor operations: shape changes, joins, arithmetic, reductions, indexing, padding, resizing."""
from __future__ import annotations

import itertools
import math

from nnpivot.metamodel import shapes as S

from . import layout as L
from .keras_mapping import EDGE_MODES, KerasClass, KerasMapping, emit_layer, pad_options, pad_widths, tuple_or_int
from .pysyntax import literal
from .spec import MANY, SEQ, SIGNAL, TWO_MAPS, VEC, ex, keras, kind, pytorch
from .torch_mapping import TorchMapping, compact, keywords, torch_pad_order

OP = "operation"
kind("flatten", "Flatten", S.flatten, "Merges the axes start_dim..end_dim.",
     [ex("flatten(x)"), ex("flatten(x, start_dim=2)")], category=OP)


def _unflatten_shape(node, shapes):
    (x,) = shapes
    axis, sizes = S.axis_index(node.axis, len(x)), list(node.shape)
    if len(sizes) < 2 or sizes.count(-1) > 1 or any(s == 0 or s < -1 for s in sizes):
        raise S.ShapeError("sizes must hold two or more positive sizes, and -1 at most once")
    if axis == 0 and sizes[0] != -1:
        raise S.ShapeError("splitting the batch axis keeps the batch first: sizes must start with -1")
    known = math.prod(s for s in sizes if s != -1)
    if x[axis] is None:
        if -1 in sizes and axis:
            raise S.ShapeError("cannot infer a -1 size from an axis of unknown size")
        split = [None if s == -1 else s for s in sizes]
    elif x[axis] % known or (-1 not in sizes and known != x[axis]):
        raise S.ShapeError(f"cannot split axis {axis} of size {x[axis]} into {tuple(sizes)}")
    else:
        split = [x[axis] // known if s == -1 else s for s in sizes]
    return [(*x[:axis], *split, *x[axis + 1:])]


kind("unflatten", "Unflatten", _unflatten_shape, "Splits one axis into several (x.unflatten, nn.Unflatten; "
     "[-1, T] on the batch axis unfolds time steps folded into the batch).",
     [ex("unflatten(x, [4, 12], axis=1)", ("x: float32[48]",)), ex("unflatten(x, [2, -1], axis=2)", SEQ),
      ex("unflatten(x, [-1, 1], axis=0)", SEQ)],
     positional=("shape",), required=("shape",), category=OP)


def _arange_shape(node, shapes):
    (x,) = shapes
    if node.end <= node.start:
        raise S.ShapeError(f"end {node.end} must come after start {node.start}")
    return [(x[0], node.end - node.start)]


kind("arange", "Arange", _arange_shape, "Position ids start..end-1 for each sample of its input (torch.arange, "
     "ops.arange).", [ex("arange(x, 7)", SEQ), ex("arange(x, 12, start=2)", SEQ)], positional=("end",),
     required=("end",), category=OP)
kind("reshape", "Reshape", S.reshape, "Reshapes each sample (batch axis kept).",
     [ex("reshape(x, [12, 64])"), ex("reshape(x, [4, -1])", SEQ)], positional=("shape",), required=("shape",),
     category=OP)
kind("permute", "Permute", S.permute, "Reorders the axes (batch included).",
     [ex("permute(x, [0, 2, 1])", SEQ), ex("permute(x, [0, 1, 3, 2])")], positional=("dims",),
     required=("dims",), category=OP)
kind("concat", "Concat", S.concat, "Joins tensors along an existing axis.",
     [ex("concat(x, y)", TWO_MAPS), ex("concat(x, y, axis=-1)", TWO_MAPS)], arity=(2, MANY), category=OP)
kind("stack", "Stack", S.stack, "Joins tensors along a new axis.",
     [ex("stack(x, y)", TWO_MAPS), ex("stack(x, y, axis=-1)", TWO_MAPS)], arity=(2, MANY), category=OP)
kind("split", "Split", S.split, "Cuts a tensor into parts along an axis (one output per part).",
     [ex("split(x, [1, 2])"), ex("split(x, [5, 7], axis=2)", SEQ)], positional=("sizes",), required=("sizes",),
     category=OP, output_count=lambda node: max(len(node.sizes), 1))
for keyword, name in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div")):
    kind(keyword, name, S.broadcast, f"Elementwise {keyword} of two tensors, or of a tensor and a constant.",
         [ex(f"{keyword}(x, y)", TWO_MAPS), ex(f"{keyword}(x, scalar=2.0)"),
          ex(f"{keyword}(x, scalar=3.0, scalar_first=true)")], arity=(1, 2), category=OP)
kind("matmul", "MatMul", S.matmul, "Matrix product (batched).",
     [ex("matmul(x, y)", ("x: float32[5, 6]", "y: float32[6, 3]"))], arity=(2, 2), category=OP)
# A mean or maximum over exactly the spatial axes is a global pooling (the canonical-forms pass): theirs reduce
# the channels too.
for keyword, name, axes in (("mean", "ReduceMean", "[1, 2]"), ("sum", "ReduceSum", "[2, 3]"),
                            ("max", "ReduceMax", "[1, 2]"), ("min", "ReduceMin", "[2, 3]")):
    kind(keyword, name, S.reduction, f"{name[6:]} over axes.",
         [ex(f"{keyword}(x, {axes})"), ex(f"{keyword}(x, 1, keepdims=true)", SEQ)], positional=("axes",),
         category=OP)
kind("squeeze", "Squeeze", S.squeeze, "Removes axes of size one.",
     [ex("squeeze(x, 1)", ("x: float32[1, 6]",))], positional=("axes",), category=OP)
kind("unsqueeze", "Unsqueeze", S.unsqueeze, "Inserts an axis of size one.",
     [ex("unsqueeze(x, 1)", VEC)], positional=("axis",), required=("axis",), category=OP)
kind("slice", "Slice", S.slice_, "Takes a strided range along axes.",
     [ex("slice(x, axes=[2], starts=[1], ends=[9], steps=[2])"),
      ex("slice(x, axes=[1, 2], starts=[0, -4], ends=[3, 12])", SEQ)],
     required=("axes", "starts", "ends"), category=OP)
kind("index", "Index", S.index, "Picks one position along an axis, dropping that axis.",
     [ex("index(x, axis=1, index=-1)", SEQ), ex("index(x, axis=1, index=0)")],
     required=("axis", "index"), category=OP)
kind("normalize", "Normalize", S.same_shape, "Divides by the p-norm along an axis.",
     [ex("normalize(x)", VEC), ex("normalize(x, p=1.0, axis=-1)", SEQ)], category=OP)
kind("pad", "Pad", S.pad, "Constant, reflect, replicate or circular padding of the trailing axes.",
     [ex("pad(x, [1, 1, 2, 0])"), ex("pad(x, [2, 1], mode=reflect)", SIGNAL),
      ex("pad(x, [1, 2, 1, 2], value=0.5)"), ex("pad(x, [2, 0, 1, 3], mode=replicate)"),
      ex("pad(x, [1, 2], mode=circular)", SIGNAL), ex("pad(x, [3, 3, 3, 3], mode=reflect)")], positional=("pads",), required=("pads",), category=OP)


def _tile_shape(node, shapes):
    (x,) = shapes
    repeats = list(node.repeats)
    if len(repeats) != len(x) - 1 or any(r < 1 for r in repeats):
        raise S.ShapeError(f"repeats must hold a positive count for each of the {len(x) - 1} axes after the batch "
                           f"axis of {S.fmt(x)}")
    return [(x[0], *(None if d is None else d * r for d, r in zip(x[1:], repeats)))]


kind("tile", "Tile", _tile_shape, "Repeats each sample along its axes (x.repeat, torch.tile, x.expand; ops.tile).",
     [ex("tile(x, [1, 2, 3])"), ex("tile(x, [3, 1])", SEQ)], positional=("repeats",), required=("repeats",),
     category=OP)
kind("upsample", "Upsample", S.upsample, "Nearest or bilinear resize of the spatial axes.",
     [ex("upsample(x, scale_factor=2.0)"), ex("upsample(x, scale_factor=2.0, mode=bilinear)")], category=OP)
kind("pixel_shuffle", "PixelShuffle", S.pixel_shuffle, "Moves channel blocks into space (depth to space).",
     [ex("pixel_shuffle(x, 2)", ("x: float32[8, 5, 5]",))], positional=("upscaleFactor",),
     required=("upscaleFactor",), category=OP)
kind("identity", "Identity", S.same_shape, "Passes its input through.", [ex("identity(x)")], category=OP)


# --- PyTorch ---------------------------------------------------------------------------------

def _reduced_axes(site):
    axes = list(site.attr("axes"))
    if not axes:
        axes = list(range(1, site.rank))
    return axes[0] if len(axes) == 1 else tuple(axes)


def _reduce(method: str):
    def forward(site):
        keep = ", keepdim=True" if site.attr("keepdims") else ""
        return f"{site.x}.{method}(dim={literal(_reduced_axes(site))}{keep})"
    return forward


def _flatten(site):
    start, end = site.attr("startDim"), site.attr("endDim")
    return f"torch.flatten({site.x}, {start}{'' if end == -1 else f', {end}'})"


def _reshape(site):
    sizes = ", ".join(str(d) for d in site.attr("shape"))
    return f"{site.x}.reshape({site.x}.size(0), {sizes})"


def _permute(site):
    return f"{site.x}.permute({', '.join(str(d) for d in site.attr('dims'))})"


def _squeeze(site):
    axes = list(site.attr("axes")) or [i for i, d in enumerate(site.shape) if i > 0 and d == 1]
    return f"{site.x}.squeeze({literal(axes[0] if len(axes) == 1 else tuple(axes))})"


def _index_expression(site, picks: dict[int, str]) -> str:
    """``x[:, ..., pick]`` with ``picks`` keyed by non-negative axis."""
    last = max(picks)
    return f"{site.x}[{', '.join(picks.get(i, ':') for i in range(last + 1))}]"


def _slice(site):
    picks = {}
    steps = list(site.attr("steps")) or [1] * len(site.attr("axes"))
    for axis, start, end, step in zip(site.attr("axes"), site.attr("starts"), site.attr("ends"), steps):
        open_end = end >= 2 ** 31 - 1  # only the pivot's open end is left out: an end equal to the size is kept
        picks[site.axis(axis)] = f"{start or ''}:{'' if open_end else end}{f':{step}' if step != 1 else ''}"
    return _index_expression(site, picks)


def _index(site):
    return _index_expression(site, {site.axis(site.attr("axis")): str(site.attr("index"))})


def _arithmetic(symbol: str):
    def forward(site):
        if len(site.inputs) > 1:
            return f"{site.x} {symbol} {site.y}"
        constant = literal(float(site.attr("scalar") or 0.0))
        return f"{constant} {symbol} {site.x}" if site.attr("scalarFirst") else f"{site.x} {symbol} {constant}"
    return forward


def _normalize(site):
    return (f"F.normalize({site.x}"
            + keywords(site, [("p", site.attr("p"), 2.0), ("dim", site.attr("axis"), 1),
                               ("eps", site.attr("eps"), 1e-12)]) + ")")


def _pad(site):
    values = list(site.attr("pads"))
    pairs = [(values[2 * i], values[2 * i + 1]) for i in range(len(values) // 2)]
    mode = site.attr("mode")
    return (f"F.pad({site.x}, {literal(torch_pad_order(pairs))}"
            + keywords(site, [("mode", mode, "constant"), ("value", site.attr("value"), 0.0)]) + ")")


_LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _upsample(site):
    mode = "nearest" if site.attr("mode") == "nearest" else _LINEAR_MODES[site.spatial]
    size, scale = list(site.attr("size")), list(site.attr("scaleFactor"))
    how = f"size={literal(compact(size))}" if size else f"scale_factor={literal(compact(scale))}"
    corners = ", align_corners=True" if site.attr("alignCorners") and mode != "nearest" else ""
    return f"F.interpolate({site.x}, {how}, mode={literal(mode)}{corners})"


def _split(site):
    return f"torch.split({site.x}, {list(site.attr('sizes'))}, dim={site.attr('axis')})"



# torch.max/min give (values, indices) when a dim is given: Tensor methods are spellings of the reductions too.
_EXTREMA = {keyword: (f"torch.{keyword}", f"Tensor.{keyword}") for keyword in ("max", "min")}
# ``reader``: the PyTorch importer's reader of the call's arguments (these calls are not constructors).
pytorch("flatten", TorchMapping(forward=_flatten, classes=("nn.Flatten",), functions=("torch.flatten", "Tensor.flatten"),
                                reader="flatten"))
pytorch("arange", TorchMapping(statements=lambda site: [
    f"{site.outputs[0]} = torch.arange({site.attr('start')}, {site.attr('end')}, device={site.x}.device)",
    f"{site.outputs[0]} = {site.outputs[0]}.expand({site.x}.size(0), -1)"], functions=("torch.arange",),
    reader="arange"))
pytorch("unflatten", TorchMapping(forward=lambda site: f"{site.x}.unflatten({site.attr('axis')}, "
                                                     f"{literal(tuple(site.attr('shape')))})",
                                  classes=("nn.Unflatten",), functions=("Tensor.unflatten", "torch.unflatten"),
                                  reader="unflatten"))
pytorch("reshape", TorchMapping(forward=_reshape, functions=("torch.reshape", "Tensor.reshape", "Tensor.view"),
                                reader="reshape"))
pytorch("permute", TorchMapping(forward=_permute, functions=("torch.permute", "Tensor.permute", "Tensor.transpose",
                                                            "torch.transpose"), reader="permute"))
pytorch("concat", TorchMapping(forward="torch.cat([{inputs}], dim={axis})", functions=("torch.cat", "torch.concat"),
                               reader="concat"))
pytorch("stack", TorchMapping(forward="torch.stack([{inputs}], dim={axis})", functions=("torch.stack",),
                              reader="stack"))
pytorch("split", TorchMapping(forward=_split, results="tuple", functions=("torch.split", "Tensor.split",
                                                                              "torch.chunk", "Tensor.chunk"),
                              reader="split"))
# Every spelling of the four: torch functions, their long names and Tensor methods (torch.neg is a product by -1).
_ARITHMETIC_SPELLINGS = {"add": ("add",), "sub": ("sub", "subtract"), "mul": ("mul", "multiply", "neg", "negative"),
                         "div": ("div", "divide", "true_divide")}
for keyword, symbol in (("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")):
    pytorch(keyword, TorchMapping(forward=_arithmetic(symbol), functions=tuple(
        f"{owner}.{name}" for name in _ARITHMETIC_SPELLINGS[keyword] for owner in ("torch", "Tensor")),
        reader="binary"))
pytorch("matmul", TorchMapping(forward="{x} @ {y}", functions=("torch.matmul", "torch.bmm", "Tensor.matmul"),
                               reader="matmul"))
for keyword, method in (("mean", "mean"), ("sum", "sum"), ("max", "amax"), ("min", "amin")):
    pytorch(keyword, TorchMapping(forward=_reduce(method), functions=(f"torch.{method}", f"Tensor.{method}",
                                                                       *_EXTREMA.get(keyword, ())),
                                  reader="extremum" if keyword in _EXTREMA else "reduction"))
pytorch("squeeze", TorchMapping(forward=_squeeze, functions=("torch.squeeze", "Tensor.squeeze"), reader="squeeze"))
pytorch("unsqueeze", TorchMapping(forward="{x}.unsqueeze({axis})", functions=("torch.unsqueeze", "Tensor.unsqueeze"),
                                  reader="unsqueeze"))
pytorch("slice", TorchMapping(forward=_slice, functions=("Tensor.__getitem__",)))
pytorch("index", TorchMapping(forward=_index, functions=("Tensor.__getitem__", "Tensor.select")))
pytorch("normalize", TorchMapping(forward=_normalize, functions=("F.normalize",), reader="normalize"))
# The padding modules, by the pad mode their class name means (nn.ReflectionPad2d is reflect).
PAD_CLASSES = {f"nn.{prefix}Pad{d}d": mode for d in (1, 2, 3) for prefix, mode in (
    ("Zero", "constant"), ("Constant", "constant"), ("Reflection", "reflect"), ("Replication", "replicate"),
    ("Circular", "circular"))}
pytorch("pad", TorchMapping(forward=_pad, classes=tuple(PAD_CLASSES), functions=("F.pad",), reader="pad"))
pytorch("tile", TorchMapping(forward=lambda site: f"{site.x}.repeat(1, {', '.join(map(literal, site.attr('repeats')))})",
                             functions=("Tensor.repeat", "torch.tile", "Tensor.tile", "Tensor.expand"), reader="tile"))
pytorch("upsample", TorchMapping(forward=_upsample, classes=("nn.Upsample",), functions=("F.interpolate",),
                                 reader="upsample"))
pytorch("pixel_shuffle", TorchMapping(forward="F.pixel_shuffle({x}, {upscale_factor})", classes=("nn.PixelShuffle",),
                                   functions=("F.pixel_shuffle",), reader="pixel_shuffle"))
pytorch("identity", TorchMapping("nn.Identity", reader="identity"))  # a module, so the node reads back as itself




# --- Keras -----------------------------------------------------------------------------------

def emit_flatten(ctx):
    node, x = ctx.node, ctx.x
    rank = len(x.shape)
    start, end = node.startDim % rank, node.endDim % rank
    if start == 1 and end == rank - 1:
        flat = None if L.is_identity(x.perm) else (tuple(x.shape), x.perm)
        layer = ctx.layer("layers.Flatten", [])
        ctx.assign(f"{layer}({x.expr})")
        ctx.graph.flat_nodes[node] = flat
        return [L.identity(2)]
    merged = list(range(start, end + 1))
    positions = [x.perm.index(a) for a in merged]
    if positions != list(range(positions[0], positions[0] + len(merged))):
        raise AssertionError("flatten operand must have been converted")
    out_perm = [a if a <= start else a - len(merged) + 1 for a in x.perm if a not in merged[1:]]
    if positions[-1] == rank - 1:
        # The trailing axes: Flatten applied to each slice of the axes before them (Keras' own spelling).
        inner = "layers.Flatten()"
        for _ in range(positions[0] - 2):
            inner = f"layers.TimeDistributed({inner})"
        layer = ctx.layer("layers.TimeDistributed", [inner])
        ctx.assign(f"{layer}({x.expr})")
        return [tuple(out_perm)]
    target = [d for i, d in enumerate(x.shape) if i == 0 or i not in merged[1:]]
    merged_size = None if None in x.shape[start:end + 1] else math.prod(x.shape[start:end + 1])
    keras_shape = [target[a] if a != start else merged_size for a in out_perm]
    # The merged axis is the -1 and the batch size is read when called, so every input size works (a -1
    # batch would silently absorb a merged size other than the declared one).
    keras_shape[out_perm.index(start)] = -1
    sizes = ", ".join(str(d) if d is not None else  # an axis left as it is: its size when called
                      f"ops.shape({x.expr})[{x.perm.index(a if a < start else a + len(merged) - 1)}]"
                      for d, a in zip(keras_shape[1:], out_perm[1:]))
    # A flatten from the batch axis (time steps folded into the batch) is itself the -1, written first.
    lead = "-1" if start == 0 else f"ops.shape({x.expr})[0]"
    ctx.assign(f"ops.reshape({x.expr}, ({lead}, {sizes}))")
    return [tuple(out_perm)]


def emit_arange(ctx):
    node = ctx.node
    ctx.assign(f"ops.arange({node.start}, {node.end})")
    ctx.assign(f"ops.broadcast_to({ctx.var}, (ops.shape({ctx.x.expr})[0], {node.end - node.start}))")
    return [L.identity(2)]


def emit_unflatten(ctx):
    # On the pivot layout: every size after the batch axis is known (the target of ops.reshape).
    rest = ctx.out_shapes[0][1:]
    if None in rest:
        ctx.fail(f"Keras' reshape needs the sizes after the batch axis, got {S.fmt(ctx.out_shapes[0])}")
    ctx.assign(f"ops.reshape({ctx.x.expr}, {literal((-1, *rest))})")
    return [L.identity(len(ctx.out_shapes[0]))]


def emit_reshape(ctx):
    # The pivot's target shape as written (a -1 stays -1, so other input sizes work too).
    layer = ctx.layer("layers.Reshape", [literal(tuple(ctx.node.shape))])
    ctx.assign(f"{layer}({ctx.x.expr})")
    return [L.identity(len(ctx.out_shapes[0]))]


def emit_permute(ctx):
    # No code: the Keras tensor stays as it is and its layout relative to the pivot changes.
    ctx.out_vars[0] = ctx.x.expr
    return [L.after_permute(list(ctx.node.dims), ctx.x.perm)]


def emit_concat(ctx):
    perm = ctx.x.perm
    axis = L.target_axis(perm, ctx.node.axis) - (len(perm) if ctx.node.axis < 0 else 0)  # the pivot's sign
    operands = ", ".join(t.expr for t in ctx.inputs)
    ctx.assign(f"ops.concatenate([{operands}], axis={axis})")
    return [perm]


def emit_stack(ctx):
    rank = len(ctx.x.shape) + 1
    pivot_axis = ctx.node.axis % rank
    out_perm = L.insert_axis(ctx.x.perm, pivot_axis)
    operands = ", ".join(t.expr for t in ctx.inputs)
    axis = out_perm.index(pivot_axis) - (rank if ctx.node.axis < 0 else 0)  # the pivot's sign
    ctx.assign(f"ops.stack([{operands}], axis={axis})")
    return [out_perm]


def emit_split(ctx):
    perm = ctx.x.perm
    axis = L.target_axis(perm, ctx.node.axis)
    cuts = list(itertools.accumulate(ctx.node.sizes))[:-1]
    targets = list(ctx.out_vars)
    ctx.assign(f"ops.split({ctx.x.expr}, {literal(cuts)}, axis={axis})",
               targets if len(targets) > 1 else [f"({targets[0]},)"])
    return [perm] * len(targets)


OPERATORS = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}


def emit_arithmetic(ctx):
    symbol = OPERATORS[ctx.node.eClass.name]
    left = ctx.x.expr
    if len(ctx.inputs) == 2:
        right = ctx.inputs[1].expr
    else:
        right = literal(float(ctx.node.scalar))
        if ctx.node.scalarFirst:
            left, right = right, left
    ctx.assign(f"{left} {symbol} {right}")
    return [ctx.x.perm]


def emit_matmul(ctx):
    ctx.assign(f"ops.matmul({ctx.inputs[0].expr}, {ctx.inputs[1].expr})")
    return [L.identity(len(ctx.out_shapes[0]))]


def emit_reduction(ctx):
    node, x = ctx.node, ctx.x
    rank = len(x.shape)
    pivot_axes = sorted({a % rank for a in node.axes}) if list(node.axes) else list(range(1, rank))
    axes = sorted(x.perm.index(a) for a in pivot_axes)
    fn = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min"}[node.eClass.name]
    axis = axes[0] if len(axes) == 1 else tuple(axes)
    keep = ", keepdims=True" if node.keepdims else ""
    ctx.assign(f"ops.{fn}({x.expr}, axis={literal(axis)}{keep})")
    return [x.perm if node.keepdims else L.drop_axes(x.perm, pivot_axes)]


def emit_squeeze(ctx):
    x = ctx.x
    rank = len(x.shape)
    pivot_axes = sorted({a % rank for a in ctx.node.axes}) if list(ctx.node.axes) else [
        i for i, d in enumerate(x.shape) if d == 1]
    axes = sorted(x.perm.index(a) for a in pivot_axes)
    ctx.assign(f"ops.squeeze({x.expr}, axis={literal(axes[0] if len(axes) == 1 else tuple(axes))})")
    return [L.drop_axes(x.perm, pivot_axes)]


def emit_unsqueeze(ctx):
    x = ctx.x
    pivot_axis = ctx.node.axis % (len(x.shape) + 1)
    out_perm = L.insert_axis(x.perm, pivot_axis)
    ctx.assign(f"ops.expand_dims({x.expr}, {out_perm.index(pivot_axis)})")
    return [out_perm]


def _slice_text(start, end, step) -> str:
    text = ("" if start in (None, 0) else str(start)) + ":" + ("" if end is None or end >= 2**31 - 1 else str(end))
    return text + (f":{step}" if step != 1 else "")


def _subscript(expr: str, per_axis_items: dict[int, str]) -> str:
    last = max(per_axis_items)
    items = [per_axis_items.get(i, ":") for i in range(last + 1)]
    return f"{expr}[{', '.join(items)}]"


def emit_slice(ctx):
    node, x = ctx.node, ctx.x
    rank = len(x.shape)
    steps = list(node.steps) or [1] * len(node.axes)
    items = {}
    for axis, start, end, step in zip(node.axes, node.starts, node.ends, steps):
        items[x.perm.index(axis % rank)] = _slice_text(start, end, step)
    ctx.assign(_subscript(x.expr, items))
    return [x.perm]


def emit_index(ctx):
    node, x = ctx.node, ctx.x
    pivot_axis = node.axis % len(x.shape)
    ctx.assign(_subscript(x.expr, {x.perm.index(pivot_axis): str(node.index)}))
    return [L.drop_axes(x.perm, [pivot_axis])]


def emit_normalize(ctx):
    node, x = ctx.node, ctx.x
    axis = L.target_axis(x.perm, node.axis)
    axis = -1 if node.axis < 0 and axis == len(x.perm) - 1 else axis  # the sign of the pivot's last axis
    if node.p >= 1 and node.p == int(node.p):  # Keras' normalize is PyTorch's F.normalize for an integral order
        ctx.assign(f"ops.normalize({x.expr}, axis={axis}, order={int(node.p)}, epsilon={literal(node.eps)})")
        return [x.perm]
    norm = f"ops.norm({x.expr}, ord={literal(node.p)}, axis={axis}, keepdims=True)"
    # PyTorch's F.normalize: x / max(||x||_p, eps).
    ctx.assign(f"{x.expr} / ops.maximum({norm}, {literal(node.eps)})")
    return [x.perm]


def emit_pad(ctx):
    node, x = ctx.node, ctx.x
    pads = list(node.pads)
    count, rank = len(pads) // 2, len(x.shape)
    mode = node.mode.name
    pivot_pads = {rank - count + k: (pads[2 * k], pads[2 * k + 1]) for k in range(count)}
    if mode in EDGE_MODES:
        if any(b or e for b, e in pivot_pads.values()):
            ctx.edge_pad(x, pivot_pads, mode, target=ctx.var)
            return [x.perm]
        mode = "constant"  # nothing to pad: ops.pad with zero widths
    ctx.assign(f"ops.pad({x.expr}, {literal(pad_widths(x.perm, pivot_pads))}{pad_options(mode, node.value)})")
    return [x.perm]


def emit_tile(ctx):
    full = [1, *ctx.node.repeats]
    ctx.assign(f"ops.tile({ctx.x.expr}, {literal([full[axis] for axis in ctx.x.perm])})")
    return [ctx.x.perm]


def emit_upsample(ctx):
    node, x = ctx.node, ctx.x
    dims = len(x.shape) - 2
    if list(node.scaleFactor):  # the factors themselves: the same layer at every input size
        factors = list(node.scaleFactor) * (dims if len(node.scaleFactor) == 1 else 1)
    elif None in x.shape[2:]:
        ctx.fail("resizing to a fixed size needs a known input size (Keras' UpSampling layers repeat cells by "
                 "integer factors)")
        return [x.perm]
    else:
        factors = [o / i for o, i in zip(ctx.out_shapes[0][2:], x.shape[2:])]
        ctx.specialise(f"the output size {list(node.size)} is written as the factors {factors} of the declared "
                       "input size")
    if any(f != int(f) for f in factors):
        ctx.fail(f"resizing by {factors} is not an integer factor; Keras' UpSampling layers repeat cells")
    if node.alignCorners:
        ctx.fail("align_corners=true has no Keras UpSampling equivalent")
    mode = node.mode.name
    if mode == "bilinear" and dims != 2:
        ctx.fail("bilinear upsampling needs 2 spatial axes")
    size = tuple_or_int([int(f) for f in factors])
    args = [f"size={literal(size)}"] + (['interpolation="bilinear"'] if mode == "bilinear" else [])
    layer = ctx.layer(f"layers.UpSampling{dims}D", args)
    ctx.assign(f"{layer}({x.expr})")
    return [x.perm]


def emit_pixel_shuffle(ctx):
    r, x = ctx.node.upscaleFactor, ctx.x
    out = x.shape[1] // (r * r)
    # PyTorch orders the input channels (c, i, j); TensorFlow's depth_to_space (i, j, c): spell it out.
    # The height and width are read when called, so every input size works.
    blocks = ctx.graph.fresh(ctx.node.name + "_blocks")
    height, width = ctx.graph.fresh(ctx.node.name + "_height"), ctx.graph.fresh(ctx.node.name + "_width")
    ctx.graph.line(f"{height}, {width} = ops.shape({x.expr})[1:3]")
    ctx.graph.line(f"{blocks} = ops.reshape({x.expr}, (-1, {height}, {width}, {out}, {r}, {r}))")
    ctx.graph.line(f"{blocks} = ops.transpose({blocks}, (0, 1, 4, 2, 5, 3))")
    ctx.assign(f"ops.reshape({blocks}, (-1, {height} * {r}, {width} * {r}, {out}))")
    return [x.perm]



keras("flatten", KerasMapping("layers.Flatten", emit_flatten, layout="flatten",
                              note="a partial range becomes ops.reshape", signature=("data_format",), reader="flatten",
                              functions={"layers.flatten": "flatten", "tf.layers.flatten": "flatten"}))
keras("arange", KerasMapping("ops.arange", emit_arange, note="broadcast over the batch",
                             functions={"ops.arange": "arange", "tf.range": "arange", "ops.broadcast_to": "broadcast_to",
                                        "tf.broadcast_to": "broadcast_to"}))
keras("unflatten", KerasMapping("ops.reshape", emit_unflatten, layout="pivot"))
keras("reshape", KerasMapping("layers.Reshape", emit_reshape, layout="pivot", signature=("target_shape",),
                              reader="reshape", functions={"ops.reshape": "reshape", "tf.reshape": "reshape"}))
keras("permute", KerasMapping(None, emit_permute, layout="any", note="no code: changes the tensor's layout",
                              reads=(KerasClass("Permute", ("dims",), "permute"),),
                              functions={"ops.transpose": "transpose", "tf.transpose": "transpose"}))
keras("concat", KerasMapping("ops.concatenate", emit_concat, layout="match",
                             reads=(KerasClass("Concatenate", ("axis",), "join"),), functions=dict.fromkeys(
                                 ("ops.concatenate", "tf.concat", "layers.concatenate", "backend.concatenate"),
                                 "concat")))
keras("stack", KerasMapping("ops.stack", emit_stack, layout="match", functions={"ops.stack": "stack", "tf.stack": "stack"}))
keras("split", KerasMapping("ops.split", emit_split, functions={"ops.split": "split", "tf.split": "split"}))
# The merge layers of Keras (Add()([a, b])), and Rescaling(scale, offset): x * scale (+ offset).
_KERAS_JOINS = {"add": (KerasClass("Add", reader="join"),), "sub": (KerasClass("Subtract", reader="join"),),
                "mul": (KerasClass("Multiply", reader="join"), KerasClass("Rescaling", ("scale", "offset"), "rescaling"))}
_KERAS_ARITHMETIC = {"add": ("ops.add", "tf.add", "layers.add"), "sub": ("ops.subtract", "tf.subtract", "layers.subtract"),
                     "mul": ("ops.multiply", "tf.multiply", "layers.multiply"),
                     "div": ("ops.divide", "tf.divide", "ops.true_divide")}
for keyword, name in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div")):
    keras(keyword, KerasMapping(f"operator {OPERATORS[name]}", emit_arithmetic, layout="match",
                                reads=_KERAS_JOINS.get(keyword, ()),
                                functions=dict.fromkeys(_KERAS_ARITHMETIC[keyword], "binary")))
keras("matmul", KerasMapping("ops.matmul", emit_matmul, layout="pivot",
                             functions={"ops.matmul": "matmul", "tf.matmul": "matmul"}))
for keyword in ("mean", "sum", "max", "min"):
    keras(keyword, KerasMapping(f"ops.{keyword}", emit_reduction,
                                functions={f"ops.{keyword}": "reduce", f"tf.reduce_{keyword}": "reduce"}))
keras("squeeze", KerasMapping("ops.squeeze", emit_squeeze, functions={"ops.squeeze": "squeeze", "tf.squeeze": "squeeze"}))
keras("unsqueeze", KerasMapping("ops.expand_dims", emit_unsqueeze,
                                functions={"ops.expand_dims": "expand_dims", "tf.expand_dims": "expand_dims"}))
keras("slice", KerasMapping("subscript", emit_slice, reads=(
    *(KerasClass(f"Cropping{d}D", ("cropping",), "cropping") for d in (1, 2, 3)),
    KerasClass("CenterCrop", ("height", "width"), "center_crop"))))
keras("index", KerasMapping("subscript", emit_index))
keras("normalize", KerasMapping("ops.normalize", emit_normalize, note="ops.norm for a fractional p",
                                functions={"ops.normalize": "normalize", "ops.nn.normalize": "normalize"}))
keras("pad", KerasMapping("ops.pad", emit_pad, reads=tuple(
    KerasClass(f"ZeroPadding{d}D", ("padding",), "zero_padding") for d in (1, 2, 3)),
    functions={"ops.pad": "pad", "tf.pad": "pad"}))
keras("tile", KerasMapping("ops.tile", emit_tile, reads=(KerasClass("RepeatVector", ("n",), "repeat_vector"),),
                           functions={"ops.tile": "tile", "tf.tile": "tile", "ops.repeat": "repeat", "tf.repeat": "repeat"}))
keras("upsample", KerasMapping("layers.UpSampling2D", emit_upsample, layout="channels_last",
                               note="1D/2D/3D by the input rank", signature=("size",), reader="upsample", reads=(
                                   *(KerasClass(f"UpSampling{d}D", ("size",), "upsample") for d in (1, 3)),
                                   KerasClass("Resizing", ("height", "width", "interpolation"), "resizing"))))
keras("pixel_shuffle", KerasMapping("ops.reshape", emit_pixel_shuffle, layout="channels_last"))
keras("identity", KerasMapping("layers.Identity", emit_layer))  # a layer, so the node reads back as itself
