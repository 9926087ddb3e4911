"""What every ``nnpivot`` subcommand prints the same way: diagnostics on stderr, gcc-style, and the exit
statuses (0 success, 1 when an input has errors, 2 on usage errors)."""
from __future__ import annotations

import sys

from nnpivot.diagnostics import Diagnostic

OK, FAILED, USAGE = 0, 1, 2


def report(diagnostics: list[Diagnostic]) -> None:
    """Diagnostics on stderr, gcc-style; those without a location are prefixed with the program name."""
    for diagnostic in diagnostics:
        prefix = "" if diagnostic.location else "nnpivot: "
        print(f"{prefix}{diagnostic}", file=sys.stderr)


def count(diagnostics: list[Diagnostic]) -> str:
    """``2 errors, 1 warning``."""
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = sum(d.severity == "warning" for d in diagnostics)
    parts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((errors, "error"), (warnings, "warning")) if n]
    return ", ".join(parts)


__all__ = ["FAILED", "OK", "USAGE", "count", "report"]
