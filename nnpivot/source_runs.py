"""Running and reading the ORIGINAL source model of a migration: its weights, and a runner of it.

This is the side of ``nnpivot migrate`` and ``nnpivot verify`` that needs
numpy, and torch or TensorFlow (imported where a function needs them):

* :func:`read_source_weights` reads a checkpoint of the original model into
  the pivot store. A PyTorch ``state_dict`` (keys following the source's
  attributes, ``features.0.weight``) is read without running anything: the
  importer's ``report.state_dict_prefixes`` say which source prefix holds each
  pivot node's parameters. A Keras ``.weights.h5`` saved from the original
  model is read with h5py by layer path (``report.keras_weight_paths``); where
  that is not enough (subclassed models, weights in sub-layers) the source's
  definitions are executed to build the model (in a fresh Keras session, the
  name counters set to ``report.keras_name_counters``), Keras loads the file,
  and each node's layer is found by its path in that model, else by the name
  ``report.keras_layer_names`` predicts (Keras numbers unnamed layers over the
  whole process: the importer counts them as ``python script.py`` runs, up
  to the build the script saves); a layer found neither way is a located
  ``weights-unmapped`` error.
  Either checkpoint may also be a pivot store (``.npz``/``.safetensors``).
* ``SourceTorchRunner``/``SourceKerasRunner`` run the original source model in
  pivot terms (weights in and out through the importer's maps, inputs and
  outputs in pivot layout), so :func:`nnpivot.verify.verify_runners` can
  compare it with the generated code. They execute the source file's
  DEFINITIONS only (:func:`load_definitions`): imports, classes, functions and
  the module-level assignments that build values from them, never the script's
  top-level calls, loops, data loading or ``__main__`` block; the model is built
  with the arguments the importer read where the script builds it.
* :func:`source_model` imports a source file for running it, guessing a small
  legal input shape when the code gives none.
"""
from __future__ import annotations

import ast
import collections
import importlib.util
import itertools
import types
from pathlib import Path
from typing import ClassVar

import numpy as np

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors, location_of, warning
from nnpivot.fileio import check_readable
from nnpivot.formats import weight_format
from nnpivot.frameworks import KerasRunner, Runner, TorchRunner, _raised_in, random_inputs
from nnpivot.generators import keras as keras_target
from nnpivot.generators import pytorch as torch_target
from nnpivot.importers.constructed import FRAMEWORK_PACKAGES, execute_definitions, project_file, project_imports
from nnpivot.importers.pysource import ImportTable, SourceObject, dotted
from nnpivot.importers.pytorch import guess_input_shapes
from nnpivot.kinds import kind_of
from nnpivot.metamodel.blocks import argument_values, is_parameterised, specialise
from nnpivot.migrate import import_source, source_key
from nnpivot.weight_formats import check_store, read_pivot
from nnpivot.weights import WeightStore

# --- the source's definitions, without its script --------------------------------------------------

# Parts of a framework call path that read or write files, download or train: never run from a script.
SIDE_EFFECTS = frozenset({"datasets", "data", "io", "load", "load_data", "get_file", "hub", "save", "load_model",
                          "load_weights", "save_weights", "image_dataset_from_directory", "text_dataset_from_directory",
                          "timeseries_dataset_from_array", "loadtxt", "genfromtxt", "fromfile", "fit", "compile",
                          "evaluate", "predict", "summary", "plot_model", "train_on_batch", "set_seed"})
BUILDING_METHODS = frozenset({"add", "build", "append", "extend", "add_module", "insert"})
# Builtins that read files or the terminal, or run code: a module-level value made with them is script, not model.
SIDE_EFFECT_BUILTINS = frozenset({"open", "input", "exec", "eval", "compile", "__import__", "exit", "quit",
                                  "breakpoint", "help"})
_definitions_counter = itertools.count()


