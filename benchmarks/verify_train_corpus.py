"""``nnpivot verify --train`` on every corpus file with training code, both directions (issue 11: "at least 20
corpus files with training code pass verify --train in both directions").

    .venv/bin/python benchmarks/verify_train_corpus.py [--only SUBSTRING ...] [--steps 50] [--batch 4]
        [--precision float64] [--out results/verify_train_corpus_rows.md] [--verbose]

The files are those of samples/corpus/manifest.json whose training code the importer reads (an optimizer and
a loss in the pivot model's TrainingConfig), found by importing each. Each is migrated to the other framework
with ``nnpivot.migrate.migrate`` and checked as a user checks it: ``nnpivot verify ORIGINAL MIGRATED --train
STEPS``, then the migrated file (a source in its own right) migrated back and ``nnpivot verify MIGRATED BACK
--train STEPS``, with the options and helpers tests/test_verify_training.py uses (benchmarks/train_checks.py).
Per file and direction it prints the verdict, the first diverging step, the largest relative loss difference,
the largest weight difference after the last step (and its parameter), the time, and for a failure the first
error the check reported; at the end the number of files that pass both ways.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package

from train_checks import (
    OTHER,
    SAMPLES,
    entries,
    import_entry,
    migrate_back,
    migrate_entry,
    verify_options,
    verify_train,
)

from nnpivot.diagnostics import NNPivotError

CORPUS = SAMPLES / "corpus"
HEADER = ("| file | direction | training | verdict | first diverging step | max loss rel. diff | "
          "max weight diff (parameter) | time | reason |")


def training_of(entry: dict) -> str | None:
    """``optimizer/loss`` the importer reads from the entry's source, None when it reads no complete
    configuration or cannot read the file statically."""
    try:
        model, _ = import_entry(CORPUS / entry["path"], entry)
    except NNPivotError:
        return None
    config = model.training if model is not None else None
    if config is None or config.optimizer is None or not config.loss:
        return None
    return f"{config.optimizer.kind}/{config.loss}"


def row(path: str, direction: str, training: str, found: dict) -> str:
    reason = found.get("reason", "").replace("|", "\\|") if found["verdict"] != "PASS" else ""
    return (f"| {path} | {direction} | {training} | {found['verdict']} | {found.get('first_step', '-')} | "
            f"{found.get('loss_rel', '-')} | {found.get('weight', '-')} ({found.get('parameter', '-')}) | "
            f"{found.get('seconds', 0):.0f} s | {reason} |")


def check_file(entry: dict, steps: int, batch: int, precision: str, folder: Path) -> list[tuple[str, dict]]:
    """Both directions of one file: ``[(direction, result)]``; a failed migration stops the file."""
    source = CORPUS / entry["path"]
    migrated = folder / f"migrated_{source.stem}.py"
    result = migrate_entry(source, entry, migrated)
    if result.failed is not None or result.partial:
        return [("original->migrated", {"verdict": "MIGRATION FAILED",
                                        "reason": "; ".join(str(d) for d in result.diagnostics)[:300]})]
    options = verify_options(entry)
    found = [("original->migrated", verify_train(source, migrated, options, steps, batch, precision))]
    back = folder / f"back_{source.stem}.py"
    result, options = migrate_back(source, entry, migrated, back)
    if result.failed is not None or result.partial:
        return found + [("migrated->back", {"verdict": "MIGRATION FAILED",
                                            "reason": "; ".join(str(d) for d in result.diagnostics)[:300]})]
    return found + [("migrated->back", verify_train(migrated, back, options, steps, batch, precision))]


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="corpus files whose path holds this")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=4, help="samples per step (the test suite's 4)")
    parser.add_argument("--precision", default="float64", choices=("float64", "float32"))
    parser.add_argument("--out", type=Path, help="append each table row to this Markdown file as it is measured")
    parser.add_argument("--verbose", action="store_true", help="print each failing verify report")
    args = parser.parse_args()
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1), flush=True)
    both, files = [], []
    with tempfile.TemporaryDirectory() as folder:
        for path, entry in entries("corpus").items():
            if args.only and not any(part in path for part in args.only):
                continue
            training = training_of(entry)
            if training is None:
                continue
            files.append(path)
            results = check_file(entry, args.steps, args.batch, args.precision, Path(folder))
            for direction, found in results:
                line = row(f"{path} -> {OTHER[entry['framework']]}", direction, training, found)
                print(line, flush=True)
                if args.out:
                    with args.out.open("a", encoding="utf-8") as stream:
                        stream.write(line + "\n")
                if args.verbose and found["verdict"] != "PASS":
                    print(found.get("out", "") + found.get("err", ""), flush=True)
            if len(results) == 2 and all(found["verdict"] == "PASS" for _, found in results):
                both.append(path)
    print(f"\n{len(both)} of {len(files)} corpus files with training code pass both directions at "
          f"{args.steps} steps in {args.precision}")
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
