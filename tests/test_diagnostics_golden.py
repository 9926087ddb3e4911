"""Golden diagnostics: `nnpivot check` on hand-broken .nn files prints exactly the expected report.

Each case is ``tests/golden/diagnostics/<case>.nn`` with its expected output
``<case>.expected`` beside it (stderr, then stdout).
"""
from pathlib import Path

import pytest
from golden import GOLDEN_DIR, check_golden

from nnpivot.cli import main

ROOT = GOLDEN_DIR.parent.parent
CASES = sorted((GOLDEN_DIR / "diagnostics").glob("*.nn"))


def test_there_are_cases():
    assert len(CASES) >= 3


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_check_reports_every_problem_once(case, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    status = main(["check", str(case.relative_to(ROOT))])
    captured = capsys.readouterr()
    assert status == 1
    check_golden(Path("diagnostics") / f"{case.stem}.expected", captured.err + captured.out)
