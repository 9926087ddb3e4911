"""``nnpivot verify --train STEPS``: do two model files TRAIN alike, step for step?

Both models get the same initial weights (the first file's initialization, made
lively by :func:`nnpivot.frameworks.enliven`, written into both through the
pivot weight store, as plain ``verify`` does) and take STEPS optimizer steps on
the same deterministic batches: seeded random inputs of the pivot model's input
shapes and seeded labels in the format of the loss (class indices, one-hot
rows, 0/1 values or real values of the output's shape). Each file trains with
its OWN training configuration, read by its importer into the pivot (a source
file's ``compile``/``torch.optim`` code, a generated file's ``train``) and
resolved through :func:`nnpivot.kinds.training.training_settings`: a migration
that changed the learning rate, an epsilon or the gradient clipping (by the norm of
all gradients, each variable's norm or value: kinds.training CLIPPINGS, applied
as each framework's code applies it) trains differently and fails. A
file whose configuration cannot be read trains with the other's; with none on
either side both use SGD with momentum 0.9 (learning rate 0.01) and
cross-entropy, an update rule the frameworks share exactly
(``kinds.training.CHECK_OPTIMIZER``).

Both models run in inference mode while they train (``model.eval()``,
``training=False``): dropout and noise layers are off, so both compute the same
function, and batch normalization normalizes with its running statistics,
which stay fixed while its scale and shift train. (In training mode PyTorch
updates the running variance with the unbiased batch variance and Keras with
the biased one: a framework convention no migration can change, which would
hide every other difference in the final weights.)

Both train in float64 by default (``--train-precision float32`` trains as the
files do): a PyTorch module is converted (``model.double()``), Keras models are
built and trained under a float64 dtype policy (``frameworks.keras_precision``),
inputs and float labels are the same float32-drawn values given in float64, and
both optimizers get their hyper-parameters rounded to float32, the values Keras
computes with even in float64 (ops.cast of a Python float goes through float32:
SGD's momentum, Adam's betas). Why: in float32 the two frameworks sum
convolutions and matrix products in different orders, and the ~1e-7 relative
differences of the first step grow along the training of a deep network (Adam
normalizing tiny gradients, max-pool ties, ReLU boundaries, a loss that rises)
until the losses part with no translation error; in float64 a faithful pair
agrees within ~1e-15 over 50 steps, so what the check measures is the
translation. A wrong setting still fails in float64 (tests/test_verify_training.py;
measurements in benchmarks/results/verify_train_paper.md).

The loss of every step (taken before its update) is compared relatively, and
every pivot parameter after the last step; the first step and the first
parameter (pivot key order) beyond the tolerances are named in located
diagnostics.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error, location_of, warning
from nnpivot.frameworks import FLOAT32, FLOAT64, Runner, enliven, random_inputs
from nnpivot.generators.pytorch import parameter_slots
from nnpivot.kinds import kind_of
from nnpivot.kinds import training as vocabulary
from nnpivot.weights import WeightStore

# float32 training in two frameworks sums gradients in different orders; the relative difference of the losses
# grows from ~1e-7 at the first step. A wrong setting (learning rate, epsilon, momentum, loss) differs by
# 1e-3 and more from the second step on.
LOSS_RTOL = 1e-4
LOSS_ATOL = 1e-6     # losses near zero are compared absolutely
# After the steps, a parameter agrees when max |a - b| <= WEIGHT_ATOL + WEIGHT_RTOL * max |b|: see the module's
# tests for the measured differences after 50 steps.
WEIGHT_ATOL = 1e-4
WEIGHT_RTOL = 1e-3
DEFAULT_BATCH = 4
DEFAULT_PRECISION = FLOAT64


@dataclass
class ParameterDifference:
    key: str
    max_abs_diff: float
    scale: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_abs_diff) and self.max_abs_diff <= self.tolerance)


@dataclass
class TrainResult:
    steps: int
    batch: int
    frameworks: tuple[str, str]
    settings: tuple[str, str]                 # each file's training settings, described
    precisions: tuple[str, str]               # the floating dtype each model trained in
    losses: tuple[list[float], list[float]]
    parameters: list[ParameterDifference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def loss_differences(self) -> list[float]:
        """Per step: |a - b| / max(|a|, |b|) (0 when both are 0)."""
        return [_relative(x, y) for x, y in zip(*self.losses)]

    @property
    def first_divergent_step(self) -> int | None:
        """The first step (counted from 1) whose losses differ beyond the tolerance."""
        for step, (x, y) in enumerate(zip(*self.losses), start=1):
            if not _losses_agree(x, y):
                return step
        return None

    @property
    def first_divergent_parameter(self) -> ParameterDifference | None:
        return next((p for p in self.parameters if not p.passed), None)

    @property
    def max_weight_diff(self) -> float:
        return max((p.max_abs_diff for p in self.parameters), default=0.0)

    @property
    def passed(self) -> bool:
        return self.first_divergent_step is None and self.first_divergent_parameter is None


def _relative(x: float, y: float) -> float:
    scale = max(abs(x), abs(y))
    if not (np.isfinite(x) and np.isfinite(y)):
        return 0.0 if x == y else float("inf")
    return abs(x - y) / scale if scale else 0.0


def _losses_agree(x: float, y: float) -> bool:
    if not (np.isfinite(x) and np.isfinite(y)):
        return False
    return abs(x - y) <= LOSS_ATOL + LOSS_RTOL * max(abs(x), abs(y))


def ending_of(model) -> str:
    """How the losses read the output the check trains: the model's first (``train_steps`` takes the loss on
    it), so a VAE's sigmoid reconstruction next to its mean and variance is read as probabilities, as the
    source's loss reads it (a Keras loss from logits would take the logits behind the sigmoid instead)."""
    node = next(iter(model.outputs), None)
    while type(node).__name__ == "BlockCall" and node.block is not None and len(node.block.outputs) == 1:
        node = node.block.outputs[0]  # a block's one output is what its call gives
    kind = kind_of(node) if node is not None else None
    return vocabulary.ending_of_keyword(kind.keyword if kind else None)


