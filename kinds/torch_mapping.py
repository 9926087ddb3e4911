"""How a kind is written in PyTorch: the mapping data structure and the helpers kinds share.

Each family module gives every kind one :class:`TorchMapping`:

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
* ``results``: how a multi-output expression unpacks.
* ``classes`` / ``functions``: every spelling of the kind in PyTorch source, for
  the importer that reads this table backwards; ``reader`` names the importer's
  argument reader of a kind whose call is not a constructor's (``torch.cat``,
  ``x.view``, ``F.pad``), and ``generated``/``implied`` the class the generated
  code defines for a kind torch lacks, which the importer reads back as the kind.
* ``parameters``: the ``state_dict`` entries of one node and their shapes, which
  are also the pivot's canonical names (the pivot layout is PyTorch's).

No torch import: the mapping is data and small functions.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnpivot.metamodel import weights_owner
from nnpivot.metamodel.blocks import iteration_of
from nnpivot.metamodel.shapes import per_axis, spatial_geometry

from .pysyntax import CODE_BUILTINS, attribute_value, is_symbolic, literal, python_name, same_value
from .spec import kind_of, snake

REQUIRED = object()  # an argument torch has no default for: always written


# Names a submodule or a local variable must not take in generated code: the module aliases and every public
# attribute of nn.Module (a submodule named ``compile`` would be shadowed by the method; private ones start with
# ``_``, which ``pysyntax.python_name`` never leaves as it is). tests/test_quoting.py checks the list against torch.
RESERVED = frozenset({
    "self", "torch", "nn", "F", "super", "forward", "training", "train", "eval", "parameters", "buffers",
    "children", "modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "float", "double", "half",
    "apply", "zero_grad", "register_buffer", "register_parameter", "add_module", "named_parameters",
    "named_modules", "named_children", "named_buffers", "requires_grad_", "type", "extra_repr", "get_submodule",
    "get_parameter", "get_buffer", "share_memory", "dump_patches", "call_super_init", *CODE_BUILTINS,
    "T_destination", "bfloat16", "compile", "get_extra_state", "ipu", "mtia", "register_backward_hook",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_state_dict_post_hook", "register_state_dict_pre_hook", "set_extra_state",
    "set_submodule", "to_empty", "xpu",
    "same_padded",  # the generated helper of run-time 'same' padding (SAME_PADDED_CODE)
    "ProjectedAttention", "ConvLSTM2d", "FeatureNormalization",  # generated modules (kinds/attention.py, recurrent.py,
    # normalization.py)
})


def py_name(name: str) -> str:
    """The Python name of a pivot node: its own name unless that would clash (see ``pysyntax.python_name``)."""
    return python_name(name, RESERVED)


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
        return f"self.{module_path(weights_owner(self.node))}"

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


def module_path(node) -> str:
    """The attribute of ``node``'s module: ``conv``, or ``conv[2]`` for iteration 2 of a loop's node (its
    module is item 2 of the ``nn.ModuleList`` the loop fills)."""
    iteration = iteration_of(node)
    if iteration is None:
        return py_name(node.name)
    return f"{py_name(iteration[0].name)}[{iteration[1]}]"


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
    # The pivot value from all the bound torch arguments, for a value torch spreads over several
    # (a depthwise multiplier is out_channels / in_channels): the importer's inverse of ``derive``.
    read: Callable[[dict], Any] | None = None

    def value(self, site: Site):
        if self.derive is not None:
            return self.derive(site)
        value = site.attr(self.pivot)
        return self.to_torch(value) if self.to_torch else value

    def source(self, site: Site) -> str | None:
        """The argument as written in the constructor call, or None when it is torch's default."""
        value = self.value(site)
        if self.default is not REQUIRED and same_value(value, self.default):
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
    # For a kind written with another kind's class (a depthwise convolution is an nn.Conv2d): whether
    # the bound constructor arguments of that class mean this kind. The importer asks it first.
    recognise: Callable[[dict], bool] | None = None
    # For a kind held as a bare tensor rather than a submodule: the right-hand side of ``self.<node> = ...``
    # in ``__init__`` (``nn.Parameter(torch.zeros(...))``); its one parameter's state_dict key is ``<node>``.
    declaration: Callable[[Site], str] | None = None
    # For a kind written as an expression: the name of the PyTorch importer's reader of its arguments (the
    # reader needs the interpreter's values, so the importer holds it; kinds with one call shape share one).
    reader: str | None = None
    # The positional parameters of a spelling whose constructor takes them in another order than ``args``, or takes
    # others between them (nn.MaxPool2d's return_indices comes before ceil_mode): spelling -> parameter names.
    signatures: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # For a kind torch lacks: the class the generated code defines for it (its code in HELPERS), read back as
    # the kind when the source holds exactly that code, with the constructor arguments it implies.
    generated: str | None = None
    implied: dict[str, Any] = field(default_factory=dict)
    # Statements ``__init__`` runs after constructing the module (``{module}`` is its attribute): settings torch's
    # constructor has no argument for (a parameter kept frozen).
    after_init: Callable[[Site], list[str]] | None = None

    def module_class(self, site: Site) -> str | None:
        return self.module(site) if callable(self.module) else self.module

    def constructor(self, site: Site) -> str:
        """``nn.X(args)`` with only the arguments that differ from torch's defaults."""
        written = [s for a in self.args if (s := a.source(site)) is not None]
        return f"{self.module_class(site)}({', '.join(written)})"

    def expression(self, site: Site) -> str:
        return self.forward(site) if callable(self.forward) else self.forward.format(**site.fields())


