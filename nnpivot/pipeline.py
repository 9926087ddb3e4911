"""Pipelines: the transformations of :mod:`nnpivot.formats` chained into one conversion.

A ``Pipeline`` runs named steps in order over a shared state; the first step
that reports an error stops it, and the result says which step failed and
which ran before it.

``Conversion`` is THE chain, for ``nnpivot convert`` and ``nnpivot migrate``
alike::

    import -> passes -> validate -> [read weights] -> generate -> write

The importer and generator come from the format registry (by extension, by
name, or, for ``.py`` files, by the imports the file makes). Nothing is
written before every earlier step succeeded: ``generate`` renders the output
in memory and ``write`` writes it (and the weights) atomically, removing what
this run created when a later write fails; an existing file is never replaced
without ``force``. ``migrate`` is this chain with the weight steps and
``partial`` (untranslated constructs of source code are reported, and the
rest is still written when it is a valid model).

The weight steps name their implementations as ``"module:function"`` strings
(like the formats do), so the static chain never imports numpy, torch or
TensorFlow.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nnpivot.diagnostics import NOTE, Diagnostic, Location, NNPivotError, error, has_errors
from nnpivot.fileio import Staged, check_readable, refuse_existing, same_file, write_atomic
from nnpivot.formats import (
    CODE,
    FILE,
    FORMATS,
    REPORTED,
    TEXT,
    Format,
    UsageError,
    candidates_for,
    format_for,
    format_named,
    resolve,
    weight_format,
    weight_suffixes_for,
)
from nnpivot.validators import check, validate

# Reading the weights of the model a chain converts: a checkpoint of the ORIGINAL source code (keys as
# the source names its layers) or of a pivot model's generated code (.nn/.xmi sources).
SOURCE_WEIGHTS_READER = "nnpivot.source_runs:read_source_weights"
MODEL_WEIGHTS_READER = "nnpivot.weight_formats:read_store"
WEIGHTS_WRITER = "nnpivot.weight_formats:write_store"


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


# --- single transformations --------------------------------------------------------

def load(path, source: str | None = None, options: dict | None = None, source_code: bool = True):
    """``(model, report)`` of the file at ``path`` with the importer of its format (``report`` is None for
    model files; for source code it lists what was not translated, and the model may be None).

    ``source`` names the format; ``options`` go to a source-code importer.
    """
    path = Path(path)
    candidates_for(path, source, "load", source_code)  # an unknown format is a usage error, before the file
    check_readable(path)
    return load_as(format_for(path, source, "load", source_code), path, options)


def load_as(fmt: Format, path, options: dict | None = None):
    """:func:`load` with the format known."""
    given = {name: value for name, value in (options or {}).items() if value is not None}
    unknown = sorted(set(given) - set(fmt.options))
    if unknown:
        raise UsageError([error("unknown-option", f"{fmt.description} takes no option {', '.join(unknown)}",
                                Location(str(path)))])
    loaded = fmt.load_function()(Path(path), **fmt.fixed_options, **given)
    return loaded if fmt.loader_style == REPORTED else (loaded, None)


def render(model, fmt: Format, source_name: str | None = None, shapes=None) -> str | None:
    """The text of ``model`` in ``fmt`` (None for formats whose saver writes the file itself).

    ``shapes``: the validated model's shape table, handed to the code generators so they do not infer it again.
    """
    if fmt.saver_style == FILE:
        return None
    saver = fmt.save_function()
    return saver(model, source_name or model.name, shapes=shapes) if fmt.saver_style == CODE else saver(model)


def render_reported(model, fmt: Format, source_name: str | None = None, shapes=None) -> tuple[str | None, list]:
    """:func:`render` and the generator's warnings (code that holds only at the declared input size)."""
    if fmt.reporter is not None:
        text, diagnostics = resolve(fmt.reporter)(model, source_name or model.name, shapes=shapes)
        if text is None or has_errors(diagnostics):
            raise NNPivotError(diagnostics)
        return text, [d for d in diagnostics if not d.is_error]
    return render(model, fmt, source_name, shapes), []


def write(model, text: str | None, fmt: Format, path, force: bool = False) -> Path:
    """Write what :func:`render` made, atomically; ``output-exists`` unless ``force``."""
    if text is None:
        fmt.save_function()(model, path, force=force)
        return Path(path)
    return write_atomic(path, text, force=force)


def save(model, path, target: str | None = None, force: bool = False, validate_first: bool = True,
         source_name: str | None = None) -> Path:
    """Write ``model`` to ``path`` with the generator of its extension (or of ``target``); see ``api.save``."""
    path = Path(path)
    fmt = format_for(path, target, purpose="save")
    refuse_existing(path, force)  # before any work: the write itself checks again, atomically
    if validate_first:
        problems = validate(model)
        if has_errors(problems):
            raise NNPivotError(problems)
    return write(model, render(model, fmt, source_name), fmt, path, force)


# --- the conversion chain -----------------------------------------------------------

