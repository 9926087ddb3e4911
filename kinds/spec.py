"""The registry entry of a kind: how it is written in the DSL, what it needs, its shape and examples.

Attribute names, types and defaults are not repeated here: they are read from
the EClass in ``nn.ecore``. Each family module (convolution, pooling, ...)
declares its kinds with :func:`kind` and attaches both framework mappings with
:func:`pytorch` and :func:`keras`; ``nnpivot.kinds`` gathers and checks them.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyecore.ecore import EAttribute, EClass, EEnum

from nnpivot.metamodel import eclass

MANY = None  # no upper bound on the number of inputs

# Per-spatial-axis attributes. Canonical form: one value when every axis agrees
# (kernel_size [3, 3] is stored as [3]); an empty list means the documented default.
PER_AXIS = frozenset({"kernelSize", "stride", "dilation", "outputPadding", "outputSize"})


def canonical_per_axis(values: list) -> list:
    values = list(values)
    return values[:1] if len(values) > 1 and len(set(values)) == 1 else values


@dataclass(frozen=True)
class Example:
    """A one-kind model used by tests: input declarations and the node's call."""
    call: str                      # DSL right-hand side, e.g. "conv2d(x, 8, kernel_size=3)"
    inputs: tuple[str, ...] = ("x: float32[3, 16, 16]",)


@functools.cache  # eAllStructuralFeatures() walks the supertypes on every call
def _attributes(cls: EClass) -> tuple[EAttribute, ...]:
    skip = {"name", "inferredShape"}
    return tuple(f for f in cls.eAllStructuralFeatures() if isinstance(f, EAttribute) and f.name not in skip)


@dataclass
class Kind:
    keyword: str
    eclass_name: str
    shape: Callable
    summary: str
    examples: tuple[Example, ...]
    positional: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    arity: tuple[int, int | None] = (1, 1)
    category: str = "layer"
    mappings: dict[str, Any] = field(default_factory=dict)  # "pytorch"/"keras" -> framework mapping
    output_count: int | Callable[[Any], int] = 1  # outputs of a node: a number, or a function of the node

    @property
    def eclass(self):
        return eclass(self.eclass_name)

    def attributes(self) -> tuple[EAttribute, ...]:
        """The kind's hyper-parameters in pyecore's order (DSL keyword arguments are printed in it)."""
        return _attributes(self.eclass)

    def attribute(self, name: str) -> EAttribute | None:
        return next((a for a in self.attributes() if a.name == name), None)

    @property
    def spatial_dims(self) -> int | None:
        """Number of spatial axes of a 1d/2d/3d kind (conv2d -> 2); None for the others."""
        match = re.search(r"(\d)d$", self.eclass_name)
        return int(match.group(1)) if match else None

    def outputs(self, node) -> int:
        """How many outputs a node of this kind has."""
        return self.output_count(node) if callable(self.output_count) else self.output_count


def snake(name: str) -> str:
    """DSL spelling of a metamodel feature: kernelSize -> kernel_size."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def is_enum(attribute: EAttribute) -> bool:
    return isinstance(attribute.eType, EEnum)


# Input declarations of the examples.
IMG = ("x: float32[3, 16, 16]",)
SEQ = ("x: float32[7, 12]",)
VEC = ("x: float32[20]",)
TWO_MAPS = ("x: float32[4, 8, 8]", "y: float32[4, 8, 8]")
VOLUME = ("x: float32[2, 6, 8, 8]",)
SIGNAL = ("x: float32[3, 20]",)
SPATIAL = {1: SIGNAL, 2: IMG, 3: VOLUME}  # maps of 1, 2 and 3 spatial axes


KINDS: dict[str, Kind] = {}      # keyword -> entry, in declaration order
BY_ECLASS: dict[str, Kind] = {}  # EClass name -> entry


def kind(keyword, eclass_name, shape, summary, examples, **kw) -> Kind:
    """Declare a kind; its family module then attaches its framework mappings."""
    if keyword in KINDS or eclass_name in BY_ECLASS:
        raise RuntimeError(f"kind {keyword} ({eclass_name}) declared twice")
    entry = Kind(keyword, eclass_name, shape, summary, tuple(examples), **kw)
    KINDS[keyword] = BY_ECLASS[eclass_name] = entry
    return entry


def _attach(target: str, keyword: str, mapping) -> None:
    entry = KINDS[keyword]
    if target in entry.mappings:
        raise RuntimeError(f"kind {keyword} has two {target} mappings")
    entry.mappings[target] = mapping


def pytorch(keyword: str, mapping) -> None:
    """How ``keyword`` is written in PyTorch (a ``torch_mapping.TorchMapping``)."""
    _attach("pytorch", keyword, mapping)


def keras(keyword: str, mapping) -> None:
    """How ``keyword`` is written in Keras 3 (a ``keras_mapping.KerasMapping``)."""
    _attach("keras", keyword, mapping)


def ex(call, inputs=IMG) -> Example:
    """An example: the DSL call of the kind and the model inputs it reads."""
    return Example(call, tuple(inputs))


def kind_of(node) -> Kind | None:
    """The registry entry of a node, None for Input, Select and BlockCall."""
    return BY_ECLASS.get(node.eClass.name)
