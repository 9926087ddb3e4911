"""``nnpivot weights convert``: trained weights from one format to another, through the pivot store.

The command line's side only; the formats and their readers and writers are
:mod:`nnpivot.weight_formats` (whose names are re-exported here).
"""
from __future__ import annotations

from nnpivot.api import load
from nnpivot.console import FAILED, OK, report
from nnpivot.diagnostics import NNPivotError, has_errors
from nnpivot.validators import validate
from nnpivot.weight_formats import (
    WEIGHT_FORMATS,
    WeightFormat,
    check_store,
    convert_weights,
    read_store,
    weight_format,
    write_store,
)


def run_weights(args) -> int:
    """The ``nnpivot weights`` subcommand (``convert``)."""
    weight_format(args.source)
    weight_format(args.destination)
    model = load(args.model)
    problems = validate(model)
    if has_errors(problems):
        raise NNPivotError(problems)
    diagnostics = convert_weights(model, args.source, args.destination, args.force)
    report(diagnostics)
    if has_errors(diagnostics):
        return FAILED
    print(f"{args.destination}: written ({weight_format(args.source).name} -> "
          f"{weight_format(args.destination).name} weights of {model.name})")
    return OK


__all__ = ["WEIGHT_FORMATS", "WeightFormat", "check_store", "convert_weights", "read_store", "run_weights",
           "weight_format", "write_store"]
