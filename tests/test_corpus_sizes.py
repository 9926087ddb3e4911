"""Issue 9's done-means check: every corpus and paper file migrates with no --input-shape and computes the
original's function at two input sizes, each model called directly in its user's layout.

For every manifest entry without ``shape_needed``, the source is migrated with ``nnpivot.migrate.migrate``
given no input shape (only the manifest's model, constructor arguments and, for whole scripts, ``set``
values) together with a checkpoint of the original: the original is built from the source's definitions
(``source_runner``, as in tests/test_migrate_corpus.py), its weights made lively (``enliven``) and saved the
way its users save them (``torch.save(state_dict)``, ``save_weights``). The migrated model is then loaded
the way ITS users load it (the generated class, ``load_state_dict(torch.load(...))`` or ``load_weights``),
and both models are called directly: the PyTorch one with channels-first tensors, the Keras one with
channels-last arrays (rank 4 and more with the batch axis; lower ranks as the importer reads them). Entries
with ``free_axes`` run at the manifest size and at a second size (a multiple of 16 larger along every free
axis, so pools and strides still fit; a longer sequence of token ids); the others at the manifest size with
two batches. Tolerance 1e-5 absolute.

Realistic files the importer still refuses say so in their manifest entry (``refused``: the code of the first
error, checked here as handed over, so a fix shows up). Whole scripts with a real choice of model
(``model_needed``) must give that diagnostic code first when migrated as handed over; they are then migrated
with the manifest's model named (``--model``) and checked the same way.

Files that still fail are listed in ``KNOWN_FAILURES`` with the reason (strict xfail: a fixed file fails the
run until it is taken off the list).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven
from nnpivot.generators.codegen import class_name
from nnpivot.migrate import import_source, migrate
from nnpivot.source_runs import source_runner

ROOT = Path(__file__).resolve().parent.parent / "samples"
ATOL = 1e-5
GROWTH = 16          # added to every free axis for the second size
INTEGER_RANGE = 10   # integer inputs that name no vocabulary
OTHER = {"pytorch": "keras", "keras": "pytorch"}

# "folder/path" -> why it still fails (strict: it must fail, so a fix shows up). None at present.
KNOWN_FAILURES: dict[str, str] = {}

ALL_ENTRIES = [(folder, entry) for folder in ("corpus", "paper")
               for entry in json.loads((ROOT / folder / "manifest.json").read_text())["entries"]]
ENTRIES = [(folder, entry) for folder, entry in ALL_ENTRIES if "shape_needed" not in entry and "refused" not in entry]
REFUSED = [(folder, entry) for folder, entry in ALL_ENTRIES if "refused" in entry]

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow,
              pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]


def _param(folder: str, entry: dict):
    key = f"{folder}/{entry['path']}"
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[key])] if key in KNOWN_FAILURES else []
    return pytest.param(folder, entry, id=key, marks=marks)


def sizes_of(entry: dict) -> list[list[tuple[int, ...]]]:
    """Per call: each input's shape (no batch axis, the source's layout): the manifest's, then grown along
    the free axes (or the manifest's again when nothing is free)."""
    first = [tuple(spec["shape"]) for spec in entry["inputs"]]
    second = [tuple(size + GROWTH if axis in spec.get("free_axes", ()) else size
                    for axis, size in enumerate(spec["shape"])) for spec in entry["inputs"]]
    return [first, second]


def user_batch(entry: dict, shapes: list[tuple[int, ...]], rng) -> list[np.ndarray]:
    """A batch of 2 in the source's own layout: token ids below the vocabulary (0, the usual padding index,
    included), floats otherwise."""
    arrays = []
    for spec, shape in zip(entry["inputs"], shapes):
        if spec["dtype"].startswith("int"):
            ids = rng.integers(0, spec.get("vocab", INTEGER_RANGE), size=(2, *shape)).astype(spec["dtype"])
            ids.flat[0] = 0
            arrays.append(ids)
        else:
            arrays.append(rng.standard_normal((2, *shape)).astype(spec["dtype"]))
    return arrays


def channels_last(array: np.ndarray) -> np.ndarray:
    return np.transpose(array, (0, *range(2, array.ndim), 1)) if array.ndim >= 4 else array


def channels_first(array: np.ndarray) -> np.ndarray:
    return np.transpose(array, (0, array.ndim - 1, *range(1, array.ndim - 1))) if array.ndim >= 4 else array


def call_torch(model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        outputs = model(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    return [o.numpy() for o in (outputs if isinstance(outputs, (tuple, list)) else (outputs,))]


def call_keras(model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    import keras

    outputs = model(arrays[0] if len(arrays) == 1 else arrays, training=False)
    return [keras.ops.convert_to_numpy(o) for o in (outputs if isinstance(outputs, (tuple, list)) else (outputs,))]


def first_error(source: Path, framework: str, settings: dict) -> str | None:
    """The code of the first error nnpivot gives on a script migrated as handed over (only its ``set`` values)."""
    try:
        _, report = import_source(source, framework, settings=settings)
    except NNPivotError as refused:
        return refused.diagnostics[0].code
    return next((d.code for d in report.diagnostics if d.is_error), None)


def load_generated(path: Path, name: str):
    namespace: dict = {"__name__": f"migrated_{name}"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    return namespace[name]()


@pytest.mark.parametrize(("folder", "entry"), [_param(f, e) for f, e in ENTRIES])
def test_migrated_without_a_shape_matches_at_two_sizes_in_the_users_layout(folder, entry, tmp_path):
    import keras
    import torch

    source = ROOT / folder / entry["path"]
    framework, target = entry["framework"], OTHER[entry["framework"]]
    as_handed_over = "set" in entry and "model_needed" not in entry
    if "model_needed" in entry:   # refused as handed over: that refusal first, then the manifest's model by name
        assert first_error(source, framework, entry["set"]) == entry["model_needed"]
    model_name = None if as_handed_over else entry["model"]
    model_args = None if as_handed_over else (entry["kwargs"] or None)

    migrated_code, migrated_weights = tmp_path / "migrated.py", tmp_path / (
        "migrated.weights.h5" if target == "keras" else "migrated.pt")
    constructed = entry.get("run_constructor", False)   # built by its constructor, read from the object
    model, report = import_source(source, framework, model_name, model_args, settings=entry.get("set"),
                                  run_constructor=constructed)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    free = [tuple(axis for axis, size in enumerate(shape) if size < 0) for shape in report.input_shapes.values()]
    assert free == [tuple(spec.get("free_axes", ())) for spec in entry["inputs"]]   # sizes left to run time

    # The original, built from the source's definitions, with lively weights saved as its users save them.
    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    original = source_runner(source, framework, model, report, model_args, entry.get("set"))
    original.load_store(enliven(original.native_store()))
    if framework == "pytorch":
        checkpoint = tmp_path / "original.pt"
        torch.save(original.obj.state_dict(), checkpoint)
    else:
        checkpoint = tmp_path / "original.weights.h5"
        original.obj.save_weights(str(checkpoint))

    result = migrate(source, target, migrated_code, model_name=model_name, model_args=model_args,
                     settings=entry.get("set"), weights=checkpoint, weights_out=migrated_weights,
                     run_constructor=constructed)
    assert result.ok, result.report_text()
    assert migrated_weights in result.written
    name = class_name(result.model.name)

    rng = np.random.default_rng(0)
    calls = [user_batch(entry, shapes, rng) for shapes in sizes_of(entry)]
    # The source user's arrays in pivot (channels-first) layout: the importer's reading of a Keras input.
    to_pivot = [tuple(np.argsort(p)) for p in original.in_perms] if framework == "keras" else None
    from_pivot = list(original.out_perms) if framework == "keras" else None

    if target == "pytorch":
        migrated = load_generated(migrated_code, name).eval()
        migrated.load_state_dict(torch.load(migrated_weights))
    else:
        migrated = load_generated(migrated_code, name)
        call_keras(migrated, [channels_last(a) for a in calls[0]])   # builds the layers, as its users do
        migrated.load_weights(str(migrated_weights))

    worst = []
    for arrays in calls:
        if framework == "pytorch":
            expected = call_torch(original.obj, arrays)
            got = [channels_first(o) for o in call_keras(migrated, [channels_last(a) for a in arrays])]
        else:
            expected = [np.transpose(o, np.argsort(p)) if o.ndim == len(p) else o
                        for o, p in zip(call_keras(original.obj, arrays), from_pivot)]
            got = call_torch(migrated, [np.transpose(a, p) for a, p in zip(arrays, to_pivot)])
        assert [g.shape for g in got] == [e.shape for e in expected], [a.shape for a in arrays]
        worst.append(max(float(np.abs(g.astype("float64") - e).max()) for g, e in zip(got, expected)))
    assert max(worst) <= ATOL, dict(zip([str([a.shape for a in c]) for c in calls], worst))


def test_the_files_the_manifest_calls_refused_are_refused_with_their_code_first():
    # One test over the list (none today: the last one, the patch transformer, migrates since add_learned),
    # so an empty list is not a skipped test.
    for folder, entry in REFUSED:
        source = ROOT / folder / entry["path"]
        model_name = None if "set" in entry else entry["model"]
        model_args = None if "set" in entry else (entry["kwargs"] or None)
        with pytest.raises(NNPivotError) as caught:
            import_source(source, entry["framework"], model_name, model_args, settings=entry.get("set"))
        errors = [d for d in caught.value.diagnostics if d.is_error]
        assert errors[0].code == entry["refused"] and errors[0].location.line, [str(d) for d in errors]