def training_labels(entry: vocabulary.LossEntry, output: np.ndarray, rng) -> np.ndarray:
    """Seeded labels for a batch whose (pivot layout) model output is ``output``, in the loss's format."""
    form = vocabulary.label_format(entry)
    if form == vocabulary.TARGET_VALUES:
        return rng.standard_normal(output.shape).astype(np.float32)
    if form == vocabulary.BINARY:
        return (rng.random(output.shape) < 0.5).astype(np.float32)
    axis = vocabulary.class_axis(output.ndim)   # an (N, T, C) sequence's last, a feature map's channels
    classes = rng.integers(0, output.shape[axis], size=np.delete(output.shape, axis))
    if form == vocabulary.ONE_HOT:
        return np.moveaxis(np.eye(output.shape[axis], dtype=np.float32)[classes], -1, axis)
    return classes.astype(np.int64)


def labels_for(entry: vocabulary.LossEntry, labels: np.ndarray, made_for: vocabulary.LossEntry,
               classes: int) -> np.ndarray:
    """The labels made for ``made_for``'s format in ``entry``'s: class indices and one-hot rows are the same
    labels written two ways (one file's train() takes indices, the other's one-hot rows, as the migration of
    label smoothing writes them); any other pair of formats is passed on unchanged."""
    given, wanted = vocabulary.label_format(made_for), vocabulary.label_format(entry)
    if given == vocabulary.CLASS_INDICES and wanted == vocabulary.ONE_HOT:
        return np.eye(classes, dtype=np.float32)[labels]
    if given == vocabulary.ONE_HOT and wanted == vocabulary.CLASS_INDICES:
        return labels.argmax(-1).astype(np.int64)
    return labels


