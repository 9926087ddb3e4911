"""nnpivot benchmark: code generation and cross-framework equivalence per sample; corpus migration.

    .venv/bin/python benchmarks/bench.py                 # both tables
    .venv/bin/python benchmarks/bench.py --only lenet5 alexnet --skip-corpus
    .venv/bin/python benchmarks/bench.py --skip-samples --corpus-limit 10

Table 1 (``results/generation.csv``), per ``samples/*.nn``: the time to generate
PyTorch and Keras code (best of ``--repeats``), and the maximum absolute output
difference of the two generated models over ``--inputs`` random inputs with
shared weights, in both directions (PyTorch's initialization moved through the
pivot into Keras, and Keras' into PyTorch).

Table 2 (``results/migration.csv``), per entry of ``samples/corpus/manifest.json``:
the static migration (source importer + generator of the other framework; no
model code runs), then the verification of source against generated code with
the frameworks (loading both files, moving weights, running them).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
MANIFEST = ROOT / "samples" / "corpus" / "manifest.json"
OTHER = {"pytorch": "keras", "keras": "pytorch"}
SAMPLE_ATOL, CORPUS_ATOL = 1e-4, 1e-5


def _generators():
    from nnpivot.generators import keras, pytorch
    return {"pytorch": pytorch.generate, "keras": keras.generate}


def _best_time(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# --- table 1: generation and equivalence per sample ---------------------------------------

def generation_rows(samples: list[Path], inputs: int, repeats: int, folder: Path) -> list[dict]:
    from nnpivot.frameworks import enliven, runner_for_code
    from nnpivot.grammars import parse_file
    from nnpivot.verify import verify_runners

    generators = _generators()
    rows = []
    for path in samples:
        model = parse_file(path)
        row = {"sample": path.stem}
        code = {}
        for target, generate in generators.items():
            code[target] = generate(model, path.name)
            def run(generate=generate, model=model, name=path.name):
                return generate(model, name)
            row[f"{target}_generation_ms"] = round(1000 * _best_time(run, repeats), 2)
        start = time.perf_counter()
        torch_runner = runner_for_code(code["pytorch"], folder / f"{path.stem}_torch.py", model, "pytorch")
        keras_runner = runner_for_code(code["keras"], folder / f"{path.stem}_keras.py", model, "keras")
        keras_native = keras_runner.native_store()
        forward = verify_runners(torch_runner, keras_runner, model, inputs=inputs, atol=SAMPLE_ATOL)
        backward = verify_runners(keras_runner, torch_runner, model, store=enliven(keras_native, seed=1),
                                  inputs=inputs, atol=SAMPLE_ATOL, seed=1)
        row.update({"inputs": inputs,
                    "pytorch_to_keras_max_abs_diff": f"{forward.max_abs_diff:.3g}",
                    "keras_to_pytorch_max_abs_diff": f"{backward.max_abs_diff:.3g}",
                    "equivalent": forward.passed and backward.passed,
                    "verify_s": round(time.perf_counter() - start, 1)})
        rows.append(row)
        print(f"  {path.stem}: done", file=sys.stderr)
    return rows


# --- table 2: corpus migration -------------------------------------------------------------

def _importer(framework: str):
    import importlib
    module = importlib.import_module(f"nnpivot.importers.{framework}")
    return getattr(module, f"import_{framework}")


def _migrate(entry: dict, source: Path):
    """Static path: import the source, generate the other framework. Returns (model, code, problem)."""
    from nnpivot.diagnostics import NNPivotError, has_errors

    framework = entry["framework"]
    shapes = [tuple(i["shape"]) for i in entry.get("inputs", [])] or None
    try:
        model, report = _importer(framework)(source, model_name=entry.get("model"),
                                             model_args=entry.get("kwargs") or None, input_shapes=shapes)
    except NNPivotError as exc:
        return None, None, exc.diagnostics[0].code if exc.diagnostics else "import-failed"
    problems = [d for d in getattr(report, "diagnostics", []) if d.is_error]
    if has_errors(problems):
        return None, None, problems[0].code
    try:
        code = _generators()[OTHER[framework]](model, source.name)
    except NNPivotError as exc:
        return None, None, exc.diagnostics[0].code if exc.diagnostics else "generation-failed"
    return model, code, ""


def migration_rows(manifest: Path, inputs: int, folder: Path, limit: int | None = None) -> list[dict]:
    """One row per corpus file: migrated?, verified?, max abs difference, static and verification time."""
    from nnpivot.diagnostics import NNPivotError
    from nnpivot.frameworks import open_model_file
    from nnpivot.verify import verify_runners

    entries = json.loads(manifest.read_text())["entries"][:limit]
    rows = []
    for index, entry in enumerate(entries):
        source = manifest.parent / entry["path"]
        start = time.perf_counter()
        model, code, problem = _migrate(entry, source)
        row = {"file": entry["path"], "framework": entry["framework"], "migrated": model is not None,
               "verified": False, "max_abs_diff": "", "static_s": round(time.perf_counter() - start, 3),
               "verify_s": "", "problem": problem}
        if model is not None:
            start = time.perf_counter()
            target = folder / f"migrated_{index}.py"
            target.write_text(code)
            try:
                a = open_model_file(source, model, entry["framework"], model_name=entry.get("model"),
                                    model_args=entry.get("kwargs") or None)
                b = open_model_file(target, model, OTHER[entry["framework"]])
                result = verify_runners(a, b, model, inputs=inputs, atol=CORPUS_ATOL)
                row.update(verified=result.passed, max_abs_diff=f"{result.max_abs_diff:.3g}",
                           problem="" if result.passed else f"diverges at {result.first_divergent_node}")
            except NNPivotError as exc:
                row["problem"] = exc.diagnostics[0].code if exc.diagnostics else "verify-failed"
            row["verify_s"] = round(time.perf_counter() - start, 2)
        rows.append(row)
        print(f"  {entry['path']}: {'verified' if row['verified'] else row['problem'] or 'migrated'}",
              file=sys.stderr)
    return rows


def migration_summary(rows: list[dict]) -> list[dict]:
    """The corpus figures: files, migrated, verified, difference distribution, mean times."""
    diffs = sorted(float(r["max_abs_diff"]) for r in rows if r["max_abs_diff"] != "")
    static = [r["static_s"] for r in rows]
    verify = [r["verify_s"] for r in rows if r["verify_s"] != ""]

    def quantile(q):
        return f"{diffs[min(len(diffs) - 1, int(q * len(diffs)))]:.3g}" if diffs else "-"
    summary = []
    for framework in sorted({r["framework"] for r in rows}) + ["all"]:
        chosen = [r for r in rows if framework in ("all", r["framework"])]
        summary.append({"framework": framework, "files": len(chosen),
                        "migrated": sum(r["migrated"] for r in chosen),
                        "verified": sum(r["verified"] for r in chosen)})
    summary[-1].update({"diff_median": quantile(0.5), "diff_p90": quantile(0.9),
                        "diff_max": f"{diffs[-1]:.3g}" if diffs else "-",
                        "static_mean_s": f"{statistics.mean(static):.3f}" if static else "-",
                        "with_frameworks_mean_s": f"{statistics.mean(verify):.2f}" if verify else "-"})
    return summary


# --- output ------------------------------------------------------------------------------------

def table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)\n"
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in cells]
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="SAMPLE", help="samples to run (default: all)")
    parser.add_argument("--inputs", type=int, default=20, help="random inputs per comparison (default 20)")
    parser.add_argument("--repeats", type=int, default=5, help="generation timing repeats (default 5)")
    parser.add_argument("--skip-samples", action="store_true", help="leave out table 1")
    parser.add_argument("--skip-corpus", action="store_true", help="leave out table 2")
    parser.add_argument("--corpus-limit", type=int, help="migrate only the first N corpus files")
    args = parser.parse_args(argv)
    import keras  # noqa: F401 - load both frameworks before timing anything
    import torch  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="nnpivot_bench_") as tmp:
        folder = Path(tmp)
        sys.path.insert(0, str(folder))
        if not args.skip_samples:
            samples = sorted((ROOT / "samples").glob("*.nn"))
            if args.only:
                samples = [p for p in samples if p.stem in args.only]
            rows = generation_rows(samples, args.inputs, args.repeats, folder)
            print("Generation and equivalence per sample\n")
            print(table(rows))
            write_csv(rows, RESULTS / "generation.csv")
            print(f"written: {RESULTS / 'generation.csv'}\n")
        if not args.skip_corpus and MANIFEST.exists():
            rows = migration_rows(MANIFEST, args.inputs, folder, args.corpus_limit)
            print("Corpus migration\n")
            print(table(migration_summary(rows)))
            write_csv(rows, RESULTS / "migration.csv")
            write_csv(migration_summary(rows), RESULTS / "migration_summary.csv")
            print(f"written: {RESULTS / 'migration.csv'}, {RESULTS / 'migration_summary.csv'}")
            import migration  # benchmarks/migration.py: static path without torch/TensorFlow vs with verification
            migration.run(args.corpus_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