# TensorFlow's 'same' padding at a stride above 1 depends on the input size (ceil(size / stride) outputs, the odd
# pad at the end), which no PyTorch layer computes: generated code calls this helper, written once per module
# that needs it, and the PyTorch importer reads a call of it (recognised by its exact code) back as 'same'.
SAME_PADDED = "same_padded"
SAME_PADDED_CODE = '''def same_padded(layer, x, mode="constant", value=None):
    """``layer(x)`` with TensorFlow's 'same' padding, computed for the size of ``x`` at every call."""
    dims = x.dim() - 2

    def per_axis(setting):
        return tuple(setting) if isinstance(setting, tuple) else (setting,) * dims

    kernel, stride = per_axis(layer.kernel_size), per_axis(layer.stride)
    dilation = per_axis(getattr(layer, "dilation", 1))
    pads = []
    for axis in reversed(range(dims)):  # F.pad takes the last axis first
        size, step = x.shape[2 + axis], stride[axis]
        span = (kernel[axis] - 1) * dilation[axis] + 1
        total = max((-(-size // step) - 1) * step + span - size, 0)
        pads += [total // 2, total - total // 2]
    padded = F.pad(x, pads, mode, value)
    if isinstance(layer, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        # TensorFlow averages over the cells of x only: divide by the share of them in each window
        return layer(padded) / layer(F.pad(torch.ones_like(x[:1, :1]), pads))
    return layer(padded)
'''


# Code the generated module holds when its classes call it: name -> definition (kinds add theirs).
HELPERS: dict[str, str] = {SAME_PADDED: SAME_PADDED_CODE}


def same_padded(site, **options) -> str:
    """The call of :data:`SAME_PADDED_CODE` computing the node (its layer with run-time 'same' pads)."""
    extra = "".join(f", {key}={value}" for key, value in options.items())
    return f"{SAME_PADDED}({site.module}, {site.x}{extra})"


def runtime_same(site) -> bool:
    """A 'same' node whose pads depend on the input size (a stride above 1), or may (a stride a parameterised
    block binds to its parameters, so one class serves every value): padded by :data:`SAME_PADDED_CODE`."""
    return str(site.node.padding) == "same" and any(s > 1 or is_symbolic(s) for s in geometry(site)[1])


def compact(values):
    """One value when every axis has it, else a tuple (``3`` rather than ``(3, 3)``)."""
    values = list(values)
    if not values:
        return None
    return values[0] if len(set(values)) == 1 else tuple(values)


def expanded(site: Site, name: str, default: int):
    return per_axis(site.attr(name), site.spatial, default, snake(name))


def kernel_size_of(site):
    return compact(expanded(site, "kernelSize", 0))


def per_axis_arg(name: str, pivot: str, default: int) -> Arg:
    """A per-spatial-axis argument (stride, dilation) written once when every axis agrees."""
    return Arg(name, pivot, default, derive=lambda site: compact(expanded(site, pivot, default)))


def geometry(site):
    return spatial_geometry(site.node, site.shape, site.spatial)


def torch_pad_order(pairs) -> tuple:
    """Per-axis (begin, end) pairs in axis order as ``F.pad``'s tuple (last axis first)."""
    return tuple(v for begin, end in reversed(list(pairs)) for v in (begin, end))


def is_symmetric(pads) -> bool:
    return all(b == e for b, e in pads)


def cropped(call: str, crops) -> str:
    """``call[:, :, a:-b, ...]`` dropping (begin, end) outputs per spatial axis; ``call`` when none."""
    slices = [f"{head or ''}:{-tail if tail else ''}" for head, tail in crops]
    while slices and slices[-1] == ":":
        slices.pop()
    return f"{call}[{', '.join([':', ':'] + slices)}]" if slices else call


def keywords(site, pairs) -> str:
    """``, key=value`` for each (key, value, default) whose value is not the default."""
    return "".join(f", {key}={literal(value)}" for key, value, default in pairs if not same_value(value, default))


# The attributes that declare a node's input size (0: inferred from the input's shape).
DECLARED_INPUT_SIZES = ("inChannels", "numFeatures", "inFeatures")


def declared_size(site, size):
    """``size`` of the input, written as the node's declared input size where that is a block's expression
    for it (a symbolic number equal to it): in a parameterised block or a loop, the code then computes the
    size from the parameters (``in_channels + i * growth_rate``) rather than fixing one call's."""
    for name in DECLARED_INPUT_SIZES:
        if site.node.eClass.findEStructuralFeature(name) is not None:
            declared = getattr(site.node, name)
            if is_symbolic(declared) and declared == size:
                return declared
    return size


def channels_of(site):
    return declared_size(site, site.shape[1])


def affine(flag: str, size: Callable[[Site], tuple], extra: Callable[[Site], dict] = lambda site: {}):
    def parameters(site):
        shapes = {"weight": size(site), "bias": size(site)} if site.attr(flag) else {}
        return shapes | extra(site)
    return parameters

