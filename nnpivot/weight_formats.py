"""Trained weights in their file formats, through the pivot weight store.

The formats are described in :data:`nnpivot.formats.WEIGHT_FORMATS` (chosen by
file name): a PyTorch ``state_dict`` (``.pt``/``.pth``) of the generated
PyTorch model, a Keras ``.weights.h5`` of the generated Keras model, or the
pivot store itself (``.npz``/``.safetensors``, arrays keyed
``<node>.<param>`` in pivot layout); this module holds their readers and
writers. Every read is checked against the parameters the pivot model expects,
so a checkpoint of another model is a ``weight-shape-mismatch``/
``weight-missing`` diagnostic naming the parameter. torch and TensorFlow are
imported by the generators' weight functions when a file of theirs is read or
written, not here.
"""
from __future__ import annotations

from pathlib import Path

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors, location_of, warning
from nnpivot.fileio import Staged, check_readable, refuse_existing, same_file
from nnpivot.formats import WEIGHT_FORMATS, WeightFormat, weight_format
from nnpivot.generators import keras as keras_target
from nnpivot.generators import pytorch as torch_target
from nnpivot.graph import topological_order
from nnpivot.weights import WeightStore

try:
    import h5py
except ImportError:  # optional (the frameworks extra): only Keras weight files need it
    h5py = None


def read_pytorch(model, path):
    return torch_target.read_weights(model, path)


def write_pytorch(model, store, path, force):
    torch_target.write_weights(model, store, path, force=force)
    return []


def read_keras(model, path):
    store, diagnostics = keras_target.read_weights_h5(path, model)
    if has_errors(diagnostics):
        return store, _h5_problems(model, path) or diagnostics
    return store, diagnostics + check_store(model, store)


def _h5_problems(model, path) -> list[Diagnostic]:
    """Per Keras variable, where a ``.weights.h5`` file disagrees with the generated model (Keras' own
    loading error names neither the variable nor the shapes)."""
    if h5py is None:
        return []
    keras_model = keras_target.build_keras_model(model)
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


def write_keras(model, store, path, force):
    return keras_target.write_weights_h5(path, model, store, force=force)


def read_pivot(model, path):
    try:
        store = WeightStore.load(path)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
        return WeightStore(), [error("weights-unreadable", f"{path}: not a weight store ({exc})",
                                     Location(str(path)))]
    return store, check_store(model, store)


def write_pivot(model, store, path, force):
    refuse_existing(path, force)
    store.save(path)  # atomic: through a temporary file and a rename
    return []


def check_store(model, store: WeightStore) -> list[Diagnostic]:
    """Every parameter ``model`` expects is in ``store`` with its shape; extra arrays are warnings."""
    slots = torch_target.parameter_slots(model)
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
    check_readable(path, "weight file")


def read_store(model, path) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot weight store of ``model`` from a weight file of any known format."""
    fmt = weight_format(path)
    _require_file(path)
    return fmt.read(model, Path(path))


def write_store(model, store: WeightStore, path, force: bool = False) -> list[Diagnostic]:
    """Write ``store`` for ``model`` in the format of ``path``, atomically; ``output-exists`` unless ``force``."""
    fmt = weight_format(path)
    try:
        with Staged(force) as staged:  # written to a temporary file, then published keeping a replaced file's mode
            diagnostics = fmt.write(model, store, staged.path_for(path), True)
            if not has_errors(diagnostics):
                staged.publish()
            return diagnostics
    except NNPivotError as exc:
        return exc.diagnostics


def convert_weights(model, source, destination, force: bool = False) -> list[Diagnostic]:
    """Read ``source`` into the pivot store for ``model`` and write ``destination``; the diagnostics of both."""
    weight_format(source)
    weight_format(destination)
    if same_file(source, destination):  # even --force never replaces what the run reads
        return [error("output-is-input", f"{destination} is also the weights read; write elsewhere",
                      Location(str(destination)))]
    refuse_existing(destination, force)  # before the (possibly slow) read
    store, diagnostics = read_store(model, source)
    if has_errors(diagnostics):
        return diagnostics
    return diagnostics + write_store(model, store, destination, force)


__all__ = ["WEIGHT_FORMATS", "WeightFormat", "check_store", "convert_weights", "read_keras", "read_pivot",
           "read_pytorch", "read_store", "weight_format", "write_keras", "write_pivot", "write_pytorch", "write_store"]
