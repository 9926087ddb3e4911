"""Running model files: load a PyTorch or Keras ``.py`` file, move pivot weights in and out, run it.

This is the machinery ``nnpivot verify``, the equivalence tests and the
benchmark share. It EXECUTES the model files it is given (that is the point:
the code itself is compared), so only point it at code you trust.

* :func:`detect_framework` reads a file's imports (``torch`` or ``keras``/
  ``tensorflow``) without running it.
* :func:`open_model_file` executes the file, picks the model (the class named
  after the pivot model, else the one class or instance that is a model) and
  returns a :class:`Runner`.
* A runner speaks pivot terms: :meth:`Runner.native_store` reads the weights the
  framework initialized into a pivot :class:`~nnpivot.weights.WeightStore`,
  :meth:`Runner.load_store` writes a store in, :meth:`Runner.run` takes and
  returns arrays in pivot layout (Keras tensors are transposed with
  ``keras_layouts``), :meth:`Runner.run_capturing` also returns each named
  submodule's (PyTorch forward hooks) or layer's (Keras) output, keyed by
  normalized name, for locating the first node where two runs part ways.

torch and TensorFlow are imported only when a runner of theirs is made.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import math
import re
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, has_errors
from nnpivot.fileio import check_readable
from nnpivot.generators.codegen import (
    one_cycle_optimizer_code,
    one_cycle_schedule_code,
    rule_class_code,
    two_bias_class_code,
)
from nnpivot.generators.keras import assign_store, build_keras_model, keras_layouts, store_from_keras
from nnpivot.generators.pytorch import parameter_slots, state_dict_from_store, store_from_state_dict
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.importers.pysource import SAME_VALUE_OPERATIONS, detect_framework
from nnpivot.kinds import training as vocabulary
from nnpivot.kinds.layout import channels_last, identity
from nnpivot.kinds.pysyntax import literal
from nnpivot.kinds.training import (
    KERAS_CLIP_NORM_CODE,
    RULE_MODEL_KEYWORD,
    rule_class,
    squares_gradient,
    two_bias_class,
)
from nnpivot.metamodel import is_kind
from nnpivot.shapes import called_block, infer_shapes
from nnpivot.weights import WeightStore

PYTORCH, KERAS = "pytorch", "keras"
DYNAMIC_SIZE = 8       # what a dynamic (-1) input axis becomes in random inputs
INTEGER_RANGE = 10     # integer inputs that feed no embedding draw from [0, 10)
FLOAT32, FLOAT64 = "float32", "float64"
PRECISIONS = (FLOAT32, FLOAT64)  # what models can train in (verify --train-precision)
_module_counter = itertools.count()


# --- reading a model file ----------------------------------------------------------------

def load_source_module(path):
    """Execute the file as a fresh module (never cached in ``sys.modules``) and return it."""
    path = check_readable(Path(path).resolve())
    name = f"_nnpivot_model_file_{next(_module_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up while it runs
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the file's own error, reported with its line
        raise NNPivotError([_raised_in(path, exc, "running")]) from None
    finally:
        sys.modules.pop(name, None)
    return module


def _raised_in(path: Path, exc: BaseException, doing: str) -> Diagnostic:
    """A diagnostic for an exception raised by the user's file, located at the deepest frame in it."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno or 0
    return error("model-file-failed", f"{doing} {path.name} raised {type(exc).__name__}: {exc}",
                 Location(str(path), line))


def _model_candidates(module, base) -> tuple[list, list]:
    """Model classes defined in the file and model objects it built at module level."""
    classes, objects = [], []
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__:
            classes.append(value)
        elif isinstance(value, base):
            objects.append(value)
    return classes, objects


