"""``nnpivot verify``: are two model files the same function?

Both files (each a generated or hand-written PyTorch or Keras model) are
EXECUTED; of a source file A (imported like ``migrate`` imports it, with
``--model-name``, ``--model-args``, ``--input-shape`` and ``--set``) only its
definitions are (:func:`nnpivot.source_runs.load_definitions`), never its
script or ``__main__`` block. They get the same weights, from a checkpoint or, by default, the ones
the first file's framework initializes (read into the pivot weight store and
written into both; constant arrays such as fresh BatchNorm statistics are made
random first so they are compared too). Both run on the same random inputs of
the pivot model's input shapes, transposed to each file's layout, and the
maximum absolute difference of the outputs is compared with ``atol``.

On failure the worst input is run again while every submodule (PyTorch) or
layer (Keras) named after a pivot node records its output, and the first node
in dataflow order whose two outputs differ is named. Nodes that are plain
expressions in the code (``x + y``) have nothing to record; the divergence is
then found at the next named node or at the model output.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnpivot import api
from nnpivot.diagnostics import Location, NNPivotError, error, has_errors, location_of
from nnpivot.formats import UsageError, format_named
from nnpivot.frameworks import (
    DYNAMIC_SIZE,
    KERAS,
    Runner,
    detect_framework,
    enliven,
    keras_precision,
    node_sites,
    open_model_file,
    random_inputs,
)
from nnpivot.generators.keras import keras_layouts
from nnpivot.graph import graph_inputs
from nnpivot.kinds import kind_of
from nnpivot.metamodel import is_kind
from nnpivot.migrate import import_source, parse_input_shapes, parse_model_args, parse_settings
from nnpivot.pipeline import load_as
from nnpivot.shapes import infer_shapes
from nnpivot.source_runs import read_source_weights, source_model, source_runner
from nnpivot.validators import validate
from nnpivot.verify_training import train_report_lines, train_runners
from nnpivot.weight_formats import read_store
from nnpivot.weights import WeightStore

RELATIVE_NODE_TOLERANCE = 1e-4  # a node diverges when it differs by more than this share of its scale
MAX_BATCH = 20                  # inputs run per forward pass
# What a '?' input axis is set to, in this order of preference (DYNAMIC_SIZE first): even and odd sizes and
# several remainders, where strided windows and 'same' pads take different values.
CANDIDATE_SIZES = (DYNAMIC_SIZE, 11, 6, 12, 9, 16, 7, 10, 5, 14, 13, 4, 24, 32, 3, 2, 1)
# Kinds whose output size or pads are arithmetic on the input size: a third size is checked.
SIZE_ARITHMETIC = ("PixelShuffle", "Upsample", "Pad", "Slice")


@dataclass
class NodeDifference:
    path: str
    kind: str
    max_abs_diff: float
    scale: float


@dataclass
class VerifyResult:
    max_abs_diff: float
    passed: bool
    first_divergent_node: str | None
    atol: float
    inputs: int
    weights: str                                    # where the shared weights came from
    frameworks: tuple[str, str]
    output_diffs: list[float] = field(default_factory=list)
    rtol: float = 0.0
    nodes: list[NodeDifference] = field(default_factory=list)   # compared nodes on failure, dataflow order
    sizes: list[int] = field(default_factory=list)              # what the '?' input axes were, in turn
    size_diffs: list[float] = field(default_factory=list)       # the max abs difference at each of them
    input_shapes: list[str] = field(default_factory=list)       # the inputs' shapes at each size, for reports

    @property
    def divergent(self) -> NodeDifference | None:
        return next((n for n in self.nodes if n.path == self.first_divergent_node), None)


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(np.nanmax(diff)) if not np.isnan(diff).all() else float("inf")


def _run_batched(runner: Runner, inputs: list[np.ndarray], batch: int) -> list[np.ndarray]:
    count = len(inputs[0]) if inputs else 1
    chunks = [runner.run([a[i:i + batch] for a in inputs]) for i in range(0, count, batch)]
    return [np.concatenate(parts) for parts in zip(*chunks)]


def _output_differences(a_outputs, b_outputs, model, rtol: float) -> tuple[list[float], float, np.ndarray]:
    """Per output its max abs difference; the largest excess of |a - b| over ``rtol * |b|``
    (what ``atol`` bounds); per input sample its worst excess."""
    diffs, excess, per_sample = [], 0.0, None
    for index, (x, y) in enumerate(zip(a_outputs, b_outputs)):
        if x.shape != y.shape:
            name = model.outputs[index].name
            raise NNPivotError([error("output-shape-mismatch", f"output {index} ({name}) has shape {x.shape} in "
                                      f"one file and {y.shape} in the other")])
        diff = np.abs(x.astype(np.float64) - y.astype(np.float64)).reshape(len(x), -1)
        diff = np.where(np.isnan(diff), np.inf, diff)
        over = diff - rtol * np.abs(y.astype(np.float64)).reshape(len(y), -1)
        sample = over.max(axis=1) if over.shape[1] else np.zeros(len(x))
        per_sample = sample if per_sample is None else np.maximum(per_sample, sample)
        diffs.append(float(diff.max()) if diff.size else 0.0)
        excess = max(excess, float(sample.max()) if len(sample) else 0.0)
    return diffs, excess, per_sample if per_sample is not None else np.zeros(1)


def _node_differences(a: Runner, b: Runner, model, inputs) -> list[NodeDifference]:
    """Per pivot node recorded by both runs (and each model output): max abs difference, in dataflow order."""
    a_outputs, a_captured = a.run_capturing(inputs)
    b_outputs, b_captured = b.run_capturing(inputs)
    output_of = {node: i for i, node in enumerate(model.outputs) if not is_kind(node, "Select")}
    found = []
    for site in node_sites(model):
        kind = kind_of(site.node).keyword if kind_of(site.node) else site.node.eClass.name
        if site.node in output_of and "." not in site.path:
            index = output_of[site.node]
            x_readings, y_readings = [a_outputs[index]], [b_outputs[index]]
        elif site.key in a_captured and site.key in b_captured:
            x_readings = a.pivot_candidates(a_captured[site.key], site.shape)
            y_readings = b.pivot_candidates(b_captured[site.key], site.shape)
        else:
            continue
        pairs = [(x, y) for x in x_readings for y in y_readings if x.shape == y.shape]
        if not pairs:
            continue
        diff = min(_max_abs(x, y) for x, y in pairs)
        scale = max(float(np.abs(x).max()) if x.size else 0.0 for x, _ in pairs)
        found.append(NodeDifference(site.path, kind, diff, scale))
    for index, node in enumerate(model.outputs):
        if is_kind(node, "Select") and a_outputs[index].shape == b_outputs[index].shape:
            found.append(NodeDifference(node.name, "select", _max_abs(a_outputs[index], b_outputs[index]),
                                        float(np.abs(a_outputs[index]).max(initial=0.0))))
    return found


def first_divergent(nodes: list[NodeDifference], atol: float) -> NodeDifference | None:
    """The first node differing beyond ``atol`` and beyond float noise at its scale; else the first beyond atol."""
    for node in nodes:
        if node.max_abs_diff > max(atol, RELATIVE_NODE_TOLERANCE * node.scale):
            return node
    return next((n for n in nodes if n.max_abs_diff > atol), None)


def sizes_to_check(model) -> list[int]:
    """The sizes every ``?`` input axis takes in turn: one when the model has no such axis, else two, or three
    when a node computes windows, pads or resizes from the input size; only sizes the model's shapes accept
    (a U-Net's skip connections want sizes its poolings divide)."""
    inputs = graph_inputs(model)
    if not any(d < 0 for node in inputs for d in node.shape):
        return [DYNAMIC_SIZE]
    arithmetic = any(is_kind(node, name) for graph in [model, *model.blocks] for node in graph.nodes
                     for name in SIZE_ARITHMETIC) or any(
        kind_of(node) is not None and (kind_of(node).attribute("kernelSize") or kind_of(node).attribute("outputSize"))
        for graph in [model, *model.blocks] for node in graph.nodes)
    wanted = 3 if arithmetic else 2
    accepted = []
    for size in CANDIDATE_SIZES:
        shapes = [(None, *(size if d < 0 else d for d in node.shape)) for node in inputs]
        _, problems = infer_shapes(model, inputs=shapes)
        if not has_errors(problems):
            accepted.append(size)
            if len(accepted) == wanted:
                break
    return accepted or [DYNAMIC_SIZE]


def _shapes_text(model, size: int) -> str:
    return ", ".join("x".join(str(size if d < 0 else d) for d in node.shape) or "scalar"
                     for node in graph_inputs(model))


def verify_runners(a: Runner, b: Runner, model, store: WeightStore | None = None, inputs: int = 20,
                   atol: float = 1e-5, seed: int = 0, liven: bool = True, weights: str | None = None,
                   batch: int = MAX_BATCH, rtol: float = 0.0, sizes: list[int] | None = None) -> VerifyResult:
    """Give ``a`` and ``b`` the same weights, run both on ``inputs`` random inputs at each size, compare.

    They agree when every output element has ``|a - b| <= atol + rtol * |b|``
    (numpy's ``allclose``; ``rtol`` is 0 unless given, so ``atol`` bounds the
    maximum absolute difference) at every size: the ``?`` input axes take each
    of ``sizes`` in turn (default :func:`sizes_to_check`), since a migrated
    model must compute the original's function at every size it accepts.

    Without ``store`` the weights are ``a``'s own initialization (made lively
    unless ``liven`` is false). Both runners are loaded with the weights.
    """
    if store is None:
        store = a.native_store()
        weights = weights or f"random ({a.framework} initialization of {a.path.name})"
        if liven:
            store = enliven(store, seed)
    a.load_store(store)
    b.load_store(store)
    sizes = sizes or sizes_to_check(model)
    result = None
    size_diffs = []
    for size in sizes:
        samples = random_inputs(model, inputs, seed, size)
        a_outputs = _run_batched(a, samples, batch)
        b_outputs = _run_batched(b, samples, batch)
        output_diffs, excess, per_sample = _output_differences(a_outputs, b_outputs, model, rtol)
        worst = max(output_diffs, default=0.0)
        size_diffs.append(worst)
        passed = bool(np.isfinite(worst) and excess <= atol)
        if result is None or not passed or (result.passed and worst > result.max_abs_diff):
            result = VerifyResult(worst, passed, None, atol, inputs, weights or "given", (a.framework, b.framework),
                                  output_diffs, rtol)
            failing = samples, per_sample
        if not passed:
            break
    result.sizes, result.size_diffs = list(sizes[:len(size_diffs)]), size_diffs
    result.input_shapes = [_shapes_text(model, size) for size in result.sizes]
    if not result.passed:
        samples, per_sample = failing
        sample = int(np.argmax(per_sample))
        result.nodes = _node_differences(a, b, model, [s[sample:sample + 1] for s in samples])
        divergent = first_divergent(result.nodes, atol)
        result.first_divergent_node = divergent.path if divergent else None
    return result


def _pivot_model(model):
    if isinstance(model, (str, Path)):
        model = api.load(model)
        problems = validate(model)
        if has_errors(problems):
            raise NNPivotError(problems)
    return model


def verify(a_path, b_path, model, store: WeightStore | None = None, inputs: int = 20, atol: float = 1e-5,
           seed: int = 0, liven: bool = True, rtol: float = 0.0, sizes: list[int] | None = None) -> VerifyResult:
    """Verify two model files against each other for the pivot ``model`` (a Model or a .nn/.xmi path).

    Both files are executed. Raises NNPivotError with diagnostics when a file
    cannot be loaded, run, or given the weights.
    """
    model = _pivot_model(model)
    a = open_model_file(a_path, model)
    b = open_model_file(b_path, model)
    return verify_runners(a, b, model, store, inputs, atol, seed, liven,
                          weights=None if store is None else "given", rtol=rtol, sizes=sizes)


def pivot_from_source(path, framework: str):
    """The pivot model of a source file, from the source importer of its framework's format (issue 4)."""
    try:
        fmt = format_named(framework)
    except NNPivotError:
        fmt = None
    if fmt is None or not fmt.is_source_code:
        raise NNPivotError([error("model-required", f"no pivot model for {path}: give --model M.nn (no {framework}"
                                  " source importer)", Location(str(path)))])
    model, report = load_as(fmt, path)
    if model is None or has_errors(report.diagnostics):  # an untranslated part: not the pivot of this source
        raise NNPivotError(report.diagnostics or [error("model-required", f"{path} could not be imported; give "
                                                                          "--model M.nn")])
    return model


def report_lines(result: VerifyResult, a_name: str, b_name: str) -> list[str]:
    verdict = "PASS" if result.passed else "FAIL"
    tolerance = f"atol {result.atol:g}" + (f", rtol {result.rtol:g}" if result.rtol else "")
    lines = [(f"{a_name} ({result.frameworks[0]}) vs {b_name} ({result.frameworks[1]}): {result.inputs} random "
              f"inputs, weights {result.weights}"),
             f"max abs difference: {result.max_abs_diff:.3g} ({tolerance}): {verdict}"]
    if len(result.output_diffs) > 1:
        lines.append("per output: " + ", ".join(f"{d:.3g}" for d in result.output_diffs))
    if len(result.sizes) > 1:
        lines.append("input sizes checked: " + "; ".join(
            f"{shapes} (max abs difference {diff:.3g})" for shapes, diff in zip(result.input_shapes, result.size_diffs)))
    elif result.input_shapes:
        lines.append(f"input size checked: {result.input_shapes[0]} (the model's shapes admit no other)")
    if not result.passed:
        divergent = result.divergent
        if divergent is not None:
            lines.append(f"first divergent node: {divergent.path} ({divergent.kind}), max abs difference "
                         f"{divergent.max_abs_diff:.3g} on the worst input")
        else:
            lines.append("no recorded node differs beyond atol on the worst input")
    return lines


def run_verify(args) -> int:
    """The ``nnpivot verify`` subcommand."""
    framework_a = detect_framework(args.a)
    framework_b = detect_framework(args.b)
    source_report = None
    model_args, settings = parse_model_args(args.model_args), parse_settings(args.settings)
    if args.model:
        model = _pivot_model(args.model)
    else:  # A is a source file: its importer gives the pivot (and a guessed input shape when the code has none)
        model, source_report = source_model(args.a, framework_a, args.model_name, model_args,
                                            parse_input_shapes(args.input_shape), settings=settings,
                                            run_constructor=args.run_constructor)
    store = None
    if args.weights:  # a checkpoint of A read by A's own keys (nn.Sequential indices...), as migrate reads it
        store, diagnostics = read_source_weights(args.a, framework_a, model, source_report, args.weights, model_args,
                                                 settings) if source_report is not None else \
            read_store(model, args.weights)
        if has_errors(diagnostics):
            raise NNPivotError(diagnostics)
    if args.train is not None:
        if KERAS not in (framework_a, framework_b):
            return _run_training(args, model, source_report, store, framework_a, model_args, settings)
        with keras_precision(args.train_precision):  # Keras models are built (and trained) in it
            return _run_training(args, model, source_report, store, framework_a, model_args, settings)
    if source_report is not None:  # run A (its definitions only) through the importer's maps of its layers
        a = source_runner(args.a, framework_a, model, source_report, model_args, settings)
        result = verify_runners(a, open_model_file(args.b, model), model, store, inputs=args.inputs, atol=args.atol,
                                seed=args.seed, weights=None if store is None else "given", rtol=args.rtol)
    else:
        result = verify(args.a, args.b, model, store, inputs=args.inputs, atol=args.atol, seed=args.seed,
                        rtol=args.rtol)
    if args.weights:
        result.weights = f"from {args.weights}"
    for line in report_lines(result, Path(args.a).name, Path(args.b).name):
        print(line)
    return 0 if result.passed else 1


def file_input_shapes(model, framework: str) -> list[list[int]]:
    """The pivot model's input shapes in the layout of its generated ``framework`` code (no batch axis, -1 for
    '?'): what a generated file that leaves its shapes to the first call is imported with."""
    perms = keras_layouts(model)[0] if framework == KERAS else []
    shapes = []
    for index, node in enumerate(graph_inputs(model)):
        shape = [0, *node.shape]
        perm = perms[index] if index < len(perms) and len(perms[index]) == len(shape) else range(len(shape))
        shapes.append([shape[p] for p in perm][1:])
    return shapes


def _training_config(runner: Runner, model, model_args=None, settings=None):
    """The pivot TrainingConfig the importer reads from the runner's file (None when it reads none or cannot
    import the file); a file that leaves its input shapes to the first call (a generated Keras subclass) is
    read with the pivot model's shapes in its layout."""
    for shapes in (None, file_input_shapes(model, runner.framework)):
        try:
            found, _ = import_source(runner.path, runner.framework, None, model_args, shapes, settings)
        except NNPivotError:
            continue
        return found.training if found is not None else None
    return None


def _seed_framework(framework: str, seed: int) -> None:
    if framework == KERAS:
        import keras  # the framework of the file about to be built

        keras.utils.set_random_seed(seed)
    else:
        import torch  # the framework of the file about to be built

        torch.manual_seed(seed)


def _run_training(args, model, source_report, store, framework_a, model_args, settings) -> int:
    """``verify --train STEPS``: both files train from the same weights on the same batches (verify_training)."""
    if args.train < 1 or args.train_batch < 1:
        raise UsageError([error("bad-argument", "--train and --train-batch take a positive number of steps and "
                                "samples")])
    _seed_framework(framework_a, args.seed)  # A's initialization, the weights both start from, is seeded too
    if source_report is not None:
        a = source_runner(args.a, framework_a, model, source_report, model_args, settings)
        config_a = model.training
    else:
        a = open_model_file(args.a, model)
        config_a = _training_config(a, model, model_args, settings)
        config_a = config_a if config_a is not None else model.training
    b = open_model_file(args.b, model)
    config_b = _training_config(b, model)
    result = train_runners(a, b, model, (config_a, config_b), args.train, sizes_to_check(model)[0],
                           args.train_batch, args.seed, store,
                           locations=(location_of(config_a), location_of(config_b)), precision=args.train_precision)
    weights = f"from {args.weights}" if args.weights else f"random ({a.framework} initialization of {a.path.name})"
    for diagnostic in result.diagnostics:  # gcc-style on stderr, as the command line prints every diagnostic
        print(diagnostic, file=sys.stderr)
    for line in train_report_lines(result, Path(args.a).name, Path(args.b).name, weights):
        print(line)
    return 0 if result.passed else 1


__all__ = ["NodeDifference", "VerifyResult", "file_input_shapes", "first_divergent", "pivot_from_source", "report_lines", "run_verify",
           "sizes_to_check", "verify", "verify_runners"]
