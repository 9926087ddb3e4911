"""``nnpivot migrate``: PyTorch or Keras source code to the other framework (or to .nn/XMI), with weights.

The migration is a pipeline of named steps (see :mod:`nnpivot.pipeline`)::

    import -> validate -> read weights -> generate -> write weights

and stops at the first step with errors, saying which. The source is read by
the static importers (it is never executed to translate it). Nothing is
written until every step has succeeded: the generated code and the weights
are prepared in memory first, then written atomically; when a write fails the
outputs this run created are removed again. Existing files are never replaced
without ``force``.

Weights. A PyTorch checkpoint of the ORIGINAL module (``state_dict`` keys
following the source's attributes, ``features.0.weight``) is read without
running anything: the importer's ``report.state_dict_prefixes`` say which
source prefix holds each pivot node's parameters. A Keras ``.weights.h5`` saved from
the original model can only be read by Keras into that very model, so the
source file is executed to build it (in a fresh Keras session) and the
importer's ``report.keras_layer_names`` name the layer holding each node's
weights. Either checkpoint may also be a pivot store (``.npz``/``.safetensors``).
The weights are written in the target's format for the GENERATED code
(``.pt`` state_dict, ``.weights.h5``) or as a pivot store.

Untranslated constructs are reported with ``file:line:col``. When the model
built from the rest is still valid, the migration goes on and writes it, but
the result says it is partial (exit status 1 in the CLI: the output does not
compute what the source computes); when the rest is not a valid model nothing
is written.

``SourceTorchRunner``/``SourceKerasRunner`` run the ORIGINAL source model in
pivot terms (weights in and out through the importer's maps, inputs and
outputs in pivot layout), so :func:`nnpivot.verify.verify_runners` can compare
it with the generated code. They execute the source file.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors, location_of, warning
from nnpivot.importers.pysource import ImportReport
from nnpivot.pipeline import Pipeline, Step, UsageError
from nnpivot.weights import WeightStore

FRAMEWORKS = ("pytorch", "keras")
TARGETS = ("pytorch", "keras", "nn", "xmi")
# Weight files each target's code can load (the pivot store suits every target).
WEIGHT_SUFFIXES = {"pytorch": (".pt", ".pth"), "keras": (".weights.h5",), "nn": (), "xmi": ()}
PIVOT_WEIGHT_SUFFIXES = (".npz", ".safetensors")


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
            value = json.loads(text)
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
            result[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            result[key.strip()] = raw
    return result


def parse_input_shapes(items) -> dict | list | None:
    """``--input-shape NAME=3,32,32`` (repeatable) or one unnamed ``3,32,32``; None when none given."""
    if not items:
        return None
    named, unnamed = {}, []
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shape = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            raise UsageError([error("bad-input-shape", f"--input-shape '{item}': the shape must be integers "
                                                       "separated by commas, like x=3,32,32")]) from None
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
    from nnpivot.frameworks import detect_framework
    return detect_framework(path)


def import_source(path, framework: str, model_name=None, model_args=None, input_shapes=None):
    """``(model, report)`` of a source file; untranslated constructs are in ``report.diagnostics``.

    Raises NNPivotError when no model at all can be built (no network, a
    missing input shape...). The model is None when the network's construction
    itself could not be followed.
    """
    if framework == "pytorch":
        from nnpivot.importers.pytorch import PyTorchImportError, import_pytorch
        try:
            return import_pytorch(path, model_name, model_args or None, input_shapes, partial=True)
        except PyTorchImportError as exc:
            if exc.model is None:
                raise NNPivotError(exc.diagnostics) from None
            return exc.model, exc.report
    from nnpivot.importers.keras import import_keras
    return import_keras(path, model_name, input_shapes, model_args or None)


def source_model(path, framework: str, model_name=None, model_args=None, input_shapes=None, announce=print):
    """``(model, report)`` of a source file for running it (``nnpivot verify``): input shapes from the code or
    ``input_shapes``, else (PyTorch) a small legal shape guessed from the first layer, which is announced."""
    try:
        model, report = import_source(path, framework, model_name, model_args, input_shapes)
    except NNPivotError as exc:
        if framework != "pytorch" or input_shapes or not any(d.code == "missing-input-shape"
                                                             for d in exc.diagnostics):
            raise
        from nnpivot.importers.pytorch import guess_input_shapes

        input_shapes = guess_input_shapes(path, model_name, model_args)
        shapes = ", ".join(f"{name}: {list(shape)}" for name, shape in input_shapes.items())
        announce(f"{path}: the code gives no input shape; using a small legal one (batch axis left out): {shapes}")
        model, report = import_source(path, framework, model_name, model_args, input_shapes)
        report.guessed_shapes = True
    if has_errors(report.diagnostics):
        raise NNPivotError(report.diagnostics)
    return model, report


# --- weights of the original source ----------------------------------------------------------------

def source_key(model, report, pivot_key: str) -> str | None:
    """The source ``state_dict`` key of a pivot weight key (``call.inner.param`` inside blocks; a
    parameter name may hold dots itself, ``attn.out_proj.weight``)."""
    parts = pivot_key.split(".")
    graph, prefix, consumed = model, [], 0
    while consumed < len(parts) - 1 and graph is not None:
        name = parts[consumed]
        node = next((n for n in graph.nodes if n.name == name), None)
        if node is None:
            break
        path = report.state_dict_prefixes.get(name if graph is model else f"{graph.name}:{name}")
        if path is None:
            return None
        prefix.append(path)
        consumed += 1
        graph = getattr(node, "block", None)
    if not consumed:
        return None
    return ".".join([*filter(None, prefix), *parts[consumed:]])


def store_from_source_state_dict(model, report, state_dict, copy: bool = True) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot store from a ``state_dict`` of the original PyTorch module (keys as in the source).

    A checkpoint of the generated module (keys as the generator writes them)
    is accepted too, key by key. ``copy=False`` lets the store share the tensors'
    memory, for a state_dict nobody else holds (one just read from a file).
    """
    from nnpivot.generators.pytorch import parameter_slots

    store, diagnostics, used = WeightStore(), [], set()
    for slot in parameter_slots(model):
        key = source_key(model, report, slot.pivot_key)
        key = key if key in state_dict else slot.torch_key if slot.torch_key in state_dict else key
        if key not in state_dict:
            diagnostics.append(error("weight-missing", f"the checkpoint has no '{key or slot.pivot_key}' (for "
                                     f"{slot.pivot_key}, shape {tuple(slot.shape)})", location_of(slot.node)))
            continue
        tensor = state_dict[key]
        array = tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)
        if tuple(array.shape) != tuple(slot.shape):
            diagnostics.append(error("weight-shape-mismatch", f"'{key}' has shape {tuple(array.shape)} in the "
                                     f"checkpoint but {slot.pivot_key} needs {tuple(slot.shape)}",
                                     location_of(slot.node)))
            continue
        store[slot.pivot_key] = array.copy() if copy else array
        used.add(key)
    for key in state_dict:
        if key not in used and not key.endswith("num_batches_tracked"):
            diagnostics.append(warning("weight-unexpected", f"the checkpoint has '{key}', which the migrated model "
                                       "does not use"))
    return store, diagnostics


