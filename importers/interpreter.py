"""One abstract interpreter of Python source, shared by the static importers (PyTorch, Keras).

The source is read with :mod:`ast` and never executed: statements and expressions are evaluated over
Python values (numbers, strings, lists, tuples, dicts, sets, ranges, slices), the functions, lambdas,
closures and classes the source defines, and the values a framework front-end supplies (tensors, layers,
modules, framework functions). The front-end subclasses :class:`Interpreter` and overrides its hooks:

- ``lookup_missing``: names the source does not define (imports, framework names);
- ``attribute``/``subscript``/``foreign_call``/``foreign_binary``/``foreign_unary``: operations on its values;
- ``set_attribute``/``set_item``/``bind_name``: assignments to its values;
- ``truth``/``sequence``/``comparable``/``plain``: what of its values Python may test, loop over or compute with;
- ``fail``/``unknown_used``: its policy for what cannot be known statically. The PyTorch front-end refuses
  the statement (``Refused``), the Keras front-end goes on with an unknown value.

The interpreter owns the evaluation limits: a step budget, a bound on integer sizes (before ``**``, ``<<``,
``*`` compute), a bound on the length of sequences built or looped over, and a call-depth bound. Exceeding
one raises :class:`EvaluationLimit`, an :class:`NNPivotError` with a located ``evaluation-limit``
diagnostic: a hostile file ends in a diagnostic, never in a hang or a traceback.
"""
from __future__ import annotations

import ast
import importlib.util
import math
import string
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnpivot.diagnostics import Location, NNPivotError, error
from nnpivot.importers.pysource import Refused, ReturnValue, describe, location, read_source

# --- evaluation limits ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """How much work one import may do; far above what a real model's code needs."""
    steps: int = 300_000          # statements and expressions evaluated (the corpus needs a few hundred)
    int_bits: int = 4096          # bits of an integer (10**1000 is about 3,300 bits)
    length: int = 1_000_000       # items of a sequence built or looped over (range, [0] * n, "a" * n)
    depth: int = 60               # nested calls of the source's functions
    nesting: int = 200            # expressions evaluated inside one another (calls included)


class EvaluationLimit(NNPivotError):
    """The source asked for more work than the limits allow (``evaluation-limit`` at the construct)."""


class UnknownOperand(Exception):
    """An operand of ``node`` is unknown: ``eval`` of ``node`` gives ``value`` (the front-end's unknown)."""

    def __init__(self, value, node):
        super().__init__()
        self.value, self.node = value, node


class BreakLoop(Exception):
    pass


class ContinueLoop(Exception):
    pass


# --- the values the interpreter makes ----------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Function:
    """A function or lambda of the source; ``closure`` is the scope it was defined in (None at module level)."""
    node: ast.FunctionDef | ast.Lambda
    closure: dict | None = None

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<lambda>")


@dataclass(eq=False)
class Class:
    """A class of the source. ``bases`` are Class values or the qualified names of imported bases;
    ``role`` is what the front-end makes of it (an nn.Module, a Keras model or layer, None for plain Python)."""
    name: str
    node: ast.ClassDef
    bases: list
    role: str | None = None

    def method(self, name: str):
        """``(FunctionDef, defining Class)`` of method ``name``, through the bases, or None."""
        for item in self.node.body:
            if isinstance(item, ast.FunctionDef) and item.name == name:
                return item, self
        for base in self.bases:
            if isinstance(base, Class):
                found = base.method(name)
                if found:
                    return found
        return None

    def class_attribute(self, name: str):
        """The expression a class-level ``name = ...`` assigns, through the bases, or None."""
        for item in self.node.body:
            if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in item.targets):
                return item.value
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.target.id == name \
                    and item.value is not None:
                return item.value
        for base in self.bases:
            if isinstance(base, Class):
                found = base.class_attribute(name)
                if found is not None:
                    return found
        return None

    def is_subclass_of(self, other: Class) -> bool:
        return self is other or any(isinstance(b, Class) and b.is_subclass_of(other) for b in self.bases)


@dataclass(eq=False)
class Object:
    """An instance of a plain Python class of the source."""
    cls: Class
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BoundMethod:
    """A method of the source bound to its instance; ``cls`` is the class that defines it."""
    instance: Any
    node: ast.FunctionDef
    cls: Class


@dataclass(frozen=True, eq=False)
class Super:
    """``super()`` inside a method of ``cls``."""
    instance: Any
    cls: Class


@dataclass(frozen=True, eq=False)
class PyMethod:
    """A method of a Python value (``list.append``, ``dict.items``, ``str.format``...)."""
    target: Any
    name: str


@dataclass(frozen=True)
class Builtin:
    """A Python builtin function."""
    name: str


@dataclass(frozen=True)
class PyModule:
    """A name of the standard library the interpreter knows (``argparse.ArgumentParser``, ``dataclasses.field``)."""
    qualified: str


@dataclass(eq=False)
class ArgParser:
    """An ``argparse.ArgumentParser`` of the script: each option's destination and default value."""
    defaults: dict = field(default_factory=dict)
    required: dict = field(default_factory=dict)    # destination -> the flag the command line must give


@dataclass(frozen=True, eq=False)
class ArgParserMethod:
    parser: ArgParser
    name: str


@dataclass(frozen=True, eq=False)
class Free:
    """A value the script computes from data or reads from the command line; ``message`` says how to give it."""
    name: str
    message: str
    where: Location

    def diagnostic(self):
        return error("free-value", self.message, self.where)


@dataclass(frozen=True)
class FieldSpec:
    """``dataclasses.field(default=..., default_factory=...)`` in a dataclass body."""
    default: Any = None
    factory: Any = None
    has_default: bool = False


@dataclass(eq=False)
class SourceModule:
    """A module of the user's project (a file next to the source, or in a package below its folder), read
    with the same interpreter in its own namespace: its definitions, never its top-level effects."""
    name: str
    path: str
    globals: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)   # the front-end's per-file state (its import table...)
    loading: bool = True


@dataclass(frozen=True, eq=False)
class MissingImport:
    """A name an import statement of the project could not give: using it is the import's diagnostic."""
    diagnostic: Any


# Modules that are never files of the user's project: their names keep the front-ends' own handling.
THIRD_PARTY = frozenset({"torch", "torchvision", "torchaudio", "torchtext", "keras", "tensorflow", "tf_keras",
                         "numpy", "math", "scipy", "pandas", "sklearn", "matplotlib", "tqdm", "PIL", "h5py"})
# Top-level definitions a sibling module contributes; anything else at its top level is left alone.
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.Import,
               ast.ImportFrom)


def is_third_party(top: str) -> bool:
    """Whether ``top`` names a module of the standard library or an installed package (found, not imported)."""
    if top in THIRD_PARTY or top in sys.stdlib_module_names or top in KNOWN_STDLIB:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


# What a script may import from the standard library and have evaluated statically.
KNOWN_STDLIB = frozenset({"argparse", "dataclasses", "types", "string"})
# Constants of those modules, read as values (``string.ascii_letters`` spells a character vocabulary).
STDLIB_CONSTANTS = {f"string.{name}": getattr(string, name) for name in (
    "ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits", "octdigits", "punctuation",
    "printable", "whitespace")}
NAMESPACE_CLASS = ast.ClassDef(name="Namespace", bases=[], keywords=[], body=[ast.Pass()], decorator_list=[])


PY_METHODS = frozenset({"append", "extend", "insert", "pop", "items", "keys", "values", "get", "index", "count",
                        "format", "copy", "update", "upper", "lower", "split", "join", "startswith", "endswith",
                        "replace", "strip", "setdefault", "is_integer", "add", "remove", "clear", "discard",
                        "sort", "reverse", "title", "capitalize", "rstrip", "lstrip", "rsplit"})
MUTATING_METHODS = frozenset({"append", "extend", "insert", "pop", "update", "setdefault", "add", "remove", "clear",
                              "discard", "sort", "reverse"})
PLAIN_TYPES = (int, float, complex, str, bool, type(None), list, tuple, dict, set, frozenset, range, slice, bytes)
TYPE_NAMES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "tuple": tuple, "dict": dict,
              "set": set, "frozenset": frozenset, "range": range, "slice": slice, "complex": complex}