def two_bias_nodes(model) -> frozenset[str]:
    """Pivot paths of ``model``'s recurrent nodes that train PyTorch's two biases (kinds.training has_two_biases)."""
    try:
        slots = parameter_slots(model)
    except NNPivotError:
        return frozenset()
    return frozenset(slot.pivot_key.rsplit(".", 1)[0] for slot in slots if vocabulary.has_two_biases(slot.node))


def two_bias_layers(model, settings: vocabulary.TrainingSettings) -> tuple[str, ...]:
    """The Keras layer paths (names of the block calls and the layer, joined by '/'; a stacked layer's with its
    ``_l{i}``) of ``model``'s recurrent layers with PyTorch's two biases, whose one Keras bias takes twice its
    step, as the generated Keras training does where it is exact with ``settings`` (kinds.training
    ``two_bias_problem``); () elsewhere."""
    if model is None or vocabulary.two_bias_problem(settings.optimizer, settings.parameters, settings.clip_norm):
        return ()
    try:
        slots = parameter_slots(model)
    except NNPivotError:
        return ()
    paths = []
    for slot in slots:
        node_path, name = slot.pivot_key.rsplit(".", 1)
        layer = re.fullmatch(r"bias_ih_l(\d+)(_reverse)?", name)
        if layer is None or not vocabulary.has_two_biases(slot.node):
            continue
        stacked = f"_l{layer.group(1)}" if getattr(slot.node, "numLayers", 1) > 1 else ""
        paths.append(node_path.replace(".", "/") + stacked)
    return tuple(dict.fromkeys(paths))


def check_settings(width: int | None = None) -> vocabulary.TrainingSettings:
    """What two files that set no training configuration train with: SGD with momentum and cross-entropy, or
    binary cross-entropy for a model with one output unit (cross-entropy over one class is 0 whatever the
    weights, so nothing would train and the check would pass on no evidence)."""
    shared = vocabulary.training_settings(None)
    return replace(shared, loss=vocabulary.LOSSES["binary_cross_entropy"]) if width == 1 else shared


def float32_values(settings: vocabulary.TrainingSettings) -> vocabulary.TrainingSettings:
    """``settings`` with the learning rate and every hyper-parameter rounded to float32. Keras's optimizers read
    a Python float through float32 even in a float64 model (ops.cast: SGD's momentum, Adam's betas, weight
    decay), PyTorch's take it as given: a float64 check gives both the float32 values, which both take exactly
    (and which float32 training computes with)."""
    return replace(settings, learning_rate=float(np.float32(settings.learning_rate)),
                   parameters={key: float(np.float32(value)) for key, value in settings.parameters.items()},
                   clippings=tuple((c, float(np.float32(limit))) for c, limit in settings.clippings))


def resolve_settings(configs: tuple, paths: tuple[str, str], width: int | None = None, model=None):
    """Each file's TrainingSettings from its (possibly None) pivot TrainingConfig, with notes on what stood in;
    each with the two-bias layers of the model its configuration belongs to (``model`` for the check's own);
    ``width`` is the model's number of output units (the check's own loss depends on it)."""
    notes = []
    settings = []
    for config, path in zip(configs, paths):
        resolved = vocabulary.training_settings(config) if config is not None else None
        if config is not None and resolved is None:
            raise NNPivotError([error("unknown-training", f"{path}: its optimizer or loss is not in the training "
                                      "vocabulary", location_of(config) or Location(str(path)))])
        if resolved is not None:
            resolved = replace(resolved, two_bias_layers=two_bias_layers(config.eContainer(), resolved))
        settings.append(resolved)
    if settings[0] is None and settings[1] is None:
        shared = check_settings(width)
        shared = replace(shared, two_bias_layers=two_bias_layers(model, shared))
        notes.append(f"neither file sets a training configuration: both train with {shared.describe()}, an update "
                     "rule both frameworks share")
        return (shared, shared), notes
    for index in (0, 1):
        if settings[index] is None:
            settings[index] = settings[1 - index]
            notes.append(f"{paths[index]} sets no training configuration: it trains with "
                         f"{paths[1 - index]}'s")
    return tuple(settings), notes