class _LayersByName:
    """What the Keras generator's weight helpers expect of an owner, for a hand-written model: its layers
    found by the name they have at run time (``report.keras_layer_names``)."""

    def __init__(self, keras_model, names: dict[str, str]):
        self.layers = {}
        for layer in keras_model._flatten_layers(include_self=False, recursive=True):
            self.layers.setdefault(layer.name, layer)
        self.names = names

    def __getattr__(self, node_name):
        runtime = self.__dict__["names"].get(node_name)
        return self.__dict__["layers"].get(runtime) if runtime else None


class _NoCode:
    """A stand-in for the generator's per-graph code facts: a hand-written model names its own layers and
    its Flatten -> Dense order is the source's (the importer made the permutation explicit)."""
    layer_names: ClassVar[dict] = {}
    dense_rows: ClassVar[dict] = {}


def _keras_weighted_nodes(model):
    from nnpivot.generators.keras import TARGET
    from nnpivot.kinds import kind_of

    for node in model.nodes:
        kind = kind_of(node)
        if node.weightsOf is not None:
            continue  # computes with its owner's layer (weightsOf): no weights of its own
        if node.eClass.name == "BlockCall" or (kind is not None and kind.mappings[TARGET].weights):
            yield node


def _keras_units(keras_model, model, report):
    """(node, [(layer, info)]) of every weighted node of a hand-written Keras model."""
    from nnpivot.generators.keras import _units

    owner = _LayersByName(keras_model, report.keras_layer_names)
    for node in _keras_weighted_nodes(model):
        if node.eClass.name == "BlockCall":
            raise NNPivotError([error("weights-unmapped", f"{node.name}: weights inside a Keras layer subclass "
                                      "(block) are not mapped to the source yet", location_of(node))])
        try:
            units = _units(owner, _NoCode, node)
        except AttributeError:
            raise NNPivotError([error("weights-unmapped", f"{node.name}: no Keras layer named "
                                      f"'{report.keras_layer_names.get(node.name, node.name)}' in the source model",
                                      location_of(node))]) from None
        yield node, units


