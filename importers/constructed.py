"""Constructor mode (``--run-constructor``): the model object built by the source's own constructor, read.

The static importers never run user code. Model files written the way the big
model libraries write them (builder functions over config lists, ``_make_layer``
loops, ``nn.init`` loops, config objects) are easier to read once built, so on
request this importer executes the file's DEFINITIONS only (imports, classes,
functions and module-level assignments of plain constants, never a top-level
call, loop or the ``__main__`` block: :func:`constructor_definitions`) and the
model's constructor or builder with the model arguments, then reads the object:

* PyTorch (:mod:`.constructed_torch`): the module tree (``named_children``),
  each torch layer's hyper-parameters from its attributes (the constructor
  parameters torch keeps under their own names), and each user-defined
  module's forward traced with ``torch.fx`` (torch layers, ``nn.Sequential``
  and user-defined submodules stay calls, so the user's classes stay blocks).
  From that a plain module file is written (one class per distinct structure
  of a user class, children constructed with literal arguments under the
  original attribute names, forward as traced) and read by the static PyTorch
  importer, so the pivot, the blocks and the weight map (``state_dict`` keys,
  which the written file keeps) come from the one importer. The arguments the
  constructor passes to each user module are recorded while it runs
  (:func:`recording_constructors`), so the importer's block templates make one
  parameterised block of a user class whose instances differ only in them. A forward fx
  cannot trace (a branch on sizes, ``math`` on a size) is read statically
  instead: the class's own methods are written with the plain values its
  instance holds and the file's module level (a ``forward-read-statically``
  note says so). What neither reading translates is an error naming the
  module path, and the import fails rather than leave an identity.
* Keras (:mod:`.constructed_keras`): the built model's functional graph
  (each tensor's producing layer and call), layer configs (``get_config``)
  written as a functional builder with the layers' own names and read by the
  static Keras importer.

Weights are never taken from the built object (its initial values mean nothing):
they come from the user's checkpoint, through the importer's weight maps.
"""
from __future__ import annotations

import ast
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import itertools
import sys
import traceback
import types
from contextlib import contextmanager, nullcontext
from pathlib import Path

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error

from .pysource import read_source

# Module-level statements kept in constructor mode besides imports and definitions: assignments of values
# built from literals, names already defined and attribute reads, with no call at all (a call at module level
# may read data, download or train: it is the script's, never the model's).
_PLAIN_VALUE_NODES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Name, ast.Load, ast.Attribute,
                      ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Slice, ast.operator, ast.unaryop, ast.Starred,
                      ast.BoolOp, ast.boolop, ast.Compare, ast.cmpop, ast.IfExp)
_counter = itertools.count()
DEFINITIONS_MODULE = "_nnpivot_constructed_"   # the name of the module the definitions run as, numbered
CONSTRUCTED_SUFFIX = " (constructed)"   # the written module's path in diagnostics before they are relocated


def constructor_definitions(tree: ast.Module, settings: dict | None = None) -> list[ast.stmt]:
    """The statements of ``tree`` constructor mode executes: imports, class and function definitions, and
    module-level assignments of plain constants (no call anywhere in them, only names defined before); a
    name given by ``--set`` is assigned its value. Never ``if __name__ == "__main__"`` or a top-level call."""
    settings = settings or {}
    defined = set(dir(__builtins__) if not isinstance(__builtins__, dict) else __builtins__)
    kept: list[ast.stmt] = []
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            kept.append(stmt)
            defined.update((alias.asname or alias.name).split(".")[0] for alias in stmt.names)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(stmt)
            defined.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if not all(isinstance(t, ast.Name) for t in targets):
                continue
            names = [t.id for t in targets]
            if len(names) == 1 and names[0] in settings:
                value = ast.parse(repr(settings[names[0]]), mode="eval").body
                kept.append(ast.copy_location(ast.Assign([ast.Name(names[0], ast.Store())], value), stmt))
                defined.add(names[0])
            elif _plain_value(stmt.value, defined):
                kept.append(stmt)
                defined.update(names)
    return kept


def _plain_value(expr: ast.AST, defined: set) -> bool:
    return all(isinstance(sub, _PLAIN_VALUE_NODES) and (not isinstance(sub, ast.Name) or sub.id in defined)
               for sub in ast.walk(expr))


# Packages that are never files of the user's project.
FRAMEWORK_PACKAGES = ("torch", "keras", "tensorflow", "numpy", "math")


