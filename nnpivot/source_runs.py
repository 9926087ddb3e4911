"""Running and reading the ORIGINAL source model of a migration: its weights, and a runner of it.

This is the side of ``nnpivot migrate`` and ``nnpivot verify`` that needs
numpy, and torch or TensorFlow (imported where a function needs them):

* :func:`read_source_weights` reads a checkpoint of the original model into
  the pivot store. A PyTorch ``state_dict`` (keys following the source's
  attributes, ``features.0.weight``) is read without running anything: the
  importer's ``report.state_dict_prefixes`` say which source prefix holds each
  pivot node's parameters. A Keras ``.weights.h5`` saved from the original
  model can only be read by Keras into that very model, so the source file is
  executed to build it (in a fresh Keras session) and the importer's
  ``report.keras_layer_names`` name the layer holding each node's weights.
  Either checkpoint may also be a pivot store (``.npz``/``.safetensors``).
* ``SourceTorchRunner``/``SourceKerasRunner`` run the original source model in
  pivot terms (weights in and out through the importer's maps, inputs and
  outputs in pivot layout), so :func:`nnpivot.verify.verify_runners` can
  compare it with the generated code. They execute the source file.
* :func:`source_model` imports a source file for running it, guessing a small
  legal input shape when the code gives none.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors, location_of, warning
from nnpivot.fileio import check_readable
from nnpivot.formats import weight_format
from nnpivot.frameworks import KerasRunner, Runner, TorchRunner, _raised_in, load_source_module, random_inputs
from nnpivot.generators import keras as keras_target
from nnpivot.generators import pytorch as torch_target
from nnpivot.importers.pytorch import guess_input_shapes
from nnpivot.kinds import kind_of
from nnpivot.migrate import import_source, source_key
from nnpivot.weight_formats import check_store, read_pivot
from nnpivot.weights import WeightStore


def source_model(path, framework: str, model_name=None, model_args=None, input_shapes=None, announce=print):
    """``(model, report)`` of a source file for running it (``nnpivot verify``): input shapes from the code or
    ``input_shapes``, else (PyTorch) a small legal shape guessed from the first layer, which is announced."""
    try:
        model, report = import_source(path, framework, model_name, model_args, input_shapes)
    except NNPivotError as exc:
        if framework != "pytorch" or input_shapes or not any(d.code == "missing-input-shape"
                                                             for d in exc.diagnostics):
            raise
        input_shapes = guess_input_shapes(path, model_name, model_args)
        shapes = ", ".join(f"{name}: {list(shape)}" for name, shape in input_shapes.items())
        announce(f"{path}: the code gives no input shape; using a small legal one (batch axis left out): {shapes}")
        model, report = import_source(path, framework, model_name, model_args, input_shapes)
        report.guessed_shapes = True
    if has_errors(report.diagnostics):
        raise NNPivotError(report.diagnostics)
    return model, report


def store_from_source_state_dict(model, report, state_dict, copy: bool = True) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot store from a ``state_dict`` of the original PyTorch module (keys as in the source).

    A checkpoint of the generated module (keys as the generator writes them)
    is accepted too, key by key. ``copy=False`` lets the store share the tensors'
    memory, for a state_dict nobody else holds (one just read from a file).
    """
    store, diagnostics, used = WeightStore(), [], set()
    for slot in torch_target.parameter_slots(model):
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
    for node in model.nodes:
        kind = kind_of(node)
        if node.weightsOf is not None:
            continue  # computes with its owner's layer (weightsOf): no weights of its own
        if node.eClass.name == "BlockCall" or (kind is not None and kind.mappings[keras_target.TARGET].weights):
            yield node


def _keras_units(keras_model, model, report):
    """(node, [(layer, info)]) of every weighted node of a hand-written Keras model."""
    owner = _LayersByName(keras_model, report.keras_layer_names)
    for node in _keras_weighted_nodes(model):
        if node.eClass.name == "BlockCall":
            raise NNPivotError([error("weights-unmapped", f"{node.name}: weights inside a Keras layer subclass "
                                      "(block) are not mapped to the source yet", location_of(node))])
        try:
            units = keras_target._units(owner, _NoCode, node)
        except AttributeError:
            raise NNPivotError([error("weights-unmapped", f"{node.name}: no Keras layer named "
                                      f"'{report.keras_layer_names.get(node.name, node.name)}' in the source model",
                                      location_of(node))]) from None
        yield node, units