def _definitions(tree: ast.Module, settings: dict, folder: Path | None = None) -> list[ast.stmt]:
    """The statements of ``tree`` that define things: imports, classes, functions, and module-level assignments
    (and ``x.add(...)`` building calls) that only compute with what is defined, the framework, Python and the
    project's own modules (files below ``folder``, loaded by their definitions only); a name given by ``--set``
    is assigned its value instead."""
    imports = ImportTable(tree)
    defined = set(dir(__builtins__) if not isinstance(__builtins__, dict) else __builtins__)
    kept: list[ast.stmt] = []

    def reads_only_defined(node) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and (
                    sub.id not in defined or sub.id in SIDE_EFFECT_BUILTINS):
                return False
            if isinstance(sub, ast.Call):
                head, parts = dotted(sub.func)
                if isinstance(head, ast.Name) and head.id in imports.names:
                    package = imports.names[head.id].split(".")[0]
                    path = [*imports.names[head.id].split("."), *parts]
                    own = folder is not None and project_file(folder, [package]) is not None
                    if package not in FRAMEWORK_PACKAGES and not own or SIDE_EFFECTS.intersection(path):
                        return False
                elif parts and SIDE_EFFECTS.intersection(parts):
                    return False
        return True

    def names_of(targets) -> list[str]:
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]

    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            kept.append(stmt)
            defined.update(alias.asname or alias.name.split(".")[0] for alias in stmt.names)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(stmt)
            defined.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = names_of(targets)
            if len(names) == 1 and names[0] in settings:
                value = ast.parse(repr(settings[names[0]]), mode="eval").body
                kept.append(ast.copy_location(ast.Assign([ast.Name(names[0], ast.Store())], value), stmt))
                defined.add(names[0])
            elif reads_only_defined(stmt.value) and all(reads_only_defined(t) for t in targets
                                                        if not isinstance(t, ast.Name)):
                kept.append(stmt)
                defined.update(names)
        elif _updates_in_place(stmt) and reads_only_defined(stmt) and getattr(
                getattr(stmt, "target", None), "id", None) in (defined | {None}):
            kept.append(stmt)
    return kept


def _updates_in_place(stmt: ast.stmt) -> bool:
    """``x += [...]`` or ``model.add(...)``: a module-level value built up step by step."""
    if isinstance(stmt, ast.AugAssign):
        return isinstance(stmt.target, ast.Name)
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
        isinstance(stmt.value.func, ast.Attribute) and stmt.value.func.attr in BUILDING_METHODS


def load_definitions(path, settings: dict | None = None):
    """Execute the DEFINITIONS of a source file (see :func:`_definitions`) as a fresh module and return it:
    never its top-level script, its data loading, its training or its ``__main__`` block (nor those of the
    project's files it imports, whose definitions only are loaded)."""
    path = check_readable(Path(path).resolve())
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_tree = ast.Module(_definitions(tree, settings or {}, path.parent), type_ignores=[])
    ast.fix_missing_locations(module_tree)
    name = f"_nnpivot_definitions_{next(_definitions_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        with project_imports(module, lambda tree: _definitions(tree, {}, path.parent)):
            exec(compile(module_tree, str(path), "exec"), module.__dict__)  # noqa: S102 - the user's definitions
    except Exception as exc:  # noqa: BLE001 - the file's own error, reported with its line
        raise NNPivotError([_raised_in(path, exc, "defining the model of")]) from None
    return module


def source_model(path, framework: str, model_name=None, model_args=None, input_shapes=None, announce=print,
                 settings=None, run_constructor: bool = False):
    """``(model, report)`` of a source file for running it (``nnpivot verify``): input shapes from the code or
    ``input_shapes``, else (PyTorch) a small legal shape guessed from the first layer, which is announced."""
    try:
        model, report = import_source(path, framework, model_name, model_args, input_shapes, settings,
                                      run_constructor)
    except NNPivotError as exc:
        if framework != "pytorch" or input_shapes or run_constructor or not any(d.code == "missing-input-shape"
                                                             for d in exc.diagnostics) or any(
                d.code == "free-value" for d in exc.diagnostics):
            raise
        input_shapes = guess_input_shapes(path, model_name, model_args, settings)
        shapes = ", ".join(f"{name}: {list(shape)}" for name, shape in input_shapes.items())
        announce(f"{path}: the code gives no input shape; using a small legal one (batch axis left out): {shapes}")
        model, report = import_source(path, framework, model_name, model_args, input_shapes, settings)
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
    found by the path a ``.weights.h5`` keeps them under (``report.keras_weight_paths``, Sequential and
    functional models: it does not depend on how many layers the process made before), else by the name
    they have at run time (``report.keras_layer_names``); a node holding only part of its layer's weights
    (``report.keras_weight_parts``) gets that part. A node whose layer is not found raises AttributeError."""

    def __init__(self, keras_model, report):
        self.layers = {}
        for layer in keras_model._flatten_layers(include_self=False, recursive=True):
            self.layers.setdefault(layer.name, layer)
        self.by_path = _layers_by_path(keras_model) if report.keras_weight_paths else {}
        self.paths, self.names, self.parts = report.keras_weight_paths, report.keras_layer_names, \
            report.keras_weight_parts

    def __getattr__(self, node_name):
        if node_name.startswith("__"):
            raise AttributeError(node_name)
        state = self.__dict__
        layer = state["by_path"].get(state["paths"].get(node_name))
        if layer is None:
            layer = state["layers"].get(state["names"].get(node_name))
        if layer is None:
            raise AttributeError(node_name)
        part = state["parts"].get(node_name)
        return _LayerPart(layer, part) if part else layer


def _layers_by_path(keras_model) -> dict:
    """The layers of a Sequential or functional model by their ``.weights.h5`` path (Keras 3 saving:
    ``layers/<class in snake case>[_<n>]``, numbered per class in the order of ``model.layers``)."""
    import keras  # the framework of the model being read

    found, counters = {}, {}
    for layer in getattr(keras_model, "layers", []):
        snake = keras.src.utils.naming.to_snake_case(type(layer).__name__)
        count = counters.get(snake, 0)
        counters[snake] = count + 1
        found[f"layers/{snake}" + (f"_{count}" if count else "")] = layer
    return found


class _Variable:
    """The shape and dtype of a weight as a part of a layer shows it."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype


