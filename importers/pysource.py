"""Helpers shared by the static Python-source importers (PyTorch, Keras).

Source files are read with :mod:`ast` and never executed. This module holds
what does not depend on the framework: reading and parsing a file into located
diagnostics, ``file:line:col`` locations of AST nodes, resolving the names a
file imports (``import torch.nn as nn``, ``from torch.nn import Linear``) to
qualified names, and the ``Refused`` signal an interpreter raises when it meets
a construct it cannot translate.
"""
from __future__ import annotations

import ast
from pathlib import Path

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error


class Refused(Exception):
    """A construct that cannot be translated. ``diagnostic`` is None when the cause was reported earlier."""

    def __init__(self, diagnostic: Diagnostic | None = None):
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic) if diagnostic else "depends on untranslated code")


def read_source(path) -> tuple[str, ast.Module]:
    """The text and AST of a Python file; ``file-not-found``/``syntax-error`` as NNPivotError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NNPivotError([error("file-not-found", f"no such file: {path}", Location(str(path)))]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise NNPivotError([error("unreadable-file", f"cannot read {path}: {exc}", Location(str(path)))]) from None
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        where = Location(str(path), exc.lineno or 0, exc.offset or 0)
        raise NNPivotError([error("syntax-error", f"not valid Python: {exc.msg}", where)]) from None
    return text, tree


def location(path, node: ast.AST | None) -> Location:
    """``file:line:col`` of an AST node (columns count from 1, as gcc and editors do)."""
    if node is None or not hasattr(node, "lineno"):
        return Location(str(path))
    return Location(str(path), node.lineno, node.col_offset + 1)


def describe(node: ast.AST) -> str:
    """The source text of a node, shortened for a message."""
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


class ImportTable:
    """What the names bound by a file's imports stand for, as qualified dotted names.

    ``import torch.nn as nn`` binds ``nn`` to ``torch.nn``; ``from torch import nn``
    likewise; ``import torch.nn`` binds ``torch``; ``from torch.nn import Linear``
    binds ``Linear`` to ``torch.nn.Linear``. Imports anywhere in the file count
    (also inside functions and ``if __name__ == "__main__":``).
    """

    def __init__(self, tree: ast.Module):
        self.names: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        self.names[head] = head
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def qualified(self, node: ast.AST) -> str | None:
        """The qualified name of ``a.b.c`` when ``a`` is an imported name, else None."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.names:
            return None
        return ".".join([self.names[node.id], *reversed(parts)])


__all__ = ["ImportTable", "Refused", "describe", "location", "read_source"]
