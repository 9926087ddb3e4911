"""Constructor mode for PyTorch: the built module tree and its traced forwards, written as a plain module file.

See :mod:`nnpivot.importers.constructed`. The module object the source's constructor built is read
as it is: its tree (``named_children``), each torch layer's hyper-parameters from the attributes torch
keeps under the constructor parameters' names, and each user-defined module's forward traced with
``torch.fx`` (torch layers, ``nn.Sequential`` and user-defined submodules stay calls). One class is
written per user class (so they stay blocks), a ``constructed_variant`` argument choosing each
instance's structure, its children constructed with literal arguments under the attribute names of
the original (so ``state_dict`` keys are the same), and the written file is read by the static
importer. A forward fx cannot trace is read from the class's own methods instead (the static importer
knows the sizes a branch asks about); what neither reading translates, and a layer without a pivot
kind, is an error naming the module path, never an identity.
"""
from __future__ import annotations

import ast
import inspect
import itertools
from pathlib import Path

from nnpivot.diagnostics import NOTE, Diagnostic, Location, NNPivotError, error
from nnpivot.kinds.pysyntax import literal

from . import pytorch as pytorch_importer
from .block_templates import INSTANCE_ARGUMENT, ConstructorRecords
from .constructed import (
    CONSTRUCTED_SUFFIX,
    DEFINITIONS_MODULE,
    RecordedConstructors,
    Unreadable,
    as_source,
    build_model,
    constructor_definitions,
    init_source,
    same_value,
)
from .pysource import read_source

# The torch.nn classes the static importer reads: layers of a kind, containers and composites of kinds.
KNOWN_CLASSES = frozenset({*pytorch_importer.CLASSES, *pytorch_importer.REFINEMENTS, *pytorch_importer.CONTAINERS,
                           *pytorch_importer.COMPOSITES})
# Constructor parameters that only set initial values (the weights come from the checkpoint): not kept by torch.
INITIAL_VALUES_ONLY = frozenset({"init"})


def _pick(path: Path, model_args, settings) -> str:
    """Without --model: the network the static reading of the file picks."""
    return pytorch_importer.Importer.of_file(path, model_args, settings).pick(None)[0]


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
        elif param.name in INITIAL_VALUES_ONLY:
            continue   # an initial value: the weights come from the checkpoint
        else:   # the default might not be what the source gave: never guessed
            raise Unreadable(f"nn.{cls.__name__} keeps no '{param.name}' to read its constructor argument from")
        if param.default is not param.empty and same_value(value, param.default):
            continue
        try:
            written.append(f"{param.name}={_value(value)}")
        except TypeError:
            raise Unreadable(f"nn.{cls.__name__}'s {param.name} is {value!r}, not a plain value") from None
    return written


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


# The forward written for a module whose forward could not be written (an error says why): never read as a model.
PLACEHOLDER_FORWARD = ("    def forward(self, *args):", "        return None")
VARIANT = "constructed_variant"   # the argument of a written class choosing an instance's structure


