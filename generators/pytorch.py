"""PyTorch target: the code generator and ``state_dict`` weights.

How each kind is written in PyTorch is its kind module's ``TorchMapping``
(``nnpivot.kinds``); this module walks the graph, asks each node's mapping for
its submodule and its ``forward`` code, and writes the module class, the
training function and the weights.

Torch is imported lazily by the weight functions only, so this module loads
without it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nnpivot import fileio
from nnpivot.bulk import collector_paused
from nnpivot.diagnostics import (
    Diagnostic,
    Location,
    NNPivotError,
    error,
    has_errors,
    location_of,
    warning,
)
from nnpivot.graph import graph_inputs, topological_order
from nnpivot.kinds import kind_of
from nnpivot.kinds import training as vocabulary
from nnpivot.kinds.pysyntax import (
    INDENT,
    LINE_WIDTH,
    docstring,
    fstring_text,
    identifier,
    literal,
    wrap_append,
    wrap_call,
)
from nnpivot.kinds.torch_mapping import HELPERS, RESERVED, Site, TorchMapping, py_name
from nnpivot.metamodel import is_kind
from nnpivot.metamodel.blocks import BlockError, is_parameterised, iteration_of
from nnpivot.shapes import ShapeTable, called_block, infer_shapes
from nnpivot.weights import WeightStore

from . import codegen
from .blockcode import (
    call_arguments,
    declared_outside,
    members,
    per_call_signature,
    per_call_values,
    plan_block,
    reads_per_call,
    rendered_alike,
)
from .codegen import OutputNames

TARGET = "pytorch"
# A block parameter is a local of __init__: it must not hide a module the generated code reads.
RESERVED_PARAMETERS = RESERVED | codegen.MODULE_NAMES


def _tuple_results(site: Site) -> str:
    """The targets of a tuple-valued expression (one output still unpacks: ``(a,) = ...``)."""
    names = site.outputs
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


def mapping_of(node) -> TorchMapping:
    return kind_of(node).mappings[TARGET]


# --- code generation ------------------------------------------------------------------------------

@dataclass
class ClassCode:
    """One ``nn.Module`` class of the output: a block or the model."""
    name: str
    doc: str
    params: list[str]
    init: list[str]
    forward: list[str]
    init_params: list[str] = field(default_factory=list)   # in_planes, planes, stride=1 of a parameterised block

    @property
    def init_signature(self) -> str:
        """``(self, in_planes, ...)`` laid out as ``ruff format`` does when the line would be too long."""
        params = ", ".join(["self", *self.init_params])
        if len(f"    def __init__({params}):") <= LINE_WIDTH:
            return f"({params})"
        if len(f"        {params}") <= LINE_WIDTH:
            return f"(\n        {params}\n    )"
        return "(\n" + "".join(f"        {p},\n" for p in ["self", *self.init_params]) + "    )"


class _Generation:
    def __init__(self, model, shapes: ShapeTable | None = None):
        self.model = model
        self.diagnostics: list[Diagnostic] = []
        self.table: ShapeTable | None = shapes  # a validated model's shapes, else inferred in run()
        self.class_names = codegen.class_names(model)
        self.call_classes: dict = {}   # call of a parameterised block written per argument set -> its class
        self.size_parameters: dict = {}   # block -> the (input, axis) sizes its class takes first (BlockPlan.sizes)

    def run(self, source_name: str) -> str | None:
        if self.table is None:
            self.table, shape_diagnostics = infer_shapes(self.model)
            self.diagnostics += shape_diagnostics
        if has_errors(self.diagnostics):
            return None
        written = {}   # a block's class after those of the blocks it calls: their calls need their parameters
        for block in _callees_first(self.model.blocks):
            written[block] = self.parameterised_classes(block) if is_parameterised(block) else [self.graph_class(block)]
        classes = [code for block in self.model.blocks for code in written[block]]
        classes.append(self.graph_class(self.model, doc=self.model.description or ""))
        training = _training(self.model, self.diagnostics, self.table)
        if has_errors(self.diagnostics):
            return None
        template = codegen.environment(TARGET).get_template("module.py.j2")
        values = {"header": codegen.header(source_name), "classes": classes, "training": training}
        body = template.render(imports=[], helpers=[], **values)
        helpers = [code for name, code in HELPERS.items() if f"{name}(" in body]
        body += "".join(helpers)
        imports = ["import math", ""] if re.search(r"\bmath\.", body) else []
        imports += ["import torch"] if "torch." in body else []
        imports += ["import torch.nn.functional as F"] if "F." in body else []
        imports += ["from torch import nn"]
        return template.render(imports=imports, helpers=helpers, **values)

    def graph_class(self, graph, doc: str = "") -> ClassCode:
        names = OutputNames(graph, rename=py_name)
        init: list[str] = []
        forward: list[str] = []
        indent = INDENT * 2
        for node in topological_order(graph):
            if is_kind(node, "Input"):
                continue
            if is_kind(node, "Select"):
                continue  # its variable is bound where its producer is unpacked
            shapes = [self.table.operand(dep) for dep in node.inputs]
            inputs = [names.of(dep) for dep in node.inputs]
            outputs = names.outputs(node)
            if any(s is None for s in shapes) or node not in self.table:
                self.diagnostics.append(error(
                    "shape-unknown", f"cannot generate '{node.name}' in {graph.name}: its input shapes are unknown"
                    " (is the block called?)", location_of(node)))
                continue
            site = Site(node, shapes, self.table[node], inputs, outputs)
            if is_kind(node, "BlockCall"):
                forward.extend(self.call_code(site, node, init, indent, {}))
                continue
            forward.extend(self.node_code(site, init, indent))
        params, unpacking = self.forward_arguments(graph, names, indent)
        returned = ", ".join(names.of(o) for o in graph.outputs)
        forward.append(f"{indent}return {returned}")
        return ClassCode(self.class_names[graph], docstring(doc) if doc else "", params, init, unpacking + forward)

    def forward_arguments(self, graph, names: OutputNames, indent: str) -> tuple[list[str], list[str]]:
        """``forward``'s parameters and the lines unpacking its packed arguments (an error when they do not
        fit the inputs)."""
        try:
            params, unpacking = codegen.forward_arguments(graph, names)
        except BlockError as exc:
            self.diagnostics.append(error(exc.code, str(exc), location_of(exc.element)))
            return [py_name(n.name) for n in graph_inputs(graph)], []
        return params, [indent + line for line in unpacking]

    def call_code(self, site: Site, call, init: list[str], indent: str, names: dict) -> list[str]:
        """A block call: its submodule (with the call's arguments, read through ``names`` in a block) and the
        forward statement."""
        if call.weightsOf is None:
            if call in self.call_classes:
                init.append(f"{indent}{site.module} = {self.call_classes[call]}()")
            else:
                sizes = [site.in_shapes[index][axis] for index, axis in self.size_parameters.get(call.block, ())]
                args = call_arguments(call, names, RESERVED_PARAMETERS, sizes)
                _declare(site, init, f"{self.class_names[call.block]}(", args, indent)
        try:
            operands = codegen.call_operands(call.block, site.inputs)
        except BlockError:   # reported where the block's class is written
            operands = list(site.inputs)
        if call not in self.call_classes:   # a class per argument set holds its numbers
            operands += per_call_values(call, names)
        return [f"{indent}{', '.join(site.outputs)} = {site.module}({', '.join(operands)})"]

    # -- parameterised blocks ---------------------------------------------------------------------
    def parameterised_classes(self, block) -> list[ClassCode]:
        """One class taking the block's parameters; one class per argument set when the calls' code differs."""
        plan = plan_block(block, self.table, RESERVED_PARAMETERS, input_sizes=True)
        running = plan_block(block, self.table, RESERVED_PARAMETERS, prefix="self.", input_sizes=True)
        if plan is None or running is None:
            self.diagnostics.append(error("shape-unknown", f"cannot generate block {block.name}: it is never "
                                          "called, so its shapes are unknown", location_of(block)))
            return []
        code = self.parameterised_class(plan, running)
        return [code] if code is not None else self.specialised_classes(block)

    def parameterised_class(self, plan, running) -> ClassCode | None:
        """The block's class, its ``__init__`` rendered from ``plan``'s templates and its ``forward`` from
        ``running``'s (which read the parameters kept on ``self``); None when calls render differently."""
        block = plan.block
        names = OutputNames(block, rename=py_name)
        order = topological_order(block)
        indent = INDENT * 2
        init: list[str] = []
        forward: list[str] = []
        errors_before = len(self.diagnostics)
        hoisted = declared_outside(block)

        def renderings(node, inner: str):
            """Per call: the node's declaration (at ``indent``) where it is hoisted, its (init, forward) lines
            (at ``inner``) where it computes."""
            for call, run in zip(plan.calls, running.calls):
                declaration = tuple(self.template_code(call, node, names, indent, plan.sources)[0]) \
                    if node in hoisted and call.node(node.name) in call.shapes else None
                if not (call.computes(node.name) and run.computes(node.name)):
                    yield declaration, None
                    continue
                yield declaration, (tuple(self.template_code(call, node, names, inner, plan.sources)[0]),
                                    tuple(self.template_code(run, node, names, inner, running.sources)[1]))

        def rendered(nodes: list, inner: str):
            return rendered_alike(nodes, hoisted, lambda node: renderings(node, inner))

        for unit in plan.units:
            if unit.eClass.name == "Loop":
                written = self.loop_code(plan, running, unit, names, order, indent)
                if written is None:
                    del self.diagnostics[errors_before:]   # the classes per argument set report their own
                    return None
                init += written[0]
                forward += written[1]
                continue
            guarded = unit.eClass.name == "Guard"
            inner = indent + INDENT if guarded else indent
            branches = [rendered(members(unit, order), inner), rendered(members(unit, order, True), inner)]
            if None in branches:
                del self.diagnostics[errors_before:]   # the classes per argument set report their own
                return None
            (declared, unit_init, unit_forward), (else_declared, else_init, else_forward) = branches
            init += declared + else_declared   # modules a node outside their group uses exist whichever runs
            if guarded:
                if unit_init:
                    init.append(f"{indent}if {plan.condition(unit)}:")
                init += unit_init
                if else_init:
                    init += [f"{indent}if not ({plan.condition(unit)}):" if not unit_init else f"{indent}else:",
                             *else_init]
                forward.append(f"{indent}if {plan.condition(unit, 'self.')}:")
                forward += unit_forward
                if len(unit.alternative):
                    forward += [f"{indent}else:", *else_forward]
                    if unit.result is not None and unit.otherwise is not None:
                        forward.append(f"{inner}{names.of(unit.result)} = {names.of(unit.otherwise)}")
                elif unit.result is not None and unit.otherwise is not None:
                    forward += [f"{indent}else:", f"{inner}{names.of(unit.result)} = {names.of(unit.otherwise)}"]
            else:
                init += unit_init
                forward += unit_forward
        forward.append(f"{indent}return {', '.join(names.of(o) for o in block.outputs)}")
        found = self.diagnostics[errors_before:]   # a node every call renders alike is reported once
        self.diagnostics[errors_before:] = [d for i, d in enumerate(found) if d not in found[:i]]
        running_code = "\n".join(forward)   # the parameters forward reads are kept on self
        code = "\n".join(init + forward)   # an input size is a parameter where the code reads it (a conv's channels)
        plan.sizes = {at: n for at, n in plan.sizes.items() if re.search(rf"\b{n}\b", code)}
        self.size_parameters[block] = list(plan.sizes)
        kept = [f"{indent}self.{n} = {n}" for n in [*plan.sizes.values(), *plan.names.values()]
                if re.search(rf"\bself\.{n}\b", running_code)]
        read = reads_per_call(block, plan.names, kept + init)
        if read is not None:
            self.diagnostics.append(warning("per-call-in-constructor", f"block {block.name}: its constructor "
                                            f"would read '{read}', which forward takes at each call; written as one "
                                            "class per argument set", location_of(block)))
            return None
        params, unpacking = self.forward_arguments(block, names, indent)
        params += per_call_signature(block, plan.names)
        return ClassCode(self.class_names[block], "", params, kept + init, unpacking + forward, plan.signature())

    def loop_code(self, plan, running, loop, names, order: list, indent: str) -> tuple[list[str], list[str]] | None:
        """(init lines, forward lines) of a loop: its modules in ``nn.ModuleList``s filled by a ``for`` in
        ``__init__``, its statements in a ``for`` of ``forward`` carrying the result's variable; None when some
        iteration of some call renders otherwise (a size the code derives from shapes that vary)."""
        index = plan.indexes[loop.index]
        inner = indent + INDENT
        carried = names.of(loop.result)
        lists: list[str] = []
        loop_init: list[str] = []
        loop_forward: list[str] = []
        for node in members(loop, order):
            if is_kind(node, "Select"):
                continue
            texts = set()
            for call, run in zip(plan.calls, running.calls):
                for number in range(call.iterations(loop)):
                    node_init, _ = self.iteration_code(call, node, loop, number, names, inner, plan.sources)
                    _, lines = self.iteration_code(run, node, loop, number, names, inner, running.sources)
                    if node_init is None or lines is None:
                        return None
                    declared = [line.strip().split(" = ")[0] for line in node_init if line.endswith("nn.ModuleList()")]
                    lists += [d for d in declared if d not in lists]
                    node_init = [line for line in node_init if not line.endswith("nn.ModuleList()")]
                    module, symbolic = f"self.{py_name(node.name)}[{number}]", f"self.{py_name(node.name)}[{index}]"
                    texts.add((tuple(line.replace(module, symbolic) for line in node_init),
                               tuple(line.replace(module, symbolic) for line in lines)))
            if len(texts) != 1:
                return None
            ((node_init, lines),) = texts
            loop_init += node_init
            loop_forward += lines
        init = [f"{indent}{listed} = nn.ModuleList()" for listed in lists]
        if loop_init:
            init += [f"{indent}for {index} in range({plan.count(loop)}):", *loop_init]
        forward = [] if carried == names.of(loop.initial) else [f"{indent}{carried} = {names.of(loop.initial)}"]
        forward += [f"{indent}for {index} in range({plan.count(loop, 'self.')}):", *loop_forward]
        return init, forward

    def iteration_code(self, call, node, loop, number: int, names, indent: str, sources: dict) -> tuple:
        """(init lines, forward lines) of iteration ``number`` of a loop's ``node`` from ``call``'s template,
        reading the carried variable where it reads the loop's initial value; (None, None) when the call's
        shapes do not reach it."""
        template = call.node(f"{node.name}.{number}")
        if template not in call.shapes:
            return None, None
        carried = names.of(loop.result)
        site = Site(template, [call.shapes.operand(dep) for dep in template.inputs], call.shapes[template],
                    [carried if dep is loop.initial else names.of(dep) for dep in node.inputs], names.outputs(node))
        init: list[str] = []
        if is_kind(node, "BlockCall"):
            return init, self.call_code(site, template, init, indent, sources)
        return init, self.node_code(site, init, indent)

    def template_code(self, call, node, names, indent: str, sources: dict) -> tuple[list[str], list[str]]:
        """(init lines, forward lines) of ``node`` rendered from ``call``'s template."""
        template = call.node(node.name)
        site = Site(template, [call.shapes.operand(dep) for dep in template.inputs], call.shapes[template],
                    [names.of(dep) for dep in node.inputs], names.outputs(node))
        init: list[str] = []
        if is_kind(node, "BlockCall"):
            return init, self.call_code(site, node, init, indent, sources)
        return init, self.node_code(site, init, indent)

    def specialised_classes(self, block) -> list[ClassCode]:
        """The block written once per distinct argument set, as a block without parameters."""
        taken = {name.casefold() for name in self.class_names.values()}
        by_values: dict = {}
        classes = []
        for call, spec in self.table.calls.items():
            if call.block is not block:
                continue
            key = tuple((p.name, repr(v)) for p, v in self.table.arguments[call].items())
            if key not in by_values:
                name = self.class_names[block] if not by_values else f"{self.class_names[block]}{len(by_values) + 1}"
                while name.casefold() in taken - {self.class_names[block].casefold()} and by_values:
                    name += "_"
                taken.add(name.casefold())
                by_values[key] = name
                self.class_names[spec] = name
                classes.append(self.graph_class(spec))
            self.call_classes[call] = by_values[key]
        return classes

    def node_code(self, site: Site, init: list[str], indent: str) -> list[str]:
        mapping = mapping_of(site.node)
        reason = mapping.unsupported(site) if mapping.unsupported else None
        if reason:
            self.diagnostics.append(error("unsupported-in-pytorch", f"'{site.node.name}': PyTorch cannot express"
                                          f" {reason}", location_of(site.node)))
            return []
        if mapping.declaration and site.node.weightsOf is None:
            if iteration_of(site.node) is not None:
                self.diagnostics.append(error("unsupported-in-pytorch", f"'{site.node.name}': a loop's node cannot "
                                              "be a bare parameter (no nn.ModuleList holds it)",
                                              location_of(site.node)))
                return []
            init.append(f"{indent}{site.module} = {mapping.declaration(site)}")
        elif mapping.module_class(site) and site.node.weightsOf is None:  # a sharing node reuses its owner's
            written = [s for a in mapping.args if (s := a.source(site)) is not None]
            _declare(site, init, f"{mapping.module_class(site)}(", written, indent)
            init.extend(indent + line for line in (mapping.after_init(site) if mapping.after_init else ()))
        if mapping.statements:
            return [indent + line for line in mapping.statements(site)]
        targets = _tuple_results(site) if mapping.results == "tuple" else site.outputs[0]
        return [f"{indent}{targets} = {mapping.expression(site)}"]


def _declare(site: Site, init: list[str], head: str, args: list[str], indent: str) -> None:
    """``self.conv = nn.Conv2d(...)``; a loop's node declares its module for one iteration, appended to the
    ``nn.ModuleList`` the loop fills (``self.conv = nn.ModuleList()`` written at iteration 0)."""
    iteration = iteration_of(site.node)
    if iteration is None:
        init.append(wrap_call(f"{site.module} = {head}", args, indent))
        return
    listed = site.module[:site.module.rindex("[")]
    if iteration[1] == 0:
        init.append(f"{indent}{listed} = nn.ModuleList()")
    init.append(wrap_append(listed, head, args, indent))


def _callees_first(blocks) -> list:
    """``blocks`` ordered so that a block comes after the blocks it calls."""
    ordered: list = []

    def visit(block):
        if block in ordered:
            return
        for node in block.nodes:
            if is_kind(node, "BlockCall") and node.block is not block:
                visit(node.block)
        ordered.append(block)

    for block in blocks:
        visit(block)
    return ordered


def generate_code(model, source_name: str = "<model>", shapes: ShapeTable | None = None
                  ) -> tuple[str | None, list[Diagnostic]]:
    """PyTorch source for ``model`` and what was found on the way (None when there are errors).

    ``shapes``: the table validation already computed (``validators.check``), so it is not inferred again.
    """
    generation = _Generation(model, shapes)
    with collector_paused():
        text = generation.run(source_name)
    return text, generation.diagnostics


def generate(model, source_name: str = "<model>", shapes: ShapeTable | None = None) -> str:
    """PyTorch source for ``model``; raises NNPivotError with the diagnostics when it cannot."""
    text, diagnostics = generate_code(model, source_name, shapes)
    if text is None:
        raise NNPivotError(diagnostics)
    return text


def generate_file(model, path, source_name: str = "<model>", force: bool = False) -> list[Diagnostic]:
    """Generate into ``path`` atomically; an existing file needs ``force`` (else ``output-exists``)."""
    fileio.refuse_existing(path, force)
    text, diagnostics = generate_code(model, source_name)
    if text is None:
        raise NNPivotError(diagnostics)
    codegen.write_atomic(path, text, force=force)
    return diagnostics


# --- training function -----------------------------------------------------------------------

def _ending(model) -> str:
    """How the training losses read the model's output (see nnpivot.kinds.training)."""
    outputs = list(model.outputs)
    kind = kind_of(outputs[0]) if len(outputs) == 1 else None
    return vocabulary.ending_of_keyword(kind.keyword if kind else None)


def _optimizer_options(optimizer, entry, diagnostics: list[Diagnostic]) -> list[str]:
    """The torch keywords of the pivot parameters (a torch tuple such as betas is written once, complete)."""
    options = ["lr=learning_rate"]
    values = {p.key: p.value for p in optimizer.parameters} if optimizer is not None else {}
    written: set[str] = set()
    for key, value in values.items():
        parameter = entry.parameter(key)
        if parameter is None:
            diagnostics.append(warning("unsupported-optimizer-parameter",
                                       f"optimizer {entry.name}: '{key}' has no PyTorch counterpart and is left out",
                                       location_of(optimizer)))
            continue
        if parameter.torch_index is None:
            options.append(f"{parameter.torch}={literal(parameter.torch_value(value))}")
        elif parameter.torch not in written:
            items = tuple(p.torch_value(values.get(p.name, p.torch_default)) for p in entry.torch_tuple(parameter.torch))
            options.append(f"{parameter.torch}={literal(items)}")
        written.add(parameter.torch)
    # the tuple keywords first, as people write them
    return [options[0], *sorted(options[1:], key=lambda o: o.split("=")[0] not in _TUPLE_KEYWORDS)]


_TUPLE_KEYWORDS = frozenset(p.torch for e in vocabulary.OPTIMIZERS.values() for p in e.parameters
                            if p.torch_index is not None)


_TRAIN_DOC = """Train with the source's configuration: {optimizer}, {loss} loss.

    ``dataset`` yields (inputs, target) pairs, e.g. a ``torch.utils.data.TensorDataset``.
    """


def _training(model, diagnostics: list[Diagnostic], table: ShapeTable) -> dict | None:
    config = model.training
    if config is None:
        return None
    where = location_of(config)
    optimizer = config.optimizer
    kind = optimizer.kind if optimizer is not None else vocabulary.DEFAULT_OPTIMIZER
    entry = vocabulary.OPTIMIZERS.get(kind)
    if entry is None:
        diagnostics.append(error("unknown-optimizer", f"no PyTorch optimizer for '{kind}'", where))
        return None
    options = _optimizer_options(optimizer, entry, diagnostics)
    loss = config.loss or vocabulary.DEFAULT_LOSS
    if loss not in vocabulary.LOSSES:
        diagnostics.append(error("unknown-loss", f"no PyTorch loss for '{loss}'", where))
        return None
    ending = _ending(model)
    writing = vocabulary.LOSSES[loss].torch(ending)
    if writing.code is None:
        diagnostics.append(error("unsupported-for-target", f"loss {loss}: {writing.problem}",
                                 location_of(config, "loss") or where))
        return None
    metrics = []
    outputs = list(model.outputs)
    shape = table.operand(outputs[0]) if outputs else None
    given, targets = vocabulary.LOSSES[loss].torch_operands(ending, len(shape) if shape is not None else 2)
    binary = len(outputs) == 1 and shape is not None and shape[-1] == 1
    for metric in config.metrics:
        metric_entry = vocabulary.METRICS.get(metric)
        increment = (vocabulary.torch_accuracy(loss, ending, binary, len(shape) if shape is not None else 2)
                     if metric == "accuracy" else
                     metric_entry.torch if metric_entry is not None else None)
        if increment is None:
            diagnostics.append(warning("unknown-metric", f"metric '{metric}' is left out of the PyTorch training"
                                       " function", location_of(config, "metrics") or where))
            continue
        metrics.append({"label": fstring_text(metric), "var": identifier(metric) + "_sum", "increment": increment})
    several = len(graph_inputs(model)) > 1
    scheduler, scheduler_step = _scheduler(config, diagnostics)
    parameters = ["model", "dataset", f"epochs={config.epochs}", f"batch_size={config.batchSize}",
                  f"learning_rate={literal(optimizer.learningRate if optimizer is not None else vocabulary.DEFAULT_LEARNING_RATE)}"]
    # settings written for Keras's update rule train with the subclass that updates so
    rule_class = vocabulary.rule_class(entry, vocabulary.rule_of(optimizer), "torch") if optimizer is not None else ""
    if rule_class and vocabulary.squares_gradient(entry) and vocabulary.gathers(model):
        options.append(f"{vocabulary.RULE_MODEL_KEYWORD}=model")  # its Embedding layers train as Keras's do
    return {
        "signature": wrap_call("def train(", parameters, "", "):"),
        "optimizer": wrap_call(f"optimizer = {rule_class or entry.torch_class}(", ["model.parameters()", *options],
                               INDENT),
        "rule_class": codegen.rule_class_code(TARGET, entry) if rule_class else None,
        # the function clipping a norm as Keras does, where the clipping calls it
        "clip_norm_code": vocabulary.KERAS_CLIP_NORM_CODE if any(
            vocabulary.KERAS_CLIP_NORM in line for line in _clipping(config)) else None,
        "loss_input": given.format("outputs"), "probabilities": writing.input != "{}",
        "loss": _loss_code(writing.code, config, loss, diagnostics), "targets": _targets(config, loss, targets),
        "scheduler": scheduler, "scheduler_step": scheduler_step, "clipping": _clipping(config),
        "mean": config.lossReduction.name == "mean",
        "doc": docstring(_TRAIN_DOC.format(optimizer=kind, loss=loss)),
        "metrics": metrics, "batch": "*inputs, targets" if several else "inputs, targets",
        "call": ("model(*inputs)" if several else "model(inputs)") + ("[0]" if len(outputs) > 1 else ""),
    }


def _targets(config, loss: str, targets: str) -> str:
    """The labels as the loss takes them (``targets``); binary label smoothing as Keras does it (PyTorch's BCE
    has none)."""
    if config.labelSmoothing and loss in vocabulary.TORCH_TARGET_SMOOTHING:
        smoothing = literal(config.labelSmoothing)
        return f"{targets} * (1 - {smoothing}) + 0.5 * {smoothing}"
    return targets


def _loss_code(code: str, config, loss: str, diagnostics: list[Diagnostic]) -> str:
    """The loss constructor with the configuration's reduction and label smoothing."""
    options = []
    if config.lossReduction.name != "mean":
        options.append(f"reduction={literal(config.lossReduction.name)}")
    if config.labelSmoothing and loss not in vocabulary.TORCH_TARGET_SMOOTHING:
        if loss in vocabulary.TORCH_LABEL_SMOOTHING:
            options.append(f"label_smoothing={literal(config.labelSmoothing)}")
        else:
            diagnostics.append(warning("unsupported-for-target", f"loss {loss}: PyTorch has no label smoothing for "
                                       f"it; label_smoothing={config.labelSmoothing:g} is left out",
                                       location_of(config, "labelSmoothing") or location_of(config)))
    if not options:
        return code
    head = code[:-1]
    return head + (", " if not head.endswith("(") else "") + ", ".join(options) + ")"


def _clipping(config) -> list[str]:
    """Gradient clipping between backward() and step(), in the vocabulary's order (kinds.training CLIPPINGS)."""
    rule = vocabulary.clipping_rule(config)
    return [line for clipping, limit in vocabulary.clippings_of(config) for line in clipping.torch_lines(limit, rule)]


def _scheduler(config, diagnostics: list[Diagnostic]) -> tuple[str | None, str | None]:
    """The scheduler's constructor and when it steps: "step" (each batch), "epoch" or "plateau" (each epoch, on
    the epoch's mean loss)."""
    schedule = config.schedule
    if schedule is None:
        return None, None
    name = schedule.eClass.name
    if name == "ReduceOnPlateau":
        if schedule.monitor != "loss":
            diagnostics.append(warning("approximate-translation", f"the learning-rate schedule watches "
                                       f"'{schedule.monitor}'; train() has no validation data and watches the "
                                       "training loss", location_of(schedule) or location_of(config)))
        interval = "plateau"
    else:
        interval = "step" if name in vocabulary.PER_STEP_ONLY else schedule.interval.name
    optimizer = config.optimizer
    callee, args = vocabulary.torch_scheduler(schedule, optimizer.learningRate if optimizer is not None
                                              else vocabulary.DEFAULT_LEARNING_RATE)
    return wrap_call(f"scheduler = {callee}(", ["optimizer", *args], INDENT), interval


# --- weights -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParameterSlot:
    """One parameter the model expects: its pivot key, its state_dict key and its shape."""
    pivot_key: str
    torch_key: str
    shape: tuple
    node: Any


def parameter_slots(model, table: ShapeTable | None = None) -> list[ParameterSlot]:
    """Every parameter of ``model`` with its shape, blocks expanded per call (pivot key order)."""
    if table is None:
        table, diagnostics = infer_shapes(model)
        if has_errors(diagnostics):
            raise NNPivotError(diagnostics)
    slots: list[ParameterSlot] = []

    def visit(graph, pivot_prefix: str, torch_prefix: str):
        for node in graph.nodes:
            if node.weightsOf is not None:
                continue  # computes with its owner's parameters: no keys of its own
            if is_kind(node, "BlockCall"):
                visit(called_block(node, table), f"{pivot_prefix}{node.name}.", f"{torch_prefix}{_torch_path(node)}.")
                continue
            kind = kind_of(node)
            if kind is None or node not in table:
                continue
            mapping = kind.mappings[TARGET]
            if mapping.parameters is None:
                continue
            site = Site(node, [table.operand(dep) for dep in node.inputs], table[node])
            for name, shape in mapping.parameters(site).items():
                attribute = f"{torch_prefix}{_torch_path(node)}"  # a bare nn.Parameter is its own key
                slots.append(ParameterSlot(f"{pivot_prefix}{node.name}.{name}",
                                           attribute if mapping.declaration else f"{attribute}.{name}",
                                           tuple(shape), node))

    visit(model, "", "")
    return slots


def _torch_path(node) -> str:
    """The state_dict path of a node's module: ``conv``, ``conv.2`` for iteration 2 of a loop's node."""
    iteration = iteration_of(node)
    return py_name(node.name) if iteration is None else f"{py_name(iteration[0].name)}.{iteration[1]}"


def _tracked_batch_norms(model, slots) -> list[str]:
    """state_dict keys of the ``num_batches_tracked`` buffers the generated modules hold."""
    return sorted({s.torch_key.rsplit(".", 1)[0] + ".num_batches_tracked" for s in slots
                   if s.torch_key.endswith(".running_mean")})


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def store_from_state_dict(model, state_dict, copy: bool = True) -> tuple:
    """Read a PyTorch ``state_dict`` of the generated model into a pivot WeightStore.

    Returns ``(store, diagnostics)``: ``weight-shape-mismatch`` and ``weight-missing``
    are errors, ``weight-unexpected`` a warning; ``num_batches_tracked`` is dropped.
    ``copy=False`` lets the store share the tensors' memory, for a state_dict
    nobody else holds (one just read from a file).
    """
    slots = {s.torch_key: s for s in parameter_slots(model)}
    store, diagnostics = WeightStore(), []
    for key, tensor in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        slot = slots.get(key)
        if slot is None:
            diagnostics.append(warning("weight-unexpected", f"the checkpoint has '{key}', which the model does not"
                                       " use"))
            continue
        array = tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor
        if tuple(array.shape) != slot.shape:
            diagnostics.append(error("weight-shape-mismatch", f"'{slot.pivot_key}' has shape {_shape_text(array.shape)}"
                                     f" in the checkpoint but the model expects {_shape_text(slot.shape)}",
                                     location_of(slot.node)))
            continue
        store[slot.pivot_key] = array.copy() if copy else array
    for key, slot in slots.items():
        if key not in state_dict:
            diagnostics.append(error("weight-missing", f"the checkpoint has no '{key}' ({slot.pivot_key},"
                                     f" shape {_shape_text(slot.shape)})", location_of(slot.node)))
    return store, diagnostics


def state_dict_from_store(model, store, copy: bool = True) -> dict:
    """The ``state_dict`` of the generated model from a pivot WeightStore (raises on missing or misshapen).

    ``copy=False`` lets the tensors share the store's arrays where torch can (a
    state_dict that is only written to a file).
    """
    import torch

    slots = parameter_slots(model)
    diagnostics, state = [], {}
    for slot in slots:
        array = store.get(slot.pivot_key)
        if array is None:
            diagnostics.append(error("weight-missing", f"the weight store has no '{slot.pivot_key}'",
                                     location_of(slot.node)))
        elif tuple(array.shape) != slot.shape:
            diagnostics.append(error("weight-shape-mismatch", f"'{slot.pivot_key}' has shape "
                                     f"{_shape_text(array.shape)} but the model expects {_shape_text(slot.shape)}",
                                     location_of(slot.node)))
        else:
            shareable = not copy and array.flags.writeable and array.flags.c_contiguous
            state[slot.torch_key] = torch.from_numpy(array if shareable else array.copy())
    if has_errors(diagnostics):
        raise NNPivotError(diagnostics)
    for key in _tracked_batch_norms(model, slots):
        state[key] = torch.tensor(0, dtype=torch.long)
    return state


_CHECKPOINT_WRAPPERS = ("state_dict", "model_state_dict", "model")


def read_checkpoint(path) -> dict:
    """A ``state_dict`` from a ``.pt`` file (``torch.load(weights_only=True)``), unwrapping
    ``{"state_dict": ...}``-style training checkpoints."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise NNPivotError([error("file-not-found", f"{path}: no such file", Location(str(path)))]) from None
    except Exception as exc:  # noqa: BLE001 - a pickle torch refuses, a truncated or foreign file
        raise NNPivotError([error("weights-unreadable", f"{path}: not a PyTorch state_dict ({exc})",
                                  Location(str(path)))]) from None
    for wrapper in _CHECKPOINT_WRAPPERS:
        if isinstance(data, dict) and isinstance(data.get(wrapper), dict):
            data = data[wrapper]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise NNPivotError([error("weights-unreadable", f"{path}: holds no mapping of names to tensors",
                                  Location(str(path)))])
    return dict(data)


def write_checkpoint(state_dict, path, force: bool = False) -> None:
    """Save a ``state_dict`` as a ``.pt`` file, atomically (``output-exists`` unless ``force``)."""
    import torch

    fileio.refuse_existing(path, force)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    fileio.write_atomic(path, lambda stream: torch.save(tensors, stream), force=force)  # streamed, not buffered


def read_weights(model, path) -> tuple:
    """A pivot WeightStore from a ``.pt`` checkpoint of ``model`` and the diagnostics."""
    return store_from_state_dict(model, read_checkpoint(path), copy=False)


def write_weights(model, store, path, force: bool = False) -> None:
    """Write a pivot WeightStore as the ``.pt`` state_dict of the generated PyTorch model."""
    write_checkpoint(state_dict_from_store(model, store, copy=False), path, force=force)


__all__ = [
    "ParameterSlot",
    "generate",
    "generate_code",
    "generate_file",
    "mapping_of",
    "parameter_slots",
    "read_checkpoint",
    "read_weights",
    "state_dict_from_store",
    "store_from_state_dict",
    "write_checkpoint",
    "write_weights",
]
