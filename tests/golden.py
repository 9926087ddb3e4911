"""Golden files: expected output per stage, kept in tests/golden/.

A mismatch writes ``<expected>.actual`` beside the expected file so the two can
be diffed; ``NNPIVOT_UPDATE_GOLDEN=1`` rewrites the expected files instead.
"""
from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(path, actual: str) -> None:
    path = Path(path)
    if not path.is_absolute():
        path = GOLDEN_DIR / path
    actual_path = path.with_name(path.name + ".actual")
    if os.environ.get("NNPIVOT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        actual_path.unlink(missing_ok=True)
        return
    if not path.exists():
        actual_path.parent.mkdir(parents=True, exist_ok=True)
        actual_path.write_text(actual, encoding="utf-8")
        raise AssertionError(f"no golden file {path}; wrote {actual_path.name} (NNPIVOT_UPDATE_GOLDEN=1 accepts it)")
    expected = path.read_text(encoding="utf-8")
    if expected != actual:
        actual_path.write_text(actual, encoding="utf-8")
        raise AssertionError(f"{path.name} differs from the golden file; see {actual_path} "
                             f"(NNPIVOT_UPDATE_GOLDEN=1 accepts it)")
    actual_path.unlink(missing_ok=True)