def project_file(folder: Path, parts: list[str]) -> Path | None:
    """The file of the project's module ``parts`` below ``folder`` (``a/b.py`` or ``a/b/__init__.py``)."""
    target = folder.joinpath(*parts)
    for candidate in (target.with_name(target.name + ".py"), target / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class _DefinitionsLoader(importlib.abc.Loader):
    """Loads a module of the user's project by executing only the statements ``select`` keeps of it."""

    def __init__(self, select):
        self.select = select

    def exec_module(self, module) -> None:
        path = Path(module.__spec__.origin)
        _, tree = read_source(path)
        module_tree = ast.fix_missing_locations(ast.Module(self.select(tree), type_ignores=[]))
        exec(compile(module_tree, str(path), "exec"), module.__dict__)  # noqa: S102 - the user's own definitions


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of the user's project (next to the source or in a package below its folder) for
    :func:`project_imports`; ``package`` is the name the source's relative imports resolve against."""

    def __init__(self, folder: Path, package: str, select):
        self.folder, self.package, self.select = folder, package, select
        self.loaded: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if parts[0] == self.package:
            parts = parts[1:]
        elif parts[0] in FRAMEWORK_PACKAGES:
            return None
        folder = self.folder.joinpath(*parts)
        found = project_file(self.folder, parts) if parts else None
        if found is None:
            if not (parts and folder.is_dir()):
                return None
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)   # a namespace package
            spec.submodule_search_locations = [str(folder)]
        else:
            spec = importlib.util.spec_from_file_location(
                fullname, found, loader=_DefinitionsLoader(self.select),
                submodule_search_locations=[str(found.parent)] if found.name == "__init__.py" else None)
        self.loaded.append(fullname)
        return spec


@contextmanager
def project_imports(module, select):
    """While ``module`` (made from a source file) runs: its imports of the project's own files load only the
    statements ``select`` keeps of them (definitions), never their top level; afterwards they are forgotten
    (they are this run's, not the process's)."""
    path = Path(module.__spec__.origin)
    package = f"{module.__name__}_project"
    module.__package__ = package   # from .layers import ConvBlock
    project = types.ModuleType(package)
    project.__path__ = [str(path.parent)]
    finder = _ProjectFinder(path.parent, package, select)
    before = set(sys.modules)
    sys.modules[module.__name__] = module   # dataclasses look their module up while the class body runs
    sys.modules[package] = project
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for loaded in [module.__name__, package, *finder.loaded]:
            if loaded not in before:
                sys.modules.pop(loaded, None)


def execute_definitions(path: Path, settings: dict | None = None):
    """Execute the :func:`constructor_definitions` of the file at ``path`` as a fresh module and return it."""
    path = Path(path).resolve()
    _, tree = read_source(path)
    module_tree = ast.fix_missing_locations(ast.Module(constructor_definitions(tree, settings), type_ignores=[]))
    name = f"{DEFINITIONS_MODULE}{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        with project_imports(module, lambda sibling: constructor_definitions(sibling, None)):
            exec(compile(module_tree, str(path), "exec"), module.__dict__)  # noqa: S102 - the user's definitions
    except Exception as exc:  # noqa: BLE001 - the file's own error, reported with its line
        raise NNPivotError([_raised(path, exc, "executing the definitions of")]) from None
    return module, tree


def _raised(path: Path, exc: BaseException, doing: str) -> Diagnostic:
    """An error for an exception the user's code raised, at the deepest line of the file it passed."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno or 0
    return error("constructor-failed", f"{doing} {path.name} raised {type(exc).__name__}: {exc}",
                 Location(str(path), line))


def build_model(path, model_name: str | None, model_args: dict | None, settings: dict | None, pick,
                recorded: RecordedConstructors | None = None):
    """``(model object, name, how)``: the file's definitions executed and its model class or builder called
    with ``model_args`` (its defaults for the rest). ``model_name`` picks it; without it ``pick(path)``.
    With ``recorded``, the constructor arguments of the user's block instances are recorded into it."""
    path = Path(path).resolve()
    module, _ = execute_definitions(path, settings)
    name = model_name or pick(path)
    target = module.__dict__.get(name)
    if target is None:
        raise NNPivotError([error("model-not-found", f"{path.name} defines no '{name}' (constructor mode runs "
                                  "only its definitions and plain constants: give --model with the class or "
                                  "builder function)", Location(str(path)))])
    how = "class" if isinstance(target, type) else "function" if callable(target) else "variable"
    if how == "variable":
        return target, name, how
    try:
        with recording_constructors(recorded, path.parent) if recorded is not None else nullcontext():
            built = target(**(model_args or {}))
    except Exception as exc:  # noqa: BLE001 - the source's own constructor failing
        raise NNPivotError([_raised(path, exc, f"building {name} from")]) from None
    return built, name, how


