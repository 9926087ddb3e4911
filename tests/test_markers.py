"""The static tests run and pass with neither PyTorch nor TensorFlow importable.

Every test that needs a framework carries the ``torch`` or ``tensorflow`` marker
(tests/markers.py); a module that imports one at the top is marked as a whole and
is then not even imported under ``-m "not torch and not tensorflow"`` (conftest.py).
Here that selection runs in a subprocess whose ``torch``, ``tensorflow`` and
``keras`` packages are shadowed by ones that raise ImportError: an unmarked test
that needs a framework fails it, and so does a static test hidden behind a marker's
module import.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("torch", "tensorflow", "keras")


def test_static_selection_passes_without_the_frameworks(tmp_path):
    for name in FRAMEWORKS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('{name} is unimportable in this run')\n")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not torch and not tensorflow",
         "--ignore", str(Path(__file__).relative_to(ROOT)), "-W", "error::pytest.PytestUnknownMarkWarning"],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    tail = run.stdout[-3000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) > 1000, tail
    assert not re.search(r"\d+ (skipped|error)", run.stdout), tail
    assert "deselected" in run.stdout, "the framework tests were not deselected"