def store_from_keras_source(keras_model, model, report) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot store of a built hand-written Keras model (the one the importer read)."""
    from nnpivot.generators.keras import read_layer_weights

    store, diagnostics = WeightStore(), []
    for node, units in _keras_units(keras_model, model, report):
        diagnostics += read_layer_weights(node.name, node, units, store)
    return store, diagnostics


def assign_keras_source(keras_model, model, report, store: WeightStore) -> list[Diagnostic]:
    """Copy pivot weights into a built hand-written Keras model."""
    from nnpivot.generators.keras import write_layer_weights

    diagnostics: list[Diagnostic] = []
    for node, units in _keras_units(keras_model, model, report):
        diagnostics += write_layer_weights(node.name, node, units, store.for_node(node.name))
    return diagnostics


def _module_target(module, name: str, path: Path):
    if not hasattr(module, name):
        raise NNPivotError([error("model-not-found", f"{path.name} defines no '{name}' when run", Location(str(path)))])
    return getattr(module, name)


def build_source_model(path, framework: str, report, model_args=None):
    """EXECUTE the source file and build the network the importer migrated (a fresh Keras session first,
    so unnamed Keras layers get the names the importer expects)."""
    from nnpivot.frameworks import _raised_in, load_source_module

    path = Path(path)
    if framework == "keras":
        import keras
        keras.backend.clear_session()
    module = load_source_module(path)
    target = _module_target(module, report.model, path)
    if callable(target) and not _is_model_object(target, framework):
        try:
            target = target(**(model_args or {}))
        except Exception as exc:  # noqa: BLE001 - the source's own constructor failing
            raise NNPivotError([_raised_in(path.resolve(), exc, f"building {report.model}")]) from None
    return target


def _is_model_object(value, framework: str) -> bool:
    if framework == "pytorch":
        from torch import nn
        return isinstance(value, nn.Module)
    import keras
    return isinstance(value, (keras.Model, keras.layers.Layer))


def _runner_classes():
    from nnpivot.frameworks import KerasRunner, TorchRunner

    class SourceTorchRunner(TorchRunner):
        """The original PyTorch module, weights mapped through ``report.state_dict_prefixes``."""

        def __init__(self, path, model, obj, report):
            self.report = report
            super().__init__(path, model, obj)

        def _read_store(self):
            return store_from_source_state_dict(self.model, self.report, self.obj.state_dict())

        def _write_store(self, store):
            import torch

            from nnpivot.generators.pytorch import parameter_slots

            own = self.obj.state_dict()
            state = {}
            for slot in parameter_slots(self.model):
                key = source_key(self.model, self.report, slot.pivot_key)
                if key not in own or slot.pivot_key not in store:
                    return [error("weights-unmapped", f"{slot.pivot_key}: no source parameter '{key}'",
                                  location_of(slot.node))]
                state[key] = torch.from_numpy(np.ascontiguousarray(store[slot.pivot_key]))
            self.obj.load_state_dict(state, strict=False)
            missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
            if missing:
                return [error("weight-missing", f"the pivot weights give no value for {', '.join(missing)}",
                              Location(str(self.path)))]
            return []

    class SourceKerasRunner(KerasRunner):
        """The original Keras model: layouts from the importer, layers found by their run-time names."""

        def __init__(self, path, model, obj, report):
            self.report = report
            from nnpivot.frameworks import Runner
            Runner.__init__(self, path, model, obj)
            self.in_perms = [tuple(p) for p in report.input_layouts]
            self.out_perms = [tuple(p) for p in report.output_layouts]
            if not obj.built:
                from nnpivot.frameworks import random_inputs
                self._forward(random_inputs(model, 1))

        def _read_store(self):
            return store_from_keras_source(self.obj, self.model, self.report)

        def _write_store(self, store):
            return assign_keras_source(self.obj, self.model, self.report, store)

    return SourceTorchRunner, SourceKerasRunner


def source_runner(path, framework: str, model, report, model_args=None):
    """A verify runner of the ORIGINAL source model (the file is executed)."""
    torch_runner, keras_runner = _runner_classes()
    obj = build_source_model(path, framework, report, model_args)
    return (torch_runner if framework == "pytorch" else keras_runner)(path, model, obj, report)


def read_source_weights(path, framework: str, model, report, weights, model_args=None):
    """The pivot store from a checkpoint of the original source model."""
    from nnpivot.weights_cli import check_store, weight_format

    weights = Path(weights)
    if not weights.exists():
        raise NNPivotError([error("file-not-found", f"no such file: {weights}", Location(str(weights)))])
    fmt = weight_format(weights)
    if fmt.name == "pivot":
        store = WeightStore.load(weights)
        return store, check_store(model, store)
    if fmt.name != framework:
        raise NNPivotError([error("weights-framework-mismatch", f"{weights.name} is a {fmt.description} but the "
                                  f"source is {framework} code", Location(str(weights)))])
    if framework == "pytorch":
        from nnpivot.generators.pytorch import read_checkpoint
        return store_from_source_state_dict(model, report, read_checkpoint(weights), copy=False)
    runner = source_runner(path, framework, model, report, model_args)
    try:
        runner.obj.load_weights(str(weights))
    except (ValueError, OSError, KeyError) as exc:
        raise NNPivotError([error("weights-unreadable", f"{weights}: Keras cannot load it into "
                                  f"{report.model}: {exc}", Location(str(weights)))]) from None
    store, diagnostics = store_from_keras_source(runner.obj, model, report)
    return store, diagnostics + check_store(model, store)


# --- the migration ---------------------------------------------------------------------------------

def _check_weights_out(target: str, weights_out: Path) -> None:
    from nnpivot.weights_cli import weight_format

    fmt = weight_format(weights_out)   # UsageError for an unknown suffix
    allowed = WEIGHT_SUFFIXES[target] + PIVOT_WEIGHT_SUFFIXES
    if not weights_out.name.lower().endswith(allowed):
        raise UsageError([error("weights-target-mismatch", f"--weights-out {weights_out.name} is a "
                                f"{fmt.description}; the {target} output needs {' or '.join(allowed)}",
                                Location(str(weights_out)))])


def _generated_text(model, target: str, source_name: str) -> str | None:
    """The output file's text (None for XMI, which its saver writes itself)."""
    from nnpivot.pipeline import CODE, FILE, format_named

    fmt = format_named(target)
    if fmt.saver_style == FILE:
        return None
    saver = fmt.save_function()
    return saver(model, source_name) if fmt.saver_style == CODE else saver(model)


