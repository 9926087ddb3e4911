"""The public Python API: load, save, check and convert pivot models.

>>> from nnpivot import api
>>> model = api.load("samples/lenet5.nn")
>>> api.save(model, "lenet5.xmi")
>>> api.check("samples/lenet5.nn")      # [] when the file is sound
>>> api.convert("net.py", "net.nn")     # PyTorch or Keras source code read statically

Formats are chosen by extension or by name (see ``nnpivot.formats.FORMATS``).
Every user mistake raises ``NNPivotError`` carrying diagnostics (``UsageError``
for an unknown format or target), never a bare traceback. This module is a thin
face over :mod:`nnpivot.pipeline`, which does the work.
"""
from __future__ import annotations

from pathlib import Path

from nnpivot.diagnostics import Diagnostic, NNPivotError, has_errors
from nnpivot.formats import FORMATS, UsageError
from nnpivot.pipeline import Conversion, Result
from nnpivot.pipeline import load as load_file
from nnpivot.pipeline import save as save_model
from nnpivot.validators import validate


def load(path, source: str | None = None, **options):
    """Read a pivot Model from ``path``, choosing the importer by extension (or ``source`` format name).

    Source code (``.py``, PyTorch or Keras by its imports) takes the importer
    options ``model_name``, ``model_args`` and ``input_shapes``; a construct
    that cannot be translated raises NNPivotError naming it with its line.
    """
    model, report = load_file(path, source, options)
    if report is not None and (model is None or has_errors(report.diagnostics)):
        raise NNPivotError(report.diagnostics)
    return model


def save(model, path, target: str | None = None, force: bool = False, validate: bool = True,
         source_name: str | None = None) -> Path:
    """Write ``model`` to ``path`` with the generator of its extension (or of ``target``).

    The model is validated first unless ``validate`` is false; an invalid model
    raises NNPivotError and writes nothing. An existing file is never replaced
    unless ``force``; the file is written atomically.
    """
    return save_model(model, path, target, force, validate, source_name)


def check(path, source: str | None = None) -> list[Diagnostic]:
    """Every problem of the model file (.nn, .xmi) at ``path`` (load errors or validation findings); [] when sound.

    Raises UsageError when ``path`` has no known format: that is a mistake of
    the request, not a problem of the file.
    """
    try:
        model, _ = load_file(path, source, source_code=False)
    except UsageError:
        raise
    except NNPivotError as exc:
        return exc.diagnostics
    return validate(model)


def convert(source, destination, target: str | None = None, force: bool = False, **options) -> Result:
    """Load ``source``, validate it and write ``destination``; the result tells which step failed.

    Raises UsageError at once when either format cannot be determined, and
    NNPivotError (``output-exists``) when ``destination`` exists without
    ``force``. ``options`` go to a source-code importer (see :func:`load`).
    """
    return Conversion(source, destination, target, options=options, force=force).run()


def formats() -> tuple:
    return FORMATS


__all__ = ["NNPivotError", "UsageError", "check", "convert", "formats", "load", "save"]
