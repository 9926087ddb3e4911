"""The .nn language and its generators registered with textX (``textx check``, ``textx generate``).

setup.cfg's entry points name ``nnpivot.grammars:nn_language`` and
``nnpivot.grammars:<target>_generator``; the grammar package hands those names
over to this module. The language runs the .nn importer and the validators as
a textX model processor, so ``textx check`` reports what ``nnpivot check``
reports; each generator is the saver of a format of :mod:`nnpivot.formats`,
written where textX asks (default: beside the .nn file) and never over an
existing file unless ``--overwrite``.
"""
from __future__ import annotations

from pathlib import Path

from textx import generator, language
from textx.exceptions import TextXSemanticError

from nnpivot.diagnostics import NNPivotError
from nnpivot.grammars import new_metamodel
from nnpivot.importers.nn_text import build_model
from nnpivot.pipeline import format_named, render, write
from nnpivot.validators import validate


def _check_semantics(tx_model, tx_metamodel):
    """textX model processor: run the pivot conversion so `textx check` reports registry errors too."""
    model, diagnostics = build_model(tx_model, getattr(tx_model, "_tx_filename", None) or "<string>")
    problems = [d for d in diagnostics if d.is_error]
    if not problems:
        problems = [d for d in validate(model) if d.is_error]
    tx_model._nnpivot_model = model  # the generators below use it: no second read or parse
    if problems:
        first = problems[0]
        raise TextXSemanticError("; ".join(f"{d.severity}[{d.code}]: {d.message}" for d in problems),
                                 line=first.location.line, col=first.location.col, filename=first.location.file)


@language("nn", "*.nn")
def nn_language():
    """nnpivot neural network models (.nn)."""
    mm = new_metamodel()
    mm.register_model_processor(_check_semantics)
    return mm


def _generate(tx_model, output_path, overwrite, target: str, suffix: str) -> None:
    """Write one target for a .nn file; diagnostics become a textX error (no traceback)."""
    source = Path(tx_model._tx_filename)
    destination = Path(output_path) if output_path else source.with_name(source.stem + suffix)
    if destination.is_dir():
        destination = destination / (source.stem + suffix)
    fmt, model = format_named(target), tx_model._nnpivot_model
    try:
        write(model, render(model, fmt, source.name), fmt, destination, overwrite)
    except NNPivotError as exc:
        raise TextXSemanticError(str(exc)) from None


@generator("nn", "xmi")
def xmi_generator(metamodel, model, output_path, overwrite, debug, **custom_args):
    """Save the model as XMI (Eclipse EMF) beside the .nn file or at output_path."""
    _generate(model, output_path, overwrite, "xmi", ".xmi")


@generator("nn", "pytorch")
def pytorch_generator(metamodel, model, output_path, overwrite, debug, **custom_args):
    """Generate idiomatic PyTorch code (<name>_torch.py beside the .nn file or at output_path)."""
    _generate(model, output_path, overwrite, "pytorch", "_torch.py")


@generator("nn", "keras")
def keras_generator(metamodel, model, output_path, overwrite, debug, **custom_args):
    """Generate idiomatic Keras 3 code (<name>_keras.py beside the .nn file or at output_path)."""
    _generate(model, output_path, overwrite, "keras", "_keras.py")


__all__ = ["keras_generator", "nn_language", "pytorch_generator", "xmi_generator"]