def migrate(src, to: str, out, *, source_framework: str | None = None, model_name: str | None = None,
            model_args: dict | None = None, input_shapes=None, weights=None, weights_out=None,
            force: bool = False) -> MigrationResult:
    """Migrate the network of the source file ``src`` to ``to`` (pytorch, keras, nn, xmi), writing ``out``.

    With ``weights`` (a checkpoint of the original model) also writes
    ``weights_out`` in the target's format. Raises UsageError for a request
    that cannot be interpreted; every other problem is in the result's
    diagnostics with the step that failed (``result.failed``).
    """
    from nnpivot.fileio import refuse_existing

    started = time.perf_counter()
    src, out = Path(src), Path(out)
    if to not in TARGETS:
        raise UsageError([error("unknown-target", f"unknown target '{to}'; known: {', '.join(TARGETS)}")])
    if source_framework is not None and source_framework not in FRAMEWORKS:
        raise UsageError([error("unknown-source", f"--from must be one of {', '.join(FRAMEWORKS)}")])
    if (weights is None) != (weights_out is None):
        raise UsageError([error("weights-arguments", "--weights and --weights-out go together")])
    weights_out = Path(weights_out) if weights_out is not None else None
    if weights_out is not None:
        _check_weights_out(to, weights_out)
    framework = source_framework or detect_source_framework(src)
    result = MigrationResult(src, framework, to, out, weights_out=weights_out)
    refuse_existing(out, force)
    if weights_out is not None:
        refuse_existing(weights_out, force)

    def run_import(state):
        model, report = import_source(src, framework, model_name, model_args, input_shapes)
        result.model, result.report = model, report
        state["model"] = model
        # Untranslated constructs stay in the report; the migration goes on only if the rest is a valid model.
        return report.diagnostics if model is None else []

    def run_validate(state):
        from nnpivot.validators import validate
        problems = validate(state["model"])
        if has_errors(problems) and has_errors(result.import_problems):
            problems.append(error("migration-unsound", "the parts that were translated do not form a valid "
                                  "model; nothing is written", Location(str(src))))
        return problems

    def run_read_weights(state):
        store, diagnostics = read_source_weights(src, framework, state["model"], result.report, weights, model_args)
        state["store"] = store
        return diagnostics

    def run_generate(state):
        state["text"] = _generated_text(state["model"], to, src.name)

    def run_write(state):
        return _write_outputs(result, state, force)

    steps = [Step("import", run_import), Step("validate", run_validate)]
    if weights is not None:
        steps.append(Step("read weights", run_read_weights))
    steps += [Step("generate", run_generate), Step("write", run_write)]
    outcome = Pipeline(steps).run()
    result.ran, result.failed = outcome.ran, outcome.failed
    reported = {id(d) for d in outcome.diagnostics}
    result.diagnostics = [d for d in result.import_problems if id(d) not in reported] + outcome.diagnostics
    result.seconds = time.perf_counter() - started
    return result


