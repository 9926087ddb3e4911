"""What the ``verify --train`` benchmarks and tests/test_verify_training.py share: a manifest entry of
samples/paper or samples/corpus as migrate arguments and verify options, its migration there and back, and
one ``nnpivot verify --train`` run read into figures.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import time
from pathlib import Path

from nnpivot.cli import main
from nnpivot.migrate import MigrationResult, import_source, migrate
from nnpivot.verify import file_input_shapes

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
OTHER = {"pytorch": "keras", "keras": "pytorch"}


def entries(folder: str) -> dict[str, dict]:
    """The manifest entries of samples/FOLDER by path."""
    return {e["path"]: e for e in json.loads((SAMPLES / folder / "manifest.json").read_text())["entries"]}


def verify_options(entry: dict) -> list[str]:
    """The verify options that say what the manifest says about the source: model, arguments, values, shapes."""
    options = ["--model-name", entry["model"]]
    for item in entry["inputs"]:  # the manifest's size: a PyTorch file's own guess may be too small to train
        options += ["--input-shape", f"{item['name']}={','.join(map(str, item['shape']))}"]
    if entry.get("kwargs"):
        options += ["--model-args", json.dumps(entry["kwargs"])]
    for name, value in entry.get("set", {}).items():
        options += ["--set", f"{name}={','.join(map(str, value)) if isinstance(value, list) else value}"]
    return options


def entry_shapes(entry: dict) -> dict | None:
    """The input shapes migrate needs for an entry whose source does not say them (``shape_needed``)."""
    return {i["name"]: tuple(i["shape"]) for i in entry["inputs"]} if "shape_needed" in entry else None


def import_entry(source: Path, entry: dict):
    """``(model, report)`` of an entry's source, read statically as the verify options describe it."""
    return import_source(source, entry["framework"], entry["model"], entry.get("kwargs") or None,
                         entry_shapes(entry), entry.get("set") or None)


def migrate_entry(source: Path, entry: dict, output: Path) -> MigrationResult:
    """The entry's source migrated to the other framework."""
    return migrate(source, OTHER[entry["framework"]], output, model_name=entry["model"],
                   model_args=entry.get("kwargs") or None, input_shapes=entry_shapes(entry),
                   settings=entry.get("set") or None, force=True)


def migrate_back(source: Path, entry: dict, migrated: Path, back: Path) -> tuple[MigrationResult, list[str]]:
    """The migrated file (a source in its own right) migrated back to the entry's framework, with the verify
    options that check the two: the pivot model's input shapes in the migrated file's layout (a generated Keras
    subclass leaves them to its first call)."""
    model, _ = import_entry(source, entry)
    shapes = file_input_shapes(model, OTHER[entry["framework"]])
    result = migrate(migrated, entry["framework"], back, input_shapes=shapes, force=True)
    options = [f"--input-shape={','.join('?' if d < 0 else str(d) for d in shape)}" for shape in shapes]
    return result, options


def figure(out: str, label: str) -> str:
    """The word after ``label`` in a verify report (``-`` when the report has none)."""
    return out.split(label, 1)[1].split()[0] if label in out else "-"


def verify_train(a: Path, b: Path, options: list[str], steps: int, batch: int, precision: str = "float64") -> dict:
    """``nnpivot verify A B OPTIONS --train STEPS`` as a user runs it, read into its verdict and figures."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["verify", str(a), str(b), *options, "--train", str(steps), "--train-batch", str(batch),
                       "--train-precision", precision])
    text = out.getvalue()
    errors = re.findall(r"error\[[\w-]+\]:.*", err.getvalue())
    return {"verdict": "PASS" if status == 0 else "FAIL", "status": status, "seconds": time.perf_counter() - start,
            "first_step": figure(text, "first diverging step: "),
            "loss_rel": figure(text, "max relative difference "), "weight": figure(text, "max abs difference "),
            "parameter": (re.findall(r"max abs difference \S+ \((\S+);", text) or ["-"])[0],
            "reason": errors[0] if errors else "", "out": text, "err": err.getvalue()}
