"""The import graph: layers depend one way, no cycles, and imports inside functions only for the frameworks.

metamodel <- kinds <- pivot services <- importers / validators / generators <- pipeline and API <- CLI.
A module may import its own layer and the layers below it; importers, validators and generators read
the kinds and never each other. Imports inside functions are kept for torch and TensorFlow (they cost
seconds and are optional), so everything else shows in the graph this test reads.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The installed package maps nnpivot.<sub> to these folders (setup.cfg package_dir).
PACKAGES = {"nnpivot": "nnpivot", "nnpivot.metamodel": "metamodel", "nnpivot.kinds": "kinds",
            "nnpivot.grammars": "grammars", "nnpivot.importers": "importers", "nnpivot.validators": "validators",
            "nnpivot.generators": "generators"}
# Layer of each module, by the longest matching name prefix; higher numbers may import lower ones.
LAYERS = {
    "nnpivot": 0, "nnpivot.diagnostics": 0, "nnpivot.fileio": 0, "nnpivot.lazy": 0,
    "nnpivot.metamodel": 1,
    "nnpivot.kinds": 2,
    "nnpivot.graph": 3, "nnpivot.shapes": 3, "nnpivot.weights": 3, "nnpivot.compare": 3, "nnpivot.passes": 3,
    "nnpivot.importers": 4, "nnpivot.validators": 4, "nnpivot.generators": 4, "nnpivot.grammars": 4,
    "nnpivot.pipeline": 5, "nnpivot.api": 5, "nnpivot.migrate": 5, "nnpivot.verify": 5,
    "nnpivot.frameworks": 5, "nnpivot.formats": 5, "nnpivot.textx_registration": 5,
    "nnpivot.source_runs": 5, "nnpivot.weight_formats": 5, "nnpivot.verify_training": 5,
    "nnpivot.cli": 6, "nnpivot.__main__": 6, "nnpivot.commands": 6, "nnpivot.console": 6, "nnpivot.weights_cli": 6,
    "nnpivot.layers_cli": 6,
}
# Transformations that must not import each other (the DSL's grammar belongs to its importer).
SIBLINGS = {"nnpivot.importers": "importers", "nnpivot.grammars": "importers", "nnpivot.validators": "validators",
            "nnpivot.generators": "generators"}
FRAMEWORKS = ("torch", "tensorflow", "keras", "h5py")


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


MODULES = modules()


def owner(name: str, table: dict[str, object]) -> str | None:
    """The longest key of ``table`` that is ``name`` or a package of it."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in table:
            return ".".join(parts[:end])
    return None


def imported(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported nnpivot module or framework, line, inside a function) for each import of ``module``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from the package, one level up per extra dot
                    parts = package.split(".")
                    base = ".".join([*parts[:len(parts) - child.level + 1], *([base] if base else [])])
                for alias in child.names:
                    name = f"{base}.{alias.name}"
                    found.append((name if name in MODULES else base, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        edges[module] = {owner(name, MODULES) for name, _, _ in imported(module, path)
                         if name.startswith("nnpivot") and owner(name, MODULES) not in (None, module)}
    return edges


def test_every_module_has_a_layer():
    assert [m for m in MODULES if owner(m, LAYERS) is None] == []


def test_layers_depend_one_way():
    upward = []
    for module, path in MODULES.items():
        mine = LAYERS[owner(module, LAYERS)]
        for name, line, _ in imported(module, path):
            if not name.startswith("nnpivot"):
                continue
            target = owner(name, LAYERS)
            if LAYERS[target] > mine:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {module} (layer {mine}) imports {name} "
                              f"(layer {LAYERS[target]})")
            elif owner(module, SIBLINGS) and owner(name, SIBLINGS) and \
                    SIBLINGS[owner(module, SIBLINGS)] != SIBLINGS[owner(name, SIBLINGS)]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: transformation {module} imports {name}")
    assert upward == []


def test_no_import_cycles():
    edges = graph()
    cycles, state = [], {}

    def walk(module, stack):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                walk(target, stack + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            walk(module, [module])
    assert cycles == []


def test_imports_inside_functions_are_for_the_frameworks_only():
    late = [f"{path.relative_to(ROOT)}:{line}: {name}" for module, path in MODULES.items()
            for name, line, in_function in imported(module, path)
            if in_function and name.split(".")[0] not in FRAMEWORKS]
    assert late == []


def test_the_test_reads_the_real_graph():
    """The parser sees what the code imports: the generators read the kinds, the CLI the API."""
    edges = graph()
    assert "nnpivot.kinds" in edges["nnpivot.generators.keras"] or any(
        target.startswith("nnpivot.kinds") for target in edges["nnpivot.generators.keras"])
    assert any(target.startswith("nnpivot.kinds") for target in edges["nnpivot.importers.pytorch"])