def _normalized(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _choose(path: Path, candidates: list, wanted: str | None, what: str):
    if wanted is not None:
        named = [c for c in candidates if _normalized(getattr(c, "__name__", getattr(c, "name", ""))) ==
                 _normalized(wanted)]
        if len(named) == 1:
            return named[0]
    if len(candidates) == 1:
        return candidates[0]
    return None


def instantiate(path, framework: str, model_name: str | None = None, model_args: dict | None = None):
    """The model object of a model file: a class named like ``model_name`` (called with
    ``model_args``), else the file's only model class, else its only model object; a builder
    function when ``model_name`` names one."""
    path = Path(path).resolve()
    module = load_source_module(path)
    base = _torch_module_class() if framework == PYTORCH else _keras_model_class()
    named = getattr(module, model_name, None) if model_name else None
    if isinstance(named, base):
        return named
    if callable(named) and not isinstance(named, type) and not isinstance(named, base):
        try:
            return named(**(model_args or {}))
        except Exception as exc:  # noqa: BLE001 - the builder's own error
            raise NNPivotError([_raised_in(path, exc, f"calling {model_name}()")]) from None
    classes, objects = _model_candidates(module, base)
    if framework == PYTORCH:
        # helper blocks are classes too: prefer the classes no other class of the file uses
        used = {c for c in classes for other in classes if other is not c and c.__name__ in _names_in(other)}
        classes = [c for c in classes if c not in used] or classes
    chosen = _choose(path, classes, model_name, "class") or _choose(path, objects, model_name, "object")
    if chosen is None:
        found = ", ".join(c.__name__ for c in classes) or "none"
        raise NNPivotError([error("model-not-found", f"{path.name}: cannot tell which {framework} model to run "
                                  f"(model classes: {found}; expected one named {model_name!r})",
                                  Location(str(path)))])
    if not isinstance(chosen, type):
        return chosen
    try:
        return chosen(**(model_args or {}))
    except Exception as exc:  # noqa: BLE001 - a constructor needing arguments, or failing
        raise NNPivotError([_raised_in(path, exc, f"constructing {chosen.__name__}()")]) from None


def _names_in(cls) -> set[str]:
    """Global names a class's source refers to (to find which classes are helper blocks)."""

    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError, SyntaxError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _torch_module_class():
    from torch import nn
    return nn.Module


def _keras_model_class():
    import keras
    return keras.Model


# --- random inputs ---------------------------------------------------------------------------

def _embedding_readers(graph, node) -> list:
    """Embedding nodes reading ``node`` directly, through block calls or through columns and views of it
    (``emb(x_cat[:, i])``: each column's ids stay below the smallest vocabulary)."""
    found = []
    for reader in graph.nodes:
        for position, dep in enumerate(reader.inputs):
            if dep is not node:
                continue
            if is_kind(reader, "Embedding"):
                found.append(reader)
            elif reader.eClass.name in SAME_VALUE_OPERATIONS:
                found += _embedding_readers(graph, reader)
            elif is_kind(reader, "BlockCall") and reader.block is not None:
                block_inputs = graph_inputs(reader.block)
                if position < len(block_inputs):
                    found += _embedding_readers(reader.block, block_inputs[position])
    return found


def random_inputs(model, count: int, seed: int = 0, size: int = DYNAMIC_SIZE) -> list[np.ndarray]:
    """``count`` random samples per model input, batched, in pivot layout; a ``?`` axis has ``size``.

    Floats are standard normal. Integer inputs feeding embeddings are drawn in
    [0, num_embeddings) and a tenth of them (at least one per sample) is set to
    the padding index when there is one; other integers are drawn in [0, 10).
    """
    rng = np.random.default_rng(seed)
    arrays = []
    for node in graph_inputs(model):
        shape = (count, *(size if d < 0 else d for d in node.shape))
        dtype = node.dtype.name
        if not dtype.startswith("int"):
            arrays.append(rng.standard_normal(shape).astype(dtype))
            continue
        embeddings = _embedding_readers(model, node)
        high = min((e.numEmbeddings for e in embeddings), default=INTEGER_RANGE)
        values = rng.integers(0, high, size=shape)
        paddings = [e.paddingIdx % e.numEmbeddings for e in embeddings if e.eIsSet("paddingIdx")]
        if paddings and values.size:
            flat = values.reshape(count, -1)
            for sample in flat:
                spots = rng.choice(sample.size, size=max(1, sample.size // 10), replace=False)
                sample[spots] = paddings[0]
            values = flat.reshape(shape)
        arrays.append(values.astype(dtype))
    return arrays


# --- weights -------------------------------------------------------------------------------------

def enliven(store: WeightStore, seed: int = 0, kept: frozenset[str] = frozenset()) -> WeightStore:
    """A copy of ``store`` where constant arrays (fresh BatchNorm statistics, zero biases, unit
    scales) become random, so a comparison exercises them too. Variances stay positive. The ``kept`` keys stay
    as they are (parameters a model keeps at zero)."""
    rng = np.random.default_rng(seed)
    result = WeightStore()
    for key, array in store.items():
        if key not in kept and array.size > 1 and np.issubdtype(array.dtype, np.floating) and np.all(array == array.flat[0]):
            if key.endswith(("running_var", "moving_variance")):
                array = rng.uniform(0.5, 1.5, array.shape)
            else:
                array = array + 0.1 * rng.standard_normal(array.shape)
            array = array.astype(store[key].dtype)
        result[key] = array
    return result


def _vocabulary_code(text: str, namespace: dict):
    """The value of a code text of the training vocabulary (kinds/training.py: ``nn.CrossEntropyLoss()``,
    ``targets.reshape(...)``), the very text the generated ``train`` holds; never user code."""
    return eval(compile(text, "<training vocabulary>", "eval"), namespace)


_RULE_CLASSES: dict[tuple[str, str], type] = {}


def rule_optimizer_class(target: str, entry, namespace: dict) -> type:
    """The optimizer class generated code defines to train ``entry`` in ``target`` ("pytorch"/"keras") with the
    other framework's update rule (kinds.training ``rule_class``): the generators' very code, run once per
    process in ``namespace`` (the framework modules it names: torch and math, or keras and ops)."""
    key = (target, entry.name)
    if key not in _RULE_CLASSES:
        scope = dict(namespace)
        exec(compile(rule_class_code(target, entry), f"<{target} rule class>", "exec"), scope)  # noqa: S102
        _RULE_CLASSES[key] = scope[entry.rule_class("torch" if target == "pytorch" else "keras")]
    return _RULE_CLASSES[key]


def torch_optimizer_class(settings):
    """The torch.optim class that trains with ``settings`` (a kinds.training.TrainingSettings), its rule's."""
    import torch

    if rule_class(settings.optimizer, settings.rule, "torch"):
        return rule_optimizer_class("pytorch", settings.optimizer, {"torch": torch, "math": math})
    return getattr(torch.optim, settings.optimizer.torch_name)


def torch_scheduler(settings, optimizer):
    """The torch.optim.lr_scheduler object of ``settings.schedule`` (a per-step pivot schedule) on ``optimizer``,
    built from the very text generated training code holds; None without a schedule."""
    import torch

    if settings.schedule is None:
        return None
    callee, arguments = vocabulary.torch_scheduler(settings.schedule, settings.learning_rate)
    return _vocabulary_code(f"{callee}(optimizer, {', '.join(arguments)})", {
        "torch": torch, "math": math, "optimizer": optimizer, "learning_rate": settings.learning_rate})


def one_cycle_schedule_class() -> type:
    """The Keras schedule class generated code defines for a OneCycle schedule (generators/templates/keras/
    one_cycle.py.j2), run once per process."""
    import keras
    from keras import ops

    key = ("keras", vocabulary.ONE_CYCLE_SCHEDULE)
    if key not in _RULE_CLASSES:
        scope = {"keras": keras, "ops": ops, "math": math}
        exec(compile(one_cycle_schedule_code(), "<keras one-cycle schedule>", "exec"), scope)  # noqa: S102
        _RULE_CLASSES[key] = scope[vocabulary.ONE_CYCLE_SCHEDULE]
    return _RULE_CLASSES[key]


def keras_learning_rate(settings):
    """The Keras optimizer's learning rate with ``settings``: the keras.optimizers.schedules object of its
    per-step schedule, written as generated training code writes it, else the constant rate."""
    import keras

    code = vocabulary.keras_schedule(settings.schedule, literal(settings.learning_rate)) \
        if settings.schedule is not None else None
    if code is None:
        return settings.learning_rate
    return _vocabulary_code(code, {"keras": keras, "math": math,
                                   vocabulary.ONE_CYCLE_SCHEDULE: one_cycle_schedule_class()})


def keras_optimizer_class(settings):
    """The Keras optimizer class that trains with ``settings``, its rule's; under a OneCycle schedule that cycles
    its momentum, its one-cycle class (generators/templates/keras/one_cycle_optimizer.py.j2); with
    ``settings.two_bias_layers``, its two-bias class (generators/templates/keras/two_bias.py.j2), which takes
    ``two_bias_layers=``."""
    import keras
    from keras import ops

    if rule_class(settings.optimizer, settings.rule, "keras"):
        base = rule_optimizer_class("keras", settings.optimizer, {"keras": keras, "ops": ops})
    else:
        base = getattr(keras.optimizers, settings.optimizer.keras_name)
    if vocabulary.one_cycle_optimizer(settings.schedule, settings.optimizer, settings.parameters):
        key = ("keras one cycle", base.__name__)
        if key not in _RULE_CLASSES:
            scope = {"keras": keras, "ops": ops, base.__name__: base}
            written = base.__name__ if base.__name__ != settings.optimizer.keras_name \
                else settings.optimizer.keras_class
            code = one_cycle_optimizer_code(settings.optimizer, written)
            exec(compile(code, "<keras one-cycle class>", "exec"), scope)  # noqa: S102
            _RULE_CLASSES[key] = scope[vocabulary.one_cycle_class(base.__name__)]
        base = _RULE_CLASSES[key]
    if not settings.two_bias_layers:
        return base
    key = ("keras two biases", base.__name__)
    if key not in _RULE_CLASSES:
        scope = {"keras": keras, "ops": ops, base.__name__: base}
        code = two_bias_class_code(base.__name__ if base.__name__ != settings.optimizer.keras_name
                                   else settings.optimizer.keras_class)
        exec(compile(code, "<keras two-bias class>", "exec"), scope)  # noqa: S102
        _RULE_CLASSES[key] = scope[two_bias_class(base.__name__)]
    return _RULE_CLASSES[key]


@contextmanager
def keras_precision(precision: str):
    """Keras models built (and losses made) inside keep their weights and compute in ``precision``: the global
    floatx and dtype policy are set, and restored on exit. A layer whose code names its own dtype keeps it."""
    import keras

    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(precision)
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(policy)
        keras.config.set_floatx(floatx)


def _precision_of(dtypes: set[str]) -> str:
    return " and ".join(sorted(dtypes)) or FLOAT32


@dataclass(frozen=True)
class NodeSite:
    """A pivot node as the runners see it: its path (block calls prefixed), node and output shape."""
    path: str
    node: object
    shape: tuple | None

    @property
    def key(self) -> str:
        return _normalized(self.path)


def node_sites(model) -> list[NodeSite]:
    """Every node of ``model`` in dataflow order, block calls expanded in place."""

    table, _ = infer_shapes(model)
    sites: list[NodeSite] = []

    def visit(graph, prefix: str):
        for node in topological_order(graph):
            if is_kind(node, "Input") or is_kind(node, "Select"):
                continue
            if is_kind(node, "BlockCall"):
                if node.block is not None:
                    visit(called_block(node, table), f"{prefix}{node.name}.")
                sites.append(NodeSite(f"{prefix}{node.name}", node, _shape_of(table, node)))
                continue
            sites.append(NodeSite(f"{prefix}{node.name}", node, _shape_of(table, node)))

    visit(model, "")
    return sites


def _shape_of(table, node):
    try:
        return tuple(table.of(node, 0))
    except (KeyError, IndexError, TypeError):
        return None


def shape_fits(array_shape, pivot_shape) -> bool:
    """Whether an array's shape is the pivot shape (None or -1 axes match anything)."""
    if pivot_shape is None or len(array_shape) != len(pivot_shape):
        return False
    return all(p is None or p < 0 or a == p for a, p in zip(array_shape, pivot_shape))


# --- runners ------------------------------------------------------------------------------------

class Runner:
    """A model file's model, run in pivot terms. Subclasses speak their framework."""

    framework = ""

    def __init__(self, path, model, obj):
        self.path = Path(path)
        self.model = model
        self.obj = obj
        self._native: WeightStore | None = None
        self._loaded = False

    # weights
    def native_store(self) -> WeightStore:
        """The weights the framework initialized, in pivot form (read once, before any load)."""
        if self._native is None:
            if self._loaded:
                raise RuntimeError("native weights were overwritten before they were read")
            store, diagnostics = self._read_store()
            if has_errors(diagnostics):
                raise NNPivotError(diagnostics)
            self._native = store
        return self._native

    def load_store(self, store: WeightStore) -> None:
        diagnostics = self._write_store(store)
        if has_errors(diagnostics):
            raise NNPivotError(diagnostics)
        self._loaded = True

    def current_store(self) -> WeightStore:
        """The weights the model holds now, in pivot form (after training steps)."""
        store, diagnostics = self._read_store()
        if has_errors(diagnostics):
            raise NNPivotError(diagnostics)
        return store

    # training
    def to_precision(self, precision: str) -> str:
        """Train in ``precision`` ("float32"/"float64") where the model can be converted (a PyTorch module);
        a Keras model keeps the precision it was built in (see :func:`keras_precision`). The floating dtypes
        its trainable weights hold afterwards, as text."""
        raise NotImplementedError

    def train_steps(self, batches: list[tuple[list[np.ndarray], np.ndarray]], settings, ending: str,
                    training: bool = False) -> list[float]:
        """One optimizer step per (pivot-layout inputs, pivot-layout targets) batch with ``settings`` (a
        kinds.training.TrainingSettings; its loss read for a model whose output is ``ending``); the loss of each
        step, taken before its update, on the first output. The model runs in inference mode (dropout off,
        batch normalization on its running statistics, which stay fixed) so that both frameworks compute the
        same function; ``training`` runs it as training does (dropout on, batch statistics)."""
        try:
            return self._train_steps(batches, settings, ending, training)
        except NNPivotError:
            raise
        except Exception as exc:  # noqa: BLE001 - the model file's own error
            raise self._fail(exc, "training the model of") from None

    def _train_steps(self, batches, settings, ending: str, training: bool) -> list[float]:
        raise NotImplementedError

    # running
    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return self._checked_outputs(self._forward(inputs))

    def run_capturing(self, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Outputs and, per normalized submodule/layer name, that submodule's first output (native layout)."""
        captured: dict[str, np.ndarray] = {}
        with self._capture(captured):
            outputs = self._forward(inputs)
        return self._checked_outputs(outputs), captured

    def pivot_candidates(self, array: np.ndarray, pivot_shape) -> list[np.ndarray]:
        """The readings of a captured array in pivot layout that fit the node's pivot shape."""
        return [array] if shape_fits(array.shape, pivot_shape) else []

    def _checked_outputs(self, outputs: list[np.ndarray]) -> list[np.ndarray]:
        expected = len(self.model.outputs)
        if len(outputs) != expected:
            raise NNPivotError([error("output-count-mismatch", f"{self.path.name} returns {len(outputs)} outputs, "
                                      f"the model {self.model.name} has {expected}", Location(str(self.path)))])
        return outputs

    def _fail(self, exc: BaseException, doing: str) -> NNPivotError:
        return NNPivotError([_raised_in(self.path.resolve(), exc, doing)])

    # framework specifics
    def _read_store(self) -> tuple[WeightStore, list[Diagnostic]]:
        raise NotImplementedError

    def _write_store(self, store: WeightStore) -> list[Diagnostic]:
        raise NotImplementedError

    def _forward(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def _capture(self, captured: dict):
        raise NotImplementedError


class _Hooks:
    """Context manager removing torch hooks on exit."""

    def __init__(self, handles):
        self.handles = handles

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()


class TorchRunner(Runner):
    framework = PYTORCH

    def __init__(self, path, model, obj):
        super().__init__(path, model, obj)
        obj.eval()
        self._key_map: dict[str, str] | None = None  # file's state_dict key -> generated key
        self._dtype = None  # the floating dtype to_precision converted the module to

    def _tensor(self, array: np.ndarray):
        """A batch as a tensor; floating values in the dtype the module was converted to."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(array))
        return tensor.to(self._dtype) if self._dtype is not None and tensor.is_floating_point() else tensor

    def _state_keys(self, state) -> dict[str, str]:
        """How the file's state_dict keys map onto the generated model's, for hand-written files.

        Generated files match exactly; otherwise keys are matched by name with
        punctuation ignored (``features.0.weight`` ~ ``features_0.weight``), and
        failing that by order when every shape agrees.
        """

        if self._key_map is not None:
            return self._key_map
        slots = parameter_slots(self.model)
        wanted = {s.torch_key: s for s in slots}
        keys = [k for k in state if not k.endswith("num_batches_tracked")]
        if set(keys) == set(wanted):
            mapping = {k: k for k in keys}
        else:
            by_name = {_normalized(s.torch_key): s.torch_key for s in slots}
            mapping = {k: by_name[_normalized(k)] for k in keys if _normalized(k) in by_name}
            if len(mapping) != len(keys) and len(keys) == len(slots) and all(
                    tuple(state[k].shape) == s.shape for k, s in zip(keys, slots)):
                mapping = {k: s.torch_key for k, s in zip(keys, slots)}
        self._key_map = mapping
        return mapping

    def _read_store(self):

        state = self.obj.state_dict()
        mapping = self._state_keys(state)
        return store_from_state_dict(self.model, {mapping.get(k, k): v for k, v in state.items()})

    def _write_store(self, store):

        try:
            generated = state_dict_from_store(self.model, store)
        except NNPivotError as exc:
            return exc.diagnostics
        own = self.obj.state_dict()
        backwards = {g: k for k, g in self._state_keys(own).items()}
        state = {backwards.get(key, key): value for key, value in generated.items()}
        state = {k: v for k, v in state.items() if k in own}  # num_batches_tracked a file may not hold
        try:
            self.obj.load_state_dict(state, strict=False)
        except RuntimeError as exc:
            return [error("weight-shape-mismatch", f"{self.path.name}: {exc}", Location(str(self.path)))]
        missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
        if missing:
            return [error("weight-missing", f"{self.path.name}: the pivot weights give no value for "
                                            f"{', '.join(missing)}", Location(str(self.path)))]
        return []

    def to_precision(self, precision):
        import torch

        self._dtype = getattr(torch, precision)
        self.obj.to(self._dtype)
        return _precision_of({str(p.dtype).removeprefix("torch.") for p in self.obj.parameters()
                              if p.is_floating_point()})

    def _train_steps(self, batches, settings, ending, training):
        import torch
        from torch import nn

        writing = settings.loss.torch(ending)
        if writing.code is None:
            raise NNPivotError([error("unsupported-for-target", f"loss {settings.loss.name}: {writing.problem}",
                                      Location(str(self.path)))])
        self.obj.train(training)
        optimizer_class = torch_optimizer_class(settings)
        keywords = settings.torch_keywords()
        if rule_class(settings.optimizer, settings.rule, "torch") and squares_gradient(settings.optimizer):
            keywords[RULE_MODEL_KEYWORD] = self.obj  # its nn.Embedding layers train as Keras's do, as generated code
        optimizer = optimizer_class(self.obj.parameters(), lr=settings.learning_rate, **keywords)
        scheduler = torch_scheduler(settings, optimizer)
        loss_fn = _vocabulary_code(writing.code, {"nn": nn, "torch": torch})
        # the clipping statements generated code writes (kinds.training CLIPPINGS), never user code
        clipping = compile("\n".join(settings.torch_clipping()), "<training vocabulary>", "exec")
        clipping_names = {"torch": torch, "model": self.obj}
        exec(compile(KERAS_CLIP_NORM_CODE, "<training vocabulary>", "exec"), clipping_names)  # noqa: S102
        losses = []
        for inputs, targets in batches:
            optimizer.zero_grad()
            result = self.obj(*(self._tensor(a) for a in inputs))
            outputs = result[0] if isinstance(result, (tuple, list)) else result
            names = {"torch": torch, "outputs": outputs, "targets": torch.from_numpy(np.ascontiguousarray(targets))}
            given, labels = settings.loss.torch_operands(ending, outputs.dim())
            loss = loss_fn(_vocabulary_code(given.format("outputs"), names), _vocabulary_code(labels, names))
            loss.backward()
            exec(clipping, clipping_names)  # noqa: S102
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(float(loss.detach()))
        self.obj.eval()
        return losses

    def _forward(self, inputs):
        import torch

        tensors = [self._tensor(a) for a in inputs]
        try:
            with torch.no_grad():
                result = self.obj(*tensors)
        except Exception as exc:  # noqa: BLE001 - the model file's own error
            raise self._fail(exc, "running the model of") from None
        result = list(result) if isinstance(result, (tuple, list)) else [result]
        return [r.detach().cpu().numpy() for r in result]

    def _capture(self, captured):
        def recorder(key: str):
            def hook(_module, _inputs, output):
                first = output[0] if isinstance(output, (tuple, list)) else output
                if hasattr(first, "detach"):
                    captured[key] = first.detach().cpu().numpy()
            return hook

        return _Hooks([module.register_forward_hook(recorder(_normalized(name)))
                       for name, module in self.obj.named_modules() if name])


class _KerasCalls:
    """Context manager wrapping Keras layers' ``call`` to record their outputs."""

    def __init__(self, layers: dict, captured: dict):
        self.layers, self.captured = layers, captured

    def __enter__(self):
        for key, layer in self.layers.items():
            original = layer.call

            def call(*args, _original=original, _key=key, **kwargs):
                result = _original(*args, **kwargs)
                first = result[0] if isinstance(result, (tuple, list)) else result
                try:
                    self.captured[_key] = np.asarray(first)
                except (TypeError, ValueError):
                    pass
                return result
            object.__setattr__(layer, "call", call)
        return self

    def __exit__(self, *exc):
        for layer in self.layers.values():
            layer.__dict__.pop("call", None)


class KerasRunner(Runner):
    framework = KERAS

    def __init__(self, path, model, obj):
        super().__init__(path, model, obj)

        self.in_perms, self.out_perms = keras_layouts(model)
        self._follow_declared_inputs()
        if not obj.built:  # subclassed models create their weights on the first call
            self._forward(random_inputs(model, 1))

    def _follow_declared_inputs(self) -> None:
        """A functional or Sequential model declares its input shapes: where the generated code's layout does
        not fit them (a hand-written file reading (T, F) where the generated one reads (F, T)), use the
        permutation of the pivot input that does."""

        try:
            declared = [tuple(t.shape[1:]) for t in self.obj.inputs]
        except (AttributeError, ValueError, TypeError):
            return
        pivot_shapes = [tuple(DYNAMIC_SIZE if d < 0 else d for d in node.shape) for node in graph_inputs(self.model)]
        if len(declared) != len(pivot_shapes):
            return
        for index, (wanted, shape) in enumerate(zip(declared, pivot_shapes)):
            def fits(perm, wanted=wanted, shape=(None, *shape)):
                return all(w is None or w == shape[p] for w, p in zip(wanted, perm[1:]))
            if len(wanted) + 1 != len(self.in_perms[index]) or fits(self.in_perms[index]):
                continue
            choices = [(0, *p) for p in itertools.permutations(range(1, len(shape) + 1)) if fits((0, *p))]
            if choices:
                self.in_perms[index] = choices[0]

    def _feed(self, inputs):
        arrays = [np.ascontiguousarray(np.transpose(a, p)) for a, p in zip(inputs, self.in_perms)]
        return arrays[0] if len(arrays) == 1 else arrays

    def _read_store(self):

        try:
            return store_from_keras(self.obj, self.model)
        except AttributeError as exc:  # not laid out like the generated model: go through a generated twin
            twin = self._twin(exc)
            if isinstance(twin, Diagnostic):
                return WeightStore(), [twin]
            twin, pairs = twin
            for own, generated in pairs:
                generated.assign(own)
            return store_from_keras(twin, self.model)

    def _write_store(self, store):

        try:
            return assign_store(self.obj, self.model, store)
        except AttributeError as exc:
            twin = self._twin(exc)
            if isinstance(twin, Diagnostic):
                return [twin]
            twin, pairs = twin
            diagnostics = assign_store(twin, self.model, store)
            for own, generated in pairs:
                own.assign(generated)
            return diagnostics

    def _twin(self, exc):
        """The generated Keras model of the pivot, when its variables line up with the file's (a hand-written
        Sequential or functional model), with (file variable, twin variable) pairs; else a diagnostic.
        Variables pair one by one when every shape agrees in order, else layer by layer (see
        :func:`_pair_layers`), since a functional model lists its layers in its own topological order."""

        twin = build_keras_model(self.model)
        own, generated = list(self.obj.weights), list(twin.weights)
        if len(own) == len(generated) and all(tuple(a.shape) == tuple(b.shape) for a, b in zip(own, generated)):
            return twin, list(zip(own, generated))
        pairs = _pair_layers(own, generated)
        if pairs is None:
            return self._layer_naming_error(exc)
        return twin, pairs

    def _layer_naming_error(self, exc) -> Diagnostic:
        return error("weight-layout-unknown", f"{self.path.name}: its layers are not laid out like the generated "
                     f"Keras model of {self.model.name}, so pivot weights cannot be placed ({exc})",
                     Location(str(self.path)))

    def to_precision(self, precision):
        return _precision_of({str(v.dtype) for v in self.obj.trainable_variables})

    def _train_steps(self, batches, settings, ending, training):
        import keras
        import tensorflow as tf

        writing = settings.loss.keras(ending)
        if writing.code is None:
            raise NNPivotError([error("unsupported-for-target", f"loss {settings.loss.name}: {writing.problem}",
                                      Location(str(self.path)))])
        optimizer_class = keras_optimizer_class(settings)
        two_bias = {"two_bias_layers": self._layer_paths(settings.two_bias_layers)} if settings.two_bias_layers \
            else {}
        optimizer = optimizer_class(learning_rate=keras_learning_rate(settings), **settings.keras_keywords(),
                                    **settings.keras_clipping(), **two_bias)
        loss_fn = _vocabulary_code(writing.code, {"keras": keras})
        variables = list(self.obj.trainable_variables)
        optimizer.build(variables)

        @tf.function  # a traced step: recurrent layers run step by step in Python when eager
        def step(feed, labels):
            with tf.GradientTape() as tape:
                result = self.obj(feed, training=training)
                outputs = result[0] if isinstance(result, (tuple, list)) else result
                loss = loss_fn(labels, outputs)
            gradients = tape.gradient(loss, variables)
            optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables) if g is not None])
            return loss

        losses = []
        for inputs, targets in batches:
            perm = self.out_perms[0] if self.out_perms and len(self.out_perms[0]) == targets.ndim else None
            labels = np.ascontiguousarray(np.transpose(targets, perm) if perm is not None else targets)
            losses.append(float(keras.ops.convert_to_numpy(step(self._feed(inputs), labels))))
        return losses

    def _layer_paths(self, paths) -> tuple[str, ...]:
        """The paths of Keras layer names of the layers at ``paths`` (names or attributes: a pivot read from a
        Keras file names a node after the attribute holding its layer, ``summary_`` for the layer ``summary``)."""
        import keras

        found = []
        for path in paths:
            owner, names = self.obj, []
            for part in path.split("/"):
                layer = getattr(owner, part, None)
                if not isinstance(layer, keras.layers.Layer):
                    layer = next((child for child in owner._flatten_layers(include_self=False, recursive=False)
                                  if child.name == part), None)
                if layer is None:
                    break
                names.append(layer.name)
                owner = layer
            else:
                found.append("/".join(names))
        return tuple(found)

    def _forward(self, inputs):
        import keras

        try:
            result = self.obj(self._feed(inputs), training=False)
        except Exception as exc:  # noqa: BLE001 - the model file's own error
            raise self._fail(exc, "running the model of") from None
        result = list(result) if isinstance(result, (tuple, list)) else [result]
        arrays = [keras.ops.convert_to_numpy(r) for r in result]
        perms = self.out_perms if len(self.out_perms) == len(arrays) else [tuple(range(a.ndim)) for a in arrays]
        return [np.transpose(a, np.argsort(p)) for a, p in zip(arrays, perms)]

    def _named_layers(self) -> dict:
        found: dict = {}

        def walk(layer, prefix: str):
            for child in layer._flatten_layers(include_self=False, recursive=False):
                path = f"{prefix}{child.name}"
                found.setdefault(_normalized(path), child)
                walk(child, path + ".")
        walk(self.obj, "")
        return found

    def _capture(self, captured):
        return _KerasCalls(self._named_layers(), captured)

    def pivot_candidates(self, array, pivot_shape):

        readings = []
        for perm in {identity(array.ndim), channels_last(array.ndim)}:
            reading = np.transpose(array, np.argsort(perm))
            if shape_fits(reading.shape, pivot_shape):
                readings.append(reading)
        return readings


def _layer_groups(variables) -> list[tuple[tuple, list]]:
    """Variables grouped by the layer holding them (their path without the last part), in order, each
    with its signature: the variables' own names and shapes (``(("kernel", (3, 3, 8, 16)), ...)``)."""
    groups: dict[str, list] = {}
    for variable in variables:
        groups.setdefault(variable.path.rsplit("/", 1)[0], []).append(variable)
    return [(tuple((v.path.rsplit("/", 1)[-1], tuple(v.shape)) for v in group), group) for group in groups.values()]


def _pair_layers(own, generated) -> list[tuple] | None:
    """(file variable, generated variable) pairs matching layers of the same signature in order: each layer
    of the file takes the first unmatched generated layer with its variables' names and shapes. None when
    some layer has no partner."""
    available = _layer_groups(generated)
    pairs = []
    for signature, group in _layer_groups(own):
        index = next((i for i, (other, _) in enumerate(available) if other == signature), None)
        if index is None:
            return None
        pairs.extend(zip(group, available.pop(index)[1]))
    return pairs if not available else None


RUNNERS = {PYTORCH: TorchRunner, KERAS: KerasRunner}


def open_model_file(path, model, framework: str | None = None, model_name: str | None = None,
                    model_args: dict | None = None) -> Runner:
    """Execute a PyTorch or Keras model file and wrap its model for ``model`` (the pivot).

    ``model_name`` names the class, builder function or variable to run (default:
    the class named like the pivot model, or the file's only model).
    """
    framework = framework or detect_framework(path)
    obj = instantiate(path, framework, model_name or model.name, model_args)
    return RUNNERS[framework](path, model, obj)


def runner_for_code(code: str, path, model, framework: str) -> Runner:
    """Write generated ``code`` to ``path`` and open it (the equivalence tests' and benchmark's path)."""
    Path(path).write_text(code, encoding="utf-8")
    return open_model_file(path, model, framework)


__all__ = ["FLOAT32", "FLOAT64", "KERAS", "PRECISIONS", "PYTORCH", "KerasRunner", "NodeSite", "Runner",
           "TorchRunner", "detect_framework", "enliven", "instantiate", "keras_precision", "load_source_module",
           "node_sites", "open_model_file", "random_inputs", "runner_for_code", "shape_fits"]
