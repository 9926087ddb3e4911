"""Axis permutations between the pivot layout and a target framework's layout.

The pivot is channels-first (N, C, spatial...) for feature maps and (N, T, F)
for sequences. A target tensor is described by a permutation ``perm`` of the
pivot tensor's axes: target axis ``j`` holds pivot axis ``perm[j]``, i.e.
``target = transpose(pivot, perm)``. The identity means "as in the pivot";
``channels_last(rank)`` moves the channel axis to the end (Keras' idiom).
A feature axis that merges several pivot axes in another order (a Flatten of
channels-last maps) is not a permutation of axes; generators track it apart.
"""
from __future__ import annotations

Perm = tuple[int, ...]


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def channels_last(rank: int) -> Perm:
    """(N, C, S1, ..., Sk) -> (N, S1, ..., Sk, C); ranks below 3 have no spatial axes to move past."""
    return identity(rank) if rank < 3 else (0, *range(2, rank), 1)


def keras_boundary(rank: int) -> Perm:
    """The Keras layout of every model input and output of rank ``rank``: the contract of generated Keras code
    and the reading of the Keras importer.

    Rank >= 4 tensors (images, volumes, any feature map) are channels-last, Keras' convention, whatever node
    reads or produces them (a block included); lower ranks keep the pivot's order: a rank-3 tensor is an
    (N, T, F) sequence in both frameworks (a 1-D feature map cannot be told apart from one).
    """
    return channels_last(rank) if rank >= 4 else identity(rank)


def is_identity(perm: Perm) -> bool:
    return tuple(perm) == identity(len(perm))


def inverse(perm: Perm) -> Perm:
    result = [0] * len(perm)
    for position, axis in enumerate(perm):
        result[axis] = position
    return tuple(result)


def target_axis(perm: Perm, pivot_axis: int) -> int:
    """Where pivot axis ``pivot_axis`` (negative counts from the end) sits in the target tensor."""
    return perm.index(pivot_axis % len(perm))


def conversion(current: Perm, wanted: Perm) -> Perm:
    """The ``transpose`` axes turning a tensor laid out as ``current`` into one laid out as ``wanted``."""
    return tuple(current.index(axis) for axis in wanted)


def drop_axes(perm: Perm, pivot_axes) -> Perm:
    """The layout left when ``pivot_axes`` are removed (reductions, index, squeeze)."""
    removed = sorted({a % len(perm) for a in pivot_axes})
    return tuple(a - sum(r < a for r in removed) for a in perm if a not in removed)


def insert_axis(perm: Perm, pivot_axis: int) -> Perm:
    """The layout after a new pivot axis ``pivot_axis`` is inserted (unsqueeze, stack).

    The new axis goes right after the target position of the pivot axis before it,
    so an identity stays an identity.
    """
    shifted = [a + 1 if a >= pivot_axis else a for a in perm]
    position = shifted.index(pivot_axis - 1) + 1 if pivot_axis > 0 else 0
    return tuple(shifted[:position] + [pivot_axis] + shifted[position:])


def through_permute(dims, wanted_out: Perm) -> Perm:
    """Input layout that makes ``permute(x, dims)`` a no-op when its output should be ``wanted_out``."""
    return tuple(dims[j] for j in wanted_out)


def after_permute(dims, current_in: Perm) -> Perm:
    """Layout of ``permute(x, dims)``'s output when the target tensor is left untouched."""
    inv = inverse(tuple(d % len(dims) for d in dims))
    return tuple(inv[a] for a in current_in)