BUILTIN_NAMES = frozenset({
    "range", "len", "int", "float", "str", "bool", "list", "tuple", "dict", "set", "frozenset", "zip", "enumerate",
    "min", "max", "sum", "abs", "round", "sorted", "reversed", "any", "all", "divmod", "pow", "isinstance",
    "getattr", "setattr", "hasattr", "print", "map", "filter", "super", "type", "repr", "callable", "chr", "ord",
    "hex", "bin", "oct", "format", "iter", "next", "slice", "complex", "hash", "id"})
CONSTANT_NAMES = {"True": True, "False": False, "None": None, "Ellipsis": Ellipsis}

COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
           ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
           ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b}
BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
          ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
          ast.Pow: lambda a, b: a ** b, ast.MatMult: lambda a, b: a @ b, ast.BitOr: lambda a, b: a | b,
          ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b, ast.LShift: lambda a, b: a << b,
          ast.RShift: lambda a, b: a >> b}
UNARY = {ast.USub: lambda v: -v, ast.UAdd: lambda v: +v, ast.Invert: lambda v: ~v, ast.Not: lambda v: not v}
ITERATOR_TYPES = (type({}.items()), type({}.keys()), type({}.values()), zip, enumerate, map, filter, reversed)


def _int_bits(value) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def target_names(stmt) -> list:
    """The targets a statement assigns (bound to an unknown value when the statement is refused)."""
    if isinstance(stmt, ast.Assign):
        return list(stmt.targets)
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return [stmt.target]
    return []


