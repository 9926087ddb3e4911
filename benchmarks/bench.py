"""nnpivot benchmark: code generation and cross-framework equivalence per sample; corpus migration.

    .venv/bin/python benchmarks/bench.py                 # both tables
    .venv/bin/python benchmarks/bench.py --only lenet5 alexnet --skip-corpus
    .venv/bin/python benchmarks/bench.py --skip-samples --corpus-limit 10

Table 1 (``results/generation.csv``), per ``samples/*.nn``: the time to generate
PyTorch and Keras code (best of ``--repeats``), and the maximum absolute output
difference of the two generated models over ``--inputs`` random inputs with
shared weights, in both directions (PyTorch's initialization moved through the
pivot into Keras, and Keras' into PyTorch).

Table 2 is ``benchmarks/migration.py`` (corpus migration: the static path in a
process without torch/TensorFlow versus verification with them).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE_ATOL = 1e-4


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
    from nnpivot.importers.nn_text import parse_file
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
    if not args.skip_corpus:
        import migration  # benchmarks/migration.py: static path without torch/TensorFlow vs with verification
        migration.run(args.corpus_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
