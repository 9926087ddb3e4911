"""The .nn textual syntax: the textX grammar, the parser entry points and the
textX language/generator registrations (``textx check``, ``textx generate``)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from textx import generator, language, metamodel_from_file

GRAMMAR_PATH = Path(__file__).with_name("nn.tx")


@lru_cache(maxsize=1)
def metamodel():
    """The textX metamodel of the grammar (keywords match whole words only)."""
    return metamodel_from_file(str(GRAMMAR_PATH), autokwd=True)


def parse_text(text: str, filename: str = "<string>"):
    from nnpivot.importers.nn_text import parse_text as parse
    return parse(text, filename)


def parse_file(path):
    from nnpivot.importers.nn_text import parse_file as parse
    return parse(path)


def _check_semantics(tx_model, tx_metamodel):
    """textX model processor: run the pivot conversion so `textx check` reports registry errors too."""
    from textx.exceptions import TextXSemanticError

    from nnpivot.importers.nn_text import build_model
    from nnpivot.validators import validate

    model, diagnostics = build_model(tx_model, getattr(tx_model, "_tx_filename", None) or "<string>")
    problems = [d for d in diagnostics if d.is_error]
    if not problems:
        problems = [d for d in validate(model) if d.is_error]
    tx_model._nnpivot_model = model  # the generators below use it: no second read or parse
    if problems:
        first = problems[0]
        raise TextXSemanticError("; ".join(f"{d.severity}[{d.code}]: {d.message}" for d in problems), line=first.location.line,
                                 col=first.location.col, filename=first.location.file)


@language("nn", "*.nn")
def nn_language():
    """nnpivot neural network models (.nn)."""
    mm = metamodel_from_file(str(GRAMMAR_PATH), autokwd=True)
    mm.register_model_processor(_check_semantics)
    return mm


def _generate(tx_model, output_path, overwrite, suffix: str, write) -> None:
    """Write one target for a .nn file; diagnostics become a textX error (no traceback)."""
    from textx.exceptions import TextXSemanticError

    from nnpivot.diagnostics import NNPivotError

    source = Path(tx_model._tx_filename)
    target = Path(output_path) if output_path else source.with_suffix("").with_name(source.stem + suffix)
    if target.is_dir():
        target = target / (source.stem + suffix)
    try:
        write(tx_model._nnpivot_model, target, source.name, overwrite)
    except NNPivotError as exc:
        raise TextXSemanticError(str(exc)) from None


@generator("nn", "xmi")
def xmi_generator(metamodel, model, output_path, overwrite, debug, **custom_args):
    """Save the model as XMI (Eclipse EMF) beside the .nn file or at output_path."""
    from nnpivot.generators.xmi import save_xmi

    _generate(model, output_path, overwrite, ".xmi",
              lambda pivot, target, source, force: save_xmi(pivot, target, force=force))


@generator("nn", "pytorch")
def pytorch_generator(metamodel, model, output_path, overwrite, debug, **custom_args):
    """Generate idiomatic PyTorch code (<name>_torch.py beside the .nn file or at output_path)."""
    from nnpivot.generators.pytorch import generate_file

    _generate(model, output_path, overwrite, "_torch.py", generate_file)


@generator("nn", "keras")
def keras_generator(metamodel, model, output_path, overwrite, debug, **custom_args):
    """Generate idiomatic Keras 3 code (<name>_keras.py beside the .nn file or at output_path)."""
    from nnpivot.generators.keras import generate_file

    _generate(model, output_path, overwrite, "_keras.py", generate_file)
