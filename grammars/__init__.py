"""The .nn textual syntax: the textX grammar (``nn.tx``) and its textX metamodel.

The grammar sits below the importers: this package imports none of them.
Parsing is the .nn importer's (:mod:`nnpivot.importers.nn_text`: ``parse_text``,
``parse_file``); the textX registrations for ``textx check`` and ``textx
generate`` are :mod:`nnpivot.textx_registration` (setup.cfg's entry points).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from textx import metamodel_from_file

GRAMMAR_PATH = Path(__file__).with_name("nn.tx")


@lru_cache(maxsize=1)
def metamodel():
    """The textX metamodel of the grammar (keywords match whole words only)."""
    return new_metamodel()


def new_metamodel():
    """A fresh textX metamodel of the grammar, for a caller that registers its own processors."""
    return metamodel_from_file(str(GRAMMAR_PATH), autokwd=True)


__all__ = ["GRAMMAR_PATH", "metamodel", "new_metamodel"]
