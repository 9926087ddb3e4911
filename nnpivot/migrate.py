"""``nnpivot migrate``: PyTorch or Keras source code to the other framework (or to .nn/XMI), with weights.

A migration is the conversion chain of :mod:`nnpivot.pipeline` (the same as
``nnpivot convert``'s) with the weight steps::

    import -> validate -> [read weights] -> generate -> write

and stops at the first step with errors, saying which. The source is read by
the static importers (it is never executed to translate it), unless ``--run-constructor`` asks to build the
model from its definitions and constructor (never the script's top level or ``__main__`` block). Nothing is
written until every step has succeeded: the generated code and the weights
are prepared in memory first, then written atomically; when a write fails the
outputs this run created are removed again. Existing files are never replaced
without ``force``.

Untranslated constructs are reported with ``file:line:col``. When the model
built from the rest is still valid, the migration goes on and writes it, but
the result says it is partial (exit status 1 in the CLI: the output does not
compute what the source computes); when the rest is not a valid model nothing
is written.

This module imports neither numpy nor a framework. Reading the weights of the
original model and running it (``source_runner``, for
:func:`nnpivot.verify.verify_runners`) are :mod:`nnpivot.source_runs`; their
names are also reachable here, loaded on first use.
"""
from __future__ import annotations

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from nnpivot.diagnostics import NOTE, Diagnostic, Location, error, has_errors
from nnpivot.formats import FRAMEWORKS, TARGETS, UsageError, format_named
from nnpivot.importers.pysource import ImportReport, detect_framework
from nnpivot.kinds import kind_of
from nnpivot.metamodel.blocks import loop_of
from nnpivot.pipeline import Conversion, load_as
from nnpivot.shapes import run_time_size

# Names of the weight side (numpy and the frameworks), loaded when first used: ``from nnpivot.migrate import
# source_runner`` keeps working while a static migration never imports them.
RUN_SIDE = {name: "nnpivot.source_runs" for name in (
    "SourceKerasRunner", "SourceTorchRunner", "assign_keras_source", "build_source_model", "read_source_weights",
    "source_model", "source_runner", "store_from_keras_source", "store_from_source_state_dict")}


def __getattr__(name: str):
    if name not in RUN_SIDE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(RUN_SIDE[name]), name)


@dataclass
class MigrationResult:
    source: Path
    source_framework: str
    target: str
    output: Path
    model: object = None
    report: ImportReport | None = None      # the importer's report
    diagnostics: list[Diagnostic] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    failed: str | None = None               # the step that stopped the migration
    weights_out: Path | None = None
    weights_written: int = 0                # arrays written
    written: list[Path] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed is None and not self.partial

    @property
    def partial(self) -> bool:
        """Constructs were not translated, but the rest was a valid model and was written."""
        return self.failed is None and has_errors(self.import_problems)

    @property
    def import_problems(self) -> list[Diagnostic]:
        return list(self.report.diagnostics) if self.report is not None else []

    @property
    def migrated(self) -> str:
        """What was migrated: ``class AlexNet``, ``variable model``."""
        if self.report is None:
            return "-"
        return f"{self.report.model_kind} {self.report.model}".strip()

    def report_text(self) -> str:
        """The migration report: the run's outcome, then the importer's report (``ImportReport.to_text``)."""
        lines = [f"# nnpivot migrate {self.source} -> {self.output} ({self.source_framework} -> {self.target})",
                 f"status: {'ok' if self.ok else 'partial' if self.partial else f'failed at step {self.failed}'}",
                 f"steps completed: {', '.join(self.ran) or 'none'}"]
        if self.weights_out is not None and self.weights_written:
            lines.append(f"weights: {self.weights_written} arrays written to {self.weights_out}")
        text = "\n".join(lines) + "\n\n"
        if self.report is not None:
            text += self.report.to_text()
        later = [d for d in self.diagnostics if d not in self.import_problems]
        if later:
            text += "\nlater steps:\n" + "".join(f"  {d}\n" for d in later)
        return text


# --- arguments -------------------------------------------------------------------------------------

