"""Migration benchmark over the corpus: the static path (no torch, no TensorFlow) versus verification.

    .venv/bin/python benchmarks/migration.py [--limit N] [--inputs 3]

1. **Static path**, in a subprocess that never imports torch or TensorFlow (it
   checks ``sys.modules`` at the end and fails otherwise): every corpus entry
   goes through ``nnpivot.migrate.migrate`` (import -> validate -> generate ->
   write) to the other framework; per file the wall time.
2. **Verification**, in this process with both frameworks loaded: the original
   file is executed, its (enlivened) weights go through the pivot into the
   generated code, both run on ``--inputs`` random inputs, and the maximum
   absolute difference is compared with 1e-5; per file the time to do so.

Prints a summary table (files, migrated, verified equivalent, difference
min/median/max, mean static and verification times) and writes
``results/corpus_migration_bench.csv`` (per file) and
``results/corpus_migration_bench_summary.csv``. ``bench.py`` calls
:func:`run` for its migration table.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
MANIFEST = ROOT / "samples" / "corpus" / "manifest.json"
OTHER = {"pytorch": "keras", "keras": "pytorch"}
FRAMEWORK_MODULES = ("torch", "tensorflow", "keras")
ATOL = 1e-5


def _entries(limit: int | None) -> list[dict]:
    return json.loads(MANIFEST.read_text())["entries"][:limit]


# --- 1. static path (subprocess) ------------------------------------------------------------------

def static_worker(limit: int | None) -> None:
    """Migrate every entry without the frameworks; print one JSON object per file, then check sys.modules."""
    from nnpivot.diagnostics import NNPivotError
    from nnpivot.migrate import migrate

    with tempfile.TemporaryDirectory(prefix="nnpivot_static_") as folder:
        for index, entry in enumerate(_entries(limit)):
            source = MANIFEST.parent / entry["path"]
            started = time.perf_counter()
            try:
                result = migrate(source, OTHER[entry["framework"]], Path(folder) / f"migrated_{index}.py",
                                 model_name=entry["model"], model_args=entry["kwargs"],
                                 input_shapes=[spec["shape"] for spec in entry["inputs"]])
                migrated, problem = result.ok, "" if result.ok else (result.failed or "partial")
            except NNPivotError as exc:
                migrated, problem = False, exc.diagnostics[0].code if exc.diagnostics else "failed"
            print(json.dumps({"file": entry["path"], "migrated": migrated, "problem": problem,
                              "static_s": time.perf_counter() - started}), flush=True)
    loaded = sorted(name for name in FRAMEWORK_MODULES if name in sys.modules)
    if loaded:
        raise SystemExit(f"the static migration path imported {', '.join(loaded)}")


def static_rows(limit: int | None) -> dict[str, dict]:
    completed = subprocess.run([sys.executable, __file__, "--static-worker", *(["--limit", str(limit)] if limit
                                                                                 else [])],
                               capture_output=True, text=True, check=False)
    if completed.returncode:
        raise RuntimeError(f"static migration worker failed: {completed.stderr.strip()[-2000:]}")
    rows = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return {row["file"]: row for row in rows}


# --- 2. verification (this process) ---------------------------------------------------------------

def verify_entry(entry: dict, folder: Path, inputs: int) -> tuple[bool, float, str]:
    """(verified, max abs difference, problem) of one corpus entry, original file against generated code."""
    import keras
    import torch

    from nnpivot.diagnostics import NNPivotError
    from nnpivot.frameworks import enliven, runner_for_code
    from nnpivot.generators import keras as keras_generator
    from nnpivot.generators import pytorch as pytorch_generator
    from nnpivot.migrate import import_source, source_runner
    from nnpivot.verify import verify_runners

    generators = {"pytorch": pytorch_generator.generate, "keras": keras_generator.generate}
    source = MANIFEST.parent / entry["path"]
    framework, target = entry["framework"], OTHER[entry["framework"]]
    try:
        model, report = import_source(source, framework, entry["model"], entry["kwargs"],
                                      [spec["shape"] for spec in entry["inputs"]])
        torch.manual_seed(0)
        keras.utils.set_random_seed(0)
        original = source_runner(source, framework, model, report, entry["kwargs"])
        original.load_store(enliven(original.native_store()))
        store, _ = original._read_store()   # a layer the source shares keeps one value
        generated = runner_for_code(generators[target](model, source.name), folder / f"{source.stem}_migrated.py",
                                    model, target)
        result = verify_runners(original, generated, model, store=store, inputs=inputs, atol=ATOL, seed=1)
    except NNPivotError as exc:
        return False, float("nan"), exc.diagnostics[0].code if exc.diagnostics else "failed"
    return result.passed, result.max_abs_diff, "" if result.passed else f"diverges at {result.first_divergent_node}"


def rows(limit: int | None = None, inputs: int = 3) -> list[dict]:
    static = static_rows(limit)
    found = []
    with tempfile.TemporaryDirectory(prefix="nnpivot_verify_") as tmp:
        for entry in _entries(limit):
            row = static[entry["path"]]
            started = time.perf_counter()
            verified, diff, problem = verify_entry(entry, Path(tmp), inputs) if row["migrated"] else (False, "", "")
            found.append({"file": entry["path"], "framework": entry["framework"], "migrated": row["migrated"],
                          "verified": verified, "max_abs_diff": f"{diff:.3g}" if diff != "" else "",
                          "static_s": f"{row['static_s']:.3f}",
                          "with_verification_s": f"{row['static_s'] + time.perf_counter() - started:.2f}",
                          "problem": row["problem"] or problem})
            print(f"  {entry['path']}: {'verified' if verified else found[-1]['problem']}", file=sys.stderr)
    return found


def summary(found: list[dict]) -> list[dict]:
    result = []
    for framework in [*sorted({r["framework"] for r in found}), "all"]:
        chosen = [r for r in found if framework in ("all", r["framework"])]
        diffs = sorted(float(r["max_abs_diff"]) for r in chosen if r["max_abs_diff"] not in ("", "nan"))
        static = [float(r["static_s"]) for r in chosen]
        verified = [float(r["with_verification_s"]) for r in chosen]
        result.append({"framework": framework, "files": len(chosen), "migrated": sum(r["migrated"] for r in chosen),
                       "verified": sum(r["verified"] for r in chosen),
                       "diff_min": f"{diffs[0]:.3g}" if diffs else "-",
                       "diff_median": f"{statistics.median(diffs):.3g}" if diffs else "-",
                       "diff_max": f"{diffs[-1]:.3g}" if diffs else "-",
                       "static_mean_s": f"{statistics.mean(static):.3f}" if static else "-",
                       "with_verification_mean_s": f"{statistics.mean(verified):.2f}" if verified else "-"})
    return result


def _table(found: list[dict]) -> str:
    columns = list(found[0])
    cells = [[str(r[c]) for c in columns] for r in found]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)), "  ".join("-" * w for w in widths)]
    return "\n".join(lines + ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in cells]) + "\n"


def _write_csv(found: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(found[0]))
        writer.writeheader()
        writer.writerows(found)


def run(limit: int | None = None, inputs: int = 3) -> list[dict]:
    """Both measurements, the printed summary table and the CSV files; returns the per-file rows."""
    found = rows(limit, inputs)
    table = summary(found)
    print("Corpus migration: static path (no torch/TensorFlow loaded) vs with verification\n")
    print(_table(table))
    _write_csv(found, RESULTS / "corpus_migration_bench.csv")
    _write_csv(table, RESULTS / "corpus_migration_bench_summary.csv")
    print(f"written: {RESULTS / 'corpus_migration_bench.csv'}, {RESULTS / 'corpus_migration_bench_summary.csv'}")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N corpus files")
    parser.add_argument("--inputs", type=int, default=3, help="random inputs per verification (default 3)")
    parser.add_argument("--static-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.static_worker:
        static_worker(args.limit)
        return 0
    run(args.limit, args.inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