def _write_outputs(result: MigrationResult, state: dict, force: bool) -> list[Diagnostic]:
    """Write the output and the weights; on failure remove what this run created."""
    from nnpivot.fileio import write_atomic
    from nnpivot.generators.xmi import save_xmi
    from nnpivot.weights_cli import write_store

    existed = {p: p.exists() for p in (result.output, result.weights_out) if p is not None}
    try:
        if state.get("text") is None:
            save_xmi(state["model"], result.output, force=force)
        else:
            write_atomic(result.output, state["text"], force=force)
        result.written.append(result.output)
        if result.weights_out is not None:
            diagnostics = write_store(state["model"], state["store"], result.weights_out, force)
            if has_errors(diagnostics):
                raise NNPivotError(diagnostics)
            result.written.append(result.weights_out)
            result.weights_written = len(state["store"])
    except NNPivotError as exc:
        for path in result.written:
            if not existed[path]:
                path.unlink(missing_ok=True)
        result.written.clear()
        return exc.diagnostics
    return []


# --- command line ----------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    parser.description = ("Migrate the network of a PyTorch or Keras source file to the other framework (or to .nn "
                          "or XMI) through the pivot model, optionally with its trained weights. The source is read "
                          "statically; only reading a Keras .weights.h5 of the original model runs the source.")
    parser.add_argument("source", metavar="SRC", help="PyTorch or Keras source file (.py)")
    parser.add_argument("--to", dest="target", required=True, choices=TARGETS, help="target format")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    parser.add_argument("--from", dest="source_framework", choices=FRAMEWORKS,
                        help="source framework (default: from the file's imports)")
    parser.add_argument("--model", metavar="NAME", help="class, builder function or variable to migrate "
                                                        "(when the file defines several)")
    parser.add_argument("--model-args", metavar="ARGS", help="constructor arguments: JSON object or k=v,k2=v2")
    parser.add_argument("--input-shape", action="append", metavar="NAME=DIMS",
                        help="an input's shape without the batch axis, like x=3,32,32 (repeatable), in the "
                             "source framework's layout")
    parser.add_argument("--weights", metavar="CKPT", help="weights of the original model (.pt state_dict, "
                                                          ".weights.h5, or a pivot .npz/.safetensors)")
    parser.add_argument("--weights-out", metavar="OUT", help="weights for the generated code (.pt, .weights.h5, "
                                                             ".npz, .safetensors)")
    parser.add_argument("--report", nargs="?", const="-", metavar="FILE",
                        help="write the migration report to FILE (default: print it)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def run_migrate(args) -> int:
    """The ``nnpivot migrate`` subcommand."""
    from nnpivot.cli import report as print_diagnostics
    from nnpivot.fileio import write_atomic

    result = migrate(args.source, args.target, args.output, source_framework=args.source_framework,
                     model_name=args.model, model_args=parse_model_args(args.model_args),
                     input_shapes=parse_input_shapes(args.input_shape), weights=args.weights,
                     weights_out=args.weights_out, force=args.force)
    print_diagnostics(result.diagnostics)
    if result.report is not None and result.report.model:
        print(f"{args.source}: migrated {result.migrated} ({result.source_framework})")
    if args.report is not None and result.report is not None:
        if args.report == "-":
            sys.stdout.write(result.report_text())
        else:
            write_atomic(args.report, result.report_text(), force=True)
            print(f"{args.report}: migration report written")
    if result.failed is not None:
        print(f"nnpivot: migration failed at step '{result.failed}'; nothing written", file=sys.stderr)
        return 1
    print(f"{result.output}: written ({result.source_framework} -> {result.target})")
    if result.weights_out is not None:
        print(f"{result.weights_out}: {result.weights_written} weight arrays written")
    if result.partial:
        count = sum(d.is_error for d in result.import_problems)
        print(f"nnpivot: {count} construct{'s' if count != 1 else ''} not translated: the output does NOT compute "
              "what the source computes", file=sys.stderr)
        return 1
    return 0


__all__ = ["MigrationResult", "add_arguments", "build_source_model", "import_source", "migrate", "parse_input_shapes",
           "parse_model_args", "read_source_weights", "run_migrate", "source_key", "source_model", "source_runner",
           "store_from_keras_source", "store_from_source_state_dict"]