class TorchWriter:
    """Writes the constructed module tree as a module file: one class per user class (per structure,
    children with literal constructor arguments and the traced forward, behind a ``constructed_variant``
    argument), torch layers and containers as constructor calls. ``origins`` maps each written class to
    the first module path and the user class it came from. Each instance the user's constructor was
    recorded building (``recorded``) is written with a ``constructed_instance`` number whose arguments
    ``records`` holds, with the user's ``__init__`` of its class, for the block templates."""

    def __init__(self, path: Path, recorded: RecordedConstructors | None = None):
        self.path = path
        self.recorded = recorded
        self.records = ConstructorRecords()
        self.init_sources: dict = {}   # a user class's __init__ function -> its syntax (init_source)
        _, self.tree = read_source(path)
        self.class_nodes: dict[str, ast.ClassDef] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ClassDef):
                self.class_nodes.setdefault(node.name, node)
        self.class_lines = {name: node.lineno for name, node in self.class_nodes.items()}
        self.notes: list[Diagnostic] = []
        self.read_statically = False   # a forward is the source's own: the written file needs its module level
        self.variants: dict[str, list] = {}   # written class -> its variants: (children lines, method lines)
        self.class_for: dict[type, str] = {}  # user class -> its written class (of the first signature)
        self.texts: list[str] = []
        self.names: set[str] = set()
        self.problems: list[Diagnostic] = []
        self.origins: dict[str, tuple[str, type]] = {}   # written class name -> (first module path, user class)

    def where(self, cls) -> Location:
        """Where the user's class is defined: in the source file (whose definitions ran as a module of
        execute_definitions), else in the file inspect finds, else the source file."""
        if cls.__module__.startswith(DEFINITIONS_MODULE) and cls.__name__ in self.class_lines:
            return Location(str(self.path), self.class_lines[cls.__name__])
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

            public = getattr(nn, type(module).__name__, None) is type(module)
            spelling = f"nn.{type(module).__name__}" if public else f"{type(module).__module__}.{type(module).__name__}"
            if spelling not in KNOWN_CLASSES:
                self.problem(module, path, f"{spelling} has no pivot kind")
                return "None"
            try:
                return f"nn.{type(module).__name__}({', '.join(_torch_arguments(module, path))})"
            except Unreadable as exc:
                self.problem(module, path, str(exc))
                return "None"
        return self.user_class(module, path)

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
        """The constructor call of the written class of a user-defined module: one class per user class
        whose ``constructed_variant`` argument picks the structure (children and forward) of this module,
        so the static importer names the blocks as it names those of a hand-written class (``BasicBlock``,
        ``BasicBlock2``... per structure and input shape)."""
        init = []
        for name, child in module.named_children():
            if not name.isidentifier():
                self.problem(module, path, f"its submodule '{name}' has no attribute name to write")
                continue
            init.append(f"self.{name} = {self.construct(child, _join(path, name))}")
        methods = self.forward(module, path)
        traced = methods is not None and methods[0] != PLACEHOLDER_FORWARD[0]
        if methods is None:   # fx cannot trace it: the source's own methods, with the plain values they read
            methods = self.source_methods(module)
            init += [f"self.{name} = {_value(value)}" for name, value in _plain_attributes(module).items()]
        name = self.class_for.get(type(module))
        variants = self.variants.get(name, [])
        if variants and not _one_class(variants[0], methods, traced):
            name, variants = None, []   # another forward signature, or other methods of the source: its own class
        if name is None:
            base = type(module).__name__ if type(module).__name__.isidentifier() else "Block"
            name = base
            for number in itertools.count(2):
                if name not in self.names and name not in ("nn", "F", "torch", "OrderedDict"):
                    break
                name = f"{base}{number}"
            self.names.add(name)
            self.class_for.setdefault(type(module), name)
            self.origins[name] = (path, type(module))
            self.variants[name] = variants
        if (init, methods, traced) not in variants:
            variants.append((init, methods, traced))
        return f"{name}({variants.index((init, methods, traced))}{self.record(name, module)})"

    def record(self, name: str, module) -> str:
        """``, constructed_instance=k`` naming the recorded arguments of a user module (with its class's
        ``__init__`` in the records), or nothing when they were not recorded."""
        given = self.recorded.arguments_of(module) if self.recorded is not None else None
        if given is not None and given[0] not in self.init_sources:
            self.init_sources[given[0]] = init_source(given[0])
        source = self.init_sources[given[0]] if given is not None else None
        if source is None or self.records.inits.setdefault(name, source) != source:
            return ""
        self.records.arguments.append(given[1])
        return f", {INSTANCE_ARGUMENT}={len(self.records.arguments) - 1}"

    def class_text(self, name: str) -> str:
        """A written class: its variants' children and forwards behind ``if self.constructed_variant == k``."""
        variants = self.variants[name]
        lines = [f"class {name}(nn.Module):", f"    def __init__(self, {VARIANT}=0, {INSTANCE_ARGUMENT}=None):",
                 "        super().__init__()",
                 f"        self.{VARIANT} = {VARIANT}"]
        for index, (init, _, _) in enumerate(variants):
            indent = "        " if len(variants) == 1 else "            "
            if len(variants) > 1:
                lines.append(f"        {'if' if index == 0 else 'elif'} {VARIANT} == {index}:")
            lines += [indent + line for line in init] or ([indent + "pass"] if len(variants) > 1 else [])
        methods = variants[0][1]
        if len(variants) == 1 or all(v[1] == methods for v in variants):
            return "\n".join([*lines, "", *methods]) + "\n"
        lines += ["", methods[0]]   # forwards of one signature, each variant its own body
        for index, (_, forward, _) in enumerate(variants):
            lines.append(f"        {'if' if index == 0 else 'elif'} self.{VARIANT} == {index}:")
            lines += ["    " + line for line in forward[1:]]
        return "\n".join(lines) + "\n"

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
        except Exception as exc:  # noqa: BLE001 - a forward fx cannot follow (a branch on sizes or data...)
            why = _traced_why(module, exc)
            if not self.user_methods(type(module)):
                writer.problem(module, path, f"its forward cannot be traced ({why}) and its class is not defined "
                                             "in the source file to read it from")
                return list(PLACEHOLDER_FORWARD)
            self.notes.append(Diagnostic(NOTE, "forward-read-statically", f"module {path or 'the model'} "
                                         f"({type(module).__name__}): torch.fx cannot trace its forward ({why}); "
                                         "it is read from the source", self.where(type(module))))
            return None
        return _FxWriter(module, graph, self, path).lines()

    def user_methods(self, cls) -> list[ast.FunctionDef]:
        """The methods (but ``__init__``) of a user class and of its user-defined bases, as the file defines
        them, the most derived first."""
        methods, seen = [], {"__init__"}
        for owner in cls.__mro__:
            node = self.class_nodes.get(owner.__name__) if owner.__module__.startswith(DEFINITIONS_MODULE) else None
            for stmt in node.body if node is not None else ():
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name not in seen:
                    seen.add(stmt.name)
                    methods.append(stmt)
        return methods

    def source_methods(self, module) -> list[str]:
        """The source's own methods of the module's class, for the static reading (fx could not trace them)."""
        self.read_statically = True
        return [line for method in self.user_methods(type(module))
                for line in ["", *("    " + text for text in ast.unparse(method).splitlines())]][1:]

    def text(self, root_class: str) -> str:
        header = ["from collections import OrderedDict", "", "import torch", "import torch.nn as nn",
                  "import torch.nn.functional as F", ""]
        if self.read_statically:   # the names the source's own methods may read: imports, constants, functions
            header += [ast.unparse(stmt) for stmt in constructor_definitions(self.tree)
                       if not isinstance(stmt, ast.ClassDef)]
        classes = [self.class_text(name) for name in self.variants] + self.texts
        return "\n".join([*header, "", ""]) + "\n\n".join(classes) + f"\n\n# the constructed model: {root_class}\n"