def store_from_keras_source(keras_model, model, report) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot store of a built hand-written Keras model (the one the importer read)."""
    store, diagnostics = WeightStore(), []
    for node, units in _keras_units(keras_model, model, report):
        diagnostics += keras_target.read_layer_weights(node.name, node, units, store)
    return store, diagnostics


def assign_keras_source(keras_model, model, report, store: WeightStore) -> list[Diagnostic]:
    """Copy pivot weights into a built hand-written Keras model."""
    diagnostics: list[Diagnostic] = []
    for node, units in _keras_units(keras_model, model, report):
        diagnostics += keras_target.write_layer_weights(node.name, node, units, store.for_node(node.name))
    return diagnostics


def _module_target(module, name: str, path: Path):
    if not hasattr(module, name):
        raise NNPivotError([error("model-not-found", f"{path.name} defines no '{name}' when run", Location(str(path)))])
    return getattr(module, name)


def build_source_model(path, framework: str, report, model_args=None):
    """EXECUTE the source file and build the network the importer migrated (a fresh Keras session first,
    so unnamed Keras layers get the names the importer expects)."""
    path = Path(path)
    if framework == "keras":
        import keras  # TensorFlow: only when a Keras source is run
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
        from torch import nn  # the framework of the file being run
        return isinstance(value, nn.Module)
    import keras  # the framework of the file being run
    return isinstance(value, (keras.Model, keras.layers.Layer))


class SourceTorchRunner(TorchRunner):
    """The original PyTorch module, weights mapped through ``report.state_dict_prefixes``."""

    def __init__(self, path, model, obj, report):
        self.report = report
        super().__init__(path, model, obj)

    def _read_store(self):
        return store_from_source_state_dict(self.model, self.report, self.obj.state_dict())

    def _write_store(self, store):
        import torch  # loaded with the source module this runner runs

        own = self.obj.state_dict()
        state = {}
        for slot in torch_target.parameter_slots(self.model):
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
        Runner.__init__(self, path, model, obj)
        self.in_perms = [tuple(p) for p in report.input_layouts]
        self.out_perms = [tuple(p) for p in report.output_layouts]
        if not obj.built:
            self._forward(random_inputs(model, 1))

    def _read_store(self):
        return store_from_keras_source(self.obj, self.model, self.report)

    def _write_store(self, store):
        return assign_keras_source(self.obj, self.model, self.report, store)


def source_runner(path, framework: str, model, report, model_args=None):
    """A verify runner of the ORIGINAL source model (the file is executed)."""
    obj = build_source_model(path, framework, report, model_args)
    return (SourceTorchRunner if framework == "pytorch" else SourceKerasRunner)(path, model, obj, report)


def read_source_weights(path, framework: str, model, report, weights, model_args=None):
    """The pivot store from a checkpoint of the original source model."""
    weights = check_readable(weights, "weight file")
    fmt = weight_format(weights)
    if fmt.name == "pivot":
        return read_pivot(model, weights)
    if fmt.name != framework:
        raise NNPivotError([error("weights-framework-mismatch", f"{weights.name} is a {fmt.description} but the "
                                  f"source is {framework} code", Location(str(weights)))])
    if framework == "pytorch":
        return store_from_source_state_dict(model, report, torch_target.read_checkpoint(weights), copy=False)
    runner = source_runner(path, framework, model, report, model_args)
    try:
        runner.obj.load_weights(str(weights))
    except (ValueError, OSError, KeyError) as exc:
        raise NNPivotError([error("weights-unreadable", f"{weights}: Keras cannot load it into "
                                  f"{report.model}: {exc}", Location(str(weights)))]) from None
    store, diagnostics = store_from_keras_source(runner.obj, model, report)
    return store, diagnostics + check_store(model, store)


__all__ = ["SourceKerasRunner", "SourceTorchRunner", "assign_keras_source", "build_source_model",
           "read_source_weights", "source_model", "source_runner", "store_from_keras_source",
           "store_from_source_state_dict"]
