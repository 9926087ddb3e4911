"""The registry of model formats: what nnpivot reads and writes, described as data.

Like textX's language and generator descriptions, each ``Format`` is a name,
file extensions, a description and the transformations that read it (its
importer, ``loader``) and write it (its generator, ``saver``), named as
``"module:function"`` strings and imported only when a chain runs them. So
this module, the command line's argument parser and ``nnpivot layers`` never
import an importer, a generator, numpy, torch or TensorFlow.

Several formats may share an extension (PyTorch and Keras code are both
``.py``): a file to read is then told apart by the format's ``detect``
function (which reads the imports, never runs the code), a file to write needs
the format named (``--to``).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import Location, NNPivotError, error

# How a saver is called: "text" savers return the text of the file (nnpivot writes it atomically),
# "code" savers too but also take the source's name for the generated header,
# "file" savers write the file themselves, atomically, honouring force.
TEXT, CODE, FILE = "text", "code", "file"
# What a loader returns: a Model, or (Model, ImportReport) for source code, whose report lists what
# was translated and what not (a report with errors beside a model is a partial import).
MODEL, REPORTED = "model", "reported"
# The options a source-code importer takes (``--model``, ``--model-args``, ``--input-shape``, ``--set``,
# ``--run-constructor``: importers/constructed.py, which hands the static reading to the static importer).
SOURCE_OPTIONS = ("model_name", "model_args", "input_shapes", "settings", "run_constructor")


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    description: str
    loader: str | None = None   # "module:function", (path, **options) -> Model (or (Model, report), see MODEL)
    saver: str | None = None    # "module:function", see TEXT/CODE/FILE
    saver_style: str = TEXT
    loader_style: str = MODEL
    options: tuple[str, ...] = ()                   # the loader's keyword options a user may give
    fixed_options: dict = field(default_factory=dict)   # keyword arguments nnpivot always passes the loader
    detect: str | None = None   # "module:function", path -> format name, for a file of a shared extension
    frameworks: tuple[str, ...] = ()   # Python packages loader and saver need at run time (none: static)
    # "module:function", a CODE saver that also returns its diagnostics: (text or None, diagnostics), whose
    # warnings (code that holds only at the declared input size) the conversion reports
    reporter: str | None = None

    def load_function(self) -> Callable:
        return resolve(self.loader)

    def save_function(self) -> Callable:
        return resolve(self.saver)

    @property
    def is_source_code(self) -> bool:
        return self.loader_style == REPORTED


FORMATS: tuple[Format, ...] = (
    Format("nn", (".nn",), "nnpivot textual DSL",
           loader="nnpivot.importers.nn_text:parse_file", saver="nnpivot.generators.nn_text:to_text"),
    Format("xmi", (".xmi",), "XMI 2.0 for Eclipse EMF",
           loader="nnpivot.importers.xmi:load_xmi", saver="nnpivot.generators.xmi:save_xmi", saver_style=FILE),
    Format("dot", (".dot", ".gv"), "Graphviz diagram",
           saver="nnpivot.generators.dot:to_dot", saver_style=CODE),
    Format("pytorch", (".py",), "PyTorch source code",
           loader="nnpivot.importers.constructed_torch:import_pytorch_source", loader_style=REPORTED,
           options=SOURCE_OPTIONS,
           fixed_options={"partial": True}, detect="nnpivot.importers.pysource:detect_framework",
           saver="nnpivot.generators.pytorch:generate", saver_style=CODE,
           reporter="nnpivot.generators.pytorch:generate_code"),
    Format("keras", (".py",), "Keras 3 source code",
           loader="nnpivot.importers.constructed_keras:import_keras_source", loader_style=REPORTED,
           options=SOURCE_OPTIONS,
           detect="nnpivot.importers.pysource:detect_framework",
           saver="nnpivot.generators.keras:generate", saver_style=CODE,
           reporter="nnpivot.generators.keras:generate_code"),
)



@dataclass(frozen=True)
class WeightFormat:
    """A format of trained weights: read into and written from the pivot weight store (``nnpivot.weights``)."""
    name: str
    suffixes: tuple[str, ...]
    description: str
    reader: str   # "module:function", (model, path) -> (store, diagnostics)
    writer: str   # "module:function", (model, store, path, force) -> diagnostics
    frameworks: tuple[str, ...] = ()

    def read(self, model, path):
        return resolve(self.reader)(model, path)

    def write(self, model, store, path, force: bool = False):
        return resolve(self.writer)(model, store, path, force)


WEIGHT_FORMATS: tuple[WeightFormat, ...] = (
    WeightFormat("pytorch", (".pt", ".pth"), "PyTorch state_dict", "nnpivot.weight_formats:read_pytorch",
                 "nnpivot.weight_formats:write_pytorch", frameworks=("torch",)),
    WeightFormat("keras", (".weights.h5",), "Keras weights", "nnpivot.weight_formats:read_keras",
                 "nnpivot.weight_formats:write_keras", frameworks=("keras", "h5py")),
    WeightFormat("pivot", (".npz", ".safetensors"), "pivot weight store", "nnpivot.weight_formats:read_pivot",
                 "nnpivot.weight_formats:write_pivot"),
)
PIVOT_WEIGHTS = "pivot"   # the weight format every target can use

# The source frameworks ``nnpivot migrate --from`` accepts and every format it can write.
FRAMEWORKS = tuple(f.name for f in FORMATS if f.is_source_code)
TARGETS = tuple(f.name for f in FORMATS if f.saver is not None)


class UsageError(NNPivotError):
    """A request nnpivot cannot interpret (unknown format or target): exit status 2 in the CLI."""


def resolve(spec: str) -> Callable:
    """The function a ``"module:function"`` string names, imported now; ``format-unavailable`` if missing."""
    module_name, _, function_name = spec.partition(":")
    try:
        with collector_paused():  # a module's objects live as long as the module: collecting frees nothing
            return getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise NNPivotError([error("format-unavailable", f"{spec} is not available in this installation ({exc})")]
                           ) from None


def format_named(name: str) -> Format:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise UsageError([error("unknown-target", f"unknown format '{name}'; known: "
                                              f"{', '.join(f.name for f in FORMATS)}")])


def _attribute(purpose: str) -> str:
    return "loader" if purpose == "load" else "saver"


def _usable(fmt: Format, attribute: str, source_code: bool) -> bool:
    return getattr(fmt, attribute) is not None and (source_code or attribute == "saver" or not fmt.is_source_code)


def candidates_for(path, target: str | None = None, purpose: str = "load", source_code: bool = True) -> list[Format]:
    """The formats that may read (``purpose="load"``) or write (``"save"``) ``path``: the one ``target``
    names, else those of its extension; without ``source_code``, only model files are read (not code).
    UsageError when there is none."""
    attribute = _attribute(purpose)
    if target is not None:
        fmt = format_named(target)
        if not _usable(fmt, attribute, source_code):
            raise UsageError([error("unsupported-format", f"nnpivot cannot {purpose} {fmt.description} ({fmt.name}); "
                                                          f"it can {purpose}: {_names(attribute, source_code)}")])
        return [fmt]
    suffix = Path(path).suffix.lower()
    candidates = [f for f in FORMATS if suffix in f.extensions and _usable(f, attribute, source_code)]
    if not candidates:
        known = sorted({e for f in FORMATS if _usable(f, attribute, source_code) for e in f.extensions})
        raise UsageError([error("unknown-format", f"nnpivot cannot {purpose} '{suffix or path}' files; known: "
                                                  f"{', '.join(known)}", Location(str(path)))])
    return candidates


def format_for(path, target: str | None = None, purpose: str = "load", source_code: bool = True) -> Format:
    """The format to read (``purpose="load"``) or write (``"save"``) ``path`` with.

    ``target`` names the format explicitly; otherwise the extension decides.
    An extension shared by several formats (``.py``) needs a target to write;
    to read, ``detect`` looks at the file (NNPivotError when it cannot be read
    or told apart).
    """
    candidates = candidates_for(path, target, purpose, source_code)
    if len(candidates) == 1:
        return candidates[0]
    detectors = {f.detect for f in candidates}
    if purpose == "load" and len(detectors) == 1 and None not in detectors:  # one function tells them apart
        return format_named(resolve(detectors.pop())(path))
    raise UsageError([error("ambiguous-format", f"{Path(path).suffix.lower()} files can be "
                                                f"{', '.join(f.name for f in candidates)}; say which with --to",
                            Location(str(path)))])


def weight_format(path) -> WeightFormat:
    """The format of a weight file by its name; a UsageError (exit 2) for an unknown one."""
    name = Path(path).name.lower()
    for fmt in WEIGHT_FORMATS:
        if name.endswith(fmt.suffixes):
            return fmt
    known = ", ".join(s for f in WEIGHT_FORMATS for s in f.suffixes)
    raise UsageError([error("unknown-weights-format", f"cannot tell the weight format of {path}; known: {known}",
                            Location(str(path)))])


def weight_suffixes_for(target: str) -> tuple[str, ...]:
    """The weight files the code generated for ``target`` can load: its framework's, and the pivot store."""
    return tuple(s for f in WEIGHT_FORMATS if f.name in (target, PIVOT_WEIGHTS) for s in f.suffixes)


def _names(attribute: str, source_code: bool) -> str:
    return ", ".join(f.name for f in FORMATS if _usable(f, attribute, source_code))


__all__ = ["CODE", "FILE", "FORMATS", "FRAMEWORKS", "MODEL", "PIVOT_WEIGHTS", "REPORTED", "SOURCE_OPTIONS", "TARGETS",
           "TEXT", "WEIGHT_FORMATS", "Format", "UsageError", "WeightFormat", "candidates_for", "format_for",
           "format_named", "resolve", "weight_format", "weight_suffixes_for"]