def _one_class(first: tuple, methods: list[str], traced: bool) -> bool:
    """Whether a structure can be a variant of the class written first for its user class: the same methods,
    or traced forwards of one signature (their bodies then differ behind the variant)."""
    _, first_methods, first_traced = first
    return first_methods == methods or (traced and first_traced and first_methods[0] == methods[0])


def _plain_attributes(module) -> dict:
    """The plain values (numbers, strings, flags, tuples of them) a module and its user classes hold, which
    its own methods may read (``self.use_res_connect``, ``expansion``): not the torch.nn bookkeeping."""
    from torch import nn  # the framework of the model being read

    internal = set(vars(nn.Module()))
    found = {}
    for owner in reversed(type(module).__mro__):
        if owner is not object and not _is_torch_class(owner):
            found.update({k: v for k, v in vars(owner).items() if not k.startswith("__") and _is_plain(v)})
    found.update({k: v for k, v in vars(module).items() if k not in internal and not k.startswith("__")
                  and _is_plain(v)})
    return found


def _is_plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


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
            raise Unreadable("a slice outside an index")
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
        from torch.nn import functional  # the framework of the model being read

        name = getattr(target, "__name__", "")
        for owner, prefix in ((functional, "F"), (torch, "torch")):
            if name and getattr(owner, name, None) is target:
                return f"{prefix}.{name}"
        raise Unreadable(f"it calls {getattr(target, '__module__', '')}.{name or target!r}, which is not a torch "
                          "function")

    def expression(self, node) -> str:
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
        except Unreadable as exc:
            self.writer.problem(self.module, self.path, f"its forward cannot be written: {exc}")
            return list(PLACEHOLDER_FORWARD)
        return [f"    def forward(self, {', '.join(params)}):", *body]


