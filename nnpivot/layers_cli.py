"""``nnpivot layers``: the registry of layer kinds as a text list, or as the README's Markdown table.

The command line's side of :mod:`nnpivot.kinds`; :mod:`nnpivot.cli` loads this
module (and with it the metamodel and the registry) only when ``layers`` runs.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from nnpivot.console import OK
from nnpivot.fileio import read_text, write_atomic
from nnpivot.kinds import KINDS, snake

LAYERS_START, LAYERS_END = "<!-- layers:start -->", "<!-- layers:end -->"


def _arity(kind) -> str:
    low, high = kind.arity
    return str(low) if low == high else f"{low}+" if high is None else f"{low}-{high}"


def _arguments(kind) -> list[tuple[str, bool, str | None]]:
    """(DSL name, required, default literal) of a kind's arguments: positional first, then required ones."""
    positional = {name: i for i, name in enumerate(kind.positional)}
    ranked = sorted(kind.attributes(), key=lambda a: (positional.get(a.name, len(positional)),
                                                      a.name not in kind.required))
    return [(snake(a.name), a.name in kind.required, a.defaultValueLiteral) for a in ranked]


def _argument_text(name: str, default: str | None) -> str:
    return name if default is None else f"{name}={default}"


def layers_markdown() -> str:
    """The README's table of supported kinds, generated from the registry."""
    rows = [f"{len(KINDS)} kinds. Arguments: positional ones first, **required** ones in bold, defaults after `=`.",
            "",
            "| Keyword | EClass | Category | Inputs | Arguments | Summary |",
            "|---|---|---|---|---|---|"]
    for kind in KINDS.values():
        arguments = ", ".join(f"**{name}**" if required else _argument_text(name, default)
                              for name, required, default in _arguments(kind)) or "-"
        rows.append(f"| `{kind.keyword}` | {kind.eclass_name} | {kind.category} | {_arity(kind)} | {arguments} "
                    f"| {kind.summary} |")
    return "\n".join(rows) + "\n"


def layers_text() -> str:
    width = max(len(k) for k in KINDS)
    eclass_width = max(len(k.eclass_name) for k in KINDS.values())
    lines = [f"{len(KINDS)} kinds"]
    for kind in KINDS.values():
        lines.append(f"{kind.keyword:<{width}}  {kind.eclass_name:<{eclass_width}}  {kind.category:<10}  "
                     f"inputs {_arity(kind):<3}  {kind.summary}")
        arguments = _arguments(kind)
        required = [name for name, is_required, _ in arguments if is_required]
        optional = [_argument_text(name, default) for name, is_required, default in arguments if not is_required]
        for label, names in (("required", required), ("optional", optional)):
            if names:
                lines.append(f"{'':<{width}}  {label}: {', '.join(names)}")
    return "\n".join(lines) + "\n"


def replace_layers_section(readme_text: str, table: str) -> str:
    """``readme_text`` with the generated table between the layers markers (added at the end if absent)."""
    section = f"{LAYERS_START}\n{table}{LAYERS_END}"
    start, end = readme_text.find(LAYERS_START), readme_text.find(LAYERS_END)
    if start < 0 or end < start:
        return readme_text.rstrip("\n") + ("\n\n" if readme_text.strip() else "") + section + "\n"
    return readme_text[:start] + section + readme_text[end + len(LAYERS_END):]


def run_layers(args) -> int:
    if args.update_readme:
        path = Path(args.update_readme)
        current = read_text(path) if os.path.lexists(path) else ""  # a FIFO or folder: not-a-file
        updated = replace_layers_section(current, layers_markdown())
        if updated != current:
            write_atomic(path, updated, force=True)
        print(f"{path}: layer table {'updated' if updated != current else 'already up to date'}")
        return OK
    sys.stdout.write(layers_markdown() if args.markdown else layers_text())
    return OK
