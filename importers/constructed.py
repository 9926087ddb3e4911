"""Constructor mode (``--run-constructor``): the model object built by the source's own constructor, read.

The static importers never run user code. Model files written the way the big
model libraries write them (builder functions over config lists, ``_make_layer``
loops, ``nn.init`` loops, config objects) are easier to read once built, so on
request this importer executes the file's DEFINITIONS only (imports, classes,
functions and module-level assignments of plain constants, never a top-level
call, loop or the ``__main__`` block: :func:`constructor_definitions`) and the
model's constructor or builder with the model arguments, then reads the object:

* PyTorch: the module tree (``named_children``), each torch layer's
  hyper-parameters from its attributes (the constructor parameters torch keeps
  under their own names), and each user-defined module's forward traced with
  ``torch.fx`` (torch layers and user-defined submodules stay calls, so the
  user's classes stay blocks). From that a plain module file is written (one
  class per distinct structure of a user class, children constructed with
  literal arguments, forward as traced) and read by the static PyTorch importer,
  so the pivot, the blocks and the weight map (``state_dict`` keys, which the
  written file keeps) come from the one importer. Where fx cannot trace a
  forward, ``torch.export`` decides whether the forward is a pure graph at all;
  either way the module is reported (an error naming its module path), never
  turned into an identity.
* Keras: the built model's functional graph (``model.layers``, each layer's
  inbound nodes), layer configs (``get_config``) written as a functional
  builder with the layers' own names and read by the static Keras importer.

Weights are never taken from the built object (its initial values mean nothing):
they come from the user's checkpoint, through the importer's weight maps.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import itertools
import sys
import traceback
from pathlib import Path

from nnpivot.diagnostics import Diagnostic, Location, NNPivotError, error
from nnpivot.kinds.pysyntax import literal

from . import keras as keras_importer
from . import pytorch as pytorch_importer
from .pysource import read_source

# Module-level statements kept in constructor mode besides imports and definitions: assignments of values
# built from literals, names already defined and attribute reads, with no call at all (a call at module level
# may read data, download or train: it is the script's, never the model's).
_PLAIN_VALUE_NODES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Name, ast.Load, ast.Attribute,
                      ast.BinOp, ast.UnaryOp, ast.Subscript, ast.Slice, ast.operator, ast.unaryop, ast.Starred,
                      ast.BoolOp, ast.boolop, ast.Compare, ast.cmpop, ast.IfExp)
_counter = itertools.count()
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


def execute_definitions(path: Path, settings: dict | None = None):
    """Execute the :func:`constructor_definitions` of the file at ``path`` as a fresh module and return it."""
    path = Path(path).resolve()
    _, tree = read_source(path)
    module_tree = ast.fix_missing_locations(ast.Module(constructor_definitions(tree, settings), type_ignores=[]))
    name = f"_nnpivot_constructed_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module   # dataclasses look their module up while the class body runs
    try:
        exec(compile(module_tree, str(path), "exec"), module.__dict__)  # noqa: S102 - the user's definitions, asked for
    except Exception as exc:  # noqa: BLE001 - the file's own error, reported with its line
        raise NNPivotError([_raised(path, exc, "executing the definitions of")]) from None
    finally:
        sys.modules.pop(name, None)
    return module, tree


def _raised(path: Path, exc: BaseException, doing: str) -> Diagnostic:
    """An error for an exception the user's code raised, at the deepest line of the file it passed."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            line = frame.lineno or 0
    return error("constructor-failed", f"{doing} {path.name} raised {type(exc).__name__}: {exc}",
                 Location(str(path), line))


def build_model(path, framework: str, model_name: str | None, model_args: dict | None, settings: dict | None):
    """``(model object, name, how)``: the file's definitions executed and its model class or builder called
    with ``model_args`` (its defaults for the rest). ``model_name`` picks it; without it the one network
    the static reading would pick."""
    path = Path(path).resolve()
    module, tree = execute_definitions(path, settings)
    name = model_name or _pick(path, framework, model_args, settings)
    target = module.__dict__.get(name)
    if target is None:
        raise NNPivotError([error("model-not-found", f"{path.name} defines no '{name}' (constructor mode runs "
                                  "only its definitions and plain constants: give --model with the class or "
                                  "builder function)", Location(str(path)))])
    how = "class" if isinstance(target, type) else "function" if callable(target) else "variable"
    if how == "variable":
        return target, name, how
    try:
        built = target(**(model_args or {}))
    except Exception as exc:  # noqa: BLE001 - the source's own constructor failing
        raise NNPivotError([_raised(path, exc, f"building {name} from")]) from None
    return built, name, how


