import ast
import os
import sys
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # deterministic float sums, no start-up chatter
sys.path.insert(0, str(Path(__file__).parent))  # tests/golden.py and friends

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.nn"))



@pytest.fixture(params=SAMPLES, ids=[p.stem for p in SAMPLES])
def sample_path(request):
    return request.param


def module_marks(path: Path) -> set[str]:
    """The marker names of a test module's ``pytestmark`` assignment, read from its source (not imported)."""
    names: set[str] = set()
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                     for t in statement.targets):
            for node in ast.walk(statement.value):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                        and node.value.attr == "mark"):
                    names.add(node.attr)
    return names


def pytest_ignore_collect(collection_path, config):
    """A module marked for a framework as a whole imports it at the top: not even imported when deselected."""
    expression = config.getoption("markexpr")
    if not expression or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    marks = module_marks(collection_path) & {"torch", "tensorflow"}
    if marks and not Expression.compile(expression).evaluate(lambda name, **kwargs: name in marks):
        return True
    return None
