"""Every corpus file migrates to the other framework and computes what the original computes.

For each file of ``samples/corpus`` (manifest: model, constructor arguments,
input shapes), the ORIGINAL file's definitions are executed to build its model, its own
initialization is made lively (constant arrays such as fresh BatchNorm
statistics or zero biases become random, ``nnpivot.frameworks.enliven``) and
written back into it, then read into the pivot store through the importer's
maps (``report.state_dict_prefixes`` for PyTorch, ``report.keras_layer_names`` for
Keras). The code generated for the other framework gets that store, and both
run on 3 random inputs (integer inputs of embeddings include the padding
index). Tolerance: 1e-5 absolute for every file (the measured worst case is
about 1e-6; each file's maximum difference is written to a CSV in pytest's
temporary folder, printed at the end, and ``benchmarks/migration.py`` records
the same figures under ``benchmarks/results/``).

Whole scripts (entries with ``set``) are migrated as handed over: the importer
picks the model the script trains and builds it with the arguments the script
passes (argparse defaults, config objects), given only the values the script
computes from data (``set``; PyTorch entries also get their input shapes); the
arguments it read must be the manifest's ``kwargs``. A script the manifest records as
``model_needed`` must give that diagnostic code first; it is then migrated with its model named.

The whole module takes about 75 seconds on 2 cores (one process; TensorFlow
and torch are loaded once).
"""
from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven, runner_for_code
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.migrate import import_source, source_runner
from nnpivot.verify import verify_runners

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "samples" / "corpus"
LISTED = json.loads((CORPUS / "manifest.json").read_text())["entries"]
ENTRIES = [e for e in LISTED if "refused" not in e]   # refusals are checked by tests/test_corpus_sizes.py
MIN_FILES = {"pytorch": 60, "keras": 30}
ATOL = 1e-5
INPUTS = 3
GENERATORS = {"pytorch": pytorch_generator.generate, "keras": keras_generator.generate}
OTHER = {"pytorch": "keras", "keras": "pytorch"}

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]


def test_count_guard():
    counts = {framework: sum(e["framework"] == framework for e in ENTRIES) for framework in MIN_FILES}
    for framework, minimum in MIN_FILES.items():
        assert counts[framework] >= minimum, f"only {counts[framework]} {framework} corpus files"
    on_disk = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.py"))
    assert sorted(e["path"] for e in LISTED) == on_disk


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    """Per file: framework, target, max abs difference, seconds; written as CSV when the module ends."""
    rows = []
    yield rows
    if rows:
        results = tmp_path_factory.mktemp("results") / "corpus_migration.csv"
        with results.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "source", "target", "max_abs_diff", "passed", "seconds"])
            writer.writerows(rows)
        diffs = sorted(float(r[3]) for r in rows)
        print(f"\n{len(rows)} corpus files migrated and run: max abs difference min {diffs[0]:.3g}, "
              f"median {diffs[len(diffs) // 2]:.3g}, max {diffs[-1]:.3g} -> {results}")


def as_tuples(value):
    """Lists as tuples, all the way down (a script's tuple and a manifest's JSON list are the same value)."""
    if isinstance(value, (list, tuple)):
        return tuple(as_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: as_tuples(v) for k, v in value.items()}
    return value


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("entry", ENTRIES, ids=[e["path"] for e in ENTRIES])
def test_corpus_file_migrates_and_verifies(entry, summary, tmp_path):
    import keras
    import torch

    started = time.perf_counter()
    source = CORPUS / entry["path"]
    framework, target = entry["framework"], OTHER[entry["framework"]]
    shapes = [spec["shape"] for spec in entry["inputs"]]
    if "model_needed" in entry:   # refused as handed over (that code first), then migrated with its model named
        try:
            _, refused = import_source(source, framework, settings=entry["set"])
            first = next((d.code for d in refused.diagnostics if d.is_error), None)
        except NNPivotError as error:
            first = error.diagnostics[0].code
        assert first == entry["model_needed"]
        model, report = import_source(source, framework, entry["model"], entry["kwargs"] or None,
                                      settings=entry["set"])
        model_args = entry["kwargs"] or None
    elif "set" in entry:   # a whole script, as handed over: only its values from data are given
        model, report = import_source(source, framework, input_shapes=shapes if framework == "pytorch" else None,
                                      settings=entry["set"])
        assert (report.model, report.model_kind) == (entry["model"], entry["model_kind"])
        built_with = as_tuples(report.model_arguments)   # argparse defaults, configs, --set values
        assert {k: v for k, v in built_with.items() if k in entry["kwargs"]} == as_tuples(entry["kwargs"])
        model_args = None
    else:
        model, report = import_source(source, framework, entry["model"], entry["kwargs"], shapes,
                                      run_constructor=entry.get("run_constructor", False))
        model_args = entry["kwargs"]
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]

    torch.manual_seed(0)
    keras.utils.set_random_seed(0)
    original = source_runner(source, framework, model, report, model_args, entry.get("set"))
    # Lively weights written into the original, then read back: a layer the source shares keeps one value.
    original.load_store(enliven(original.native_store()))
    store, diagnostics = original._read_store()
    assert not [d for d in diagnostics if d.is_error], [str(d) for d in diagnostics]

    generated = runner_for_code(GENERATORS[target](model, source.name), tmp_path / "migrated.py", model, target)
    result = verify_runners(original, generated, model, store=store, inputs=INPUTS, atol=ATOL, seed=1)
    summary.append([entry["path"], framework, target, f"{result.max_abs_diff:.3g}", result.passed,
                    f"{time.perf_counter() - started:.2f}"])
    assert result.passed, (f"{entry['path']}: max abs difference {result.max_abs_diff:.3g}, first divergent node "
                           f"{result.first_divergent_node}")
