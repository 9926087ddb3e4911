"""Issue 12's table: block classes and lines of every corpus source with block classes, against its migrations.

    .venv/bin/python benchmarks/block_classes.py [--out benchmarks/results/block_classes.md]

For every corpus entry whose source has block classes (static entries, and constructor-mode entries read
with ``run_constructor``, which needs torch), the source is imported and generated in both frameworks, and
one row gives the source's block classes and lines next to each generated file's. Block classes are counted
as ``tests/test_block_class_counts.py`` counts them (that test asserts the counts; this script prints them
with the line counts). Lines are all lines of the file, comments and blank lines included.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))   # the measure's own counting functions

from test_block_class_counts import (
    CONSTRUCTED_WITH_BLOCKS,
    CORPUS,
    WITH_BLOCKS,
    _generated_block_classes,
    _import,
    constructed_block_classes,
    source_block_classes,
)

from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.migrate import import_source

GENERATORS = {"pytorch": pytorch_generator, "keras": keras_generator}


def row(entry: dict, constructed: bool) -> list[str]:
    text = (CORPUS / entry["path"]).read_text()
    if constructed:
        wanted = constructed_block_classes(entry)
        shapes = [spec["shape"] for spec in entry["inputs"]]
        model, _ = import_source(CORPUS / entry["path"], entry["framework"], entry["model"],
                                 entry["kwargs"] or None, shapes, run_constructor=True)
    else:
        wanted = source_block_classes(text, entry["framework"], entry["model"])
        model, _ = _import(entry)
    counts, lines = [], [str(len(text.splitlines()))]
    for target, generator in GENERATORS.items():
        code = generator.generate(model, entry["path"])
        counts.append(str(len(_generated_block_classes(code, target, class_name(model.name)))))
        lines.append(str(len(code.splitlines())))
    same = all(int(c) == len(wanted) for c in counts)
    return [entry["path"] + (" (constructor mode)" if constructed else ""), str(len(wanted)), " / ".join(counts),
            "yes" if same else "no", " / ".join(lines)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    header = ["file", "source block classes", "generated PyTorch / Keras block classes", "one per source class",
              "lines source / PyTorch / Keras"]
    rows = [row(e, False) for e in WITH_BLOCKS] + [row(e, True) for e in CONSTRUCTED_WITH_BLOCKS]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    matching = sum(r[3] == "yes" for r in rows)
    table.append(f"\n{matching} of {len(rows)} files: one generated class per source block class in both frameworks.")
    text = "\n".join(table)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
