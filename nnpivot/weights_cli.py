"""``nnpivot weights convert``: trained weights from one format to another, through the pivot store.

Formats are chosen by file name (``WEIGHT_FORMATS``): a PyTorch ``state_dict``
(``.pt``/``.pth``) of the generated PyTorch model, a Keras ``.weights.h5`` of
the generated Keras model, or the pivot store itself (``.npz``/``.safetensors``,
arrays keyed ``<node>.<param>`` in pivot layout). Every read is checked against
the parameters the pivot model expects, so a checkpoint of another model is a
``weight-shape-mismatch``/``weight-missing`` diagnostic naming the parameter.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors, location_of, warning
from nnpivot.fileio import refuse_existing
from nnpivot.weights import WeightStore


def _read_pytorch(model, path):
    from nnpivot.generators.pytorch import read_weights
    return read_weights(model, path)


def _write_pytorch(model, store, path, force):
    from nnpivot.generators.pytorch import write_weights
    write_weights(model, store, path, force=force)
    return []


def _read_keras(model, path):
    from nnpivot.generators.keras import read_weights_h5
    store, diagnostics = read_weights_h5(path, model)
    if has_errors(diagnostics):
        return store, _h5_problems(model, path) or diagnostics
    return store, diagnostics + check_store(model, store)


def _h5_problems(model, path) -> list[Diagnostic]:
    """Per Keras variable, where a ``.weights.h5`` file disagrees with the generated model (Keras' own
    loading error names neither the variable nor the shapes)."""
    import h5py

    from nnpivot.generators.keras import build_keras_model
    from nnpivot.graph import topological_order

    keras_model = build_keras_model(model)
    nodes = {node.name: node for node in topological_order(model)}
    problems: list[Diagnostic] = []
    try:
        stored = h5py.File(path, "r")
    except OSError as exc:
        return [error("weights-unreadable", f"{path}: not a Keras weights file ({exc})", Location(str(path)))]
    with stored:
        def visit(name, item):
            if not (isinstance(item, h5py.Group) and name.endswith("/vars")):
                return
            owner = _attribute_path(keras_model, name[:-len("/vars")].split("/"))
            if owner is None:
                return
            variables = list(getattr(owner, "_trainable_variables", [])) + list(
                getattr(owner, "_non_trainable_variables", []))
            arrays = [item[key] for key in sorted(item, key=int)]
            layer = name[:-len("/vars")]
            where = location_of(nodes[layer.split("/")[0]]) if layer.split("/")[0] in nodes else None
            if len(arrays) != len(variables):
                problems.append(error("weight-missing", f"{path}: Keras layer '{layer}' holds {len(arrays)} arrays, "
                                      f"the model expects {len(variables)}", where))
                return
            for index, (variable, array) in enumerate(zip(variables, arrays)):
                if tuple(variable.shape) != tuple(array.shape):
                    problems.append(error("weight-shape-mismatch", f"'{layer}' {variable.name} (vars/{index}) has "
                                          f"shape {_shape(array.shape)} in {Path(path).name} but the model expects "
                                          f"{_shape(variable.shape)}", where))
        stored.visititems(visit)
    return problems


def _attribute_path(obj, names):
    for name in names:
        obj = getattr(obj, name, None)
        if obj is None or isinstance(obj, (list, tuple, dict)):
            return None
    return obj


def _write_keras(model, store, path, force):
    from nnpivot.generators.keras import write_weights_h5
    return write_weights_h5(path, model, store, force=force)


def _read_pivot(model, path):
    try:
        store = WeightStore.load(path)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
        return WeightStore(), [error("weights-unreadable", f"{path}: not a weight store ({exc})",
                                     Location(str(path)))]
    return store, check_store(model, store)


def _write_pivot(model, store, path, force):
    refuse_existing(path, force)
    store.save(path)
    return []


@dataclass(frozen=True)
class WeightFormat:
    name: str
    suffixes: tuple[str, ...]
    description: str
    read: Callable[..., tuple[WeightStore, list[Diagnostic]]]   # (model, path) -> (store, diagnostics)
    write: Callable[..., list[Diagnostic]]                       # (model, store, path, force) -> diagnostics


WEIGHT_FORMATS: tuple[WeightFormat, ...] = (
    WeightFormat("pytorch", (".pt", ".pth"), "PyTorch state_dict", _read_pytorch, _write_pytorch),
    WeightFormat("keras", (".weights.h5",), "Keras weights", _read_keras, _write_keras),
    WeightFormat("pivot", (".npz", ".safetensors"), "pivot weight store", _read_pivot, _write_pivot),
)


def weight_format(path) -> WeightFormat:
    """The format of a weight file by its name; a UsageError (exit 2) for an unknown one."""
    from nnpivot.pipeline import UsageError

    name = Path(path).name.lower()
    for fmt in WEIGHT_FORMATS:
        if name.endswith(fmt.suffixes):
            return fmt
    known = ", ".join(s for f in WEIGHT_FORMATS for s in f.suffixes)
    raise UsageError([error("unknown-weights-format", f"cannot tell the weight format of {path}; known: {known}",
                            Location(str(path)))])


def check_store(model, store: WeightStore) -> list[Diagnostic]:
    """Every parameter ``model`` expects is in ``store`` with its shape; extra arrays are warnings."""
    from nnpivot.generators.pytorch import parameter_slots

    slots = parameter_slots(model)
    diagnostics = []
    for slot in slots:
        array = store.get(slot.pivot_key)
        if array is None:
            diagnostics.append(error("weight-missing", f"no '{slot.pivot_key}' (shape {_shape(slot.shape)}) in the "
                                     "weights", location_of(slot.node)))
        elif tuple(array.shape) != slot.shape:
            diagnostics.append(error("weight-shape-mismatch", f"'{slot.pivot_key}' has shape {_shape(array.shape)} "
                                     f"in the weights but the model expects {_shape(slot.shape)}",
                                     location_of(slot.node)))
    expected = {slot.pivot_key for slot in slots}
    for key in store:
        if key not in expected:
            diagnostics.append(warning("weight-unexpected", f"the weights have '{key}', which the model does not use"))
    return diagnostics


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _require_file(path) -> None:
    path = Path(path)
    if not path.exists():
        raise NNPivotError([error("file-not-found", f"no such file: {path}", Location(str(path)))])
    if path.is_dir():
        raise NNPivotError([error("not-a-file", f"{path} is a directory, not a weight file", Location(str(path)))])


def read_store(model, path) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot weight store of ``model`` from a weight file of any known format."""
    fmt = weight_format(path)
    _require_file(path)
    return fmt.read(model, Path(path))


