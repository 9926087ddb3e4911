"""The pivot weight store: trained parameters keyed by node path and canonical name.

Keys are ``"<node>.<param>"``, with block calls adding their prefix
(``"res1.conv_a.weight"``). Canonical parameter names and array layouts are
the pivot's, which follow PyTorch's channels-first conventions:

* dense: ``weight`` (units, in_features), ``bias``
* conv: ``weight`` (filters, in_channels / groups, *kernel), ``bias``
* transposed conv: ``weight`` (in_channels, filters / groups, *kernel), ``bias``
* batch norm: ``weight``, ``bias``, ``running_mean``, ``running_var``
* layer/group/instance norm: ``weight``, ``bias``
* embedding: ``weight`` (num_embeddings, embedding_dim)
* simple RNN / LSTM / GRU: ``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}[_reverse]``,
  ``bias_ih_l{k}[_reverse]``, ``bias_hh_l{k}[_reverse]``; gates in PyTorch order
  (LSTM i, f, g, o; GRU r, z, n)
* PReLU: ``weight`` (num_parameters,)
* multi-head attention: ``in_proj_weight`` (3E, E), ``in_proj_bias``, ``out_proj.weight``,
  ``out_proj.bias`` (``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when kdim or vdim differ)

A Dense fed by a Flatten of feature maps therefore has its input features in
channels-first (C, H, W) order; converters to channels-last formats reorder them.

A node sharing the weights of another (``weightsOf``, ``shares=`` in the DSL) has
no keys of its own: it computes with its owner's arrays (for a block call, with
every ``"<owner call>.<inner>.<param>"`` array of the owner).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nnpivot.lazy import lazy_module

np = lazy_module("numpy")  # loaded when arrays are stored: naming WeightStore costs nothing
safetensors_numpy = lazy_module("safetensors.numpy")  # for .safetensors stores only


class WeightStore:
    """An ordered mapping of parameter key -> float32/int numpy array in pivot layout."""

    def __init__(self, arrays: dict[str, np.ndarray] | None = None):
        self._arrays: dict[str, np.ndarray] = {}
        self._by_prefix: dict[str, list[str]] | None = None  # node path -> its keys, built on first use
        # Set by an owner that reads nothing from the store after writing it: a writer may then drop each
        # node's arrays once converted (discard), so a large checkpoint is not held twice.
        self.release_written = False
        for key, value in (arrays or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value) -> None:
        if key not in self._arrays:
            self._by_prefix = None
        self._arrays[key] = np.asarray(value)

    def __getitem__(self, key: str) -> np.ndarray:
        return self._arrays[key]

    def __contains__(self, key: str) -> bool:
        return key in self._arrays

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def items(self):
        return self._arrays.items()

    def keys(self):
        return self._arrays.keys()

    def get(self, key: str, default=None):
        return self._arrays.get(key, default)

    def for_node(self, path: str) -> dict[str, np.ndarray]:
        """The parameters of one node, keyed by canonical name (from an index, so asking for every node
        of a large model stays linear)."""
        if self._by_prefix is None:
            self._by_prefix = {}
            for key in self._arrays:
                for dot in (i for i, ch in enumerate(key) if ch == "."):
                    self._by_prefix.setdefault(key[:dot], []).append(key)
        start = len(path) + 1
        return {k[start:]: self._arrays[k] for k in self._by_prefix.get(path, ()) if k in self._arrays}

    def discard(self, path: str) -> None:
        """Drop the arrays of one node (the index keeps their keys; ``for_node`` skips them)."""
        self.for_node(path)  # builds the index
        for key in self._by_prefix.get(path, ()):
            self._arrays.pop(key, None)

    def save(self, path: str | os.PathLike) -> None:
        """Write as ``.npz`` (or ``.safetensors``), atomically."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
        os.close(fd)
        try:
            if path.suffix == ".safetensors":
                safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in self._arrays.items()}, tmp)
            else:
                with open(tmp, "wb") as stream:
                    np.savez(stream, **self._arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> WeightStore:
        path = Path(path)
        if path.suffix == ".safetensors":
            return cls(safetensors_numpy.load_file(str(path)))
        with np.load(path, allow_pickle=False) as data:
            return cls({k: data[k] for k in data.files})