class _LayerPart:
    """Some of one Keras layer's weights, seen as a layer of their own (the weight helpers' interface):
    ``part`` lists (index in the layer's weight list, the shape the node's converter sees or None)."""

    def __init__(self, layer, part):
        self.layer, self.part, self.name = layer, part, layer.name

    @property
    def weights(self):
        variables = self.layer.weights
        return [_Variable(shape or variables[i].shape, variables[i].dtype) for i, shape in self.part]

    def get_weights(self):
        arrays = self.layer.get_weights()
        return [arrays[i] if shape is None else arrays[i].reshape(shape) for i, shape in self.part]

    def set_weights(self, arrays):
        current = self.layer.get_weights()
        for (i, _), array in zip(self.part, arrays):
            current[i] = np.reshape(array, current[i].shape)
        self.layer.set_weights(current)


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
    """(store key, node, [(layer, info)]) of every weighted node of a hand-written Keras model; the nodes inside
    a call of a custom layer (BlockCall) under ``<call>.<node>``, found by the run-time names of the layers that
    layer object holds (``report.keras_block_layers``)."""
    owner = _LayersByName(keras_model, report)
    for node in _keras_weighted_nodes(model):
        if node.eClass.name != "BlockCall":
            yield node.name, node, _keras_node_units(owner, node, report.keras_layer_names.get(node.name))
            continue
        inner = report.keras_block_layers.get(node.name, {})
        block_owner = _LayersByName(keras_model, report)
        block_owner.paths, block_owner.by_path = {}, {}
        outer = _custom_layer_of(keras_model, owner, report.keras_layer_names.get(node.name), node.name,
                                 {runtime for runtime, _ in inner.values()})
        if outer is not None:   # layers of this object only: two objects of a class name their layers alike
            block_owner.layers = {}
            for layer in outer._flatten_layers(include_self=False, recursive=True):
                block_owner.layers.setdefault(layer.name, layer)
        block_owner.names = {name: runtime for name, (runtime, _) in inner.items()}
        block_owner.parts = {name: part for name, (_, part) in inner.items() if part}
        block = node.block
        if is_parameterised(block):   # the layers this call's arguments make (an absent guard makes none)
            block = specialise(block, argument_values(node))
        for inner_node in _keras_weighted_nodes(block):
            if inner_node.eClass.name == "BlockCall":
                raise NNPivotError([error("weights-unmapped", f"{node.name}.{inner_node.name}: weights of a Keras "
                                          "layer subclass inside another are not mapped to the source yet",
                                          location_of(inner_node))])
            yield (f"{node.name}.{inner_node.name}", inner_node,
                   _keras_node_units(block_owner, inner_node, block_owner.names.get(inner_node.name)))


