"""The .nn textual syntax: the textX grammar (``nn.tx``) and its textX metamodel.

The grammar sits below the importers: this package imports none of them. The
names the rest of the world finds here live where they belong and are loaded
on first use, by name (``_ELSEWHERE``):

* ``parse_text``/``parse_file``: the .nn importer, :mod:`nnpivot.importers.nn_text`;
* ``nn_language`` and the ``*_generator`` functions: the textX registrations
  (setup.cfg's ``textx_languages``/``textx_generators`` entry points, for
  ``textx check`` and ``textx generate``), :mod:`nnpivot.textx_registration`.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from textx import metamodel_from_file

GRAMMAR_PATH = Path(__file__).with_name("nn.tx")

_ELSEWHERE = {
    "parse_text": "nnpivot.importers.nn_text",
    "parse_file": "nnpivot.importers.nn_text",
    "nn_language": "nnpivot.textx_registration",
    "xmi_generator": "nnpivot.textx_registration",
    "pytorch_generator": "nnpivot.textx_registration",
    "keras_generator": "nnpivot.textx_registration",
}


@lru_cache(maxsize=1)
def metamodel():
    """The textX metamodel of the grammar (keywords match whole words only)."""
    return new_metamodel()


def new_metamodel():
    """A fresh textX metamodel of the grammar, for a caller that registers its own processors."""
    return metamodel_from_file(str(GRAMMAR_PATH), autokwd=True)


def __getattr__(name: str):
    if name not in _ELSEWHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_ELSEWHERE[name]), name)


__all__ = ["GRAMMAR_PATH", "metamodel", "new_metamodel"]
