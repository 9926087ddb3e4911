"""PyTorch target: the mapping of every kind, the code generator, and ``state_dict`` weights.

The mapping is data. Each registry kind gets one :class:`TorchMapping` in
``kind.mappings["pytorch"]`` saying how a node is written in PyTorch:

* ``module``: the ``nn`` class of the submodule declared in ``__init__`` as
  ``self.<node> = nn.X(...)`` (a callable when the class depends on the input
  rank, as for ``InstanceNorm{1,2,3}d``); None for operations written as plain
  expressions in ``forward``.
* ``args``: the constructor arguments, in the constructor's order. An
  :class:`Arg` names the torch keyword, the pivot attribute it comes from, the
  conversion each way (``to_torch``/``from_torch``; identity when omitted), and
  torch's own default: an argument equal to its default is not written.
  Arguments PyTorch needs but the pivot infers (``in_channels``,
  ``in_features``, ``num_features``, ``input_size``...) have a ``derive``
  function that reads the node's inferred input shapes, and ``pivot=None``.
* ``forward``: the expression of the node in ``forward``: a ``str.format``
  template (``"torch.cat([{inputs}], dim={axis})"``; fields: ``module``
  (``self.<node>``), ``inputs``, ``x``, ``y`` and every attribute by its DSL
  name as a torch literal) or a function of the :class:`Site`.
* ``results``: how a multi-output expression unpacks (``"{0}, ({1}, {2})"``).
* ``classes`` / ``functions``: every spelling of the kind in PyTorch source, for
  the importer that reads this table backwards.
* ``parameters``: the ``state_dict`` entries of one node and their shapes, which
  are also the pivot's canonical names (the pivot layout is PyTorch's).

Semantics that need more than a rename are small functions referenced from the
table: TensorFlow ``same`` padding (asymmetric cases as ``F.pad`` before a
convolution, as ``padding`` + ``ceil_mode`` for pooling, as a crop after a
transposed convolution), recurrent layers whose output 0 is the last step, and
axis lists derived from the rank.

Torch is imported lazily by the weight functions only, so this module loads
without it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnpivot import fileio
from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import (
    Diagnostic,
    Location,
    NNPivotError,
    error,
    has_errors,
    location_of,
    warning,
)
from nnpivot.graph import graph_inputs, topological_order, weights_owner
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.registry import KINDS, kind_of, snake
from nnpivot.metamodel.shapes import explicit_pads, per_axis, spatial_geometry
from nnpivot.shapes import ShapeTable, infer_shapes

from . import codegen
from .codegen import (
    INDENT,
    OutputNames,
    attribute_value,
    identifier,
    literal,
    wrap_call,
)

TARGET = "pytorch"
REQUIRED = object()  # an argument torch has no default for: always written

# Names a submodule or a local variable must not take in generated code.
RESERVED = frozenset({
    "self", "torch", "nn", "F", "super", "forward", "training", "train", "eval", "parameters", "buffers",
    "children", "modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "float", "double", "half",
    "apply", "zero_grad", "register_buffer", "register_parameter", "add_module", "named_parameters",
    "named_modules", "named_children", "named_buffers", "requires_grad_", "type", "extra_repr", "get_submodule",
    "get_parameter", "get_buffer", "share_memory", "dump_patches", "call_super_init",
})


def py_name(name: str) -> str:
    """The Python name of a pivot node or block: its own name unless that would clash."""
    return identifier(name, RESERVED)


# --- the mapping data structure ---------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """A node in context: its inferred shapes and the variables of its inputs and outputs."""
    node: Any
    in_shapes: list
    out_shapes: list
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple:
        return self.in_shapes[0]

    @property
    def x(self) -> str:
        return self.inputs[0]

    @property
    def y(self) -> str:
        return self.inputs[1]

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def spatial(self) -> int:
        return self.rank - 2

    @property
    def module(self) -> str:
        """The submodule computing the node: its own, or that of the node whose weights it shares."""
        return f"self.{py_name(weights_owner(self.node).name)}"

    def attr(self, name: str):
        return attribute_value(self.node, self.node.eClass.findEStructuralFeature(name))

    def axis(self, axis: int, rank: int | None = None) -> int:
        """A pivot axis as a non-negative torch axis."""
        return axis % (rank or self.rank)

    def fields(self) -> dict[str, str]:
        values = {snake(a.name): literal(attribute_value(self.node, a))
                  for a in kind_of(self.node).attributes()}
        return values | {"module": self.module, "inputs": ", ".join(self.inputs),
                         "x": self.inputs[0] if self.inputs else "", "y": self.inputs[1] if len(self.inputs) > 1 else ""}


@dataclass(frozen=True)
class Arg:
    """One constructor argument of a torch module."""
    name: str
    pivot: str | None = None
    default: Any = REQUIRED
    positional: bool = False
    to_torch: Callable | None = None
    from_torch: Callable | None = None
    derive: Callable[[Site], Any] | None = None

    def value(self, site: Site):
        if self.derive is not None:
            return self.derive(site)
        value = site.attr(self.pivot)
        return self.to_torch(value) if self.to_torch else value

    def source(self, site: Site) -> str | None:
        """The argument as written in the constructor call, or None when it is torch's default."""
        value = self.value(site)
        if self.default is not REQUIRED and _same(value, self.default):
            return None
        text = literal(value)
        return text if self.positional else f"{self.name}={text}"