def _pick(path: Path, framework: str, model_args, settings) -> str:
    """The network the static reading of the file would pick (PyTorch); Keras builders are named with --model."""
    if framework == "pytorch":
        return pytorch_importer.Importer.of_file(path, model_args, settings).pick(None)[0]
    raise NNPivotError([error("model-name-needed", f"constructor mode builds the Keras model of {path.name} by "
                              "calling its class or builder function: name it with --model", Location(str(path)))])


# --- PyTorch: the module tree and the traced forwards, written as a plain module file -----------------------

def _is_torch_class(cls) -> bool:
    return cls.__module__.split(".")[0] == "torch"


def _container_kind(module) -> str | None:
    """``Sequential``/``ModuleList``/``ModuleDict`` when the module is one (a user subclass too, as long as it
    keeps the container's own forward), else None."""
    from torch import nn  # the framework of the model being read

    for base in (nn.Sequential, nn.ModuleList, nn.ModuleDict):
        if isinstance(module, base) and type(module).forward is base.forward:
            return base.__name__
    return None


class _Unreadable(Exception):
    """A module of the tree that cannot be written as constructed code (the message says why)."""


# Constructor parameters torch does not keep under their own name: how to read them back from the module.
_READ_BACK = {
    ("MultiheadAttention", "bias"): lambda m: m.in_proj_bias is not None,
    ("MultiheadAttention", "add_bias_kv"): lambda m: m.bias_k is not None,
}


def _torch_arguments(module, path: str) -> list[str]:
    """``name=value`` of every constructor parameter of a torch layer that differs from its default, read
    from the attributes torch keeps under the parameter's name (``bias`` as whether the layer has one)."""
    import torch  # the framework of the model being read

    cls = type(module)
    written = []
    for param in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in ("device", "dtype") \
                or param.name.startswith("_"):
            continue
        reader = _READ_BACK.get((cls.__name__, param.name))
        if reader is not None:
            value = reader(module)
        elif param.name == "bias" and hasattr(module, "bias") and not isinstance(module.bias, bool):
            value = module.bias is not None
        elif hasattr(module, param.name) and not isinstance(getattr(module, param.name),
                                                                (torch.Tensor, torch.nn.Module)):
            value = getattr(module, param.name)
        elif param.default is not param.empty:
            continue   # not kept by torch: written as the default (weights come from the checkpoint)
        else:
            raise _Unreadable(f"nn.{cls.__name__} keeps no '{param.name}' to read its constructor argument from")
        if param.default is not param.empty and _same(value, param.default):
            continue
        try:
            written.append(f"{param.name}={_value(value)}")
        except TypeError:
            raise _Unreadable(f"nn.{cls.__name__}'s {param.name} is {value!r}, not a plain value") from None
    return written


def _same(value, default) -> bool:
    try:
        return type(value) is type(default) and bool(value == default) or (value is None and default is None)
    except (TypeError, ValueError, RuntimeError):
        return False