def parse_model_args(text: str | None) -> dict:
    """``--model-args``: a JSON object, or ``k=v,k2=v2`` with JSON (or bare string) values."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = _json_value(text, "--model-args", "bad-model-args")
        except json.JSONDecodeError as exc:
            raise UsageError([error("bad-model-args", f"--model-args is not valid JSON: {exc}")]) from None
        if not isinstance(value, dict):
            raise UsageError([error("bad-model-args", "--model-args must be a JSON object")])
        return value
    result = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError([error("bad-model-args", f"--model-args item '{item}' is not NAME=VALUE")])
        try:
            result[key.strip()] = _json_value(raw, "--model-args", "bad-model-args")
        except json.JSONDecodeError:
            result[key.strip()] = raw
    return result


def parse_settings(items) -> dict | None:
    """``--set NAME=VALUE`` (repeatable): VALUE is JSON (``10``, ``[64, 64, 3]``, ``"cls"``), a list of
    integers written ``64,64,3`` (a tuple, as shapes are), or else a bare string. None when none given."""
    if not items:
        return None
    settings = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise UsageError([error("bad-setting", f"--set '{item}' is not NAME=VALUE (like num_classes=10)")])
        raw = raw.strip()
        try:
            value = _json_value(raw, "--set", "bad-setting")
        except json.JSONDecodeError:
            parts = [p.strip() for p in raw.split(",")]
            value = tuple(int(p) for p in parts) if len(parts) > 1 and all(
                p.lstrip("-").isdigit() for p in parts) else raw
        settings[name] = tuple(value) if isinstance(value, list) else value
    return settings


# Constructor arguments and --set values are configuration: a few levels of lists and dicts, never hundreds.
MODEL_ARGS_NESTING = 32


def _json_value(text: str, option: str, code: str):
    """A JSON value given with ``option``: ``code`` when it nests too deep (the parser recurses per level),
    json.JSONDecodeError when it is not JSON (the caller decides what that text means)."""
    depth = deepest = 0
    for char in text:  # counted before parsing
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > MODEL_ARGS_NESTING:
        raise UsageError([error(code, f"{option} nests more than {MODEL_ARGS_NESTING} levels")])
    return json.loads(text)


def parse_input_shapes(items) -> dict | list | None:
    """``--input-shape NAME=3,32,32`` (repeatable) or one unnamed ``3,32,32``, ``?`` (-1) for a size left to run
    time (``3,?,?``); None when none given."""
    if not items:
        return None
    named, unnamed = {}, []
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shape = [-1 if d.strip() == "?" else int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            raise UsageError([error("bad-input-shape", f"--input-shape '{item}': the shape must be integers "
                                                       "or ? (a size left to run time) separated by commas, "
                                                       "like x=3,?,?")]) from None
        if not shape:
            raise UsageError([error("bad-input-shape", f"--input-shape '{item}' gives no dimensions")])
        if sep:
            named[name.strip()] = shape
        else:
            unnamed.append(shape)
    if named and unnamed:
        raise UsageError([error("bad-input-shape", "give every --input-shape a name (NAME=dims) or none")])
    return named or unnamed


# --- importing -------------------------------------------------------------------------------------

def detect_source_framework(path) -> str:
    return detect_framework(path)


def import_source(path, framework: str, model_name=None, model_args=None, input_shapes=None, settings=None,
                  run_constructor: bool = False):
    """``(model, report)`` of a source file; untranslated constructs are in ``report.diagnostics``.
    ``run_constructor`` executes the file's definitions and the model's constructor (never its script) and
    reads the built object (importers/constructed.py).

    Raises NNPivotError when no model at all can be built (no network, a
    missing input shape...). The model is None when the network's construction
    itself could not be followed.
    """
    return load_as(format_named(framework), path, {"model_name": model_name, "model_args": model_args or None,
                                                    "input_shapes": input_shapes, "settings": settings or None,
                                                    "run_constructor": run_constructor or None})


def source_key(model, report, pivot_key: str) -> str | None:
    """The source ``state_dict`` key of a pivot weight key (``call.inner.param`` inside blocks; a
    parameter name may hold dots itself, ``attn.out_proj.weight``)."""
    parts = pivot_key.split(".")
    graph, prefix, consumed, call_key = model, [], 0, None
    while consumed < len(parts) - 1 and graph is not None:
        name = parts[consumed]
        node = next((n for n in graph.nodes if n.name == name), None)
        if node is None:
            break
        key = name if graph is model else f"{graph.name}:{name}"
        step = 1
        if graph is not model and node in loop_of(graph) and consumed + 2 < len(parts) and parts[consumed + 1].isdigit():
            key, step = f"{key}#{parts[consumed + 1]}", 2   # a loop's node at one iteration: its own prefix
        # a call whose block named the node otherwise (a shifted list position) holds its own prefix
        path = report.state_dict_prefixes.get(f"{call_key}>{key}") if call_key is not None else None
        path = path if path is not None else report.state_dict_prefixes.get(key)
        if path is None:
            return None
        call_key = key
        prefix.append(path)
        consumed += step
        graph = getattr(node, "block", None)
    if not consumed:
        return None
    if graph is None and node is not None and kind_of(node) is not None and \
            kind_of(node).mappings["pytorch"].declaration is not None:
        return ".".join(filter(None, prefix))   # a bare nn.Parameter: its attribute is its key
    return ".".join([*filter(None, prefix), *parts[consumed:]])


# --- the migration ---------------------------------------------------------------------------------

def migrate(src, to: str, out, *, source_framework: str | None = None, model_name: str | None = None,
            model_args: dict | None = None, input_shapes=None, weights=None, weights_out=None,
            force: bool = False, settings: dict | None = None, run_constructor: bool = False) -> MigrationResult:
    """Migrate the network of the source file ``src`` to ``to`` (pytorch, keras, nn, xmi, dot), writing ``out``.

    ``settings`` (``--set``) give the values the script computes from data. ``run_constructor``
    (``--run-constructor``) executes the source's module definitions and the model's constructor (never the
    script's top level or ``__main__`` block) and reads the built model. With ``weights`` (a checkpoint
    of the original model) also writes
    ``weights_out`` in the target's format. Raises UsageError for a request
    that cannot be interpreted; every other problem is in the result's
    diagnostics with the step that failed (``result.failed``).
    """
    started = time.perf_counter()
    if to not in TARGETS:
        raise UsageError([error("unknown-target", f"unknown target '{to}'; known: {', '.join(TARGETS)}")])
    if source_framework is not None and source_framework not in FRAMEWORKS:
        raise UsageError([error("unknown-source", f"--from must be one of {', '.join(FRAMEWORKS)}")])
    conversion = Conversion(src, out, to, source_framework,
                            options={"model_name": model_name, "model_args": model_args or None,
                                     "input_shapes": input_shapes, "settings": settings or None,
                                     "run_constructor": run_constructor or None},
                            weights=weights, weights_out=weights_out, force=force, partial=True)
    outcome = conversion.run()
    state = outcome.state
    result = MigrationResult(conversion.source, getattr(state.get("source_format"), "name", source_framework),
                             to, conversion.destination, model=state.get("model"), report=state.get("report"),
                             diagnostics=outcome.diagnostics, ran=outcome.ran, failed=outcome.failed,
                             weights_out=conversion.weights_out, written=list(state["written"]))
    if outcome.failed == "generate" and result.model is not None and result.report is not None:
        result.diagnostics.extend(_size_to_give(result.model, result.report))
    if conversion.weights_out in result.written:
        result.weights_written = state["weights_written"]
    result.seconds = time.perf_counter() - started
    return result


def _size_to_give(model, report: ImportReport) -> list[Diagnostic]:
    """When the target could not be written for run-time (``?``) input sizes: the ``--input-shape`` to give,
    at a size the model's code accepts."""
    if not any(d < 0 for shape in report.input_shapes.values() for d in shape):
        return []
    size = run_time_size(model)
    shapes = " ".join(f"--input-shape {name}={','.join(str(size if d < 0 else d) for d in shape)}"
                      for name, shape in report.input_shapes.items())
    return [Diagnostic(NOTE, "input-size-needed", f"the input sizes left to run time (?) may be what the target "
                       f"cannot write; a size the code accepts: {shapes}", Location(str(report.source)))]


__all__ = ["FRAMEWORKS", "TARGETS", "MigrationResult", "detect_source_framework", "import_source", "migrate",
           "parse_input_shapes", "parse_model_args", "parse_settings", "source_key"]   # and the RUN_SIDE names, loaded on use
