"""Constructor mode for Keras: the built model's functional graph, written as a functional builder.

See :mod:`nnpivot.importers.constructed`. The model the source's builder (or class) builds is walked
from its outputs back to its inputs through each tensor's producing layer and call (``_keras_history``,
the layer's inbound nodes); every layer is written as its class with the constructor arguments of its
config (``get_config``) that differ from the defaults, under its own name, so a checkpoint of the
original is read by layer name. Custom layers and nested models are errors naming the layer.
"""
from __future__ import annotations

import inspect
import itertools
from pathlib import Path

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error
from nnpivot.kinds.pysyntax import literal

from . import keras as keras_importer
from .constructed import CONSTRUCTED_SUFFIX, Unreadable, as_source, build_model, same_value


def _pick(path: Path) -> str:
    raise NNPivotError([error("model-name-needed", f"constructor mode builds the Keras model of {path.name} by "
                              "calling its class or builder function: name it with --model", Location(str(path)))])


# --- Keras: the functional graph of the built model, written as a functional builder ----------------------

# Config entries that are not constructor arguments of the layer's idiom, or that only concern training
# (initial values, penalties, constraints: the weights come from the checkpoint).
_KERAS_SKIPPED = frozenset({"trainable", "dtype", "autocast", "seed"})
_KERAS_TRAINING_ONLY = ("_initializer", "_regularizer", "_constraint")


def _keras_arguments(layer) -> list[str]:
    """``name=value`` of the layer's config entries that differ from its constructor's defaults (its name too)."""
    cls = type(layer)
    params = inspect.signature(cls.__init__).parameters
    written = []
    for key, value in layer.get_config().items():
        if key in _KERAS_SKIPPED or key.endswith(_KERAS_TRAINING_ONLY) or key == "activity_regularizer":
            continue
        param = params.get(key)
        if param is None and key != "name":
            continue   # a config entry the constructor takes through **kwargs with its default
        if param is not None and param.default is not param.empty and same_value(value, param.default):
            continue
        if key == "activation" and value == "linear" and param is not None and param.default is None:
            continue
        try:
            written.append(f"{key}={_plain(value)}")
        except TypeError:
            raise Unreadable(f"its {key} is {value!r}, not a plain value") from None
    return written


def _plain(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, dict):
        raise TypeError(value)
    return literal(value)