@dataclass(frozen=True)
class TorchMapping:
    module: str | Callable[[Site], str] | None = None
    args: tuple[Arg, ...] = ()
    forward: str | Callable[[Site], str] = "{module}({inputs})"
    results: str | None = None
    statements: Callable[[Site], list[str]] | None = None
    parameters: Callable[[Site], dict[str, tuple]] | None = None
    unsupported: Callable[[Site], str | None] | None = None
    classes: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()

    def module_class(self, site: Site) -> str | None:
        return self.module(site) if callable(self.module) else self.module

    def constructor(self, site: Site) -> str:
        """``nn.X(args)`` with only the arguments that differ from torch's defaults."""
        written = [s for a in self.args if (s := a.source(site)) is not None]
        return f"{self.module_class(site)}({', '.join(written)})"

    def expression(self, site: Site) -> str:
        return self.forward(site) if callable(self.forward) else self.forward.format(**site.fields())


def _same(a, b) -> bool:
    """Equal as argument values: 1 == 1.0, (3, 3) == [3, 3], but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b or isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b


# --- conversions shared by several kinds -----------------------------------------------------

def compact(values):
    """One value when every axis has it, else a tuple (``3`` rather than ``(3, 3)``)."""
    values = list(values)
    if not values:
        return None
    return values[0] if len(set(values)) == 1 else tuple(values)


def _expanded(site: Site, name: str, default: int):
    return per_axis(site.attr(name), site.spatial, default, snake(name))


def _kernel(site):
    return compact(_expanded(site, "kernelSize", 0))


def _per_axis_arg(name: str, pivot: str, default: int) -> Arg:
    """A per-spatial-axis argument (stride, dilation) written once when every axis agrees."""
    return Arg(name, pivot, default, derive=lambda site: compact(_expanded(site, pivot, default)))


def _geometry(site):
    return spatial_geometry(site.node, site.shape, site.spatial)


def _torch_pad_order(pairs) -> tuple:
    """Per-axis (begin, end) pairs in axis order as ``F.pad``'s tuple (last axis first)."""
    return tuple(v for begin, end in reversed(list(pairs)) for v in (begin, end))


def _is_symmetric(pads) -> bool:
    return all(b == e for b, e in pads)


# Convolution: symmetric pads go into the layer ('same' when PyTorch's own 'same' agrees with
# TensorFlow's, i.e. stride 1), asymmetric pads become an F.pad before it.
def _conv_padding(site):
    _, stride, _, pads = _geometry(site)
    if not _is_symmetric(pads):
        return 0
    if str(site.node.padding) == "same" and all(s == 1 for s in stride):
        return "same"
    return compact(b for b, _ in pads)


def _conv_padding_mode(site):
    _, _, _, pads = _geometry(site)
    return str(site.node.paddingMode) if _is_symmetric(pads) else "zeros"


_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _conv_forward(site):
    _, _, _, pads = _geometry(site)
    operand = site.x
    if not _is_symmetric(pads):
        mode = _PAD_MODES[str(site.node.paddingMode)]
        extra = "" if mode == "constant" else f", mode={literal(mode)}"
        operand = f"F.pad({site.x}, {literal(_torch_pad_order(pads))}{extra})"
    return f"{site.module}({operand})"


# Transposed convolution: 'same' (Keras: output = input * stride) and explicit pads both crop
# the full output; PyTorch crops symmetrically, so the asymmetric rest is sliced off.
def _transpose_crops(site):
    """Per axis: (crop at the begin, crop at the end, output padding) in pivot terms."""
    kernel, stride, dilation, _ = _geometry(site)
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
    return _cropped(f"{site.module}({site.x})", crops)


# Pooling: TensorFlow 'same' puts the extra pad at the end. PyTorch pads symmetrically, but with
# ceil_mode its last window may run past the end, which covers exactly that extra pad when the
# stride is 2 or more; at stride 1 the larger pad goes on both sides and the first output is
# dropped. Max pooling ignores the outside, average pooling with count_include_pad=False does
# not count it.
def _pool_same_axes(site):
    """Per axis: (torch padding, outputs to drop at the begin, needs ceil_mode)."""
    _, stride, _, pads = _geometry(site)
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
    _, _, _, pads = _geometry(site)
    if str(site.node.padding) == "same":
        return compact(pad for pad, _, _ in _pool_same_axes(site))
    if str(site.node.padding) == "explicit" and not _is_symmetric(pads):
        return 0
    return compact(b for b, _ in pads)


def _pool_ceil_mode(site):
    same = str(site.node.padding) == "same" and any(ceil for _, _, ceil in _pool_same_axes(site))
    return bool(site.node.ceilMode) or same


def _count_include_pad(site):
    _, _, _, pads = _geometry(site)
    if str(site.node.padding) == "same":
        return not any(b or e for b, e in pads)
    return bool(site.node.countIncludePad)


def _cropped(call: str, crops) -> str:
    """``call[:, :, a:-b, ...]`` dropping (begin, end) outputs per spatial axis; ``call`` when none."""
    slices = [f"{head or ''}:{-tail if tail else ''}" for head, tail in crops]
    while slices and slices[-1] == ":":
        slices.pop()
    return f"{call}[{', '.join([':', ':'] + slices)}]" if slices else call


def _pool_forward(fill: str):
    def forward(site):
        _, _, _, pads = _geometry(site)
        operand = site.x
        if str(site.node.padding) == "explicit" and not _is_symmetric(pads):
            value = "" if fill == "0" else f", value={fill}"
            operand = f"F.pad({site.x}, {literal(_torch_pad_order(pads))}{value})"
        call = f"{site.module}({operand})"
        if str(site.node.padding) == "same":
            return _cropped(call, [(drop, 0) for _, drop, _ in _pool_same_axes(site)])
        return call
    return forward


def _avg_pool_unsupported(site):
    _, _, _, pads = _geometry(site)
    if str(site.node.padding) == "explicit" and not _is_symmetric(pads) and not site.node.countIncludePad:
        return "average pooling with asymmetric explicit pads and count_include_pad=false"
    return None


def _spatial_axes(site):
    axes = tuple(range(2, site.rank))
    return axes[0] if len(axes) == 1 else axes


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


