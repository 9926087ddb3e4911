"""``nnpivot verify --train`` on the paper networks, in float32 and float64 (issue 11: "verify --train 50 passes
for every paper network in both directions").

    .venv/bin/python benchmarks/verify_train_paper.py [--only SUBSTRING ...] [--steps 50] [--batch N]
        [--precision float64 --precision float32] [--out results/verify_train_paper.md]

Each paper source file (samples/paper, its manifest's model and input size) is migrated to the other framework
with ``nnpivot.migrate.migrate`` and checked as a user checks it, ``nnpivot verify SOURCE MIGRATED --train STEPS
--train-batch N --train-precision P``: both start from the original's initial weights and take STEPS optimizer
steps on the same seeded batches, each with the training configuration its importer reads from it. Per file
and precision it prints the verdict, the first diverging step, the largest relative loss difference over the
steps, the largest weight difference after them, the peak memory (ru_maxrss) and the time.

The default batch is the test suite's (4) except for AlexNet and VGG16 (1): one float64 check of VGG16 at 224 x 224
holds about 10 GB, so those run apart from the suite, one file per process (``--only``).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package

from train_checks import OTHER, entries, migrate_entry, verify_options, verify_train

LARGE = ("alexnet", "vgg16")  # trained on one sample per step
PAPER = Path(__file__).resolve().parent.parent / "samples" / "paper"


def check(entry: dict, steps: int, batch: int, precision: str, folder: Path) -> dict:
    source = PAPER / entry["path"]
    migrated = folder / f"migrated_{source.stem}.py"
    result = migrate_entry(source, entry, migrated)
    if result.failed is not None:
        return {"verdict": "MIGRATION FAILED", "detail": [str(d) for d in result.diagnostics]}
    found = verify_train(source, migrated, verify_options(entry), steps, batch, precision)
    return {**found, "report": found["out"] + found["err"]}


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="paper files whose path holds this")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, help="samples per step (default 4; 1 for AlexNet and VGG16)")
    parser.add_argument("--precision", action="append", choices=("float64", "float32"))
    parser.add_argument("--out", type=Path, help="append the table rows to this Markdown file")
    parser.add_argument("--verbose", action="store_true", help="print each verify report")
    args = parser.parse_args()
    precisions = args.precision or ["float64", "float32"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for entry in entries("paper").values():
            if args.only and not any(part in entry["path"] for part in args.only):
                continue
            batch = args.batch or (1 if any(name in entry["path"] for name in LARGE) else 4)
            for precision in precisions:
                found = check(entry, args.steps, batch, precision, Path(folder))
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
                row = (f"| {entry['path']} -> {OTHER[entry['framework']]} | {precision} | {args.steps} | {batch} | "
                       f"{found['verdict']} | {found.get('first_step', '-')} | {found.get('loss_rel', '-')} | "
                       f"{found.get('weight', '-')} ({found.get('parameter', '-')}) | "
                       f"{found.get('seconds', 0):.0f} s | {peak:.1f} GB |")
                print(row, flush=True)
                if args.verbose or found["verdict"] == "MIGRATION FAILED":
                    print(found.get("report") or found.get("detail"), flush=True)
                rows.append(row)
    if args.out:
        with args.out.open("a", encoding="utf-8") as stream:
            stream.write("\n".join(rows) + "\n")
    return 0


HEADER = ("| file -> migrated to | precision | steps | batch | verdict | first diverging step | max loss rel. diff | "
          "max weight diff (parameter) | time | peak RSS |")

if __name__ == "__main__":
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    sys.exit(main_bench())