def constructed_keras_source(path: Path, built) -> tuple[str, list[Diagnostic]]:
    """``(text, problems)``: a functional builder ``constructed_model()`` computing the built Keras model's
    graph with the same layers (by class, config and name) in the same order."""
    import keras  # the framework of the model being read

    problems: list[Diagnostic] = []
    where = Location(str(path))
    if not isinstance(built, keras.Model) or not getattr(built, "inputs", None):
        raise NNPivotError([error("constructor-untranslated", f"the constructor of {path.name} built a "
                                  f"{type(built).__name__} without a functional graph (a subclassed or unbuilt "
                                  "model); constructor mode reads Sequential and functional Keras models", where)])
    names: dict[int, str] = {}
    lines: list[str] = []
    taken = {"keras", "layers", "inputs", "outputs"}

    def variable(base: str) -> str:
        name = "".join(c if c.isalnum() else "_" for c in base).strip("_") or "x"
        name = f"x_{name}" if name[0].isdigit() else name
        candidate = name
        for number in itertools.count(2):
            if candidate not in taken:
                break
            candidate = f"{name}_{number}"
        taken.add(candidate)
        return candidate

    def tensor(value) -> str:
        if isinstance(value, (list, tuple)):
            items = [tensor(v) for v in value]
            return "[" + ", ".join(items) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{literal(k)}: {tensor(v)}" for k, v in value.items()) + "}"
        if hasattr(value, "_keras_history"):
            return visit(value)
        return _plain(value)

    def visit(value) -> str:
        if id(value) in names:
            return names[id(value)]
        layer, node_index, _ = value._keras_history
        if isinstance(layer, keras.layers.InputLayer):
            name = variable(layer.name)
            shape = tuple(value.shape[1:])
            lines.append(f"    {name} = keras.Input(shape={_plain(shape)}, dtype={literal(str(value.dtype))}, "
                         f"name={literal(layer.name)})")
            names[id(value)] = name
            inputs.append(name)
            return name
        node = layer._inbound_nodes[node_index]
        args = [tensor(a) for a in node.arguments.args]
        kwargs = [f"{k}={tensor(v)}" for k, v in node.arguments.kwargs.items() if k != "training"]
        if not type(layer).__module__.startswith("keras."):
            problems.append(error("constructor-untranslated", f"layer {layer.name} ({type(layer).__name__}) is not "
                                  "a Keras layer (a custom layer or nested model is not read in constructor mode)",
                                  where))
            call = "None"
        else:
            try:
                call = f"layers.{type(layer).__name__}({', '.join(_keras_arguments(layer))})"
            except Unreadable as exc:
                problems.append(error("constructor-untranslated", f"layer {layer.name} ({type(layer).__name__}): "
                                      f"{exc}", where))
                call = "None"
        outputs = [variable(f"{layer.name}_{i}" if len(node.output_tensors) > 1 else layer.name)
                   for i in range(len(node.output_tensors))]
        lines.append(f"    {', '.join(outputs)} = {call}({', '.join(args + kwargs)})")
        for output, produced in zip(outputs, node.output_tensors):
            names[id(produced)] = output
        return names[id(value)]

    inputs: list[str] = []
    for value in built.inputs:
        visit(value)
    results = [visit(value) for value in built.outputs]
    output = results[0] if len(results) == 1 else "[" + ", ".join(results) + "]"
    given = inputs[0] if len(inputs) == 1 else "[" + ", ".join(inputs) + "]"
    text = "\n".join(["import keras", "from keras import layers", "", "", "def constructed_model():", *lines,
                      f"    return keras.Model(inputs={given}, outputs={output}, name={literal(built.name)})", ""])
    return text, problems


def import_keras_constructed(path, model_name=None, model_args=None, input_shapes=None, settings=None):
    """Constructor mode for Keras: ``(model, report)`` of the model the file's builder or class builds."""
    import keras  # the framework of the model being read

    path = Path(path)
    keras.backend.clear_session()   # the layers get the names a fresh run of the builder gives them
    built, name, how = build_model(path, model_name, model_args, settings, _pick)
    text, problems = constructed_keras_source(path.resolve(), built)
    written = Path(f"{path}{CONSTRUCTED_SUFFIX}")
    try:
        model, report = keras_importer.import_keras(written, "constructed_model", input_shapes, None, None,
                                                    source_text=text)
    except NNPivotError as exc:
        raise NNPivotError(problems + _moved(exc.diagnostics, path)) from None
    report.diagnostics[:] = problems + _moved(report.diagnostics, path)
    as_source(report, path, name, how, model_args, False)
    report.keras_name_counters = None
    report.keras_weight_paths = {}   # the layers are found by their names (the written code names each)
    if any(d.is_error for d in report.diagnostics):   # a partial reading of the written builder would mislead
        raise NNPivotError(report.diagnostics)
    return model, report


def _moved(diagnostics, path: Path) -> list[Diagnostic]:
    """Diagnostics of the written builder, located at the user's file (their messages name the layer)."""
    return [Diagnostic(d.severity, d.code, d.message, Location(str(path)))
            if d.location is not None and str(d.location.file).endswith(CONSTRUCTED_SUFFIX) else d
            for d in diagnostics]


def import_keras_source(path, model_name=None, model_args=None, input_shapes=None, settings=None,
                        run_constructor=False):
    """The Keras source loader: :func:`nnpivot.importers.keras.import_keras` (static), or with
    ``run_constructor`` :func:`import_keras_constructed`."""
    if run_constructor:
        return import_keras_constructed(path, model_name, model_args, input_shapes, settings=settings)
    return keras_importer.import_keras(path, model_name, input_shapes, model_args, settings)


__all__ = ["constructed_keras_source", "import_keras_constructed", "import_keras_source"]
