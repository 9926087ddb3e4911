"""Kind modules: everything one layer kind means, in the pivot and in each framework.

One module per family (``core``, ``convolution``, ``pooling``,
``normalization``, ``recurrent``, ``attention``, ``activations``,
``tensor_ops``) declares each of its kinds once: the registry entry (DSL
keyword, positional arguments, arity, outputs, shape function, examples) and
both framework mappings (how the kind is written in PyTorch and in Keras, the
spellings the importers recognise, how its weights convert), as data and small
functions with no torch, TensorFlow or numpy import. Adding a kind is one entry
in a family module plus its EClass in ``nn.ecore``.

Layers depend one way: metamodel <- kinds <- importers / validators /
generators <- pipeline and API <- CLI.
"""
from nnpivot.metamodel import concrete_node_classes

# Each family declares its kinds when imported; import order is declaration order (the order of
# `nnpivot layers` and of the README's table).
# isort: off
from . import core, convolution, pooling, normalization, recurrent, attention, activations, tensor_ops  # noqa: F401
# isort: on
from .spec import (
    BY_ECLASS,
    KINDS,
    MANY,
    PER_AXIS,
    Example,
    Kind,
    camel,
    canonical_per_axis,
    is_enum,
    kind_of,
    snake,
)

TARGETS = ("pytorch", "keras")
STRUCTURAL = frozenset({"Input", "Select", "BlockCall"})  # node classes that are not layer kinds


def _check() -> None:
    """Every concrete node EClass but the structural ones has one complete entry."""
    classes = {c.name for c in concrete_node_classes()} - STRUCTURAL
    missing, extra = classes - set(BY_ECLASS), set(BY_ECLASS) - classes
    if missing or extra:
        raise RuntimeError(f"kinds and metamodel disagree: missing {sorted(missing)}, unknown {sorted(extra)}")
    for entry in KINDS.values():
        for name in (*entry.positional, *entry.required):
            if entry.attribute(name) is None:
                raise RuntimeError(f"{entry.keyword}: {name} is not an attribute of {entry.eclass_name}")
        absent = [target for target in TARGETS if target not in entry.mappings]
        if absent:
            raise RuntimeError(f"kind {entry.keyword} has no {' or '.join(absent)} mapping")


_check()

__all__ = ["BY_ECLASS", "KINDS", "MANY", "PER_AXIS", "STRUCTURAL", "TARGETS", "Example", "Kind",
           "camel", "canonical_per_axis", "is_enum", "kind_of", "snake"]
