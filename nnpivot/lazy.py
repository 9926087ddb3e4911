"""Modules that import themselves on first use.

For a heavy library only some functions of a module need (numpy for the
weight converters beside the code generators): the module names it at the
top like any import, and the static path (reading source, generating code)
never pays for it. This is the standard library's ``importlib.util.LazyLoader``
recipe.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, executed when one of its attributes is first read (at once if already imported).

    Raises ModuleNotFoundError now when ``name`` is not installed, as ``import`` would.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


__all__ = ["lazy_module"]