def _custom_layer_of(keras_model, owner, runtime: str | None, node_name: str, inner_names: set):
    """The custom-layer object of a block call: by its run-time name when the importer knows it; else the layer
    named like the call (nnpivot's generated code names them so) if it holds the call's inner run-time names;
    else the one top-level layer that holds them all (None when not exactly one)."""
    if runtime is not None:
        return owner.layers.get(runtime)

    def holds(layer) -> bool:
        return inner_names <= {inner.name for inner in layer._flatten_layers(include_self=False, recursive=True)}

    named = owner.layers.get(node_name)
    if named is not None and (not inner_names or holds(named)):
        return named
    holding = [layer for layer in keras_model.layers if inner_names and holds(layer)]
    return holding[0] if len(holding) == 1 else None


def _keras_node_units(owner, node, runtime):
    try:
        return keras_target._units(owner, _NoCode, node)
    except AttributeError:
        why = (f"no Keras layer named '{runtime}' in the source model" if runtime else
               "its Keras layer's name is not known statically (give the layer a literal name=)")
        raise NNPivotError([error("weights-unmapped", f"{node.name}: {why}", location_of(node))]) from None


class _NestedWeights(Exception):
    """A layer of the file keeps its weights in sub-layers (attention projections...)."""


class _H5Layer:
    """A layer's group of a Keras 3 ``.weights.h5`` file, read as a layer: its variables (``vars/0``, ``vars/1``...)
    and its sub-layers (``cell``, ``forward_layer``, ``backward_layer``)."""

    def __init__(self, group, name: str):
        self.group, self.name = group, name

    def get_weights(self) -> list[np.ndarray]:
        if any(key != "vars" for key in self.group):   # weights in sub-layers, in an order the file does not keep
            raise _NestedWeights(self.name)
        variables = self.group.get("vars")
        if variables is None:
            return []
        return [np.asarray(variables[key]) for key in sorted(variables, key=int)]

    def __getattr__(self, part):
        if part.startswith("__") or part not in self.__dict__["group"]:
            raise AttributeError(part)
        return _H5Layer(self.__dict__["group"][part], f"{self.__dict__['name']}/{part}")


class _H5Layers:
    """What the Keras generator's weight helpers expect of an owner: each node's layer, found in the file by
    the path the importer computed (``report.keras_weight_paths``)."""

    def __init__(self, handle, paths: dict[str, str], parts: dict[str, tuple]):
        self.handle, self.paths, self.parts = handle, paths, parts

    def __getattr__(self, node_name):
        path = self.__dict__["paths"].get(node_name)
        if path is None or path not in self.__dict__["handle"]:
            raise AttributeError(node_name)
        layer = _H5Layer(self.__dict__["handle"][path], path)
        part = self.__dict__["parts"].get(node_name)   # a SeparableConv's depthwise or pointwise half
        return _LayerPart(layer, part) if part else layer


def store_from_keras_h5(weights: Path, model, report) -> tuple[WeightStore | None, list[Diagnostic]]:
    """The pivot store from a ``.weights.h5`` saved from the source's Sequential or functional model, read with
    h5py by layer path (never by running the source); None when a layer is not where the importer expects it
    or keeps its weights in sub-layers whose order only Keras knows (the caller then loads the file into the
    model built from the source's definitions)."""
    import h5py  # with the Keras weight formats only

    store, diagnostics = WeightStore(), []
    try:
        handle = h5py.File(weights, "r")
    except OSError as exc:
        raise NNPivotError([error("weights-unreadable", f"{weights}: {exc}", Location(str(weights)))]) from None
    with handle:
        owner = _H5Layers(handle, report.keras_weight_paths, report.keras_weight_parts)
        for node in _keras_weighted_nodes(model):
            if node.eClass.name == "BlockCall":
                return None, []   # a custom layer's file groups follow its attributes: read from the built model
            try:
                units = keras_target._units(owner, _NoCode, node)
            except AttributeError:
                units = None
            if not units or any(layer is None for layer, _ in units):
                return None, []   # a layer the file does not have where the importer expects it
            try:
                diagnostics += keras_target.read_layer_weights(node.name, node, units, store)
            except _NestedWeights:
                return None, []
    return store, diagnostics


def store_from_keras_source(keras_model, model, report) -> tuple[WeightStore, list[Diagnostic]]:
    """The pivot store of a built hand-written Keras model (the one the importer read)."""
    store, diagnostics = WeightStore(), []
    for key, node, units in _keras_units(keras_model, model, report):
        diagnostics += keras_target.read_layer_weights(key, node, units, store)
    return store, diagnostics


