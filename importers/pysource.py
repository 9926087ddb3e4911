"""Helpers shared by the static Python-source importers (PyTorch, Keras).

Source files are read with :mod:`ast` and never executed. This module holds
what does not depend on the framework: reading and parsing a file into located
diagnostics, ``file:line:col`` locations of AST nodes, resolving the names a
file imports (``import torch.nn as nn``, ``from torch.nn import Linear``) to
qualified names, and the ``Refused`` signal an interpreter raises when it meets
a construct it cannot translate.

It also holds what both importers produce alike: the one :class:`ImportReport`
(what was migrated, how exactly, what not, and the maps from pivot nodes back to
the source's weights), the summary of a training configuration, and the small
graph rewrites their passes over the built model share.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from nnpivot.diagnostics import NOTE, Diagnostic, Location, NNPivotError, error, has_errors
from nnpivot.fileio import read_text
from nnpivot.kinds import kind_of
from nnpivot.passes import (
    CANONICAL_FORMS,
    CANONICALISATION,
    FOLD_EDGE_PADS,
    FOLD_STRIDED_SLICES,
    FOLD_TRANSPOSED_CROPS,
    Canonicalised,
    run_pass,
)
from nnpivot.shapes import solve_input_sizes, tied_solutions


class Refused(Exception):
    """A construct that cannot be translated. ``diagnostic`` is None when the cause was reported earlier."""

    def __init__(self, diagnostic: Diagnostic | None = None):
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic) if diagnostic else "depends on untranslated code")


def read_source(path) -> tuple[str, ast.Module]:
    """The text and AST of a Python file; ``file-not-found``/``syntax-error``... as NNPivotError."""
    path = Path(path)
    text = read_text(path)
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        where = Location(str(path), exc.lineno or 0, exc.offset or 0)
        raise NNPivotError([error("syntax-error", f"not valid Python: {exc.msg}", where)]) from None
    except (RecursionError, MemoryError):  # Python's own parser gives up on expressions nested thousands deep
        raise NNPivotError([error("nesting-too-deep", "the source nests expressions too deeply to parse",
                                  Location(str(path)))]) from None
    except ValueError as exc:  # a NUL byte
        raise NNPivotError([error("syntax-error", f"not valid Python: {exc}", Location(str(path)))]) from None
    return text, tree


# The top-level packages a file imports that say which framework its network is written in.
FRAMEWORK_MODULES = {"pytorch": ("torch",), "keras": ("keras", "tensorflow", "tf_keras")}


def detect_framework(path) -> str:
    """``"pytorch"`` or ``"keras"`` from the file's imports (the file is parsed, not run)."""
    path = Path(path)
    _, tree = read_source(path)
    imported = set()
    for statement in ast.walk(tree):
        if isinstance(statement, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            imported.add(statement.module.split(".")[0])
    found = [name for name, modules in FRAMEWORK_MODULES.items() if imported & set(modules)]
    if len(found) != 1:
        what = "both torch and keras/tensorflow" if found else "neither torch nor keras/tensorflow"
        raise NNPivotError([error("framework-unknown", f"{path} imports {what}: cannot tell whether it is a "
                                                       "PyTorch or a Keras model file", Location(str(path)))])
    return found[0]


def location(path, node: ast.AST | None) -> Location:
    """``file:line:col`` of an AST node (columns count from 1, as gcc and editors do)."""
    if node is None or not hasattr(node, "lineno"):
        return Location(str(path))
    # a node of a sibling module of the project is located in its own file
    return Location(str(getattr(node, "source_path", path)), node.lineno, node.col_offset + 1)


def describe(node: ast.AST) -> str:
    """The source text of a node, shortened for a message."""
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


class ImportTable:
    """What the names bound by a file's imports stand for, as qualified dotted names.

    ``import torch.nn as nn`` binds ``nn`` to ``torch.nn``; ``from torch import nn``
    likewise; ``import torch.nn`` binds ``torch``; ``from torch.nn import Linear``
    binds ``Linear`` to ``torch.nn.Linear``. Imports anywhere in the file count
    (also inside functions and ``if __name__ == "__main__":``). With ``packages``,
    only names imported from those top-level packages are kept.
    """

    def __init__(self, tree: ast.Module, packages: tuple[str, ...] | None = None):
        self.names: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.names[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        self.names[head] = head
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        if packages is not None:
            self.names = {k: v for k, v in self.names.items() if v.split(".")[0] in packages}

    def qualified(self, node: ast.AST) -> str | None:
        """The qualified name of ``a.b.c`` when ``a`` is an imported name, else None."""
        head, attributes = dotted(node)
        if not isinstance(head, ast.Name) or head.id not in self.names:
            return None
        return ".".join([self.names[head.id], *attributes])


def dotted(node: ast.AST) -> tuple[ast.AST, list[str]]:
    """``a.b.c`` as its head expression ``a`` and the attribute names ``["b", "c"]``."""
    attributes = []
    while isinstance(node, ast.Attribute):
        attributes.append(node.attr)
        node = node.value
    return node, attributes[::-1]


@dataclass(frozen=True)
class SourceObject:
    """A plain object of the script (a config dataclass, an argparse namespace) as the importer evaluated it:
    its class name in the source and its attributes; a run of the source rebuilds it from them."""
    cls: str
    attrs: dict


def as_argument(value, is_object=None):
    """A value the importer evaluated as a model argument, as plain Python (objects of the script as
    :class:`SourceObject`); None when it holds something else (a tensor, a module, an unknown)."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        items = [as_argument(v, is_object) for v in value]
        return None if any(i is None and v is not None for i, v in zip(items, value)) else type(value)(items)
    if isinstance(value, dict):
        items = {k: as_argument(v, is_object) for k, v in value.items()}
        return None if any(items[k] is None and value[k] is not None for k in value) else items
    if is_object is not None and is_object(value):
        attrs = {k: as_argument(v, is_object) for k, v in value.attrs.items()}
        return None if any(attrs[k] is None and value.attrs[k] is not None for k in attrs) else \
            SourceObject(value.cls.name, attrs)
    return None


class ReturnValue(Exception):
    """A ``return`` statement met while interpreting a function body."""

    def __init__(self, value):
        super().__init__()
        self.value = value


# --- the report ---------------------------------------------------------------------------------------

@dataclass
class Entry:
    """One node the importer made: ``node`` in ``graph`` (a block's name, "" for the model)."""
    node: str
    kind: str                      # pivot keyword, or "block <Name>" for a block call
    location: Location | None
    note: str = ""                 # approximate: why; exact: a remark (the source class, a layout permute)
    exact: bool = True
    graph: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.graph}.{self.node}" if self.graph else self.node

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location is not None and self.location.line else ""
        return f"{self.qualified} ({self.kind}){where}" + (f": {self.note}" if self.note else "")


@dataclass
class ImportReport:
    """What a source importer did: which definition it migrated, and how faithfully.

    Both importers fill the same fields; ``to_text()`` is the report of
    ``nnpivot migrate --report``. Untranslated constructs are the error
    diagnostics (with ``file:line:col``); warnings are approximations that
    concern no single node (an optimizer argument left out, a layer whose
    shared weights the pivot copies).

    The weight maps lead from a pivot node back to where the ORIGINAL source
    model keeps its parameters; they mean something different per framework,
    so each has its own field and the other one stays empty:

    * ``state_dict_prefixes`` (PyTorch): node key -> ``state_dict`` prefix of
      the module that computes it (``features_0`` -> ``features.0``); inside a
      block the key is ``"<Block>:<node>"`` and the prefix is relative to the
      block's module; ``"<call key>><Block>:<node>"`` overrides it for one
      call (a block matched by role, whose list positions shift per call).
    * ``keras_layer_names`` (Keras): model node name -> the name the Keras
      layer has in the build the script trains (its ``name=`` or Keras'
      automatic ``dense_1``, counted as ``python script.py`` runs). A folded stack of recurrent layers maps
      ``"<node>_l<i>"`` to layer i, the names the Keras generator gives them.
      ``keras_weight_parts`` names the nodes that hold only part of their
      layer's weights (a SeparableConv's depthwise and pointwise halves): node
      -> ((index in the layer's weight list, shape the node's converter sees or
      None), ...).
    """
    source: str
    framework: str                                                  # "pytorch" or "keras"
    model: str = ""                                                 # the class, function or variable
    model_kind: str = ""                                            # "class", "function" or "variable"
    candidates: list[str] = field(default_factory=list)            # every network definition found
    entries: list[Entry] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    input_shapes: dict[str, tuple] = field(default_factory=dict)   # source layout, without the batch axis
    guessed_shapes: bool = False                                    # chosen by nnpivot, not read or given
    # Per model input and output, the permutation p with source_tensor = transpose(pivot_tensor, p).
    input_layouts: list[tuple] = field(default_factory=list)
    output_layouts: list[tuple] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)                # helper classes kept as blocks
    inlined: list[str] = field(default_factory=list)               # helper classes inlined (and why)
    folded: dict[str, str] = field(default_factory=dict)           # node -> source constructs folded into it
    training: str = ""                                              # the training configuration read
    state_dict_prefixes: dict[str, str] = field(default_factory=dict)
    keras_layer_names: dict[str, str] = field(default_factory=dict)
    keras_weight_parts: dict[str, tuple] = field(default_factory=dict)
    # The arguments the script builds the model with where it trains it (argparse defaults, --set values), by
    # parameter name; a run of the source builds it with them.
    model_arguments: dict | None = None
    constructed: bool = False   # read from the object the constructor built (--run-constructor)
    # Keras: model node name -> the group of a ``.weights.h5`` saved from the source model that holds its layer
    # (``layers/dense_1``); empty when the importer cannot tell (subclassed models).
    keras_weight_paths: dict[str, str] = field(default_factory=dict)
    # Keras: the per-class counters of unnamed layers just before the build ``keras_layer_names`` describes (the
    # script's own, in the order ``python script.py`` runs); a run of the source sets them before building the
    # model so its layers get those names. None when the importer cannot tell.
    keras_name_counters: dict[str, int] | None = None
    # Keras: per call of a custom layer (BlockCall node), its inner node -> (the run-time name of the Keras layer
    # inside that layer object holding its weights, the part of them as in ``keras_weight_parts`` or None).
    keras_block_layers: dict[str, dict[str, tuple]] = field(default_factory=dict)

    def add(self, node: str, kind: str, location: Location | None, note: str = "", *, exact: bool = True,
            graph: str = "") -> Entry:
        entry = Entry(node, kind, location, note, exact, graph)
        self.entries.append(entry)
        return entry

    @property
    def exact(self) -> list[Entry]:
        return [e for e in self.entries if e.exact]

    @property
    def approximate(self) -> list[Entry]:
        return [e for e in self.entries if not e.exact]

    @property
    def not_translated(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    def to_text(self) -> str:
        """The migration report: model, inputs and layouts, structure, training, exact / approximate / not."""
        lines = [f"Migration report for {self.source} ({self.framework})",
                 f"  migrated {self.model_kind} {self.model}".rstrip()
                 + (f" (candidates: {', '.join(self.candidates)})" if len(self.candidates) > 1 else "")]
        guessed = " (guessed: the code gives none)" if self.guessed_shapes else ""
        for i, (name, shape) in enumerate(self.input_shapes.items()):
            layout = self.input_layouts[i] if i < len(self.input_layouts) else None
            lines.append(f"  input {name}: {list(shape)}{guessed}, {_layout_text(layout)}")
        changed = [(i, p) for i, p in enumerate(self.output_layouts) if not _is_identity(p)]
        lines.extend(f"  output {i}: {_layout_text(p)}" for i, p in changed)
        if self.blocks:
            lines.append(f"  blocks: {', '.join(self.blocks)}")
        if self.inlined:
            lines.append(f"  inlined: {', '.join(self.inlined)}")
        for node, how in self.folded.items():
            lines.append(f"  folded into {node}: {how}")
        lines.append(f"  training configuration: {self.training or 'none read'}")
        lines.append(f"translated exactly: {len(self.exact)}")
        lines.extend(f"  {entry}" for entry in self.exact)
        lines.append(f"translated approximately: {len(self.approximate) + len(self.warnings)}")
        lines.extend(f"  {entry}" for entry in self.approximate)
        lines.extend(f"  {d}" for d in self.warnings)
        lines.append(f"not translated: {len(self.not_translated)}")
        lines.extend(f"  {d}" for d in self.not_translated)
        return "\n".join(lines) + "\n"


def _is_identity(perm) -> bool:
    return perm is None or list(perm) == list(range(len(perm)))


def _layout_text(perm) -> str:
    if _is_identity(perm):
        return "same layout as the pivot"
    return f"source = transpose(pivot, {tuple(perm)})"


def describe_training(config) -> str:
    """One line for a pivot TrainingConfig: what the importer read (set features only)."""
    if config is None:
        return ""
    parts = []
    optimizer = config.optimizer
    if optimizer is not None:
        settings = [f"lr {optimizer.learningRate}", *(f"{p.key} {p.value}" for p in optimizer.parameters)]
        parts.append(f"optimizer {optimizer.kind} ({', '.join(settings)})")
    if config.loss:
        parts.append(f"loss {config.loss}")
    for feature, label in (("epochs", "epochs"), ("batchSize", "batch size")):
        if config.eIsSet(feature):
            parts.append(f"{label} {getattr(config, feature)}")
    if config.metrics:
        parts.append(f"metrics {', '.join(config.metrics)}")
    if config.schedule is not None:
        parts.append(f"schedule {config.schedule.eClass.name} per {config.schedule.interval.name}")
    for feature, label in (("clipNorm", "gradient norm clipped to"),
                           ("clipNormPerVariable", "each variable's gradient norm clipped to"),
                           ("clipValue", "gradients clipped to")):
        if getattr(config, feature):
            parts.append(f"{label} {getattr(config, feature):g}")
    return ", ".join(parts)


# Operations that pass their input's values on unchanged (a column taken, a view): an Embedding reading
# their result reads the input's ids (``emb(x_cat[:, i])`` for each categorical column).
SAME_VALUE_OPERATIONS = frozenset({"Index", "Slice", "Select", "Split", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Permute",
                          "Unflatten", "Tile", "Identity"})


def embedding_inputs_hold_ids(graph, declared=frozenset()) -> None:
    """Inputs read by an Embedding, directly, through views and columns of them, or as the input of a block that
    gives it to one (a token and position embedding layer), hold token ids: int64, unless the source declared
    their dtype."""
    for node in graph.nodes:
        pending, seen = [dep for dep in node.inputs if _reads_ids(node, dep)], set()
        while pending:
            dep = pending.pop()
            if id(dep) in seen:
                continue
            seen.add(id(dep))
            if dep.eClass.name == "Input" and dep not in declared:
                dep.dtype = dep.dtype.eEnum.getEEnumLiteral("int64")
            elif dep.eClass.name in SAME_VALUE_OPERATIONS:
                pending.extend(dep.inputs)


def _reads_ids(node, operand) -> bool:
    """Whether ``node`` reads ``operand`` as token ids: an Embedding, or a block call whose block input in that
    position is read so."""
    if node.eClass.name == "Embedding":
        return True
    if node.eClass.name != "BlockCall" or node.block is None:
        return False
    block_inputs = [n for n in node.block.nodes if n.eClass.name == "Input"]
    return any(inner in user.inputs and _reads_ids(user, inner)
               for dep, inner in zip(node.inputs, block_inputs) if dep is operand for user in node.block.nodes)


def canonicalise(model, report: ImportReport) -> list[Canonicalised]:
    """Run the canonicalisation passes on an imported model. The report follows: entries of the nodes a pass
    removed go, the kinds it chose are named, and what it folded is listed. Returns the nodes the canonical-forms
    pass replaced."""
    done = []
    for rewrite in CANONICALISATION:
        names = {graph: {n.name for n in graph.nodes} for graph in [model, *model.blocks]}
        changes, problems = run_pass(rewrite, model)
        report.diagnostics.extend(problems)
        if has_errors(problems):
            return done
        for graph, changed in changes.items():
            if not changed:
                continue
            graph_name = "" if graph is model else graph.name
            if rewrite is CANONICAL_FORMS:
                done.extend(_canonical_kinds(graph, graph_name, changed, report))
                continue
            gone = names[graph] - {n.name for n in graph.nodes}
            report.entries = [e for e in report.entries if e.graph != graph_name or e.node not in gone]
            for name, what in changed.items() if rewrite in FOLDS else ():
                report.folded[f"{graph_name}.{name}" if graph_name else name] = FOLDS[rewrite](what)
                for entry in report.entries:
                    if entry.graph == graph_name and entry.node == name and rewrite is FOLD_EDGE_PADS:
                        entry.kind = "pad"
    return done


# What the report says a pass folded into a node.
FOLDS = {FOLD_EDGE_PADS: lambda mode: f"a join of edge cells: a {mode} pad",
         FOLD_TRANSPOSED_CROPS: lambda crop: f"the crop {crop} of its output: its explicit padding",
         FOLD_STRIDED_SLICES: lambda picks: f"the strided slice {picks} of its output: its stride"}


def _canonical_kinds(graph, graph_name: str, rewritten: list, report: ImportReport) -> list[Canonicalised]:
    """The report's entries of nodes the canonical-forms pass replaced name the canonical kind; a name the
    importer derived from the first spelling's keyword takes the canonical one."""
    taken = {n.name for n in graph.nodes}
    renamed = {}
    for change in rewritten:
        before, after = kind_of(change.before).keyword, kind_of(change.after).keyword
        derived = re.fullmatch(rf"{re.escape(before)}(_\d+)?", change.after.name)
        if derived and before != after and f"{after}{derived[1] or ''}" not in taken:
            renamed[change.after.name] = change.after.name = f"{after}{derived[1] or ''}"
            taken.add(change.after.name)
    keywords = {c.after.name: kind_of(c.after).keyword for c in rewritten}
    for entry in report.entries:
        if entry.graph == graph_name:
            entry.node = renamed.get(entry.node, entry.node)
            entry.kind = keywords.get(entry.node, entry.kind)
    return rewritten


def pinned_sizes(model, shapes: dict, where: Location) -> tuple[dict | None, list[Diagnostic]]:
    """The input shapes (source layout, -1 for a run-time size) with the sizes the code pins filled in, or
    None when it pins none; and a note per solved input, or an error for one whose sizes the code
    constrains in a way no candidate size meets."""
    notes, problems, pinned = [], [], dict(shapes)
    names = list(shapes)
    for found in solve_input_sizes(model):
        name = names[found.index]
        if found.free:
            continue
        if found.size is None:
            fits = tied_solutions(model, found) if len(found.axes) > 1 else []
            options = f"; shapes that fit (pivot layout): {', '.join(map(_shape_text, fits))}" if fits else ""
            problems.append(error("missing-input-shape", f"input '{name}': the code constrains its sizes "
                                  f"{_shape_text(shapes[name])} but no equal size fits them{options}; give its "
                                  "shape with --input-shape", where))
            continue
        pinned[name] = tuple(found.size if d < 0 else d for d in shapes[name])
        others = _runs([size for size in found.solutions if size != found.size])
        others = f" ({others} would fit too: floor divisions drop the rest)" if others else ""
        notes.append(Diagnostic(NOTE, "input-size-inferred", f"input '{name}': the code fixes its shape to "
                                f"{_shape_text(pinned[name])}{others}", where))
    if problems:
        return None, problems
    return (pinned, notes) if notes else (None, [])


def _runs(sizes: list[int]) -> str:
    """``[29, 30, 31, 40]`` as ``29 to 31, 40``."""
    runs = []
    for size in sizes:
        if runs and size == runs[-1][1] + 1:
            runs[-1][1] = size
        else:
            runs.append([size, size])
    return ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in runs)


def _shape_text(shape) -> str:
    return "[" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + "]"


def slice_attributes(axes: list, starts: list, ends: list, steps: list) -> dict:
    """A pivot Slice's attributes; steps only when one is not 1."""
    attrs = {"axes": axes, "starts": starts, "ends": ends}
    if any(s != 1 for s in steps):
        attrs["steps"] = steps
    return attrs


__all__ = ["SAME_VALUE_OPERATIONS", "Entry", "ImportReport", "ImportTable", "Refused", "ReturnValue", "describe",
           "describe_training", "detect_framework", "dotted", "embedding_inputs_hold_ids",
           "location", "pinned_sizes", "read_source", "slice_attributes"]
