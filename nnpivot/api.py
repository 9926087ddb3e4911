"""The public Python API: load, save, check and convert pivot models.

>>> from nnpivot import api
>>> model = api.load("samples/lenet5.nn")
>>> api.save(model, "lenet5.xmi")
>>> api.check("samples/lenet5.nn")      # [] when the file is sound

Formats are chosen by extension or by name (see ``nnpivot.pipeline.FORMATS``).
Every user mistake raises ``NNPivotError`` carrying diagnostics (``UsageError``
for an unknown format or target), never a bare traceback.
"""
from __future__ import annotations

from pathlib import Path

from nnpivot.diagnostics import Diagnostic, NNPivotError, has_errors
from nnpivot.fileio import check_readable, refuse_existing, write_atomic
from nnpivot.pipeline import CODE, FILE, FORMATS, Result, UsageError, convert_pipeline, format_for


def load(path, source: str | None = None):
    """Read a pivot Model from ``path``, choosing the importer by extension (or ``source`` format name)."""
    path = Path(path)
    fmt = format_for(path, source, purpose="load")
    check_readable(path)
    return fmt.load_function()(path)


def save(model, path, target: str | None = None, force: bool = False, validate: bool = True,
         source_name: str | None = None) -> Path:
    """Write ``model`` to ``path`` with the generator of its extension (or of ``target``).

    The model is validated first unless ``validate`` is false; an invalid model
    raises NNPivotError and writes nothing. An existing file is never replaced
    unless ``force``; the file is written atomically.
    """
    path = Path(path)
    fmt = format_for(path, target, purpose="save")
    refuse_existing(path, force)  # before any work: the write itself checks again, atomically
    if validate:
        problems = _validate(model)
        if has_errors(problems):
            raise NNPivotError(problems)
    saver = fmt.save_function()
    if fmt.saver_style == FILE:
        saver(model, path, force=force)
        return path
    text = saver(model, source_name or model.name) if fmt.saver_style == CODE else saver(model)
    return write_atomic(path, text, force=force)


def _validate(model) -> list[Diagnostic]:
    from nnpivot.validators import validate
    return validate(model)


def check(path, source: str | None = None) -> list[Diagnostic]:
    """Every problem of the model file at ``path`` (load errors or validation findings); [] when sound.

    Raises UsageError when ``path`` has no known format: that is a mistake of
    the request, not a problem of the file.
    """
    try:
        model = load(path, source)
    except UsageError:
        raise
    except NNPivotError as exc:
        return exc.diagnostics
    return _validate(model)


def convert(source, destination, target: str | None = None, force: bool = False) -> Result:
    """Load ``source``, validate it and write ``destination``; the result tells which step failed.

    Raises UsageError at once when either format cannot be determined.
    """
    format_for(source, purpose="load")
    format_for(destination, target, purpose="save")
    refuse_existing(destination, force)  # fail before the work, not after it
    return convert_pipeline(source, destination, target, force).run()


def formats() -> tuple:
    return FORMATS


__all__ = ["NNPivotError", "UsageError", "check", "convert", "formats", "load", "save"]
