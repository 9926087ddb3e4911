"""Importer golden files: every corpus source file -> its canonical ``.nn`` text.

Each file of ``samples/corpus`` (the manifest gives model, constructor arguments
and input shapes) is read by its static source importer, without running it,
and printed by the ``.nn`` printer; the text must equal
``tests/golden/importers/<framework>/<name>.nn``. A change in what an importer
reads (an attribute, a default, a node name, the graph) shows up here as a
readable diff: a mismatch writes ``*.actual`` beside the expected file and
``NNPIVOT_UPDATE_GOLDEN=1`` accepts it (see tests/golden.py).

What the other corpus tests do and this one does not: ``test_corpus_runs.py``
executes the files in their framework, ``test_migrate_corpus.py`` checks the
migrated code numerically, ``test_import_*.py`` check output shapes and round
trips. Static: needs neither torch nor TensorFlow, but for the files read in constructor mode (manifest
``run_constructor``), whose builders run and which carry their framework's marker.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden import GOLDEN_DIR, check_golden
from markers import FRAMEWORK_MARKS

from nnpivot.diagnostics import has_errors
from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import parse_text
from nnpivot.migrate import import_source

CORPUS = Path(__file__).resolve().parent.parent / "samples" / "corpus"
# a file the importer still refuses (manifest "refused") has no golden text: tests/test_corpus_sizes.py checks it
ENTRIES = [e for e in json.loads((CORPUS / "manifest.json").read_text())["entries"] if "refused" not in e]
FRAMEWORKS = ("pytorch", "keras")


def golden_path(entry) -> Path:
    return GOLDEN_DIR / "importers" / entry["framework"] / (Path(entry["path"]).stem + ".nn")


def imported_text(entry) -> str:
    model, report = import_source(CORPUS / entry["path"], entry["framework"], entry["model"], entry["kwargs"],
                                  [spec["shape"] for spec in entry["inputs"]],
                                  run_constructor=entry.get("run_constructor", False))
    assert not has_errors(report.diagnostics), [str(d) for d in report.diagnostics]
    return to_text(model)


def test_every_corpus_file_has_one_golden_file():
    assert {e["framework"] for e in ENTRIES} == set(FRAMEWORKS)
    expected = {golden_path(e) for e in ENTRIES}
    assert len(expected) == len(ENTRIES), "two corpus files would share a golden file"
    on_disk = {p for framework in FRAMEWORKS for p in (GOLDEN_DIR / "importers" / framework).glob("*.nn")}
    assert on_disk == expected, "a golden file without its corpus file, or the reverse"


@pytest.mark.parametrize("entry", [
    pytest.param(e, id=e["path"], marks=[FRAMEWORK_MARKS[e["framework"]]] if e.get("run_constructor") else [])
    for e in ENTRIES])
def test_import_matches_the_golden_text(entry):
    text = imported_text(entry)
    check_golden(golden_path(entry), text)
    # the golden text is canonical: it reads back and prints the same
    assert to_text(parse_text(text, str(golden_path(entry)))) == text
