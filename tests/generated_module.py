"""Generated code run as a module of its own, for tests that call the generated classes directly."""
from __future__ import annotations

import types


def load_generated(code: str, module_name: str) -> types.ModuleType:
    module = types.ModuleType(module_name)
    exec(compile(code, f"<{module_name}>", "exec"), module.__dict__)  # noqa: S102 - the code under test
    return module