def write_store(model, store: WeightStore, path, force: bool = False) -> list[Diagnostic]:
    """Write ``store`` for ``model`` in the format of ``path``, atomically; ``output-exists`` unless ``force``."""
    fmt = weight_format(path)
    refuse_existing(path, force)
    try:
        return fmt.write(model, store, Path(path), force)
    except NNPivotError as exc:
        return exc.diagnostics


def convert_weights(model, source, destination, force: bool = False) -> list[Diagnostic]:
    """Read ``source`` into the pivot store for ``model`` and write ``destination``; the diagnostics of both."""
    weight_format(source)
    weight_format(destination)
    refuse_existing(destination, force)  # before the (possibly slow) read
    store, diagnostics = read_store(model, source)
    if has_errors(diagnostics):
        return diagnostics
    return diagnostics + write_store(model, store, destination, force)


def run_weights(args) -> int:
    """The ``nnpivot weights`` subcommand (``convert``)."""
    from nnpivot import api
    from nnpivot.cli import report
    from nnpivot.validators import validate

    weight_format(args.source)
    weight_format(args.destination)
    model = api.load(args.model)
    problems = validate(model)
    if has_errors(problems):
        raise NNPivotError(problems)
    diagnostics = convert_weights(model, args.source, args.destination, args.force)
    report(diagnostics)
    if has_errors(diagnostics):
        return 1
    print(f"{args.destination}: written ({weight_format(args.source).name} -> "
          f"{weight_format(args.destination).name} weights of {model.name})")
    return 0


__all__ = ["WEIGHT_FORMATS", "WeightFormat", "check_store", "convert_weights", "read_store", "run_weights",
           "weight_format", "write_store"]