@dataclass
class Conversion:
    """One conversion request: ``source`` to ``destination``, optionally with weights (see the module doc)."""
    source: Path
    destination: Path
    target: str | None = None            # the output format's name; default: the destination's extension
    source_format: str | None = None     # the input format's name; default: extension (and imports, for .py)
    options: dict = field(default_factory=dict)   # source-code importer options (model_name, model_args, ...)
    passes: tuple[tuple[str, Callable], ...] = ()  # (name, model -> diagnostics or None)
    weights: Path | None = None          # a checkpoint of the source's model
    weights_out: Path | None = None      # the weights for the generated code
    force: bool = False
    partial: bool = False                # source code with untranslated constructs still converts the rest

    def __post_init__(self):
        self.source, self.destination = Path(self.source), Path(self.destination)
        self.weights = Path(self.weights) if self.weights is not None else None
        self.weights_out = Path(self.weights_out) if self.weights_out is not None else None

    def check_request(self) -> Format:
        """Usage errors (UsageError) and existing outputs (``output-exists``) before any work; the output format."""
        sources = candidates_for(self.source, self.source_format, "load")
        given = sorted(name for name, value in self.options.items() if value is not None)
        if given and not any(f.options for f in sources):
            raise UsageError([error("unknown-option", f"{', '.join(given)}: options of source code, but "
                                    f"{self.source.name} is {' or '.join(f.description for f in sources)}",
                                    Location(str(self.source)))])
        output = format_for(self.destination, self.target, purpose="save")
        if (self.weights is None) != (self.weights_out is None):
            raise UsageError([error("weights-arguments", "--weights and --weights-out go together")])
        if self.weights_out is not None:
            fmt = weight_format(self.weights_out)   # UsageError for an unknown suffix
            allowed = weight_suffixes_for(output.name)
            if not self.weights_out.name.lower().endswith(allowed):
                raise UsageError([error("weights-target-mismatch", f"--weights-out {self.weights_out.name} is a "
                                        f"{fmt.description}; the {output.name} output needs {' or '.join(allowed)}",
                                        Location(str(self.weights_out)))])
            weight_format(self.weights)
        self.refuse_overwriting_inputs()
        refuse_existing(self.destination, self.force)
        if self.weights_out is not None:
            refuse_existing(self.weights_out, self.force)
        return output

    def refuse_overwriting_inputs(self) -> None:
        """``output-is-input`` when an output names an input or the other output: even --force never
        replaces what the run reads."""
        inputs = [p for p in (self.source, self.weights) if p is not None]
        outputs = [p for p in (self.destination, self.weights_out) if p is not None]
        for i, output in enumerate(outputs):
            for other in inputs + outputs[:i]:
                if same_file(output, other):
                    raise UsageError([error("output-is-input", f"{output} is also {other}, which this run "
                                            f"{'reads' if other in inputs else 'writes'}; write elsewhere",
                                            Location(str(output)))])

    def steps(self) -> list[Step]:
        steps = [Step("import", self._import), *(Step(name, _pass(t)) for name, t in self.passes),
                 Step("validate", self._validate)]
        if self.weights is not None:
            steps.append(Step("read weights", self._read_weights))
        return [*steps, Step("generate", self._generate), Step("write", self._write)]

    def run(self) -> Result:
        """Check the request (raising UsageError or ``output-exists``), then run the chain."""
        output = self.check_request()
        result = Pipeline(self.steps()).run(output_format=output, written=[])
        # Untranslated constructs a partial conversion went on without are part of its diagnostics too.
        reported = {id(d) for d in result.diagnostics}
        report = result.state.get("report")
        unreported = [d for d in (report.diagnostics if report is not None else []) if id(d) not in reported]
        result.diagnostics[:0] = unreported
        return result

    def _import(self, state):
        check_readable(self.source)
        state["source_format"] = format_for(self.source, self.source_format, "load")
        model, report = load_as(state["source_format"], self.source, self.options)
        state["model"], state["report"] = model, report
        if report is None or (self.partial and model is not None):
            return []  # a partial conversion keeps the untranslated constructs in the report and goes on
        return report.diagnostics

    def _validate(self, state):
        problems, state["shapes"] = check(state["model"])
        report = state["report"]
        if has_errors(problems) and report is not None and has_errors(report.diagnostics):
            problems.append(error("migration-unsound", "the parts that were translated do not form a valid "
                                  "model; nothing is written", Location(str(self.source))))
        return problems

    def _read_weights(self, state):
        fmt = state["source_format"]
        if fmt.is_source_code:
            store, diagnostics = resolve(SOURCE_WEIGHTS_READER)(
                self.source, fmt.name, state["model"], state["report"], self.weights, self.options.get("model_args"),
                self.options.get("settings"))
        else:
            store, diagnostics = resolve(MODEL_WEIGHTS_READER)(state["model"], self.weights)
        state["store"] = store
        return diagnostics

    def _generate(self, state):
        state["text"], warnings = render_reported(state["model"], state["output_format"], self.source.name,
                                                  state.get("shapes"))
        return warnings

    def _write(self, state):
        """Write the output and the weights to temporary files, then publish both: a failure leaves neither."""
        try:
            with Staged(self.force) as staged:
                write(state["model"], state["text"], state["output_format"], staged.path_for(self.destination),
                      force=True)
                if self.weights_out is not None:
                    store = state["store"]
                    state["weights_written"] = len(store)
                    store.release_written = True  # the last step: the writer may drop arrays as it goes
                    diagnostics = resolve(WEIGHTS_WRITER)(state["model"], store, staged.path_for(self.weights_out),
                                                          True)
                    if has_errors(diagnostics):
                        return diagnostics
                state["written"].extend(staged.publish())
        except NNPivotError as exc:
            return exc.diagnostics
        return []


def _pass(transformation: Callable) -> Callable[[dict], list[Diagnostic] | None]:
    return lambda state: transformation(state["model"])


def convert_pipeline(source, destination, target: str | None = None, force: bool = False,
                     passes: tuple[tuple[str, Callable], ...] = ()) -> Conversion:
    """import -> passes -> validate -> generate -> write, for ``nnpivot convert`` (run it with ``.run()``)."""
    return Conversion(source, destination, target, passes=passes, force=force)


__all__ = ["CODE", "FILE", "FORMATS", "TEXT", "Conversion", "Format", "Pipeline", "Result", "Step", "UsageError",
           "convert_pipeline", "format_for", "format_named", "load", "load_as", "render", "save", "write"]
