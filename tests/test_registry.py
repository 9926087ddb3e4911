"""The registry of kinds: sane entries, working examples, and the README's table kept fresh.

When the README test fails after a registry change, refresh the table with:

    .venv/bin/nnpivot layers --update-readme

(it rewrites only the part of README.md between the layers markers).
"""
import re
from pathlib import Path

import pytest
from counts import EXAMPLE_COUNT, KIND_COUNT

from nnpivot.importers.nn_text import parse_text
from nnpivot.kinds import BY_ECLASS, KINDS, kind_of
from nnpivot.layers_cli import LAYERS_END, LAYERS_START, layers_markdown, layers_text, replace_layers_section
from nnpivot.metamodel import concrete_node_classes
from nnpivot.shapes import infer_shapes
from nnpivot.validators import validate

README = Path(__file__).resolve().parent.parent / "README.md"

STRUCTURAL = {"Input", "Select", "BlockCall"}  # node classes that are not layer kinds
CATEGORIES = {"layer", "activation", "operation"}

ALL_KINDS = list(KINDS.values())
EXAMPLES = [(kind, example) for kind in ALL_KINDS for example in kind.examples]


def test_kind_count_guard():
    assert len(KINDS) == KIND_COUNT
    assert len({k.keyword for k in ALL_KINDS}) == len({k.eclass_name for k in ALL_KINDS}) == KIND_COUNT


def test_every_concrete_node_class_has_one_entry():
    classes = {c.name for c in concrete_node_classes()} - STRUCTURAL
    assert classes == set(BY_ECLASS)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=[k.keyword for k in ALL_KINDS])
def test_entry_is_sane(kind):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", kind.keyword)
    assert not kind.eclass.abstract
    assert kind.category in CATEGORIES
    assert kind.summary and kind.summary.endswith(".")
    assert kind.examples, "every kind needs an example for the per-kind tests"
    low, high = kind.arity
    assert low >= 1 and (high is None or high >= low)
    names = {a.name for a in kind.attributes()}
    assert set(kind.positional) <= names and set(kind.required) <= names
    assert "name" not in names and "inferredShape" not in names
    assert all(kind.keyword in ex.call.split("(")[0] for ex in kind.examples)


def example_model(example) -> str:
    inputs = "\n".join(f"    input {declaration}" for declaration in example.inputs)
    return f"model Example {{\n{inputs}\n    result = {example.call}\n    output result\n}}\n"


@pytest.mark.parametrize("kind,example", EXAMPLES, ids=[f"{k.keyword}:{e.call}" for k, e in EXAMPLES])
def test_example_parses_validates_and_infers_shapes(kind, example):
    model = parse_text(example_model(example), f"{kind.keyword}.nn")
    node = next(n for n in model.nodes if n.name == "result")
    assert kind_of(node) is kind
    assert [str(d) for d in validate(model)] == []
    table, problems = infer_shapes(model)
    assert problems == [] and all(table.of(n) for n in model.nodes), "the shape pass gave a node no shape"


def test_example_count_guard():
    # at least one example per kind, and none lost: the parametrised test above runs all of them
    assert len(EXAMPLES) == EXAMPLE_COUNT
    assert {k.keyword for k, _ in EXAMPLES} == set(KINDS)


def test_readme_table_is_fresh():
    text = README.read_text(encoding="utf-8")
    assert LAYERS_START in text and LAYERS_END in text, "README.md lacks the layers markers"
    section = text[text.index(LAYERS_START) + len(LAYERS_START):text.index(LAYERS_END)].strip("\n")
    assert section == layers_markdown().strip("\n"), \
        "README's layer table is stale: run `.venv/bin/nnpivot layers --update-readme`"


def test_markdown_table_has_a_row_per_kind():
    rows = [line for line in layers_markdown().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(KINDS)
    dense = next(row for row in rows if row.startswith("| `dense`"))
    assert "**units**" in dense and "bias=true" in dense


def test_text_listing_names_every_kind_and_its_arguments():
    text = layers_text()
    listed = [line.split()[0] for line in text.splitlines()[1:] if not line.startswith(" ")]
    assert listed == list(KINDS)
    assert "required: filters, kernel_size" in text


def test_replace_layers_section_touches_only_the_section():
    readme = f"# Title\n\nintro\n\n{LAYERS_START}\nold table\n{LAYERS_END}\n\n## After\n"
    updated = replace_layers_section(readme, "| new |\n")
    assert updated == f"# Title\n\nintro\n\n{LAYERS_START}\n| new |\n{LAYERS_END}\n\n## After\n"
    assert replace_layers_section("# Only a title\n", "| t |\n") == f"# Only a title\n\n{LAYERS_START}\n| t |\n" \
                                                                    f"{LAYERS_END}\n"