def _global_pool(method: str):
    def forward(site):
        keep = ", keepdim=True" if site.attr("keepdims") else ""
        return f"{site.x}.{method}(dim={literal(_spatial_axes(site))}{keep})"
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
        axis = site.axis(axis)
        size = site.shape[axis]
        open_end = size is not None and end >= size or end >= 2 ** 31 - 1
        picks[axis] = f"{start or ''}:{'' if open_end else end}{f':{step}' if step != 1 else ''}"
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


def _keywords(site, pairs) -> str:
    """``, key=value`` for each (key, value, default) whose value is not the default."""
    return "".join(f", {key}={literal(value)}" for key, value, default in pairs if not _same(value, default))


def _normalize(site):
    return (f"F.normalize({site.x}"
            + _keywords(site, [("p", site.attr("p"), 2.0), ("dim", site.attr("axis"), 1),
                               ("eps", site.attr("eps"), 1e-12)]) + ")")


def _pad(site):
    values = list(site.attr("pads"))
    pairs = [(values[2 * i], values[2 * i + 1]) for i in range(len(values) // 2)]
    mode = site.attr("mode")
    return (f"F.pad({site.x}, {literal(_torch_pad_order(pairs))}"
            + _keywords(site, [("mode", mode, "constant"), ("value", site.attr("value"), 0.0)]) + ")")


_LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _upsample(site):
    mode = "nearest" if site.attr("mode") == "nearest" else _LINEAR_MODES[site.spatial]
    size, scale = list(site.attr("size")), list(site.attr("scaleFactor"))
    how = f"size={literal(compact(size))}" if size else f"scale_factor={literal(compact(scale))}"
    corners = ", align_corners=True" if site.attr("alignCorners") and mode != "nearest" else ""
    return f"F.interpolate({site.x}, {how}, mode={literal(mode)}{corners})"


def _tuple_results(site):
    names = site.outputs
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


def _split(site):
    return f"torch.split({site.x}, {list(site.attr('sizes'))}, dim={site.attr('axis')})"


# Recurrent layers. PyTorch returns (sequence, h_n) or (sequence, (h_n, c_n)); the pivot's output 0
# is the last step when return_sequences is false: the last layer's final hidden state, both
# directions concatenated (what Keras returns), which is h_n[-1] or cat(h_n[-2], h_n[-1]).
def _recurrent_statements(site):
    node = site.node
    lstm = node.eClass.name == "LSTM"
    names = list(site.outputs)
    call = f"{site.module}({site.x})"
    if node.returnSequences:
        states = ", ".join(names[1:])
        if all(n == "_" for n in names[1:]):
            return [f"{names[0]}, _ = {call}"]
        return [f"{names[0]}, ({states}) = {call}" if lstm else f"{names[0]}, {states} = {call}"]
    hidden = names[1] if names[1] != "_" else py_name(f"{node.name}_h")
    states = f"({hidden}, {names[2]})" if lstm else hidden
    last = (f"torch.cat(({hidden}[-2], {hidden}[-1]), dim=1)" if node.bidirectional else f"{hidden}[-1]")
    return [f"_, {states} = {call}", f"{names[0]} = {last}"]


def _recurrent_parameters(gates: int):
    def parameters(site):
        node = site.node
        hidden, directions = node.hiddenSize, 2 if node.bidirectional else 1
        shapes = {}
        for layer in range(node.numLayers):
            features = site.shape[2] if layer == 0 else hidden * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes[f"weight_ih_l{layer}{suffix}"] = (gates * hidden, features)
                shapes[f"weight_hh_l{layer}{suffix}"] = (gates * hidden, hidden)
                if node.bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gates * hidden,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gates * hidden,)
        return shapes
    return parameters


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


def _channels(site):
    return site.shape[1]


def _conv_parameters(site):
    node = site.node
    kernel = tuple(_expanded(site, "kernelSize", 0))
    shapes = {"weight": (node.filters, site.shape[1] // node.groups, *kernel)}
    return shapes | ({"bias": (node.filters,)} if node.bias else {})


def _transpose_parameters(site):
    node = site.node
    kernel = tuple(_expanded(site, "kernelSize", 0))
    shapes = {"weight": (site.shape[1], node.filters // node.groups, *kernel)}
    return shapes | ({"bias": (node.filters,)} if node.bias else {})


def _affine(flag: str, size: Callable[[Site], tuple], extra: Callable[[Site], dict] = lambda site: {}):
    def parameters(site):
        shapes = {"weight": size(site), "bias": size(site)} if site.attr(flag) else {}
        return shapes | extra(site)
    return parameters


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


def _dropout_class(site):
    if not site.attr("spatial"):
        return "nn.Dropout"
    return f"nn.Dropout{min(max(site.rank - 2, 1), 3)}d"


# --- the table ---------------------------------------------------------------------------------

_MAPPINGS: dict[str, TorchMapping] = {}
# Further source spellings of some kinds, for the importer: tensor methods, and torch.max/min, which
# give (values, indices) when a dim is given.
TENSOR_METHODS = {keyword: (f"Tensor.{keyword}",) for keyword in ("relu", "sigmoid", "tanh", "softmax", "log_softmax")}
TENSOR_METHODS |= {keyword: (f"torch.{keyword}", f"Tensor.{keyword}") for keyword in ("max", "min")}


def _map(keyword: str, mapping: TorchMapping) -> None:
    _MAPPINGS[keyword] = mapping


_in_channels = Arg("in_channels", derive=_channels, positional=True)
_bias = Arg("bias", "bias", True)
for d in (1, 2, 3):
    _map(f"conv{d}d", TorchMapping(
        f"nn.Conv{d}d",
        (_in_channels, Arg("out_channels", "filters", positional=True),
         Arg("kernel_size", "kernelSize", derive=_kernel),
         _per_axis_arg("stride", "stride", 1),
         Arg("padding", derive=_conv_padding, default=0),
         _per_axis_arg("dilation", "dilation", 1),
         Arg("groups", "groups", 1), _bias,
         Arg("padding_mode", "paddingMode", "zeros", derive=_conv_padding_mode)),
        forward=_conv_forward, parameters=_conv_parameters, functions=(f"F.conv{d}d",)))
    _map(f"conv_transpose{d}d", TorchMapping(
        f"nn.ConvTranspose{d}d",
        (_in_channels, Arg("out_channels", "filters", positional=True),
         Arg("kernel_size", "kernelSize", derive=_kernel),
         _per_axis_arg("stride", "stride", 1),
         Arg("padding", default=0, derive=lambda site: compact(min(b, e) for b, e, _ in _transpose_crops(site))),
         Arg("output_padding", default=0, derive=lambda site: compact(op for _, _, op in _transpose_crops(site))),
         Arg("groups", "groups", 1), _bias,
         _per_axis_arg("dilation", "dilation", 1)),
        forward=_transpose_forward, parameters=_transpose_parameters,
        unsupported=lambda site: (None if str(site.node.paddingMode) == "zeros" else
                                  f"transposed convolution with padding_mode={site.node.paddingMode}"),
        functions=(f"F.conv_transpose{d}d",)))
    _map(f"max_pool{d}d", TorchMapping(
        f"nn.MaxPool{d}d",
        (Arg("kernel_size", "kernelSize", derive=_kernel, positional=True),
         Arg("stride", "stride", None, to_torch=compact),
         Arg("padding", default=0, derive=_pool_padding),
         _per_axis_arg("dilation", "dilation", 1),
         Arg("ceil_mode", "ceilMode", False, derive=_pool_ceil_mode)),
        forward=_pool_forward('float("-inf")'), functions=(f"F.max_pool{d}d",)))
    _map(f"avg_pool{d}d", TorchMapping(
        f"nn.AvgPool{d}d",
        (Arg("kernel_size", "kernelSize", derive=_kernel, positional=True),
         Arg("stride", "stride", None, to_torch=compact),
         Arg("padding", default=0, derive=_pool_padding),
         Arg("ceil_mode", "ceilMode", False, derive=_pool_ceil_mode),
         Arg("count_include_pad", "countIncludePad", True, derive=_count_include_pad)),
        forward=_pool_forward("0"), unsupported=_avg_pool_unsupported, functions=(f"F.avg_pool{d}d",)))
    _map(f"batch_norm{d}d", TorchMapping(
        f"nn.BatchNorm{d}d",
        (Arg("num_features", derive=_channels, positional=True), Arg("eps", "eps", 1e-5),
         Arg("momentum", "momentum", 0.1), Arg("affine", "affine", True),
         Arg("track_running_stats", "trackRunningStats", True)),
        parameters=_affine("affine", lambda site: (site.shape[1],), _running_stats),
        functions=("F.batch_norm",)))
for d in (1, 2):
    for op in ("avg", "max"):
        _map(f"adaptive_{op}_pool{d}d", TorchMapping(
            f"nn.Adaptive{op.capitalize()}Pool{d}d",
            (Arg("output_size", "outputSize", positional=True,
                 derive=lambda site: compact(_expanded(site, "outputSize", 1))),),
            functions=(f"F.adaptive_{op}_pool{d}d",)))
_map("global_avg_pool", TorchMapping(forward=_global_pool("mean")))
_map("global_max_pool", TorchMapping(forward=_global_pool("amax")))
_map("dense", TorchMapping(
    "nn.Linear",
    (Arg("in_features", derive=lambda site: site.shape[-1], positional=True),
     Arg("out_features", "units", positional=True), _bias),
    parameters=lambda site: {"weight": (site.node.units, site.shape[-1])} | (
        {"bias": (site.node.units,)} if site.node.bias else {}),
    functions=("F.linear",)))
_map("instance_norm", TorchMapping(
    lambda site: f"nn.InstanceNorm{site.rank - 2}d",
    (Arg("num_features", derive=_channels, positional=True), Arg("eps", "eps", 1e-5),
     Arg("affine", "affine", False)),
    parameters=_affine("affine", lambda site: (site.shape[1],)),
    classes=("nn.InstanceNorm1d", "nn.InstanceNorm2d", "nn.InstanceNorm3d"), functions=("F.instance_norm",)))
_map("layer_norm", TorchMapping(
    "nn.LayerNorm",
    (Arg("normalized_shape", positional=True, derive=lambda site: compact(_layer_norm_shape(site))
         if len(_layer_norm_shape(site)) == 1 else _layer_norm_shape(site)),
     Arg("eps", "eps", 1e-5), Arg("elementwise_affine", "elementwiseAffine", True), _bias),
    parameters=_layer_norm_parameters, functions=("F.layer_norm",)))
_map("group_norm", TorchMapping(
    "nn.GroupNorm",
    (Arg("num_groups", "numGroups", positional=True), Arg("num_channels", derive=_channels, positional=True),
     Arg("eps", "eps", 1e-5), Arg("affine", "affine", True)),
    parameters=_affine("affine", lambda site: (site.shape[1],)), functions=("F.group_norm",)))
_map("dropout", TorchMapping(
    _dropout_class, (Arg("p", "rate", 0.5),),
    classes=("nn.Dropout", "nn.Dropout1d", "nn.Dropout2d", "nn.Dropout3d"),
    functions=("F.dropout", "F.dropout1d", "F.dropout2d", "F.dropout3d")))
_map("embedding", TorchMapping(
    "nn.Embedding",
    (Arg("num_embeddings", "numEmbeddings", positional=True), Arg("embedding_dim", "embeddingDim", positional=True),
     Arg("padding_idx", "paddingIdx", None), Arg("max_norm", "maxNorm", None)),
    parameters=lambda site: {"weight": (site.node.numEmbeddings, site.node.embeddingDim)},
    functions=("F.embedding",)))
for keyword, cls, gates in (("simple_rnn", "nn.RNN", 1), ("lstm", "nn.LSTM", 4), ("gru", "nn.GRU", 3)):
    extra = (Arg("nonlinearity", "nonlinearity", "tanh"),) if keyword == "simple_rnn" else ()
    _map(keyword, TorchMapping(
        cls,
        (Arg("input_size", derive=lambda site: site.shape[2], positional=True),
         Arg("hidden_size", "hiddenSize", positional=True), Arg("num_layers", "numLayers", 1), *extra, _bias,
         Arg("batch_first", "batchFirst", False), Arg("dropout", "dropout", 0.0),
         Arg("bidirectional", "bidirectional", False)),
        statements=_recurrent_statements, parameters=_recurrent_parameters(gates),
        unsupported=(lambda site: None if site.attr("resetAfter") else "GRU with reset_after=false (PyTorch "
                     "applies the reset gate after the recurrent product)") if keyword == "gru" else None))
_map("multi_head_attention", TorchMapping(
    "nn.MultiheadAttention",
    (Arg("embed_dim", "embedDim", positional=True), Arg("num_heads", "numHeads", positional=True),
     Arg("dropout", "dropout", 0.0), Arg("bias", "bias", True),
     Arg("kdim", default=None, derive=lambda site: None if _attention_dims(site)[1] == site.node.embedDim
         else _attention_dims(site)[1]),
     Arg("vdim", default=None, derive=lambda site: None if _attention_dims(site)[2] == site.node.embedDim
         else _attention_dims(site)[2]),
     Arg("batch_first", default=False, derive=lambda site: True)),
    statements=_attention_statements, parameters=_attention_parameters))

for keyword, cls, args in (
        ("relu", "nn.ReLU", ()), ("relu6", "nn.ReLU6", ()), ("selu", "nn.SELU", ()), ("silu", "nn.SiLU", ()),
        ("mish", "nn.Mish", ()), ("sigmoid", "nn.Sigmoid", ()), ("hardsigmoid", "nn.Hardsigmoid", ()),
        ("hardswish", "nn.Hardswish", ()), ("tanh", "nn.Tanh", ()),
        ("leaky_relu", "nn.LeakyReLU", (Arg("negative_slope", "negativeSlope", 0.01),)),
        ("elu", "nn.ELU", (Arg("alpha", "alpha", 1.0),)),
        ("gelu", "nn.GELU", (Arg("approximate", "approximate", "none"),)),
        ("softplus", "nn.Softplus", (Arg("beta", "beta", 1.0), Arg("threshold", "threshold", 20.0))),
        ("prelu", "nn.PReLU", (Arg("num_parameters", "numParameters", 1), Arg("init", "init", 0.25))),
        ("softmax", "nn.Softmax", (Arg("dim", "axis"),)),
        ("log_softmax", "nn.LogSoftmax", (Arg("dim", "axis"),))):
    _map(keyword, TorchMapping(
        cls, args, functions=(f"F.{keyword}", f"torch.{keyword}", *TENSOR_METHODS.get(keyword, ())),
        parameters=(lambda site: {"weight": (site.node.numParameters,)}) if keyword == "prelu" else None))

_map("flatten", TorchMapping(forward=_flatten, classes=("nn.Flatten",), functions=("torch.flatten", "Tensor.flatten")))
_map("reshape", TorchMapping(forward=_reshape, functions=("torch.reshape", "Tensor.reshape", "Tensor.view")))
_map("permute", TorchMapping(forward=_permute, functions=("torch.permute", "Tensor.permute", "Tensor.transpose",
                                                            "torch.transpose")))
_map("concat", TorchMapping(forward="torch.cat([{inputs}], dim={axis})", functions=("torch.cat", "torch.concat")))
_map("stack", TorchMapping(forward="torch.stack([{inputs}], dim={axis})", functions=("torch.stack",)))
_map("split", TorchMapping(forward=_split, results="tuple", functions=("torch.split", "Tensor.split",
                                                                              "torch.chunk", "Tensor.chunk")))
for keyword, symbol in (("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")):
    _map(keyword, TorchMapping(forward=_arithmetic(symbol), functions=(f"torch.{keyword}",)))
_map("matmul", TorchMapping(forward="{x} @ {y}", functions=("torch.matmul", "torch.bmm", "Tensor.matmul")))
for keyword, method in (("mean", "mean"), ("sum", "sum"), ("max", "amax"), ("min", "amin")):
    _map(keyword, TorchMapping(forward=_reduce(method), functions=(f"torch.{method}", f"Tensor.{method}",
                                                                       *TENSOR_METHODS.get(keyword, ()))))
_map("squeeze", TorchMapping(forward=_squeeze, functions=("torch.squeeze", "Tensor.squeeze")))
_map("unsqueeze", TorchMapping(forward="{x}.unsqueeze({axis})", functions=("torch.unsqueeze", "Tensor.unsqueeze")))
_map("slice", TorchMapping(forward=_slice, functions=("Tensor.__getitem__",)))
_map("index", TorchMapping(forward=_index, functions=("Tensor.__getitem__", "Tensor.select")))
_map("normalize", TorchMapping(forward=_normalize, functions=("F.normalize",)))
_map("pad", TorchMapping(forward=_pad, classes=("nn.ZeroPad1d", "nn.ZeroPad2d", "nn.ConstantPad2d"),
                         functions=("F.pad",)))
_map("upsample", TorchMapping(forward=_upsample, classes=("nn.Upsample",), functions=("F.interpolate",)))
_map("pixel_shuffle", TorchMapping(forward="F.pixel_shuffle({x}, {upscale_factor})", classes=("nn.PixelShuffle",),
                                   functions=("F.pixel_shuffle",)))
_map("identity", TorchMapping(forward="{x}", classes=("nn.Identity",)))


def _register() -> None:
    missing = sorted(set(KINDS) - set(_MAPPINGS))
    unknown = sorted(set(_MAPPINGS) - set(KINDS))
    if missing or unknown:
        raise RuntimeError(f"PyTorch mappings and registry disagree: missing {missing}, unknown {unknown}")
    for keyword, mapping in _MAPPINGS.items():
        KINDS[keyword].mappings[TARGET] = mapping


_register()


def mapping_of(node) -> TorchMapping:
    return kind_of(node).mappings[TARGET]


# --- code generation ------------------------------------------------------------------------------

@dataclass
class ClassCode:
    """One ``nn.Module`` class of the output: a block or the model."""
    name: str
    doc: str
    params: list[str]
    init: list[str]
    forward: list[str]


class _Generation:
    def __init__(self, model):
        self.model = model
        self.diagnostics: list[Diagnostic] = []
        self.table: ShapeTable = ShapeTable()

    def run(self, source_name: str) -> str | None:
        self.table, shape_diagnostics = infer_shapes(self.model)
        self.diagnostics += shape_diagnostics
        if has_errors(self.diagnostics):
            return None
        classes = [self.graph_class(block) for block in self.model.blocks]
        classes.append(self.graph_class(self.model, doc=self.model.description or ""))
        training = _training(self.model, self.diagnostics, self.table)
        if has_errors(self.diagnostics):
            return None
        template = codegen.environment(TARGET).get_template("module.py.j2")
        values = {"header": codegen.header(source_name), "classes": classes, "training": training}
        body = template.render(imports=[], **values)
        imports = ["import torch"] if "torch." in body else []
        imports += ["import torch.nn.functional as F"] if "F." in body else []
        imports += ["from torch import nn"]
        return template.render(imports=imports, **values)

    def graph_class(self, graph, doc: str = "") -> ClassCode:
        names = OutputNames(graph, rename=py_name)
        init: list[str] = []
        forward: list[str] = []
        indent = INDENT * 2
        for node in topological_order(graph):
            if is_kind(node, "Input"):
                continue
            if is_kind(node, "Select"):
                continue  # its variable is bound where its producer is unpacked
            shapes = [self.table.operand(dep) for dep in node.inputs]
            inputs = [names.of(dep) for dep in node.inputs]
            outputs = names.outputs(node)
            if any(s is None for s in shapes) or node not in self.table:
                self.diagnostics.append(error(
                    "shape-unknown", f"cannot generate '{node.name}' in {graph.name}: its input shapes are unknown"
                    " (is the block called?)", location_of(node)))
                continue
            site = Site(node, shapes, self.table[node], inputs, outputs)
            if is_kind(node, "BlockCall"):
                if node.weightsOf is None:
                    init.append(f"{indent}{site.module} = {codegen.class_name(node.block.name)}()")
                forward.append(f"{indent}{', '.join(outputs)} = {site.module}({', '.join(inputs)})")
                continue
            forward.extend(self.node_code(site, init, indent))
        params = [py_name(n.name) for n in graph_inputs(graph)]
        returned = ", ".join(names.of(o) for o in graph.outputs)
        forward.append(f"{indent}return {returned}")
        return ClassCode(codegen.class_name(graph.name), doc.replace('"""', "'''"), params, init, forward)

    def node_code(self, site: Site, init: list[str], indent: str) -> list[str]:
        mapping = mapping_of(site.node)
        reason = mapping.unsupported(site) if mapping.unsupported else None
        if reason:
            self.diagnostics.append(error("unsupported-in-pytorch", f"'{site.node.name}': PyTorch cannot express"
                                          f" {reason}", location_of(site.node)))
            return []
        if mapping.module_class(site) and site.node.weightsOf is None:  # a sharing node reuses its owner's
            written = [s for a in mapping.args if (s := a.source(site)) is not None]
            init.append(wrap_call(f"{site.module} = {mapping.module_class(site)}(", written, indent))
        if mapping.statements:
            return [indent + line for line in mapping.statements(site)]
        targets = _tuple_results(site) if mapping.results == "tuple" else site.outputs[0]
        return [f"{indent}{targets} = {mapping.expression(site)}"]


def generate_code(model, source_name: str = "<model>") -> tuple[str | None, list[Diagnostic]]:
    """PyTorch source for ``model`` and what was found on the way (None when there are errors)."""
    generation = _Generation(model)
    with collector_paused():
        text = generation.run(source_name)
    return text, generation.diagnostics


def generate(model, source_name: str = "<model>") -> str:
    """PyTorch source for ``model``; raises NNPivotError with the diagnostics when it cannot."""
    text, diagnostics = generate_code(model, source_name)
    if text is None:
        raise NNPivotError(diagnostics)
    return text


def generate_file(model, path, source_name: str = "<model>", force: bool = False) -> list[Diagnostic]:
    """Generate into ``path`` atomically; an existing file needs ``force`` (else ``output-exists``)."""
    fileio.refuse_existing(path, force)
    text, diagnostics = generate_code(model, source_name)
    if text is None:
        raise NNPivotError(diagnostics)
    codegen.write_atomic(path, text, force=force)
    return diagnostics


# --- training function -----------------------------------------------------------------------

# optimizer -> torch class and how each pivot parameter (Keras-like names) is passed
OPTIMIZERS: dict[str, tuple[str, dict[str, str]]] = {
    "sgd": ("torch.optim.SGD", {"momentum": "momentum", "nesterov": "nesterov", "weight_decay": "weight_decay"}),
    "adam": ("torch.optim.Adam", {"epsilon": "eps", "weight_decay": "weight_decay", "amsgrad": "amsgrad"}),
    "adamw": ("torch.optim.AdamW", {"epsilon": "eps", "weight_decay": "weight_decay", "amsgrad": "amsgrad"}),
    "rmsprop": ("torch.optim.RMSprop", {"rho": "alpha", "momentum": "momentum", "epsilon": "eps",
                                        "weight_decay": "weight_decay", "centered": "centered"}),
    "adagrad": ("torch.optim.Adagrad", {"epsilon": "eps", "weight_decay": "weight_decay",
                                        "initial_accumulator_value": "initial_accumulator_value"}),
}
BOOLEAN_OPTIONS = frozenset({"nesterov", "amsgrad", "centered"})

# cross_entropy takes class indices, categorical_cross_entropy probabilities: CrossEntropyLoss takes both
LOSSES: dict[str, str] = {
    "cross_entropy": "nn.CrossEntropyLoss()", "categorical_cross_entropy": "nn.CrossEntropyLoss()",
    "binary_cross_entropy": "nn.BCELoss()", "nll": "nn.NLLLoss()", "mse": "nn.MSELoss()", "mae": "nn.L1Loss()",
    "huber": "nn.HuberLoss()",
}

# metric -> what one batch adds to its running sum (divided by the samples seen at the end)
METRICS: dict[str, str] = {
    "accuracy": "(outputs.argmax(dim=1) == targets).sum().item()",
    "binary_accuracy": "((outputs > 0.5).float() == targets).sum().item()",
    "categorical_accuracy": "(outputs.argmax(1) == targets.argmax(1)).sum().item()",
    "mse": "((outputs - targets) ** 2).mean().item() * len(targets)",
    "mae": "(outputs - targets).abs().mean().item() * len(targets)",
}


def _training(model, diagnostics: list[Diagnostic], table: ShapeTable) -> dict | None:
    config = model.training
    if config is None:
        return None
    where = location_of(config)
    optimizer = config.optimizer
    kind = optimizer.kind if optimizer is not None else "adam"
    if kind not in OPTIMIZERS:
        diagnostics.append(error("unknown-optimizer", f"no PyTorch optimizer for '{kind}'", where))
        return None
    cls, renames = OPTIMIZERS[kind]
    options = ["lr=learning_rate"]
    values = {p.key: p.value for p in optimizer.parameters} if optimizer is not None else {}
    if "beta_1" in values or "beta_2" in values:
        options.append(f"betas={literal((values.get('beta_1', 0.9), values.get('beta_2', 0.999)))}")
    for key, value in values.items():
        if key in ("beta_1", "beta_2"):
            continue
        if key not in renames:
            diagnostics.append(warning("unsupported-optimizer-parameter",
                                       f"optimizer {kind}: '{key}' has no PyTorch counterpart and is left out",
                                       location_of(optimizer)))
            continue
        options.append(f"{renames[key]}={literal(bool(value) if key in BOOLEAN_OPTIONS else value)}")
    loss = config.loss or "cross_entropy"
    if loss not in LOSSES:
        diagnostics.append(error("unknown-loss", f"no PyTorch loss for '{loss}'", where))
        return None
    metrics = []
    outputs = list(model.outputs)
    binary = loss == "binary_cross_entropy" or (
        len(outputs) == 1 and (shape := table.operand(outputs[0])) is not None and shape[-1] == 1)
    accuracy = ("binary_accuracy" if binary else
                "categorical_accuracy" if loss == "categorical_cross_entropy" else "accuracy")
    for metric in config.metrics:
        name = accuracy if metric == "accuracy" else metric
        if name not in METRICS:
            diagnostics.append(warning("unknown-metric", f"metric '{metric}' is left out of the PyTorch training"
                                       " function", where))
            continue
        metrics.append({"name": metric, "var": identifier(metric) + "_sum", "increment": METRICS[name]})
    several = len(graph_inputs(model)) > 1
    # A model that ends in softmax outputs probabilities; CrossEntropyLoss of their logarithm is
    # the cross-entropy Keras computes on probabilities, for class-index and one-hot targets alike.
    probabilities = loss in ("cross_entropy", "categorical_cross_entropy") and len(outputs) == 1 and (
        is_kind(outputs[0], "Softmax"))
    parameters = ["model", "dataset", f"epochs={config.epochs}", f"batch_size={config.batchSize}",
                  f"learning_rate={literal(optimizer.learningRate if optimizer is not None else 0.001)}"]
    return {
        "signature": wrap_call("def train(", parameters, "", "):"),
        "optimizer": wrap_call(f"optimizer = {cls}(", ["model.parameters()", *options], INDENT),
        "loss_input": "torch.log(outputs)" if probabilities else "outputs", "probabilities": probabilities,
        "loss": LOSSES[loss], "loss_name": loss, "optimizer_name": kind,
        "metrics": metrics, "batch": "*inputs, targets" if several else "inputs, targets",
        "call": ("model(*inputs)" if several else "model(inputs)") + ("[0]" if len(outputs) > 1 else ""),
    }


# --- weights -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParameterSlot:
    """One parameter the model expects: its pivot key, its state_dict key and its shape."""
    pivot_key: str
    torch_key: str
    shape: tuple
    node: Any


def parameter_slots(model, table: ShapeTable | None = None) -> list[ParameterSlot]:
    """Every parameter of ``model`` with its shape, blocks expanded per call (pivot key order)."""
    if table is None:
        table, diagnostics = infer_shapes(model)
        if has_errors(diagnostics):
            raise NNPivotError(diagnostics)
    slots: list[ParameterSlot] = []

    def visit(graph, pivot_prefix: str, torch_prefix: str):
        for node in graph.nodes:
            if node.weightsOf is not None:
                continue  # computes with its owner's parameters: no keys of its own
            if is_kind(node, "BlockCall"):
                visit(node.block, f"{pivot_prefix}{node.name}.", f"{torch_prefix}{py_name(node.name)}.")
                continue
            kind = kind_of(node)
            if kind is None or node not in table:
                continue
            mapping = kind.mappings[TARGET]
            if mapping.parameters is None:
                continue
            site = Site(node, [table.operand(dep) for dep in node.inputs], table[node])
            for name, shape in mapping.parameters(site).items():
                slots.append(ParameterSlot(f"{pivot_prefix}{node.name}.{name}",
                                           f"{torch_prefix}{py_name(node.name)}.{name}", tuple(shape), node))

    visit(model, "", "")
    return slots


def _tracked_batch_norms(model, slots) -> list[str]:
    """state_dict keys of the ``num_batches_tracked`` buffers the generated modules hold."""
    return sorted({s.torch_key.rsplit(".", 1)[0] + ".num_batches_tracked" for s in slots
                   if s.torch_key.endswith(".running_mean")})


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def store_from_state_dict(model, state_dict, copy: bool = True) -> tuple:
    """Read a PyTorch ``state_dict`` of the generated model into a pivot WeightStore.

    Returns ``(store, diagnostics)``: ``weight-shape-mismatch`` and ``weight-missing``
    are errors, ``weight-unexpected`` a warning; ``num_batches_tracked`` is dropped.
    ``copy=False`` lets the store share the tensors' memory, for a state_dict
    nobody else holds (one just read from a file).
    """
    from nnpivot.weights import WeightStore

    slots = {s.torch_key: s for s in parameter_slots(model)}
    store, diagnostics = WeightStore(), []
    for key, tensor in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        slot = slots.get(key)
        if slot is None:
            diagnostics.append(warning("weight-unexpected", f"the checkpoint has '{key}', which the model does not"
                                       " use"))
            continue
        array = tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor
        if tuple(array.shape) != slot.shape:
            diagnostics.append(error("weight-shape-mismatch", f"'{slot.pivot_key}' has shape {_shape_text(array.shape)}"
                                     f" in the checkpoint but the model expects {_shape_text(slot.shape)}",
                                     location_of(slot.node)))
            continue
        store[slot.pivot_key] = array.copy() if copy else array
    for key, slot in slots.items():
        if key not in state_dict:
            diagnostics.append(error("weight-missing", f"the checkpoint has no '{key}' ({slot.pivot_key},"
                                     f" shape {_shape_text(slot.shape)})", location_of(slot.node)))
    return store, diagnostics


def state_dict_from_store(model, store, copy: bool = True) -> dict:
    """The ``state_dict`` of the generated model from a pivot WeightStore (raises on missing or misshapen).

    ``copy=False`` lets the tensors share the store's arrays where torch can (a
    state_dict that is only written to a file).
    """
    import torch

    slots = parameter_slots(model)
    diagnostics, state = [], {}
    for slot in slots:
        array = store.get(slot.pivot_key)
        if array is None:
            diagnostics.append(error("weight-missing", f"the weight store has no '{slot.pivot_key}'",
                                     location_of(slot.node)))
        elif tuple(array.shape) != slot.shape:
            diagnostics.append(error("weight-shape-mismatch", f"'{slot.pivot_key}' has shape "
                                     f"{_shape_text(array.shape)} but the model expects {_shape_text(slot.shape)}",
                                     location_of(slot.node)))
        else:
            shareable = not copy and array.flags.writeable and array.flags.c_contiguous
            state[slot.torch_key] = torch.from_numpy(array if shareable else array.copy())
    if has_errors(diagnostics):
        raise NNPivotError(diagnostics)
    for key in _tracked_batch_norms(model, slots):
        state[key] = torch.tensor(0, dtype=torch.long)
    return state


_CHECKPOINT_WRAPPERS = ("state_dict", "model_state_dict", "model")


def read_checkpoint(path) -> dict:
    """A ``state_dict`` from a ``.pt`` file (``torch.load(weights_only=True)``), unwrapping
    ``{"state_dict": ...}``-style training checkpoints."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise NNPivotError([error("file-not-found", f"{path}: no such file", Location(str(path)))]) from None
    except Exception as exc:  # noqa: BLE001 - a pickle torch refuses, a truncated or foreign file
        raise NNPivotError([error("weights-unreadable", f"{path}: not a PyTorch state_dict ({exc})",
                                  Location(str(path)))]) from None
    for wrapper in _CHECKPOINT_WRAPPERS:
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise NNPivotError([error("weights-unreadable", f"{path}: holds no mapping of names to tensors",
                                  Location(str(path)))])
    return dict(data)


def write_checkpoint(state_dict, path, force: bool = False) -> None:
    """Save a ``state_dict`` as a ``.pt`` file, atomically (``output-exists`` unless ``force``)."""
    import torch

    fileio.refuse_existing(path, force)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    fileio.write_atomic(path, lambda stream: torch.save(tensors, stream), force=force)  # streamed, not buffered


def read_weights(model, path) -> tuple:
    """A pivot WeightStore from a ``.pt`` checkpoint of ``model`` and the diagnostics."""
    return store_from_state_dict(model, read_checkpoint(path), copy=False)


def write_weights(model, store, path, force: bool = False) -> None:
    """Write a pivot WeightStore as the ``.pt`` state_dict of the generated PyTorch model."""
    write_checkpoint(state_dict_from_store(model, store, copy=False), path, force=force)


__all__ = [
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "Arg",
    "ParameterSlot",
    "Site",
    "TorchMapping",
    "generate",
    "generate_code",
    "generate_file",
    "mapping_of",
    "parameter_slots",
    "read_checkpoint",
    "read_weights",
    "state_dict_from_store",
    "store_from_state_dict",
    "write_checkpoint",
    "write_weights",
]