def in_precision(array: np.ndarray, precision: str) -> np.ndarray:
    """A floating ``array`` in ``precision`` (the same values, float32 ones given exactly in float64); others as
    they are (class indices, token ids)."""
    return array.astype(precision, copy=False) if np.issubdtype(array.dtype, np.floating) else array


def store_in_precision(store: WeightStore, precision: str) -> WeightStore:
    """A copy of ``store`` with its floating arrays in ``precision`` (the same numbers)."""
    result = WeightStore()
    for key, array in store.items():
        result[key] = in_precision(np.asarray(array), precision)
    return result


def make_batches(model, reference: Runner, loss: vocabulary.LossEntry, steps: int, batch: int, seed: int,
                 size: int, precision: str = FLOAT32) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """STEPS batches of seeded inputs and labels (pivot layout); the labels' shape from ``reference``'s output.
    Floating inputs and labels are drawn as float32 values and given in ``precision`` (the same numbers in
    either precision)."""
    rng = np.random.default_rng(seed + 1)
    batches = []
    for step in range(steps):
        inputs = [in_precision(a, precision) for a in random_inputs(model, batch, seed + 1 + step, size)]
        if step == 0:
            output = reference.run(inputs)[0]
        batches.append((inputs, in_precision(training_labels(loss, output, rng), precision)))
    return batches


def compare_weights(model, a_store: WeightStore, b_store: WeightStore,
                    summed: frozenset[str] = frozenset()) -> list[ParameterDifference]:
    """Every pivot parameter of both stores, in pivot key order; the recurrent biases of the nodes in ``summed``
    (pivot paths) as one sum per layer and direction, ``bias_ih_l0+bias_hh_l0``: a Keras model holds only it."""
    try:
        order = [slot.pivot_key for slot in parameter_slots(model)]
    except NNPivotError:
        order = []
    keys = [k for k in order if k in a_store and k in b_store]
    keys += [k for k in a_store if k in b_store and k not in keys]
    pairs = {}
    for key in keys:
        node_path, name = key.rsplit(".", 1) if "." in key else ("", key)
        partner = f"{node_path}.{name.replace('bias_ih', 'bias_hh', 1)}"
        if node_path in summed and name.startswith("bias_ih") and partner in a_store and partner in b_store:
            pairs[key] = partner
    folded = set(pairs.values())
    found = []
    for key in keys:
        if key in folded:
            continue
        x, y = np.asarray(a_store[key], np.float64), np.asarray(b_store[key], np.float64)
        if key in pairs:
            partner = pairs[key]
            x, y = x + np.asarray(a_store[partner], np.float64), y + np.asarray(b_store[partner], np.float64)
            key = f"{key}+{partner.rsplit('.', 1)[1]}"
        if x.shape != y.shape:
            found.append(ParameterDifference(key, float("inf"), 0.0, 0.0))
            continue
        diff = float(np.abs(x - y).max()) if x.size else 0.0
        diff = diff if np.isfinite(diff) else float("inf")
        scale = float(np.abs(y).max()) if y.size else 0.0
        found.append(ParameterDifference(key, diff, scale, WEIGHT_ATOL + WEIGHT_RTOL * scale))
    return found


def _node_location(model, key: str) -> Location | None:
    for slot in parameter_slots(model):
        if slot.pivot_key == key:
            return location_of(slot.node)
    return None