def _value(value) -> str:
    """Python source of a constant of the constructed model (a torch dtype too)."""
    import torch  # the framework of the model being read

    if isinstance(value, torch.dtype):
        return f"torch.{str(value).split('.')[-1]}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, tuple):
        items = [_value(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if value is Ellipsis:
        return "..."
    return literal(value)


class TorchWriter:
    """Writes the constructed module tree as a module file: one class per distinct structure of each user
    class (children with literal constructor arguments, the traced forward), torch layers and containers
    as constructor calls. ``origins`` maps each written line to the module path and user class it came from."""

    def __init__(self, path: Path):
        self.path = path
        self.classes: dict[str, str] = {}     # class text (with a placeholder name) -> its name
        self.texts: list[str] = []
        self.names: set[str] = set()
        self.problems: list[Diagnostic] = []
        self.origins: dict[str, tuple[str, type]] = {}   # written class name -> (first module path, user class)

    def where(self, cls) -> Location:
        try:
            file, line = inspect.getsourcefile(cls), inspect.getsourcelines(cls)[1]
        except (OSError, TypeError):
            return Location(str(self.path))
        return Location(str(Path(file).resolve()) if file else str(self.path), line)

    def problem(self, module, path: str, why: str) -> None:
        what = path or "the model"
        self.problems.append(error("constructor-untranslated", f"module {what} ({type(module).__name__}): {why}",
                                   self.where(type(module))))

    def construct(self, module, path: str) -> str:
        """The constructor expression of ``module`` (at ``path`` in the tree)."""
        container = _container_kind(module)
        if container is not None:
            return self.container(module, path, container)
        if _is_torch_class(type(module)):
            from torch import nn  # the framework of the model being read

            if getattr(nn, type(module).__name__, None) is not type(module):
                self.problem(module, path, "not a class of torch.nn")
                return "None"
            try:
                return f"nn.{type(module).__name__}({', '.join(_torch_arguments(module, path))})"
            except _Unreadable as exc:
                self.problem(module, path, str(exc))
                return "None"
        return f"{self.user_class(module, path)}()"

    def container(self, module, path: str, kind: str) -> str:
        children = list(module.named_children())
        parts = [(name, self.construct(child, _join(path, name))) for name, child in children]
        if kind == "ModuleDict":
            return "nn.ModuleDict({" + ", ".join(f"{literal(n)}: {c}" for n, c in parts) + "})"
        if kind == "ModuleList" or [n for n, _ in parts] == [str(i) for i in range(len(parts))]:
            items = ", ".join(c for _, c in parts)
            return f"nn.ModuleList([{items}])" if kind == "ModuleList" else f"nn.Sequential({items})"
        return "nn.Sequential(OrderedDict([" + ", ".join(f"({literal(n)}, {c})" for n, c in parts) + "]))"

    def user_class(self, module, path: str) -> str:
        """The written class of a user-defined module (shared by every module of the same structure)."""
        init = []
        for name, child in module.named_children():
            if not name.isidentifier():
                self.problem(module, path, f"its submodule '{name}' has no attribute name to write")
                continue
            init.append(f"        self.{name} = {self.construct(child, _join(path, name))}")
        forward = self.forward(module, path)
        body = "\n".join(["    def __init__(self):", "        super().__init__()", *init, "", *forward])
        key = body
        if key not in self.classes:
            base = type(module).__name__ if type(module).__name__.isidentifier() else "Block"
            name = base
            for number in itertools.count(2):
                if name not in self.names and name not in ("nn", "F", "torch", "OrderedDict"):
                    break
                name = f"{base}{number}"
            self.names.add(name)
            self.classes[key] = name
            self.origins[name] = (path, type(module))
            self.texts.append(f"class {name}(nn.Module):\n{body}\n")
        return self.classes[key]

    def forward(self, module, path: str) -> list[str]:
        """The forward of ``module`` traced with torch.fx, torch layers, containers and user-defined
        submodules kept as calls (they are read as layers and blocks)."""
        import torch.fx  # the framework of the model being read

        writer = self

        class Tracer(torch.fx.Tracer):
            def is_leaf_module(self, sub, qualified_name):
                return _container_kind(sub) == "Sequential" or not _is_torch_class(type(sub)) or \
                    super().is_leaf_module(sub, qualified_name)

        try:
            graph = Tracer().trace(module)
        except Exception as exc:  # noqa: BLE001 - a forward fx cannot follow (data-dependent control flow...)
            writer.problem(module, path, f"its forward cannot be traced ({_traced_why(module, exc)})")
            return ["    def forward(self, *args):", "        return None"]
        return _FxWriter(module, graph, self, path).lines()

    def text(self, root_class: str) -> str:
        header = ["from collections import OrderedDict", "", "import torch", "import torch.nn as nn",
                  "import torch.nn.functional as F", "", ""]
        return "\n".join(header) + "\n\n".join(self.texts) + f"\n\n# the constructed model: {root_class}\n"


def _traced_why(module, exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_BINARY = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "matmul": "@", "pow": "**",
           "mod": "%", "and_": "&", "or_": "|", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
           "ge": ">="}
_UNARY = {"neg": "-", "pos": "+", "invert": "~", "not_": "not "}
_TAKEN = frozenset({"self", "torch", "nn", "F", "OrderedDict", "None", "True", "False"})


class _FxWriter:
    """Python source of an fx graph's forward, calls of submodules written by their attribute path."""

    def __init__(self, module, graph, writer: TorchWriter, path: str):
        self.module, self.graph, self.writer, self.path = module, graph, writer, path
        self.names: dict = {}

    def var(self, node) -> str:
        if node not in self.names:
            name = node.name if node.name.isidentifier() and node.name not in _TAKEN else f"{node.name}_"
            self.names[node] = name.lstrip("*")
        return self.names[node]

    def arg(self, value) -> str:
        import torch.fx  # the framework of the model being read

        if isinstance(value, torch.fx.Node):
            return self.var(value)
        if isinstance(value, tuple):
            items = [self.arg(v) for v in value]
            return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        if isinstance(value, list):
            return "[" + ", ".join(self.arg(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{literal(k)}: {self.arg(v)}" for k, v in value.items()) + "}"
        if isinstance(value, slice):
            raise _Unreadable("a slice outside an index")
        return _value(value)

    def index(self, key) -> str:
        if isinstance(key, tuple):
            return ", ".join(self.index_item(k) for k in key) or "()"
        return self.index_item(key)

    def index_item(self, key) -> str:
        if isinstance(key, slice):
            parts = ["" if p is None else self.arg(p) for p in (key.start, key.stop, key.step)]
            return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
        return self.arg(key)

    def call_args(self, args, kwargs) -> str:
        return ", ".join([self.arg(a) for a in args] + [f"{k}={self.arg(v)}" for k, v in kwargs.items()])

    def submodule(self, target: str) -> str:
        """``self.layer1[0].conv1``: the attribute path of a submodule, indexing containers."""
        text, owner = "self", self.module
        for part in target.split("."):
            kind = _container_kind(owner)
            if kind in ("Sequential", "ModuleList") and part.isdigit():
                text += f"[{part}]"
            elif kind == "ModuleDict" or not part.isidentifier():
                text += f"[{literal(part)}]"
            else:
                text += f".{part}"
            owner = getattr(owner, part)
        return text

    def function(self, target) -> str:
        import torch  # the framework of the model being read
        import torch.nn.functional as functional  # the framework of the model being read

        name = getattr(target, "__name__", "")
        for owner, prefix in ((functional, "F"), (torch, "torch")):
            if name and getattr(owner, name, None) is target:
                return f"{prefix}.{name}"
        raise _Unreadable(f"it calls {getattr(target, '__module__', '')}.{name or target!r}, which is not a torch "
                          "function")

    def expression(self, node) -> str:
        import operator

        args, kwargs = node.args, node.kwargs
        if node.op == "call_module":
            return f"{self.submodule(node.target)}({self.call_args(args, kwargs)})"
        if node.op == "get_attr":
            return self.submodule(node.target)
        if node.op == "call_method":
            return f"{self.arg(args[0])}.{node.target}({self.call_args(args[1:], kwargs)})"
        target = node.target
        if getattr(target, "__module__", None) in ("_operator", "operator") and not kwargs:
            name = target.__name__
            if name == "getitem":
                return f"{self.arg(args[0])}[{self.index(args[1])}]"
            if name in _BINARY and len(args) == 2:
                return f"({self.arg(args[0])} {_BINARY[name]} {self.arg(args[1])})"
            if name in _UNARY and len(args) == 1:
                return f"({_UNARY[name]}{self.arg(args[0])})"
        if target is getattr and len(args) == 2:
            return f"{self.arg(args[0])}.{args[1]}"
        del operator
        return f"{self.function(target)}({self.call_args(args, _given(target, kwargs))})"

    def lines(self) -> list[str]:
        params, body = [], []
        try:
            for node in self.graph.nodes:
                if node.op == "placeholder":
                    default = f"={self.arg(node.args[0])}" if node.args else ""
                    params.append(f"{self.var(node)}{default}")
                elif node.op == "output":
                    body.append(f"        return {self.arg(node.args[0])}")
                else:
                    body.append(f"        {self.var(node)} = {self.expression(node)}")
        except _Unreadable as exc:
            self.writer.problem(self.module, self.path, f"its forward cannot be written: {exc}")
            return ["    def forward(self, *args):", "        return None"]
        return [f"    def forward(self, {', '.join(params)}):", *body]


def _given(function, kwargs: dict) -> dict:
    """The keyword arguments of a traced call the user's code gave: fx also records the defaults of a
    Python function (``F.softmax(x, dim, _stacklevel=3, dtype=None)``)."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):   # a builtin without a signature: fx recorded what was given
        return kwargs
    return {key: value for key, value in kwargs.items()
            if key not in params or not (key.startswith("_") or _same(value, params[key].default))}


def constructed_pytorch_source(path: Path, built) -> tuple[str, str, TorchWriter]:
    """``(text, root class, writer)``: the module file of the built PyTorch model."""
    from torch import nn  # the framework of the model being read

    if not isinstance(built, nn.Module):
        raise NNPivotError([error("model-not-found", f"the constructor of {path.name} built a "
                                  f"{type(built).__name__}, not an nn.Module", Location(str(path)))])
    writer = TorchWriter(path)
    if _container_kind(built) is not None or _is_torch_class(type(built)):   # a builder returning nn.Sequential
        root = "ConstructedModel"
        writer.names.add(root)
        init = f"        self.model = {writer.construct(built, '')}"
        writer.texts.append(f"class {root}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                            f"{init}\n\n    def forward(self, x):\n        return self.model(x)\n")
        return writer.text(root), root, writer
    root = writer.user_class(built, "")
    return writer.text(root), root, writer


def import_pytorch_constructed(path, model_name=None, model_args=None, input_shapes=None, partial=False,
                               settings=None):
    """Constructor mode for PyTorch: ``(model, report)`` of the module object the file's constructor builds."""
    path = Path(path)
    built, name, how = build_model(path, "pytorch", model_name, model_args, settings)
    text, root, writer = constructed_pytorch_source(path.resolve(), built)
    sequential_root = root == "ConstructedModel"
    written = Path(f"{path}{CONSTRUCTED_SUFFIX}")
    try:
        model, report = pytorch_importer.import_pytorch(written, root, None, input_shapes, partial=True,
                                                        source_text=text)
    except NNPivotError as exc:
        raise NNPivotError(writer.problems + _relocated(exc.diagnostics, writer, text, path)) from None
    report.diagnostics[:] = writer.problems + _relocated(report.diagnostics, writer, text, path)
    _as_source(report, path, name, how, model_args, sequential_root)
    if sequential_root:   # the written wrapper's attribute is not in the user's state_dict
        report.state_dict_prefixes = {key: value.removeprefix("model.").removeprefix("model")
                                      for key, value in report.state_dict_prefixes.items()}
    if model is not None and sequential_root:
        model.name = name
    if report.diagnostics and any(d.is_error for d in report.diagnostics) and not partial:
        raise pytorch_importer.PyTorchImportError(report.diagnostics, model, report)
    return model, report


def _as_source(report, path: Path, name: str, how: str, model_args, sequential_root: bool) -> None:
    """The report of the written module file made the report of the user's file and model."""
    report.source = str(path)
    report.model, report.model_kind = name, how
    report.model_arguments = dict(model_args or {})
    report.constructed = True


def _relocated(diagnostics, writer: TorchWriter, text: str, path: Path) -> list[Diagnostic]:
    """Diagnostics located in the written module file, moved to the user's class they were written from,
    naming its module path."""
    lines = text.splitlines()
    moved = []
    for diagnostic in diagnostics:
        where = diagnostic.location
        if where is None or not str(where.file).endswith(CONSTRUCTED_SUFFIX):
            moved.append(diagnostic)
            continue
        owner = _class_at(lines, where.line)
        if owner in writer.origins:
            module_path, cls = writer.origins[owner]
            code_line = lines[where.line - 1].strip() if 0 < where.line <= len(lines) else ""
            message = f"module {module_path or 'the model'} ({cls.__name__}), in `{code_line}`: {diagnostic.message}"
            moved.append(Diagnostic(diagnostic.severity, diagnostic.code, message, writer.where(cls)))
        else:
            moved.append(Diagnostic(diagnostic.severity, diagnostic.code, diagnostic.message, Location(str(path))))
    return moved


def _class_at(lines: list[str], line: int) -> str | None:
    for number in range(min(line, len(lines)) - 1, -1, -1):
        if lines[number].startswith("class "):
            return lines[number][len("class "):].split("(")[0]
    return None


# --- Keras: the functional graph of the built model, written as a functional builder ----------------------

# Config entries that are not constructor arguments of the layer's idiom, or that only concern training
# (initial values, penalties, constraints: the weights come from the checkpoint).
_KERAS_SKIPPED = frozenset({"trainable", "dtype", "autocast", "seed"})
_KERAS_TRAINING_ONLY = ("_initializer", "_regularizer", "_constraint")


def _keras_arguments(layer) -> list[str]:
    """``name=value`` of the layer's config entries that differ from its constructor's defaults (its name too)."""
    cls = type(layer)
    params = inspect.signature(cls.__init__).parameters
    written = []
    for key, value in layer.get_config().items():
        if key in _KERAS_SKIPPED or key.endswith(_KERAS_TRAINING_ONLY) or key == "activity_regularizer":
            continue
        param = params.get(key)
        if param is None and key != "name":
            continue   # a config entry the constructor takes through **kwargs with its default
        if param is not None and param.default is not param.empty and _same(value, param.default):
            continue
        if key == "activation" and value == "linear" and param is not None and param.default is None:
            continue
        try:
            written.append(f"{key}={_plain(value)}")
        except TypeError:
            raise _Unreadable(f"its {key} is {value!r}, not a plain value") from None
    return written


def _plain(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_plain(v) for v in value) + "]"
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, dict):
        raise TypeError(value)
    return literal(value)


def constructed_keras_source(path: Path, built) -> tuple[str, list[Diagnostic]]:
    """``(text, problems)``: a functional builder ``constructed_model()`` computing the built Keras model's
    graph with the same layers (by class, config and name) in the same order."""
    import keras  # the framework of the model being read

    problems: list[Diagnostic] = []
    where = Location(str(path))
    if not isinstance(built, keras.Model) or not getattr(built, "inputs", None):
        raise NNPivotError([error("constructor-untranslated", f"the constructor of {path.name} built a "
                                  f"{type(built).__name__} without a functional graph (a subclassed or unbuilt "
                                  "model); constructor mode reads Sequential and functional Keras models", where)])
    names: dict[int, str] = {}
    lines: list[str] = []
    taken = {"keras", "layers", "inputs", "outputs"}

    def variable(base: str) -> str:
        name = "".join(c if c.isalnum() else "_" for c in base).strip("_") or "x"
        name = f"x_{name}" if name[0].isdigit() else name
        candidate = name
        for number in itertools.count(2):
            if candidate not in taken:
                break
            candidate = f"{name}_{number}"
        taken.add(candidate)
        return candidate

    def tensor(value) -> str:
        if isinstance(value, (list, tuple)):
            items = [tensor(v) for v in value]
            return "[" + ", ".join(items) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{literal(k)}: {tensor(v)}" for k, v in value.items()) + "}"
        if hasattr(value, "_keras_history"):
            return visit(value)
        return _plain(value)

    def visit(value) -> str:
        if id(value) in names:
            return names[id(value)]
        layer, node_index, _ = value._keras_history
        if isinstance(layer, keras.layers.InputLayer):
            name = variable(layer.name)
            shape = tuple(value.shape[1:])
            lines.append(f"    {name} = keras.Input(shape={_plain(shape)}, dtype={literal(str(value.dtype))}, "
                         f"name={literal(layer.name)})")
            names[id(value)] = name
            inputs.append(name)
            return name
        node = layer._inbound_nodes[node_index]
        args = [tensor(a) for a in node.arguments.args]
        kwargs = [f"{k}={tensor(v)}" for k, v in node.arguments.kwargs.items() if k != "training"]
        if not type(layer).__module__.startswith("keras."):
            problems.append(error("constructor-untranslated", f"layer {layer.name} ({type(layer).__name__}) is not "
                                  "a Keras layer (a custom layer or nested model is not read in constructor mode)",
                                  where))
            call = "None"
        else:
            try:
                call = f"layers.{type(layer).__name__}({', '.join(_keras_arguments(layer))})"
            except _Unreadable as exc:
                problems.append(error("constructor-untranslated", f"layer {layer.name} ({type(layer).__name__}): "
                                      f"{exc}", where))
                call = "None"
        outputs = [variable(f"{layer.name}_{i}" if len(node.output_tensors) > 1 else layer.name)
                   for i in range(len(node.output_tensors))]
        lines.append(f"    {', '.join(outputs)} = {call}({', '.join(args + kwargs)})")
        for output, produced in zip(outputs, node.output_tensors):
            names[id(produced)] = output
        return names[id(value)]

    inputs: list[str] = []
    for value in built.inputs:
        visit(value)
    results = [visit(value) for value in built.outputs]
    output = results[0] if len(results) == 1 else "[" + ", ".join(results) + "]"
    given = inputs[0] if len(inputs) == 1 else "[" + ", ".join(inputs) + "]"
    text = "\n".join(["import keras", "from keras import layers", "", "", "def constructed_model():", *lines,
                      f"    return keras.Model(inputs={given}, outputs={output}, name={literal(built.name)})", ""])
    return text, problems


def import_keras_constructed(path, model_name=None, model_args=None, input_shapes=None, settings=None):
    """Constructor mode for Keras: ``(model, report)`` of the model the file's builder or class builds."""
    import keras  # the framework of the model being read

    path = Path(path)
    keras.backend.clear_session()   # the layers get the names a fresh run of the builder gives them
    built, name, how = build_model(path, "keras", model_name, model_args, settings)
    text, problems = constructed_keras_source(path.resolve(), built)
    written = Path(f"{path}{CONSTRUCTED_SUFFIX}")
    try:
        model, report = keras_importer.import_keras(written, "constructed_model", input_shapes, None, None,
                                                    source_text=text)
    except NNPivotError as exc:
        raise NNPivotError(problems + _moved(exc.diagnostics, path)) from None
    report.diagnostics[:] = problems + _moved(report.diagnostics, path)
    _as_source(report, path, name, how, model_args, False)
    report.keras_name_counters = None
    report.keras_weight_paths = {}   # the layers are found by their names (the written code names each)
    if model is not None:
        model.name = built.name
    return model, report


def _moved(diagnostics, path: Path) -> list[Diagnostic]:
    """Diagnostics of the written builder, located at the user's file (their messages name the layer)."""
    return [Diagnostic(d.severity, d.code, d.message, Location(str(path)))
            if d.location is not None and str(d.location.file).endswith(CONSTRUCTED_SUFFIX) else d
            for d in diagnostics]


# --- the loaders of the format registry: static unless constructor mode is asked for ------------------------

def import_pytorch_source(path, model_name=None, model_args=None, input_shapes=None, partial=False, settings=None,
                          run_constructor=False):
    """The PyTorch source loader: :func:`nnpivot.importers.pytorch.import_pytorch` (static), or with
    ``run_constructor`` :func:`import_pytorch_constructed`."""
    read = import_pytorch_constructed if run_constructor else pytorch_importer.import_pytorch
    return read(path, model_name, model_args, input_shapes, partial=partial, settings=settings)


def import_keras_source(path, model_name=None, model_args=None, input_shapes=None, settings=None,
                        run_constructor=False):
    """The Keras source loader: :func:`nnpivot.importers.keras.import_keras` (static), or with
    ``run_constructor`` :func:`import_keras_constructed`."""
    if run_constructor:
        return import_keras_constructed(path, model_name, model_args, input_shapes, settings=settings)
    return keras_importer.import_keras(path, model_name, input_shapes, model_args, settings)


__all__ = ["build_model", "constructed_pytorch_source", "constructor_definitions", "execute_definitions",
           "import_keras_constructed", "import_keras_source", "import_pytorch_constructed", "import_pytorch_source"]