class Interpreter:
    """The abstract interpreter; a framework front-end subclasses it and overrides the hooks."""

    limits = Limits()
    #: a conditional expression that is a statement's value hands the statement's target name to its branch
    hint_through_conditional = False

    def __init__(self, path):
        self.path = str(path)
        self.globals: dict[str, Any] = {}
        self.stdlib_names: dict[str, str] = {}   # names the script imports from KNOWN_STDLIB, qualified
        self.settings: dict[str, Any] = {}       # --set NAME=VALUE: values of names the script computes from data
        self.steps = 0
        self.depth = 0
        self.nesting = 0
        self.augmented: dict[ast.AugAssign, ast.BinOp] = {}   # x += v read as x = x + v, made once per statement
        self.statement_target: str | None = None       # the name a statement assigns its value to
        self.statement_targets: list | None = None     # the names a tuple assignment unpacks into
        self.statement_value: ast.AST | None = None    # that value's expression
        self.main_path = self.path                   # the file read: absolute imports are found next to it
        # (test, value) of every `if` and conditional expression whose branch is being run, outermost first:
        # the choices a front-end's node was made under (the branches a parameterised block keeps)
        self.choices: list[tuple[ast.expr, bool]] = []
        self.project_modules: dict[str, SourceModule] = {}   # resolved file -> the sibling module read from it
        self.module: SourceModule | None = None        # the module whose code runs (None: only the file read)
        self.main_module: SourceModule | None = None

    # -- locations, policy hooks --------------------------------------------------------------------------
    def where(self, node) -> Location:
        return location(self.path, node)

    def fail(self, code: str, message: str, node):
        """What cannot be known or translated: refuse the statement (a front-end may return a value instead)."""
        raise Refused(error(code, message, self.where(node)))

    def is_unknown(self, value) -> bool:
        """Whether ``value`` stands for code that could not be translated (already reported)."""
        return False

    def unknown_used(self, value, node):
        """``value`` is unknown and ``node`` needs it: refuse silently (a front-end may return an unknown)."""
        raise Refused()

    def limit(self, message: str, node) -> EvaluationLimit:
        return EvaluationLimit([error("evaluation-limit", message, self.where(node))])

    # -- evaluation limits --------------------------------------------------------------------------------
    def step(self, node) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise self.limit(f"evaluating the source took more than {self.limits.steps:,} steps (a loop or "
                             "recursion too long to unroll)", node)

    def check_length(self, length: int, node) -> None:
        if length > self.limits.length:
            raise self.limit(f"'{describe(node)}' has {length:,} items, more than the {self.limits.length:,} a "
                             "static import evaluates", node)

    def check_int(self, value, node):
        if isinstance(value, int) and _int_bits(value) > self.limits.int_bits:
            raise self.limit(f"'{describe(node)}' is an integer of more than {self.limits.int_bits} bits", node)
        return value

    def check_arithmetic(self, op, left, right, node) -> None:
        """Refuse, before computing it, an operation whose result would be too large."""
        bits = self.limits.int_bits
        too_big = False
        if isinstance(op, ast.Pow) and isinstance(right, (int, float)) and isinstance(left, (int, float)):
            magnitude = abs(left)
            if isinstance(right, int) and right > 0 and magnitude > 1:
                too_big = right * math.log2(magnitude) > bits
        elif isinstance(op, ast.LShift) and isinstance(left, int) and isinstance(right, int):
            too_big = left != 0 and right > 0 and _int_bits(left) + right > bits
        elif isinstance(op, ast.Mult):
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple, bytes)) and isinstance(count, int):
                    self.check_length(len(sequence) * max(count, 0), node)
            too_big = isinstance(left, int) and isinstance(right, int) and _int_bits(left) + _int_bits(right) > bits
        elif isinstance(op, ast.Add):
            for sequence in (left, right):
                if isinstance(sequence, (str, list, tuple)) and isinstance(left, type(right)):
                    self.check_length(len(left) + len(right), node)
        if too_big:
            raise self.limit(f"'{describe(node)}' computes an integer of more than {bits} bits", node)

    def bounded_items(self, value, node) -> list:
        """The items of a Python iterable, refused when there are too many to evaluate."""
        if isinstance(value, (range, list, tuple, str, dict, set, frozenset)):
            self.check_length(len(value), node)
        return list(value)

    # -- hooks on the front-end's values --------------------------------------------------------------------
    def plain(self, value) -> bool:
        """Whether Python may compute with ``value`` directly (numbers, strings, containers of the source)."""
        return isinstance(value, PLAIN_TYPES)

    def comparable(self, value) -> bool:
        """Whether ``value`` may be compared (tensors cannot be, statically)."""
        return True

    def truth(self, value, node):
        """The truth of a condition; None when it is known only at run time."""
        if self.is_unknown(value):
            return self.unknown_used(value, node)
        return bool(value)

    def sequence(self, value, node):
        """The items a ``for`` loop or a comprehension goes through; None when known only at run time."""
        if self.is_unknown(value):
            return self.unknown_used(value, node)
        if isinstance(value, (list, tuple, range, str, dict, set, frozenset, *ITERATOR_TYPES)):
            return self.bounded_items(value, node)
        return self.fail("dynamic-value", f"cannot loop over '{describe(node)}' without running the code", node)

    def lookup_missing(self, name: str, node):
        """A name the source does not define: a builtin, else ``dynamic-value``."""
        if name in BUILTIN_NAMES:
            return Builtin(name)
        if name in CONSTANT_NAMES:
            return CONSTANT_NAMES[name]
        return self.fail("dynamic-value", f"'{name}' is not defined here", node)

    def bind_name(self, name: str, value, scope: dict) -> None:
        scope[name] = value

    def foreign_binary(self, op, left, right, node):
        """An operator on values that are not plain Python (tensors...): a front-end translates it."""
        return self.fail("unsupported-construct", f"'{describe(node)}'", node)

    def foreign_unary(self, op, value, node):
        return self.fail("unsupported-construct", f"'{describe(node)}'", node)

    def foreign_call(self, func, args: list, kwargs: dict, node):
        """A call of something that is not a function, class or builtin of Python."""
        return self.fail("unsupported-construct", f"call of '{describe(node.func)}'", node)

    def foreign_subscript(self, owner, key, node):
        """Indexing something that is not a Python container."""
        return self.fail("unsupported-construct", f"indexing '{describe(node)}'", node)

    def foreign_attribute(self, owner, name: str, node):
        """An attribute of something that is not a Python value or an object of the source."""
        return self.fail("unsupported-construct", f"attribute '{describe(node)}'", node)

    def set_attribute(self, owner, name: str, value, node) -> None:
        if isinstance(owner, Object):
            owner.attrs[name] = value
            return
        self.fail("unsupported-construct", f"assignment to {describe(node)}", node)

    def set_item(self, owner, key, value, node) -> None:
        if isinstance(owner, (list, dict)):
            try:
                owner[key] = value
            except (IndexError, TypeError) as exc:
                self.fail("dynamic-value", f"'{describe(node)}': {exc}", node)
            return
        self.fail("unsupported-construct", f"assignment to {describe(node)}", node)

    def define_class(self, node: ast.ClassDef, scope: dict) -> None:
        bases = []
        for base in node.bases:
            value = self.eval(base, scope) if isinstance(base, ast.Name) and self.defined(base.id, scope) else None
            bases.append(value if isinstance(value, Class) else ast.unparse(base))
        self.bind_name(node.name, Class(node.name, node, bases), scope)

    def instantiate(self, cls: Class, args: list, kwargs: dict, node):
        instance = Object(cls)
        if is_dataclass(cls) and cls.method("__init__") is None:
            return self.dataclass_instance(cls, instance, args, kwargs, node)
        init = cls.method("__init__")
        if init is not None:
            self.call_function(Function(init[0]), [instance, *args], kwargs, node, cls=init[1])
        return instance

    def dataclass_instance(self, cls: Class, instance: Object, args: list, kwargs: dict, node):
        """A ``@dataclass`` built by its generated ``__init__``: fields in order, then ``__post_init__``."""
        fields = dataclass_fields(cls)
        if len(args) > len(fields):
            return self.fail("unsupported-construct", f"{cls.name}() takes {len(fields)} fields, got {len(args)}",
                             node)
        for key in kwargs:
            if key not in fields:
                return self.fail("unsupported-construct", f"{cls.name}() has no field '{key}'", node)
        for index, (name, default) in enumerate(fields.items()):
            if index < len(args):
                value = args[index]
            elif name in kwargs:
                value = kwargs[name]
            elif default is None:
                return self.fail("dynamic-value", f"{cls.name}() needs a value for '{name}'", node)
            else:
                value = self.eval_where_defined(default)
                if isinstance(value, FieldSpec):
                    value = value.default if value.has_default else \
                        self.call_user(value.factory, [], node) if value.factory is not None else None
            instance.attrs[name] = value
        post_init = cls.method("__post_init__")
        if post_init is not None:
            self.call_function(Function(post_init[0]), [instance], {}, node, cls=post_init[1])
        return instance

    # -- the standard library a script uses: argparse, dataclasses --------------------------------------------
    def read_stdlib_imports(self, tree: ast.Module) -> None:
        """Remember the names ``tree`` imports from the standard library modules evaluated statically."""
        self.globals.setdefault("__doc__", ast.get_docstring(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in KNOWN_STDLIB:
                        self.stdlib_names[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module in KNOWN_STDLIB and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        self.stdlib_names[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    @staticmethod
    def stdlib_value(qualified: str):
        """A name of a standard library module: its constant value, else the name to call."""
        return STDLIB_CONSTANTS.get(qualified, PyModule(qualified))

    def call_stdlib(self, qualified: str, args: list, kwargs: dict, node):
        if qualified == "argparse.ArgumentParser":
            return ArgParser()
        if qualified == "dataclasses.field":
            if "default" in kwargs:
                return FieldSpec(default=kwargs["default"], has_default=True)
            return FieldSpec(factory=kwargs.get("default_factory"))
        if qualified in ("dataclasses.dataclass", "dataclasses.replace", "types.SimpleNamespace"):
            if qualified == "types.SimpleNamespace":
                return Object(Class("SimpleNamespace", NAMESPACE_CLASS, []), dict(kwargs))
            if qualified == "dataclasses.replace" and args and isinstance(args[0], Object):
                return Object(args[0].cls, {**args[0].attrs, **kwargs})
            return args[0] if args else PyModule(qualified)   # @dataclass(...) used as a decorator
        if qualified == "dataclasses.asdict" and args and isinstance(args[0], Object):
            return dict(args[0].attrs)
        return self.fail("dynamic-value", f"{qualified}() is known only when the script runs", node)

    def call_argparse(self, method: ArgParserMethod, args: list, kwargs: dict, node):
        parser = method.parser
        if method.name in ("add_argument_group", "add_mutually_exclusive_group"):
            return parser
        if method.name == "set_defaults":
            parser.defaults.update(kwargs)
            return None
        if method.name == "add_argument":
            flags = [a for a in args if isinstance(a, str)]
            if not flags:
                return self.fail("dynamic-value", f"'{describe(node)}' names no option", node)
            long = next((f for f in flags if f.startswith("--")), flags[0])
            dest = kwargs.get("dest") or long.lstrip("-").replace("-", "_")
            action = kwargs.get("action")
            if action in ("store_true", "store_false"):
                parser.defaults[dest] = kwargs.get("default", action == "store_false")
            elif "default" in kwargs and not kwargs.get("required"):
                parser.defaults[dest] = self.converted_default(kwargs["default"], kwargs.get("type"), node)
            elif action == "count" or action == "append":
                parser.defaults[dest] = None
            else:
                parser.defaults[dest] = None if long.startswith("-") and not kwargs.get("required") else ...
                if parser.defaults[dest] is ...:
                    parser.required[dest] = long
            return None
        if method.name in ("parse_args", "parse_known_args"):
            attrs = {}
            for dest, value in parser.defaults.items():
                attrs[dest] = self.free_value(dest, f"the command line argument {parser.required[dest]}", node) \
                    if value is ... else value
            namespace = Object(Class("Namespace", NAMESPACE_CLASS, []), attrs)
            return namespace if method.name == "parse_args" else (namespace, [])
        if method.name in ("print_help", "print_usage", "add_subparsers"):
            return None
        return self.fail("dynamic-value", f"'{describe(node)}' is known only when the script runs", node)

    def converted_default(self, default, kind, node):
        """argparse applies ``type`` to a default given as a string."""
        if isinstance(default, str) and isinstance(kind, Builtin) and kind.name in ("int", "float"):
            try:
                return TYPE_NAMES[kind.name](default)
            except ValueError:
                return self.fail("dynamic-value", f"'{describe(node)}': {default!r} is not {kind.name}", node)
        return default

    # -- values the script computes from data ----------------------------------------------------------------
    def free_value(self, name: str, origin: str, node):
        """A value known only when the script runs (data, the command line): ``--set NAME=VALUE`` gives it;
        else the front-end's unknown that says so (see ``make_free``)."""
        if name in self.settings:
            return self.settings[name]
        return self.make_free(name, origin, self.where(node))

    def make_free(self, name: str, origin: str, where: Location):
        """The front-end's value for a free name; using it is a ``free-value`` diagnostic."""
        return Free(name, free_message(name, origin, where), where)

    # -- statements -------------------------------------------------------------------------------------------
    def exec_body(self, body: list[ast.stmt], scope: dict) -> None:
        for stmt in body:
            self.exec(stmt, scope)

    def exec(self, stmt: ast.stmt, scope: dict) -> None:
        self.step(stmt)
        method = getattr(self, f"exec_{type(stmt).__name__}", None)
        if method is None:
            self.fail("unsupported-construct", f"{type(stmt).__name__.lower()} statement "
                                               f"'{describe(stmt).splitlines()[0]}'", stmt)
            return
        try:
            method(stmt, scope)
        except RecursionError:   # Python's own stack, should the bounds above not have stopped it first
            raise self.limit("the statement nests calls and expressions too deeply to evaluate", stmt) from None

    def assignment(self, target: str | None, targets: list | None, value_node):
        """Remember the statement's target names while its value is evaluated (layer names come from them)."""
        outer = self.statement_target, self.statement_targets, self.statement_value
        self.statement_target, self.statement_targets, self.statement_value = target, targets, value_node
        return outer

    def restore(self, outer) -> None:
        self.statement_target, self.statement_targets, self.statement_value = outer

    def hint_for(self, node) -> str | None:
        """The name the current statement assigns ``node``'s value to, if ``node`` is that value."""
        return self.statement_target if node is not None and node is self.statement_value else None

    def hints_for(self, node) -> list | None:
        return self.statement_targets if node is not None and node is self.statement_value else None

    def assigned_name(self, stmt: ast.Assign) -> str | None:
        """The name an assignment gives its value (layer and operation names come from it)."""
        first = stmt.targets[0]
        return first.id if isinstance(first, ast.Name) else first.attr if isinstance(first, ast.Attribute) else None

    def exec_Assign(self, stmt, scope):
        first = stmt.targets[0]
        names = [e.id if isinstance(e, ast.Name) else None for e in first.elts] \
            if isinstance(first, (ast.Tuple, ast.List)) else None
        outer = self.assignment(self.assigned_name(stmt), names, stmt.value)
        try:
            value = self.eval(stmt.value, scope)
        finally:
            self.restore(outer)
        for target in stmt.targets:
            self.bind(target, value, scope)

    def exec_AnnAssign(self, stmt, scope):
        if stmt.value is None:
            return
        outer = self.assignment(getattr(stmt.target, "id", None), None, stmt.value)
        try:
            value = self.eval(stmt.value, scope)
        finally:
            self.restore(outer)
        self.bind(stmt.target, value, scope)

    def exec_AugAssign(self, stmt, scope):
        binop = self.augmented.get(stmt)
        if binop is None:
            binop = ast.copy_location(ast.BinOp(left=load_of(stmt.target), op=stmt.op, right=stmt.value), stmt)
            self.augmented[stmt] = binop
        outer = self.assignment(getattr(stmt.target, "id", None), None, binop)
        try:
            current = self.eval(binop.left, scope)
            if isinstance(current, list) and isinstance(stmt.op, ast.Add) and not self.is_unknown(current):
                items = self.sequence(self.eval(stmt.value, scope), stmt.value)
                if items is not None:
                    self.check_length(len(current) + len(items), stmt)
                    current.extend(items)   # in place, as Python does: aliases see it
                    return
            if self.augment_in_place(current, stmt, scope):
                return
            value = self.binary(stmt.op, current, self.eval(stmt.value, scope), binop)
        finally:
            self.restore(outer)
        self.bind(stmt.target, value, scope)

    def augment_in_place(self, current, stmt, scope) -> bool:
        """``x += ...`` on a front-end value that changes in place (an ``nn.ModuleList``)."""
        return False

    def exec_Expr(self, stmt, scope):
        if isinstance(stmt.value, ast.Constant):
            return   # a docstring
        self.eval(stmt.value, scope)

    def exec_Return(self, stmt, scope):
        raise ReturnValue(None if stmt.value is None else self.eval(stmt.value, scope))

    def known_only_at_run_time(self, stmt) -> None:
        """An ``if`` or ``for`` whose condition or items are known only at run time: it is left out (a
        front-end may report it)."""

    def exec_If(self, stmt, scope):
        test = self.truth(self.eval(stmt.test, scope), stmt.test)
        if test is None:
            self.known_only_at_run_time(stmt)
            return
        self.choices.append((stmt.test, bool(test)))
        try:
            self.exec_body(stmt.body if test else stmt.orelse, scope)
        finally:
            self.choices.pop()

    def loop(self, items, body, orelse, scope, bind=None) -> None:
        for item in items:
            self.step(body[0])
            if bind is not None:
                bind(item)
            try:
                self.exec_body(body, scope)
            except BreakLoop:
                return
            except ContinueLoop:
                continue
        self.exec_body(orelse, scope)

    def exec_For(self, stmt, scope):
        items = self.sequence(self.eval(stmt.iter, scope), stmt.iter)
        if items is None:
            self.known_only_at_run_time(stmt)
            return
        self.loop(items, stmt.body, stmt.orelse, scope, lambda item: self.bind(stmt.target, item, scope))

    def exec_While(self, stmt, scope):
        def rounds():
            while True:
                test = self.truth(self.eval(stmt.test, scope), stmt.test)
                if not test:
                    return
                yield None
        self.loop(rounds(), stmt.body, stmt.orelse, scope)

    def exec_Break(self, stmt, scope):
        raise BreakLoop()

    def exec_Continue(self, stmt, scope):
        raise ContinueLoop()

    def exec_Pass(self, stmt, scope):
        pass

    exec_Global = exec_Nonlocal = exec_Assert = exec_Pass

    # -- the project's own modules: sibling files read statically, never run ----------------------------------
    def exec_Import(self, stmt, scope):
        for alias in stmt.names:
            module = self.project_module(alias.name, 0, stmt)
            if module is None:
                continue   # the standard library or an installed package: the front-end's own handling
            if alias.asname is None and "." in alias.name:   # import models.blocks binds models
                module = self.project_module(alias.name.split(".")[0], 0, stmt)
            self.bind_import(alias.asname or alias.name.split(".")[0], module, scope)

    def exec_ImportFrom(self, stmt, scope):
        if stmt.module == "__future__":
            return
        module = self.project_module(stmt.module or "", stmt.level, stmt)
        if module is None:
            return
        for alias in stmt.names:
            if alias.name == "*":
                if isinstance(module, MissingImport):
                    raise NNPivotError([module.diagnostic])   # the names it would give are not known
                for name in self.public_names(module, stmt):
                    self.bind_import(name, module.globals[name], scope)
                continue
            value = module if isinstance(module, MissingImport) else self.module_member(module, alias.name, stmt)
            self.bind_import(alias.asname or alias.name, value, scope)

    def bind_import(self, name: str, value, scope: dict) -> None:
        """Bind a name an import of the project gives (a front-end may note an imported class)."""
        self.bind_name(name, value, scope)

    def public_names(self, module: SourceModule, stmt) -> list:
        """The names ``from module import *`` gives: ``__all__`` if the module sets it, else its public names."""
        names = module.globals.get("__all__")
        if names is None:
            return [n for n in module.globals if not n.startswith("_")]
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise NNPivotError([error("dynamic-value", f"__all__ of {module.path} is not a list of names known "
                                                       "statically", self.where(stmt))])
        missing = [n for n in names if n not in module.globals]
        if missing:
            raise NNPivotError([error("name-not-found", f"__all__ of {module.path} lists "
                                                        f"{', '.join(missing)}, which it does not define",
                                      self.where(stmt))])
        return list(names)

    def module_member(self, module: SourceModule, name: str, stmt):
        """``from module import name``: a definition of the module, else a submodule file of its package."""
        if name in module.globals:
            return module.globals[name]
        folder = Path(module.path) if Path(module.path).is_dir() else Path(module.path).parent
        if Path(module.path).is_dir() or Path(module.path).name == "__init__.py":
            found = self.module_file(folder, [name])
            if found is not None:
                return self.load_module(f"{module.name}.{name}", found, stmt)
        return MissingImport(error("name-not-found", f"'{name}' is not defined at the top level of {module.path} "
                                                     "(its classes, functions and constants are read)",
                                   self.where(stmt)))

    def module_attribute(self, module: SourceModule, name: str, node):
        """``config.EPOCHS`` of an imported module of the project."""
        value = self.module_member(module, name, node)
        if isinstance(value, MissingImport):
            return self.import_failed(value, node)
        return value

    def import_failed(self, missing: MissingImport, node):
        """A name of a project module that is missing, or that the module does not define, is used."""
        raise Refused(missing.diagnostic)

    @staticmethod
    def module_file(folder: Path, parts: list) -> Path | None:
        """The file of module ``parts`` below ``folder``: ``a/b.py``, else the package ``a/b/__init__.py``, else
        the folder ``a/b`` itself (a namespace package)."""
        target = folder.joinpath(*parts)
        for candidate in (target.with_name(target.name + ".py"), target / "__init__.py"):
            if parts and candidate.is_file():
                return candidate
        return target if parts and target.is_dir() else None

    def project_module(self, dotted: str, level: int, stmt):
        """The module of the user's project an import names (read statically), a MissingImport when the
        project should hold it and does not, or None for the standard library and installed packages."""
        parts = [p for p in dotted.split(".") if p]
        if level:
            folder = Path(self.path).parent
            for _ in range(level - 1):
                folder = folder.parent
        else:
            folder = Path(self.main_path).parent
            if not parts or is_third_party(parts[0]) and self.module_file(folder, parts[:1]) is None:
                return None
        if not parts:   # from . import layers: the package's __init__.py, or its folder
            found = folder / "__init__.py" if (folder / "__init__.py").is_file() else folder
            return self.load_module(".", found, stmt)
        found = self.module_file(folder, parts)
        if found is None:
            searched = folder.joinpath(*parts)
            return MissingImport(error("module-not-found", f"module '{'.' * level}{dotted}' is not a file of the "
                                                           f"project: {searched}.py and {searched / '__init__.py'} "
                                                           "do not exist", self.where(stmt)))
        for depth in range(1, len(parts)):   # import models.blocks reads models (a package) first
            parent = self.module_file(folder, parts[:depth])
            if parent is not None:
                package = self.load_module(".".join(parts[:depth]), parent, stmt)
                child = self.module_file(folder, parts[:depth + 1])
                if child is not None:
                    package.globals.setdefault(parts[depth], self.load_module(".".join(parts[:depth + 1]), child,
                                                                               stmt))
        return self.load_module(dotted or ".", found, stmt)

    def load_module(self, name: str, file: Path, stmt) -> SourceModule:
        """Read a module of the project once: its definitions in its own namespace; an import cycle is refused."""
        if self.main_module is None:
            self.main_module = SourceModule("__main__", self.main_path, self.globals,
                                            {**self.module_state(), "stdlib": self.stdlib_names})
            self.project_modules[str(Path(self.main_path).resolve())] = self.main_module
            self.module = self.main_module
        key = str(file.resolve())
        module = self.project_modules.get(key)
        if module is not None:
            if module.loading:
                raise NNPivotError([error("import-cycle", f"importing '{name}' from {self.path} reads {file} again "
                                                          "while it is still being read (an import cycle)",
                                          self.where(stmt))])
            return module
        module = SourceModule(name, str(file))
        self.project_modules[key] = module
        if file.is_dir():   # a namespace package: only its submodules
            module.loading = False
            return module
        _, tree = read_source(file)
        for node in ast.walk(tree):   # its nodes are located in it and run in its namespace
            if hasattr(node, "lineno"):   # (expression contexts are shared by all trees)
                node.source_path, node.source_module = str(file), module
        module.state = {**self.new_module_state(tree), "stdlib": {}}
        with self.in_module(module):
            self.load_definitions(tree)
        module.loading = False
        return module

    def load_definitions(self, tree: ast.Module) -> None:
        """A sibling module's top-level definitions (classes, functions, constants, imports); its other
        statements (a script's top level, its ``__main__`` block) are left alone."""
        self.read_stdlib_imports(tree)
        for stmt in tree.body:
            if isinstance(stmt, DEFINITIONS):
                try:
                    self.exec(stmt, self.globals)
                except Refused:
                    pass   # a value it cannot know is reported where the importing file uses it

    def new_module_state(self, tree: ast.Module) -> dict:
        """The front-end's per-file state for a newly read module (its import table)."""
        return {}

    def module_state(self) -> dict:
        return {}

    def set_module_state(self, state: dict) -> None:
        pass

    @contextmanager
    def in_module(self, module: SourceModule):
        """Run code of ``module``: its globals, its imports, its file for locations."""
        outer = self.module, self.path, self.globals, self.stdlib_names, self.module_state()
        self.module, self.path, self.globals = module, module.path, module.globals
        self.stdlib_names = module.state.setdefault("stdlib", {})
        self.set_module_state(module.state)
        try:
            yield
        finally:
            self.module, self.path, self.globals, self.stdlib_names, state = outer
            self.set_module_state(state)

    def eval_where_defined(self, node):
        """A class attribute or field default: evaluated in the module that wrote it."""
        module = getattr(node, "source_module", None) or self.main_module
        if module is None or module is self.module:
            return self.eval(node, self.globals)
        with self.in_module(module):
            return self.eval(node, self.globals)

    def exec_Delete(self, stmt, scope):
        for target in stmt.targets:
            if isinstance(target, ast.Name):
                scope.pop(target.id, None)

    def exec_With(self, stmt, scope):
        for item in stmt.items:   # a context manager's own effects are run-time only
            value = self.eval(item.context_expr, scope)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, value, scope)
        self.exec_body(stmt.body, scope)

    def exec_Try(self, stmt, scope):
        # Statically the body is taken to succeed: its handlers are the run-time path not taken.
        try:
            self.exec_body(stmt.body, scope)
            self.exec_body(stmt.orelse, scope)
        finally:
            self.exec_body(stmt.finalbody, scope)

    def exec_FunctionDef(self, stmt, scope):
        closure = None if scope is self.globals else scope
        self.bind_name(stmt.name, Function(stmt, closure), scope)

    def exec_ClassDef(self, stmt, scope):
        self.define_class(stmt, scope)

    # -- assignment targets ------------------------------------------------------------------------------------
    def bind(self, target: ast.AST, value, scope: dict) -> None:
        if isinstance(target, ast.Name):
            self.bind_name(target.id, value, scope)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.unpack(target, value, scope)
        elif isinstance(target, ast.Attribute):
            self.set_attribute(self.eval(target.value, scope), target.attr, value, target)
        elif isinstance(target, ast.Subscript):
            owner = self.eval(target.value, scope)
            self.set_item(owner, self.eval(target.slice, scope), value, target)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, value, scope)
        else:
            self.fail("unsupported-construct", f"assignment to {describe(target)}", target)

    def unpack(self, target, value, scope) -> None:
        elements = target.elts
        if self.is_unknown(value):
            for element in elements:
                self.bind(element, value, scope)
            return
        items = self.unpackable(value, target)
        starred = [i for i, e in enumerate(elements) if isinstance(e, ast.Starred)]
        if items is not None and starred and len(items) >= len(elements) - 1:
            i, after = starred[0], len(elements) - starred[0] - 1
            items = [*items[:i], list(items[i:len(items) - after]), *items[len(items) - after:]]
        if items is None or len(items) != len(elements):
            filler = self.unpack_failed(target, value, items)
            for element in elements:
                self.bind(element, filler, scope)
            return
        for element, item in zip(elements, items):
            self.bind(element, item, scope)

    def unpackable(self, value, target):
        """The items of a value unpacked into several names; None when it cannot be unpacked."""
        return self.sequence(value, target)

    def unpack_failed(self, target, value, items):
        """The value each name gets when unpacking fails (the default refuses the statement)."""
        return self.fail("unsupported-construct", f"cannot unpack {len(items) if items is not None else 'no'} values "
                                                  f"into {len(target.elts)} names", target)

    # -- expressions ------------------------------------------------------------------------------------------
    def defined(self, name: str, scope: dict) -> bool:
        return name in scope or name in self.globals

    def lookup(self, name: str, scope: dict, node):
        if name in scope:
            return scope[name]
        closure = scope.get("__closure__")
        while closure is not None:
            if name in closure:
                return closure[name]
            closure = closure.get("__closure__")
        if name in self.globals:
            return self.globals[name]
        if name in self.stdlib_names:
            return self.stdlib_value(self.stdlib_names[name])
        return self.lookup_missing(name, node)

    def eval(self, node: ast.AST, scope: dict):
        self.step(node)
        method = getattr(self, f"eval_{type(node).__name__}", None)
        if method is None:
            return self.fail("unsupported-construct", f"{type(node).__name__.lower()} expression "
                                                      f"'{describe(node)}'", node)
        if self.nesting >= self.limits.nesting:
            raise self.limit(f"expressions nested more than {self.limits.nesting} deep", node)
        self.nesting += 1
        try:
            return method(node, scope)
        except UnknownOperand as unknown:
            if unknown.node is not node:
                raise
            return unknown.value
        except RecursionError:   # Python's own stack, should the bounds not have stopped it first
            if self.nesting > 1:
                raise
            raise self.limit("the expression nests calls and expressions too deeply to evaluate", node) from None
        finally:
            self.nesting -= 1

    def operand(self, node, scope, whole):
        """A sub-expression's value that the expression ``whole`` needs to know: when it is unknown, so is
        ``whole`` (what ``unknown_used`` makes of it is the value ``eval`` gives for ``whole``)."""
        value = self.eval(node, scope)
        if self.is_unknown(value):
            raise UnknownOperand(self.unknown_used(value, whole), whole)
        return value

    def eval_Constant(self, node, scope):
        return node.value

    def eval_Name(self, node, scope):
        value = self.lookup(node.id, scope, node)
        if isinstance(value, MissingImport):
            return self.import_failed(value, node)
        return value

    def eval_NamedExpr(self, node, scope):
        value = self.eval(node.value, scope)
        self.bind(node.target, value, scope)
        return value

    def elements(self, elements, scope) -> list:
        values = []
        for element in elements:
            if isinstance(element, ast.Starred):
                items = self.sequence(self.eval(element.value, scope), element)
                if items is None:
                    return self.fail("dynamic-value", f"'{describe(element)}' is not known statically", element)
                values.extend(items)
            else:
                values.append(self.eval(element, scope))
            self.check_length(len(values), element)
        return values

    def eval_Tuple(self, node, scope):
        values = self.elements(node.elts, scope)
        return values if self.is_unknown(values) else tuple(values)

    def eval_List(self, node, scope):
        return self.elements(node.elts, scope)

    def eval_Set(self, node, scope):
        values = self.elements(node.elts, scope)
        return self.python_set(values, node)

    def python_set(self, values, node):
        if self.is_unknown(values):
            return values
        try:
            return set(values)
        except TypeError:   # front-end values that Python cannot hash (layers in a list)
            return self.fail("unsupported-construct", f"a set of unhashable values in '{describe(node)}'", node)

    def eval_Dict(self, node, scope):
        result = {}
        for key, value in zip(node.keys, node.values):
            if key is None:
                items = self.operand(value, scope, node)
                if not isinstance(items, dict):
                    return self.fail("dynamic-value", f"**{describe(value)}", value)
                result.update(items)
            else:
                key_value = self.eval(key, scope)
                try:
                    result[key_value] = self.eval(value, scope)
                except TypeError:
                    return self.fail("unsupported-construct", f"dict key '{describe(key)}'", key)
        return result

    def eval_JoinedStr(self, node, scope):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
                continue
            inner = self.operand(value.value, scope, node)
            if not isinstance(inner, (int, float, str, bool, type(None))):
                return self.fail("dynamic-value", f"f-string of {describe(value.value)}", node)
            spec = self.eval(value.format_spec, scope) if value.format_spec else ""
            if not isinstance(spec, str):
                return spec
            inner = {ord("r"): repr, ord("s"): str, ord("a"): ascii}.get(value.conversion, lambda v: v)(inner)
            try:
                parts.append(format(inner, spec))
            except (ValueError, TypeError) as exc:
                return self.fail("dynamic-value", f"f-string '{describe(node)}': {exc}", node)
            self.check_length(sum(map(len, parts)), node)
        return "".join(parts)

    def eval_IfExp(self, node, scope):
        test = self.truth(self.eval(node.test, scope), node.test)
        if test is None:
            return self.fail("dynamic-value", f"'{describe(node)}' depends on a run-time condition", node)
        branch = node.body if test else node.orelse
        if self.hint_through_conditional and node is self.statement_value:
            self.statement_value = branch
        self.choices.append((node.test, bool(test)))
        try:
            return self.eval(branch, scope)
        finally:
            self.choices.pop()

    def eval_BoolOp(self, node, scope):
        value = None
        for operand in node.values:
            value = self.eval(operand, scope)
            truth = self.truth(value, operand)
            if truth is None:
                return self.fail("dynamic-value", f"'{describe(node)}' is not known statically", node)
            if isinstance(node.op, ast.And) and not truth or isinstance(node.op, ast.Or) and truth:
                return value
        return value

    def eval_Compare(self, node, scope):
        left = self.operand(node.left, scope, node)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.operand(right_node, scope, node)
            if not (self.comparable(left) and self.comparable(right)):
                return self.fail("dynamic-value", f"the comparison '{describe(node)}' depends on tensor values", node)
            try:
                result = COMPARE[type(op)](left, right)
            except TypeError as exc:
                return self.fail("dynamic-value", f"'{describe(node)}': {exc}", node)
            if not result:
                return False
            left = right
        return True

    def eval_UnaryOp(self, node, scope):
        value = self.operand(node.operand, scope, node)
        if isinstance(node.op, ast.Not):
            truth = self.truth(value, node.operand)
            return self.fail("dynamic-value", f"'{describe(node)}' is not known statically", node) \
                if truth is None else not truth
        if isinstance(value, (int, float, complex)) and not isinstance(value, bool) or \
                isinstance(value, bool) and not isinstance(node.op, ast.Not):
            return UNARY[type(node.op)](value)
        return self.foreign_unary(node.op, value, node)

    def eval_BinOp(self, node, scope):
        return self.binary(node.op, self.operand(node.left, scope, node), self.operand(node.right, scope, node), node)

    def binary(self, op, left, right, node):
        if self.is_unknown(left) or self.is_unknown(right):
            return self.unknown_used(left if self.is_unknown(left) else right, node)
        if self.plain(left) and self.plain(right):
            self.check_arithmetic(op, left, right, node)
            try:
                return self.check_int(BINARY[type(op)](left, right), node)
            except (TypeError, KeyError, ZeroDivisionError, ValueError, OverflowError) as exc:
                return self.fail("unsupported-construct", f"'{describe(node)}' ({exc})", node)
        return self.foreign_binary(op, left, right, node)

    # -- comprehensions -----------------------------------------------------------------------------------------
    def comprehension(self, node, scope, make):
        """All four comprehensions: ``make`` builds the result from the element (or key, value) list."""
        results = []
        inner = dict(scope)

        def generate(index):
            if index == len(node.generators):
                if isinstance(node, ast.DictComp):
                    results.append((self.eval(node.key, inner), self.eval(node.value, inner)))
                else:
                    results.append(self.eval(node.elt, inner))
                self.check_length(len(results), node)
                return True
            generator = node.generators[index]
            items = self.sequence(self.eval(generator.iter, inner), generator.iter)
            if items is None:
                return False
            for item in items:
                self.step(generator)
                self.bind(generator.target, item, inner)
                conditions = [self.truth(self.eval(cond, inner), cond) for cond in generator.ifs]
                if any(c is None for c in conditions):
                    return False
                if all(conditions) and not generate(index + 1):
                    return False
            return True

        if not generate(0):
            return self.fail("dynamic-value", f"'{describe(node)}' is not known statically", node)
        return make(results)

    def eval_ListComp(self, node, scope):
        return self.comprehension(node, scope, list)

    def eval_GeneratorExp(self, node, scope):
        return self.comprehension(node, scope, list)

    def eval_SetComp(self, node, scope):
        return self.comprehension(node, scope, lambda values: self.python_set(values, node))

    def eval_DictComp(self, node, scope):
        return self.comprehension(node, scope, dict)

    def eval_Lambda(self, node, scope):
        return Function(node, None if scope is self.globals else scope)

    # -- attributes, subscripts ---------------------------------------------------------------------------------
    def eval_Attribute(self, node, scope):
        return self.attribute(self.operand(node.value, scope, node), node.attr, node)

    def attribute(self, owner, name: str, node):
        if isinstance(owner, Object):
            return self.instance_attribute(owner, name, node)
        if isinstance(owner, PyModule):
            return self.stdlib_value(f"{owner.qualified}.{name}")
        if isinstance(owner, SourceModule):
            return self.module_attribute(owner, name, node)
        if isinstance(owner, ArgParser):
            return ArgParserMethod(owner, name)
        if isinstance(owner, Class):
            value = owner.class_attribute(name)
            if value is not None:
                return self.eval_where_defined(value)
            found = owner.method(name)
            if found:
                return Function(found[0])
        if isinstance(owner, Super):
            return SuperMethod(owner, name)
        if isinstance(owner, (list, dict, str, tuple, int, float, set)) and not isinstance(owner, bool) \
                and name in PY_METHODS and hasattr(owner, name):
            return PyMethod(owner, name)
        return self.foreign_attribute(owner, name, node)

    def instance_attribute(self, owner, name: str, node):
        """An attribute of an instance of a source class: set on it, one of its methods, or a class attribute."""
        if name in owner.attrs:
            return owner.attrs[name]
        found = owner.cls.method(name)
        if found and any(isinstance(d, ast.Name) and d.id == "property" for d in found[0].decorator_list):
            return self.call_function(Function(found[0]), [owner], {}, node, cls=found[1])   # config.num_patches
        if found:
            return BoundMethod(owner, found[0], found[1])
        value = owner.cls.class_attribute(name)
        if value is not None:
            return self.eval_where_defined(value)
        return self.fail("dynamic-value", f"{owner.cls.name} has no attribute '{name}' at this point", node)

    def eval_Subscript(self, node, scope):
        owner = self.operand(node.value, scope, node)
        key = self.operand(node.slice, scope, node)
        return self.subscript(owner, key, node)

    def subscript(self, owner, key, node):
        if self.is_unknown(owner) or self.is_unknown(key):
            return self.unknown_used(owner if self.is_unknown(owner) else key, node)
        if isinstance(owner, (list, tuple, dict, str, range)) and self.plain(key):
            try:
                return owner[key]
            except (KeyError, IndexError, TypeError) as exc:
                return self.fail("dynamic-value", f"'{describe(node)}': {exc}", node)
        return self.foreign_subscript(owner, key, node)

    def eval_Slice(self, node, scope):
        return slice(*[None if p is None else self.operand(p, scope, node) for p in (node.lower, node.upper, node.step)])

    def eval_Starred(self, node, scope):
        return self.fail("unsupported-construct", f"'{describe(node)}' here", node)

    # -- calls ----------------------------------------------------------------------------------------------------
    def arguments(self, node, scope):
        """The positional and keyword arguments of a call, with ``*`` and ``**`` spread."""
        args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend(self.spread(self.eval(arg.value, scope), arg))
            else:
                args.append(self.eval(arg, scope))
        kwargs = {}
        for keyword in node.keywords:
            value = self.eval(keyword.value, scope)
            if keyword.arg is None:
                kwargs.update(self.spread_keywords(value, keyword))
            else:
                kwargs[keyword.arg] = value
        return args, kwargs

    def spread(self, value, node) -> list:
        """The arguments ``*value`` passes."""
        items = self.sequence(value, node)
        return items if items is not None else [self.fail("dynamic-value", f"'{describe(node)}' is not known "
                                                                           "statically", node)]

    def spread_keywords(self, value, node) -> dict:
        """The keyword arguments ``**value`` passes."""
        if not isinstance(value, dict):
            self.fail("dynamic-value", f"**{describe(node.value)}", node)
            return {}
        return value

    def eval_Call(self, node, scope):
        if isinstance(node.func, ast.Name) and node.func.id == "super" \
                and not self.defined(node.func.id, scope):
            return self.make_super(scope, node)
        func = self.eval(node.func, scope)
        args, kwargs = self.arguments(node, scope)
        return self.call(func, args, kwargs, node)

    def make_super(self, scope, node):
        instance, cls = scope.get("__self__"), scope.get("__class__")
        if instance is None or cls is None:
            return self.fail("unsupported-construct", "super() outside a method", node)
        return Super(instance, cls)

    def call(self, func, args: list, kwargs: dict, node):
        if self.is_unknown(func) or any(self.is_unknown(a) for a in args) or \
                any(self.is_unknown(v) for v in kwargs.values()):
            unknown = next(v for v in (func, *args, *kwargs.values()) if self.is_unknown(v))
            return self.unknown_used(unknown, node)
        return self.call_known(func, args, kwargs, node)

    def call_known(self, func, args: list, kwargs: dict, node):
        """A call of the source's own callables and Python's; the front-end's values go to ``foreign_call``."""
        if isinstance(func, Function):
            return self.call_function(func, args, kwargs, node)
        if isinstance(func, BoundMethod):
            return self.call_function(Function(func.node), [func.instance, *args], kwargs, node, cls=func.cls)
        if isinstance(func, Class):
            return self.instantiate(func, args, kwargs, node)
        if isinstance(func, SuperMethod):
            return func.call(self, args, kwargs, node)
        if isinstance(func, PyMethod):
            return self.call_py_method(func, args, kwargs, node)
        if isinstance(func, Builtin):
            return self.call_builtin(func.name, args, kwargs, node)
        if isinstance(func, PyModule):
            return self.call_stdlib(func.qualified, args, kwargs, node)
        if isinstance(func, ArgParserMethod):
            return self.call_argparse(func, args, kwargs, node)
        return self.foreign_call(func, args, kwargs, node)

    def call_py_method(self, method: PyMethod, args, kwargs, node):
        target = method.target
        if not all(self.plain(a) for a in [*args, *kwargs.values()]) and not (
                isinstance(target, list) and method.name in MUTATING_METHODS):
            return self.fail("unsupported-construct", f"'{describe(node)}'", node)
        try:
            result = getattr(target, method.name)(*args, **kwargs)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            return self.fail("dynamic-value", f"'{describe(node)}': {exc}", node)
        if isinstance(target, (list, str)):
            self.check_length(len(target), node)
        if isinstance(result, str):
            self.check_length(len(result), node)
        return result

    # -- functions ------------------------------------------------------------------------------------------------
    def call_function(self, func: Function, args: list, kwargs: dict, node, cls: Class | None = None):
        """Run a function of the source on ``args``: its ``return`` value (None without one)."""
        if self.depth >= self.limits.depth:
            raise self.limit(f"calls nested more than {self.limits.depth} deep in {func.name} (recursion?)", node)
        module = getattr(func.node, "source_module", None) or self.main_module
        if module is not None and module is not self.module:   # a function of another file runs in its namespace
            with self.in_module(module):
                return self.call_function(func, args, kwargs, node, cls)
        self.depth += 1
        scope = self.function_scope(func, args, cls)
        try:
            self.bind_arguments(func.node, args, kwargs, scope, node)
            if isinstance(func.node, ast.Lambda):
                return self.eval(func.node.body, scope)
            self.exec_body(func.node.body, scope)
        except ReturnValue as done:
            return done.value
        finally:
            self.depth -= 1
        return None

    def function_scope(self, func: Function, args: list, cls: Class | None) -> dict:
        scope = {"__class__": cls, "__self__": args[0] if cls is not None and args else None}
        if func.closure is not None:
            scope["__closure__"] = func.closure
        return scope

    def default_scope(self) -> dict:
        """The scope defaults are evaluated in."""
        return self.globals

    def bind_arguments(self, func, args: list, kwargs: dict, scope: dict, node) -> None:
        spec = func.args
        name = getattr(func, "name", "<lambda>")
        params = spec.posonlyargs + spec.args
        defaults = dict(zip([p.arg for p in params][len(params) - len(spec.defaults):], spec.defaults))
        for param, value in zip(params, args):
            scope[param.arg] = value
        if len(args) > len(params):
            if spec.vararg is None:
                self.fail("unsupported-construct", f"{name}() takes {len(params)} arguments, got {len(args)}", node)
                return
            scope[spec.vararg.arg] = tuple(args[len(params):])
        elif spec.vararg is not None:
            scope[spec.vararg.arg] = ()
        extra = {}
        for key, value in kwargs.items():
            if any(p.arg == key for p in params + spec.kwonlyargs):
                scope[key] = value
            elif spec.kwarg is not None:
                extra[key] = value
            elif not self.unexpected_keyword(func, key, node):
                return
        if spec.kwarg is not None:
            scope[spec.kwarg.arg] = extra
        for param in params:
            if param.arg not in scope:
                if param.arg not in defaults:
                    scope[param.arg] = self.missing_argument(func, param, node)
                else:
                    scope[param.arg] = self.eval(defaults[param.arg], self.default_scope())
        for param, default in zip(spec.kwonlyargs, spec.kw_defaults):
            if param.arg not in scope:
                scope[param.arg] = self.missing_argument(func, param, node) if default is None else \
                    self.eval(default, self.default_scope())

    def unexpected_keyword(self, func, key: str, node) -> bool:
        """A keyword argument the function does not take; True to ignore it and go on."""
        self.fail("unsupported-construct", f"{getattr(func, 'name', '<lambda>')}() has no argument '{key}'", node)
        return False

    def missing_argument(self, func, param, node):
        return self.fail("dynamic-value", f"{getattr(func, 'name', '<lambda>')}() needs a value for '{param.arg}'",
                         node)

    # -- builtins ------------------------------------------------------------------------------------------------
    def builtin_arguments(self, name: str, args: list, node):
        """The arguments of a builtin as Python values (a front-end unwraps its containers); None to refuse."""
        return args if all(self.plain(a) or isinstance(a, (Function, Class, Object, *ITERATOR_TYPES))
                           for a in args) else None

    def call_builtin(self, name: str, args: list, kwargs: dict, node):
        if name == "print":
            return None
        if name in ("getattr", "setattr", "hasattr"):
            return self.reflection(name, args, node)
        if name == "isinstance":
            return self.isinstance_of(args, node)
        if name == "super":
            return self.fail("unsupported-construct", "super() with arguments", node)
        values = self.builtin_arguments(name, args, node)
        if values is None:
            return self.fail("dynamic-value", f"{name}() of a tensor value in '{describe(node)}'", node)
        function = BOUNDED_BUILTINS.get(name)
        if function is None:
            return self.fail("unsupported-construct", f"the builtin {name}() in '{describe(node)}'", node)
        try:
            result = function(self, node, *values, **kwargs)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError,
                OverflowError, StopIteration) as exc:
            return self.fail("dynamic-value", f"'{describe(node)}': {exc}", node)
        return self.check_int(result, node)

    def call_math(self, name: str, args: list, kwargs: dict, node):
        """A function of Python's ``math`` module on constants, bounded like the operators."""
        bits = self.limits.int_bits
        if name in ("factorial", "comb", "perm") and any(isinstance(a, int) and a > 1 and a * math.log2(a) > bits
                                                         for a in args):
            raise self.limit(f"'{describe(node)}' computes an integer of more than {bits} bits", node)
        if name == "prod":
            for items in args:
                if isinstance(items, (list, tuple)):
                    self.check_length(len(items), node)
        try:
            return self.check_int(getattr(math, name)(*args, **kwargs), node)
        except (TypeError, ValueError, OverflowError) as exc:
            return self.fail("dynamic-value", f"'{describe(node)}': {exc}", node)

    def call_user(self, func, args: list, node):
        """A function value of the source called by a builtin (``map``, ``sorted(key=...)``)."""
        if isinstance(func, Builtin):
            return self.call_builtin(func.name, list(args), {}, node)
        if isinstance(func, (Function, BoundMethod, Class)):
            return self.call(func, list(args), {}, node)
        if callable(func) and isinstance(func, type):
            return func(*args)
        return self.fail("unsupported-construct", f"'{describe(node)}' calls {type(func).__name__}", node)

    def reflection(self, name: str, args: list, node):
        if len(args) < 2 or not isinstance(args[1], str):
            return self.fail("dynamic-value", f"{name}() with an attribute name not known statically", node)
        owner, attribute = args[0], args[1]
        if name == "setattr":
            if len(args) != 3:
                return self.fail("unsupported-construct", f"'{describe(node)}'", node)
            self.set_attribute(owner, attribute, args[2], node)
            return None
        try:
            value = self.attribute(owner, attribute, node)
        except Refused:
            if name == "hasattr":
                return False
            if len(args) > 2:
                return args[2]
            raise
        if self.is_unknown(value) and name == "getattr" and len(args) > 2:
            return args[2]
        return True if name == "hasattr" else value

    def isinstance_of(self, args: list, node):
        if len(args) != 2:
            return self.fail("unsupported-construct", f"'{describe(node)}'", node)
        value, classes = args
        classes = classes if isinstance(classes, tuple) else (classes,)
        types = []
        for cls in classes:
            if isinstance(cls, Builtin) and cls.name in TYPE_NAMES:
                types.append(TYPE_NAMES[cls.name])
            elif isinstance(cls, Class):
                types.append(cls)
            else:
                return self.fail("unsupported-construct", "isinstance() checks", node)
        if not self.plain(value) and not isinstance(value, (Object, Function)):
            return self.fail("unsupported-construct", "isinstance() checks", node)
        for kind in types:
            if isinstance(kind, Class):
                if isinstance(value, Object) and value.cls.is_subclass_of(kind):
                    return True
            elif isinstance(value, kind):
                return True
        return False


def is_dataclass(cls: Class) -> bool:
    for decorator in cls.node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name == "dataclass":
            return True
    return any(isinstance(base, Class) and is_dataclass(base) for base in cls.bases)


def dataclass_fields(cls: Class) -> dict:
    """The fields of a dataclass, bases first: name -> default expression (None when it has none)."""
    fields = {}
    for base in cls.bases:
        if isinstance(base, Class) and is_dataclass(base):
            fields.update(dataclass_fields(base))
    for item in cls.node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and \
                "ClassVar" not in ast.unparse(item.annotation):
            fields[item.target.id] = item.value
    return fields


def free_message(name: str, origin: str, where: Location) -> str:
    return f"{name} comes from data ({origin}) at {where}; fix it with --set {name}=VALUE"


@dataclass(frozen=True, eq=False)
class SuperMethod:
    """``super().name``: the method of a base class, bound to the instance."""
    proxy: Super
    name: str

    def call(self, interpreter: Interpreter, args, kwargs, node):
        for base in self.proxy.cls.bases:
            if isinstance(base, Class):
                found = base.method(self.name)
                if found:
                    return interpreter.call_function(Function(found[0]), [self.proxy.instance, *args], kwargs, node,
                                                     cls=found[1])
        if self.name == "__init__":
            return None   # a framework or object base: its constructor does nothing the import needs
        return interpreter.fail("unsupported-construct", f"super().{self.name}()", node)


def load_of(target):
    """A copy of an assignment target as an expression that reads it (``x += 1`` reads ``x``)."""
    copy = ast.parse(ast.unparse(target), mode="eval").body
    for node in ast.walk(copy):
        ast.copy_location(node, target)
    return copy


# --- builtins, bounded --------------------------------------------------------------------------------------------

def _range(interpreter, node, *args):
    return range(*args)   # lazy: its length is checked where it is looped over or turned into a list


def _sequence_of(interpreter, node, value):
    if isinstance(value, (range, list, tuple, str, dict, set, frozenset)):
        interpreter.check_length(len(value), node)
    return value


def _over_items(function, materialise=None):
    """A builtin that goes through its iterable arguments: each is checked against the length bound first."""
    def bounded(interpreter, node, *args, **kwargs):
        checked = [_sequence_of(interpreter, node, a) for a in args]
        result = function(*checked, **kwargs)
        if materialise is not None:
            result = materialise(result)
            interpreter.check_length(len(result), node)
        return result
    return bounded


def _len(interpreter, node, value):
    return len(value)


def _sorted(interpreter, node, value, key=None, reverse=False):
    items = list(_sequence_of(interpreter, node, value))
    if key is None:
        return sorted(items, reverse=reverse)
    keys = [interpreter.call_user(key, [item], node) for item in items]
    return [item for _, item in sorted(zip(keys, items), key=lambda pair: pair[0], reverse=reverse)]


def _extremum(pick):
    def extremum(interpreter, node, *args, key=None, **kwargs):
        items = list(_sequence_of(interpreter, node, args[0])) if len(args) == 1 else list(args)
        if key is None:
            return pick(items, **kwargs)
        keys = [interpreter.call_user(key, [item], node) for item in items]
        if not items and "default" in kwargs:
            return kwargs["default"]
        index = pick(range(len(items)), key=lambda i: keys[i])
        return items[index]
    return extremum


def _map(interpreter, node, func, *iterables):
    lists = [list(_sequence_of(interpreter, node, i)) for i in iterables]
    return [interpreter.call_user(func, items, node) for items in zip(*lists)]


def _filter(interpreter, node, func, iterable):
    items = list(_sequence_of(interpreter, node, iterable))
    if func is None:
        return [item for item in items if item]
    return [item for item in items if interpreter.call_user(func, [item], node)]


def _pow(interpreter, node, base, exponent, *modulo):
    if not modulo:
        interpreter.check_arithmetic(ast.Pow(), base, exponent, node)
    return pow(base, exponent, *modulo)


def _str(interpreter, node, *args, **kwargs):
    return str(*args, **kwargs)


def _int(interpreter, node, *args, **kwargs):
    if args and isinstance(args[0], str) and len(args[0]) > interpreter.limits.int_bits:
        raise interpreter.limit(f"'{describe(node)}' parses a number of more than {interpreter.limits.int_bits} "
                                "digits", node)
    return int(*args, **kwargs)


def _plain(function):
    return lambda interpreter, node, *args, **kwargs: function(*args, **kwargs)


def _type(interpreter, node, value):
    if isinstance(value, Object):
        return value.cls
    for name, kind in TYPE_NAMES.items():
        if type(value) is kind:
            return Builtin(name)
    return interpreter.fail("unsupported-construct", f"'{describe(node)}'", node)


def _next(interpreter, node, iterator, *default):
    return next(iter(iterator), *default) if not isinstance(iterator, ITERATOR_TYPES) else next(iterator, *default)


BOUNDED_BUILTINS = {
    "range": _range, "len": _len, "int": _int, "float": _plain(float), "str": _str, "bool": _plain(bool),
    "complex": _plain(complex), "repr": _plain(repr), "abs": _plain(abs), "round": _plain(round),
    "divmod": _plain(divmod), "pow": _pow, "chr": _plain(chr), "ord": _plain(ord), "hex": _plain(hex),
    "bin": _plain(bin), "oct": _plain(oct), "format": _plain(format), "callable": _plain(callable),
    "hash": _plain(hash), "slice": _plain(slice),
    "list": _over_items(list), "tuple": _over_items(tuple), "dict": _over_items(dict), "set": _over_items(set),
    "frozenset": _over_items(frozenset), "sum": _over_items(sum), "any": _over_items(any), "all": _over_items(all),
    "zip": _over_items(zip, list), "enumerate": _over_items(enumerate, list),
    "reversed": _over_items(reversed, list), "sorted": _sorted, "min": _extremum(min), "max": _extremum(max),
    "map": _map, "filter": _filter, "type": _type, "iter": _over_items(iter), "next": _next,
}