def _given(function, kwargs: dict) -> dict:
    """The keyword arguments of a traced call the user's code gave: fx also records the defaults of a
    Python function (``F.softmax(x, dim, _stacklevel=3, dtype=None)``)."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):   # a builtin without a signature: fx recorded what was given
        return kwargs
    return {key: value for key, value in kwargs.items()
            if key not in params or not (key.startswith("_") or same_value(value, params[key].default))}


def constructed_pytorch_source(path: Path, built, recorded: RecordedConstructors | None = None
                               ) -> tuple[str, str, TorchWriter]:
    """``(text, root class, writer)``: the module file of the built PyTorch model (``recorded``: the
    constructor arguments of its user modules, see :class:`TorchWriter`)."""
    from torch import nn  # the framework of the model being read

    if not isinstance(built, nn.Module):
        raise NNPivotError([error("model-not-found", f"the constructor of {path.name} built a "
                                  f"{type(built).__name__}, not an nn.Module", Location(str(path)))])
    writer = TorchWriter(path, recorded)
    if _container_kind(built) is not None or _is_torch_class(type(built)):   # a builder returning nn.Sequential
        root = "ConstructedModel"
        writer.names.add(root)
        writer.origins[root] = ("", type(built))
        init = f"        self.model = {writer.construct(built, '')}"
        writer.texts.append(f"class {root}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                            f"{init}\n\n    def forward(self, x):\n        return self.model(x)\n")
        return writer.text(root), root, writer
    root = writer.user_class(built, "").split("(")[0]
    return writer.text(root), root, writer


def import_pytorch_constructed(path, model_name=None, model_args=None, input_shapes=None, partial=False,
                               settings=None):
    """Constructor mode for PyTorch: ``(model, report)`` of the module object the file's constructor builds."""
    from torch import nn  # the framework of the model being read

    path = Path(path)
    recorded = RecordedConstructors(nn.Module)
    built, name, how = build_model(path, model_name, model_args, settings,
                                   lambda file: _pick(file, model_args, settings), recorded)
    text, root, writer = constructed_pytorch_source(path.resolve(), built, recorded)
    sequential_root = root == "ConstructedModel"
    written = Path(f"{path}{CONSTRUCTED_SUFFIX}")
    try:
        model, report = pytorch_importer.import_pytorch(written, root, None, input_shapes, partial=True,
                                                        source_text=text, records=writer.records)
    except NNPivotError as exc:
        raise NNPivotError(writer.problems + _relocated(exc.diagnostics, writer, text, path) + writer.notes) from None
    report.diagnostics[:] = writer.problems + _relocated(report.diagnostics, writer, text, path) + writer.notes
    as_source(report, path, name, how, model_args, sequential_root)
    if sequential_root:   # the written wrapper's attribute is not in the user's state_dict
        report.state_dict_prefixes = {key: value.removeprefix("model.").removeprefix("model")
                                      for key, value in report.state_dict_prefixes.items()}
    if model is not None and sequential_root:
        model.name = name
    lines = text.splitlines()
    for entry in report.entries:
        if entry.location is not None and str(entry.location.file).endswith(CONSTRUCTED_SUFFIX):
            owner = writer.origins.get(_class_at(lines, entry.location.line))
            entry.location = writer.where(owner[1]) if owner else Location(str(path))
    if any(d.is_error for d in report.diagnostics):
        # fatal even for a partial import: the static reading goes on past an untranslated statement of a
        # written forward, and what it kept would compute something else
        raise pytorch_importer.PyTorchImportError(report.diagnostics, None, report)
    return model, report


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


def import_pytorch_source(path, model_name=None, model_args=None, input_shapes=None, partial=False, settings=None,
                          run_constructor=False):
    """The PyTorch source loader: :func:`nnpivot.importers.pytorch.import_pytorch` (static), or with
    ``run_constructor`` :func:`import_pytorch_constructed`."""
    read = import_pytorch_constructed if run_constructor else pytorch_importer.import_pytorch
    return read(path, model_name, model_args, input_shapes, partial=partial, settings=settings)


__all__ = ["TorchWriter", "constructed_pytorch_source", "import_pytorch_constructed", "import_pytorch_source"]