def zero_kept_keys(model) -> frozenset[str]:
    """Pivot keys of the parameters ``model`` keeps at zero and untrained: bias_hh of a recurrent layer that trains
    one bias (a Keras source's; its generated PyTorch code freezes bias_hh), which the check must not make random."""
    return frozenset(slot.pivot_key for slot in parameter_slots(model)
                     if getattr(slot.node, "oneBias", False) and slot.node.bias
                     and slot.pivot_key.rsplit(".", 1)[-1].startswith("bias_hh"))


def train_runners(a: Runner, b: Runner, model, configs: tuple, steps: int, size: int, batch: int = DEFAULT_BATCH,
                  seed: int = 0, store: WeightStore | None = None, locations: tuple = (None, None),
                  precision: str = DEFAULT_PRECISION) -> TrainResult:
    """Train ``a`` and ``b`` for ``steps`` steps from the same weights on the same batches and compare.

    ``configs`` are the files' pivot TrainingConfigs (either may be None); ``size`` what the ``?`` input axes
    are; ``locations`` where each file's configuration is written (for the diagnostics). Without ``store`` the
    weights are ``a``'s own initialization, made lively. Both train in ``precision`` ("float64" or "float32"): a
    PyTorch model is converted; a Keras model must have been built in it (frameworks.keras_precision), and a
    note says so when it was not.
    """
    paths = (a.path.name, b.path.name)
    if store is None:
        store = enliven(a.native_store(), seed, zero_kept_keys(a.model) | zero_kept_keys(b.model))
    precisions = [a.to_precision(precision), b.to_precision(precision)]
    # the store in the check's precision before either model reads it: a float32 store would round the sum of a
    # recurrent layer's two PyTorch biases, Keras's one bias, to float32 (~1e-10 relative in the losses)
    store = store_in_precision(store, precision)
    a.load_store(store)
    b.load_store(store)
    sample = [in_precision(x, precision) for x in random_inputs(model, 1, seed, size)]
    for index, runner in enumerate((a, b)):
        try:
            width = runner.run(sample)[0].shape[-1]
        except NNPivotError:  # a forward that fixes float32 (x.float()) trains as it is written
            if precision == FLOAT32:
                raise
            precisions[index] = runner.to_precision(FLOAT32)
            width = runner.run(sample)[0].shape[-1]
    settings, notes = resolve_settings(configs, paths, width, model)
    notes += [f"{path}: its schedule {config.schedule.eClass.name} changes the learning rate per epoch or on a "
              "plateau; the check's steps are all in the first epoch, at the initial rate"
              for config, path in zip(configs, paths) if config is not None and config.schedule is not None
              and vocabulary.per_step_schedule(config.schedule) is None]
    if precision == FLOAT64:
        settings = tuple(float32_values(s) for s in settings)
    for runner, setting, path in zip((a, b), settings, paths):
        if runner.framework == "keras" and setting.two_bias_layers:
            notes.append(f"{path}: the one bias of {', '.join(setting.two_bias_layers)} stands for PyTorch's two "
                         "(bias_ih, bias_hh) and takes twice its optimizer step, as generated Keras training code does")
    notes += [f"{path} trains in {found}, not {precision} (its code fixes the dtype)"
              for path, found in zip(paths, precisions) if found != precision]
    ending = ending_of(model)
    batches = make_batches(model, a, settings[0].loss, steps, batch, seed, size, precision)
    b_batches = batches
    if settings[0].loss.name != settings[1].loss.name:
        b_batches = [(inputs, in_precision(labels_for(settings[1].loss, labels, settings[0].loss, width),
                                            precision)) for inputs, labels in batches]
        formats = [vocabulary.label_format(s.loss) for s in settings]
        notes.append(f"the files train different losses ({settings[0].loss.name} and {settings[1].loss.name}): "
                     f"the labels follow {paths[0]}'s" + (f", given to {paths[1]} as {formats[1]}"
                                                          if b_batches[0][1] is not batches[0][1] else ""))
    losses = (a.train_steps(batches, settings[0], ending), b.train_steps(b_batches, settings[1], ending))
    trained = a.current_store()
    # a Keras model holds one bias, PyTorch's bias_ih + bias_hh: with two trained, only their sums compare
    summed = two_bias_nodes(model) if "keras" in (a.framework, b.framework) else frozenset()
    result = TrainResult(steps, batch, (a.framework, b.framework), (settings[0].describe(), settings[1].describe()),
                         tuple(precisions), losses, compare_weights(model, trained, b.current_store(), summed), notes)
    if all(p.max_abs_diff == 0 for p in compare_weights(model, store, trained)):
        result.diagnostics.append(warning(
            "training-inert", f"no parameter of {paths[0]} changed in {steps} steps (its loss gives no gradient): "
            "the check compared no training", locations[0] or Location(str(a.path))))
    step = result.first_divergent_step
    if step is not None:
        x, y = losses[0][step - 1], losses[1][step - 1]
        result.diagnostics.append(error(
            "training-diverges", f"step {step} of {steps}: loss {x:.7g} in {paths[0]}, {y:.7g} in {paths[1]} "
            f"(relative difference {_relative(x, y):.2g}, tolerance {LOSS_RTOL:g})",
            locations[1] or locations[0] or Location(str(b.path))))
    parameter = result.first_divergent_parameter
    if parameter is not None:
        result.diagnostics.append(error(
            "weights-diverge", f"after {steps} steps, parameter {parameter.key} differs by up to "
            f"{parameter.max_abs_diff:.3g} (tolerance {parameter.tolerance:.3g} at its scale {parameter.scale:.3g})",
            _node_location(model, parameter.key) or Location(str(b.path))))
    if settings[0].describe() != settings[1].describe():
        result.diagnostics.append(warning("training-settings-differ", f"{paths[0]} trains with "
                                       f"{settings[0].describe()}, {paths[1]} with {settings[1].describe()}",
                                       locations[1] or Location(str(b.path))))
    return result