class RecordedConstructors:
    """What the user's constructor passed to each instance of the user's own subclasses of ``base`` (an
    ``nn.Module``), recorded while the model is built (:func:`build_model`): ``calls`` maps ``id(instance)`` to
    ``(instance, __init__ function, {parameter: value})`` (the parameters of the ``__init__`` that ran first
    for it, defaults applied; the instance is held so its id stays its own)."""

    def __init__(self, base: type):
        self.base = base
        self.calls: dict[int, tuple] = {}

    def arguments_of(self, instance) -> tuple | None:
        """``(__init__ function, {parameter: value})`` of an instance built while recording, else None."""
        found = self.calls.get(id(instance))
        return found[1:] if found is not None and found[0] is instance else None


def _user_classes(base: type, folder: Path) -> list[type]:
    """The subclasses of ``base`` defined in the files below ``folder`` (the user's project) that define an
    ``__init__`` of their own."""
    found, pending, seen = [], [base], set()
    while pending:
        for cls in pending.pop().__subclasses__():
            if cls in seen:
                continue
            seen.add(cls)
            pending.append(cls)
            code = getattr(cls.__dict__.get("__init__"), "__code__", None)
            if code is not None and _in_project(Path(code.co_filename), folder):
                found.append(cls)
    return found


def _in_project(file: Path, folder: Path) -> bool:
    try:
        return file.resolve().is_relative_to(folder) and "site-packages" not in file.parts
    except OSError:
        return False


@contextmanager
def recording_constructors(recorded: RecordedConstructors, folder: Path):
    """Meanwhile each instance of a ``recorded.base`` subclass of the user's project (the files below
    ``folder``) gets its constructor arguments recorded, bound to its ``__init__``'s parameters by
    ``inspect.signature``: the classes' own ``__init__`` are wrapped, and restored afterwards."""
    wrapped = {cls: cls.__dict__["__init__"] for cls in _user_classes(recorded.base, Path(folder).resolve())}

    def recorder(original):
        @functools.wraps(original)
        def init(self, *args, **kwargs):
            if id(self) not in recorded.calls:   # the most derived __init__ runs first; a super() call is its
                recorded.calls[id(self)] = (self, original, _bound(original, self, args, kwargs))
            return original(self, *args, **kwargs)
        return init

    for cls, original in wrapped.items():
        cls.__init__ = recorder(original)
    try:
        yield
    finally:
        for cls, original in wrapped.items():
            cls.__init__ = original


def _bound(function, instance, args: tuple, kwargs: dict) -> dict:
    """``{parameter: value}`` of a call of ``function`` (defaults applied, ``**kwargs`` spread, ``*args``
    left out: no parameter names them)."""
    try:
        bound = inspect.signature(function).bind(instance, *args, **kwargs)
    except TypeError:   # the call itself is wrong: the constructor raises it when it runs
        return {}
    bound.apply_defaults()
    values = {}
    for name, parameter in list(bound.signature.parameters.items())[1:]:
        if parameter.kind is parameter.VAR_KEYWORD:
            values.update(bound.arguments.get(name, {}))
        elif parameter.kind is not parameter.VAR_POSITIONAL and name in bound.arguments:
            values[name] = bound.arguments[name]
    return values


def init_source(function) -> tuple[ast.FunctionDef, ast.ClassDef] | None:
    """The syntax of a user class's ``__init__`` and of the class defining it, found by its code's file and
    first line; None when the file cannot be read."""
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    try:
        _, tree = read_source(Path(code.co_filename))
    except NNPivotError:
        return None
    for cls in ast.walk(tree):
        if isinstance(cls, ast.ClassDef):
            for item in cls.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__" and \
                        min([item.lineno, *(d.lineno for d in item.decorator_list)]) == code.co_firstlineno:
                    return item, cls
    return None


class Unreadable(Exception):
    """A module of the tree that cannot be written as constructed code (the message says why)."""


def same_value(value, default) -> bool:
    try:
        return type(value) is type(default) and bool(value == default) or (value is None and default is None)
    except (TypeError, ValueError, RuntimeError):
        return False


def as_source(report, path: Path, name: str, how: str, model_args, sequential_root: bool) -> None:
    """The report of the written module file made the report of the user's file and model."""
    report.source = str(path)
    report.model, report.model_kind = name, how
    report.model_arguments = dict(model_args or {})
    report.constructed = True


__all__ = ["CONSTRUCTED_SUFFIX", "DEFINITIONS_MODULE", "RecordedConstructors", "Unreadable", "as_source",
           "build_model", "constructor_definitions", "execute_definitions", "init_source", "recording_constructors",
           "same_value"]
