"""Formats and pipelines: how the transformations are found and chained.

``FORMATS`` is the one table of the file formats nnpivot reads and writes.
Loaders and savers are named as ``"module:function"`` strings and imported
only when used, so the core never imports torch or TensorFlow.

A ``Pipeline`` runs named steps in order (import -> passes -> validate ->
generate); the first step that reports an error stops it, and the result says
which step failed and which ran before it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nnpivot.diagnostics import NOTE, Diagnostic, Location, NNPivotError, error, has_errors

# How a saver is called: "text" savers return the text of the file (nnpivot writes it atomically),
# "code" savers too but also take the source's name for the generated header,
# "file" savers write the file themselves, atomically, honouring force.
TEXT, CODE, FILE = "text", "code", "file"


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    description: str
    loader: str | None = None   # "module:function", path -> Model
    saver: str | None = None    # "module:function", see TEXT/CODE/FILE
    saver_style: str = TEXT

    def load_function(self) -> Callable:
        return _resolve(self.loader)

    def save_function(self) -> Callable:
        return _resolve(self.saver)


FORMATS: tuple[Format, ...] = (
    Format("nn", (".nn",), "nnpivot textual DSL",
           loader="nnpivot.grammars:parse_file", saver="nnpivot.generators.nn_text:to_text"),
    Format("xmi", (".xmi",), "XMI 2.0 for Eclipse EMF",
           loader="nnpivot.importers.xmi:load_xmi", saver="nnpivot.generators.xmi:save_xmi", saver_style=FILE),
    Format("dot", (".dot", ".gv"), "Graphviz diagram",
           saver="nnpivot.generators.dot:to_dot", saver_style=CODE),
    Format("pytorch", (".py",), "PyTorch source code",
           saver="nnpivot.generators.pytorch:generate", saver_style=CODE),
    Format("keras", (".py",), "Keras 3 source code",
           saver="nnpivot.generators.keras:generate", saver_style=CODE),
)


class UsageError(NNPivotError):
    """A request nnpivot cannot interpret (unknown format or target): exit status 2 in the CLI."""


def _resolve(spec: str) -> Callable:
    module_name, _, function_name = spec.partition(":")
    try:
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


def format_for(path, target: str | None = None, purpose: str = "load") -> Format:
    """The format to read (``purpose="load"``) or write (``"save"``) ``path`` with.

    ``target`` names the format explicitly; otherwise the extension decides,
    and an extension shared by several formats (``.py``) needs a target.
    """
    attribute = "loader" if purpose == "load" else "saver"
    if target is not None:
        fmt = format_named(target)
        if getattr(fmt, attribute) is None:
            raise UsageError([error("unsupported-format", f"nnpivot cannot {purpose} {fmt.description} ({fmt.name}); "
                                                          f"it can {purpose}: {_names(attribute)}")])
        return fmt
    suffix = Path(path).suffix.lower()
    candidates = [f for f in FORMATS if suffix in f.extensions and getattr(f, attribute) is not None]
    if len(candidates) == 1:
        return candidates[0]
    where = Location(str(path))
    if candidates:
        raise UsageError([error("ambiguous-format", f"{suffix} files can be {', '.join(f.name for f in candidates)};"
                                                    f" say which with --to", where)])
    known = sorted({e for f in FORMATS if getattr(f, attribute) is not None for e in f.extensions})
    raise UsageError([error("unknown-format", f"nnpivot cannot {purpose} '{suffix or path}' files; known: "
                                              f"{', '.join(known)}", where)])


def _names(attribute: str) -> str:
    return ", ".join(f.name for f in FORMATS if getattr(f, attribute) is not None)


# --- pipelines -------------------------------------------------------------------

@dataclass
class Step:
    """A named transformation of the pipeline state; returns diagnostics (errors stop the pipeline)."""
    name: str
    run: Callable[[dict], list[Diagnostic] | None]


@dataclass
class Result:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)       # steps that completed
    failed: str | None = None                          # the step that stopped the pipeline
    state: dict = field(default_factory=dict)          # what the steps produced ("model", "output", ...)

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def model(self):
        return self.state.get("model")


class Pipeline:
    """Named steps run in order over a shared state; stops at the first step with errors."""

    def __init__(self, steps: list[Step]):
        self.steps = list(steps)

    def run(self, **state) -> Result:
        result = Result(state=dict(state))
        for step in self.steps:
            try:
                reported = list(step.run(result.state) or [])
            except NNPivotError as exc:
                reported = exc.diagnostics or [error("step-failed", f"step '{step.name}' failed")]
            result.diagnostics.extend(reported)
            if has_errors(reported):
                result.failed = step.name
                before = ", ".join(result.ran) or "nothing"
                result.diagnostics.append(Diagnostic(NOTE, "pipeline-stopped",
                                                     f"stopped at step '{step.name}' (completed before it: {before})"))
                break
            result.ran.append(step.name)
        return result


def import_step(path, target: str | None = None) -> Step:
    def run(state):
        from nnpivot import api
        state["model"] = api.load(path, source=target)
    return Step("import", run)


def pass_step(name: str, transformation: Callable) -> Step:
    """A pass over the model: ``transformation(model)`` returns diagnostics or None."""
    return Step(name, lambda state: transformation(state["model"]))


def validate_step() -> Step:
    def run(state):
        from nnpivot.validators import validate
        return validate(state["model"])
    return Step("validate", run)


def generate_step(path, target: str | None = None, force: bool = False, source_name: str | None = None) -> Step:
    def run(state):
        from nnpivot import api
        state["output"] = api.save(state["model"], path, target=target, force=force, validate=False,
                                   source_name=source_name)
    return Step("generate", run)


def convert_pipeline(source, destination, target: str | None = None, force: bool = False,
                     passes: tuple[tuple[str, Callable], ...] = ()) -> Pipeline:
    """import -> passes -> validate -> generate, for ``nnpivot convert``."""
    return Pipeline([import_step(source), *(pass_step(n, t) for n, t in passes), validate_step(),
                     generate_step(destination, target, force, source_name=Path(source).name)])