def train_report_lines(result: TrainResult, a_name: str, b_name: str, weights: str) -> list[str]:
    verdict = "PASS" if result.passed else "FAIL"
    differences = result.loss_differences
    worst = max(differences, default=0.0)
    lines = [(f"{a_name} ({result.frameworks[0]}) vs {b_name} ({result.frameworks[1]}): {result.steps} training "
             f"steps on seeded batches of {result.batch} in {' and '.join(dict.fromkeys(result.precisions))}, weights "
             f"{weights}; both in inference mode (dropout off, batch normalization on its fixed running statistics)"),
             f"training: {a_name} {result.settings[0]}; {b_name} {result.settings[1]}"]
    lines += [f"note: {text}" for text in result.notes]
    if result.losses[0]:
        lines.append(f"loss: step 1 {result.losses[0][0]:.6g}, step {result.steps} {result.losses[0][-1]:.6g} "
                     f"({a_name}); max relative difference {worst:.3g} over the steps (rtol {LOSS_RTOL:g})")
    weight = max(result.parameters, key=lambda p: p.max_abs_diff, default=None)
    if weight is not None:
        lines.append(f"weights after {result.steps} steps: max abs difference {weight.max_abs_diff:.3g} "
                     f"({weight.key}; tolerance {WEIGHT_ATOL:g} + {WEIGHT_RTOL:g} x max |w|) over "
                     f"{len(result.parameters)} parameters")
    lines.append(f"training check: {verdict}")
    step = result.first_divergent_step
    if step is not None:
        lines.append(f"first diverging step: {step}")
    parameter = result.first_divergent_parameter
    if parameter is not None:
        lines.append(f"first diverging parameter: {parameter.key}")
    return lines


__all__ = ["ParameterDifference", "TrainResult", "check_settings", "compare_weights", "ending_of", "float32_values",
           "in_precision", "labels_for", "make_batches", "resolve_settings", "store_in_precision", "train_report_lines",
           "train_runners", "training_labels",
           "two_bias_layers", "zero_kept_keys"]