def assign_keras_source(keras_model, model, report, store: WeightStore) -> list[Diagnostic]:
    """Copy pivot weights into a built hand-written Keras model."""
    diagnostics: list[Diagnostic] = []
    for key, node, units in _keras_units(keras_model, model, report):
        diagnostics += keras_target.write_layer_weights(key, node, units, store.for_node(key))
    return diagnostics


def _module_target(module, name: str, path: Path):
    if not hasattr(module, name):
        raise NNPivotError([error("model-not-found", f"{path.name} defines no '{name}' without running its script "
                                  "(it is built in a function, or from values only known when the script runs: give "
                                  "--model with the class or builder function, and --set)", Location(str(path)))])
    return getattr(module, name)


def build_source_model(path, framework: str, report, model_args=None, settings=None):
    """Build the network the importer migrated from the source's DEFINITIONS (:func:`load_definitions`; a fresh
    Keras session first, so unnamed Keras layers get the names the importer expects), with the arguments the
    script builds it with (``report.model_arguments``) or ``model_args``."""
    path = Path(path)
    if framework == "keras":
        import keras  # TensorFlow: only when a Keras source is run
        keras.backend.clear_session()
    # constructor mode runs fewer statements (plain constants, no module-level call): the same ones again
    module = execute_definitions(path, settings)[0] if report.constructed else load_definitions(path, settings)
    target = _module_target(module, report.model, path)
    if callable(target) and not _is_model_object(target, framework):
        arguments = report.model_arguments if report.model_arguments is not None else model_args
        if framework == "keras" and report.keras_name_counters is not None:
            _set_keras_name_counters(report.keras_name_counters)
        try:
            target = target(**{k: _rebuilt(v, module) for k, v in (arguments or {}).items()})
        except Exception as exc:  # noqa: BLE001 - the source's own constructor failing
            raise NNPivotError([_raised_in(path.resolve(), exc, f"building {report.model}")]) from None
    return target


def _set_keras_name_counters(counters: dict[str, int]) -> None:
    """Number the next unnamed Keras layers as the script's own build of the model did (the importer's
    ``keras_name_counters``): the layers then have the names ``report.keras_layer_names`` gives."""
    import keras  # TensorFlow: only when a Keras source is run

    keras.src.backend.common.global_state.set_global_attribute(
        "object_name_uids", collections.defaultdict(int, counters))


def _rebuilt(value, module):
    """A model argument as the script would have it: its config objects built again (class of the module,
    fields set as the importer evaluated them; an argparse namespace as a SimpleNamespace)."""
    if isinstance(value, SourceObject):
        attrs = {k: _rebuilt(v, module) for k, v in value.attrs.items()}
        cls = getattr(module, value.cls, None)
        if not isinstance(cls, type):
            return types.SimpleNamespace(**attrs)
        obj = cls.__new__(cls)
        for key, item in attrs.items():
            object.__setattr__(obj, key, item)   # frozen dataclasses too
        return obj
    if isinstance(value, (list, tuple)):
        return type(value)(_rebuilt(v, module) for v in value)
    if isinstance(value, dict):
        return {k: _rebuilt(v, module) for k, v in value.items()}
    return value


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


def source_runner(path, framework: str, model, report, model_args=None, settings=None):
    """A verify runner of the ORIGINAL source model (the file's definitions are executed)."""
    obj = build_source_model(path, framework, report, model_args, settings)
    return (SourceTorchRunner if framework == "pytorch" else SourceKerasRunner)(path, model, obj, report)


def read_source_weights(path, framework: str, model, report, weights, model_args=None, settings=None):
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
    if report.keras_weight_paths and weights.name.endswith(".h5"):   # read by layer path, nothing is run
        store, diagnostics = store_from_keras_h5(weights, model, report)
        if store is not None:
            return store, diagnostics + check_store(model, store)
    runner = source_runner(path, framework, model, report, model_args, settings)
    try:
        runner.obj.load_weights(str(weights))
    except (ValueError, OSError, KeyError) as exc:
        raise NNPivotError([error("weights-unreadable", f"{weights}: Keras cannot load it into "
                                  f"{report.model}: {exc}", Location(str(weights)))]) from None
    store, diagnostics = store_from_keras_source(runner.obj, model, report)
    return store, diagnostics + check_store(model, store)


__all__ = ["SourceKerasRunner", "SourceTorchRunner", "assign_keras_source", "build_source_model", "load_definitions",
           "read_source_weights", "source_model", "source_runner", "store_from_keras_h5", "store_from_keras_source",
           "store_from_source_state_dict"]
