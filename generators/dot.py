"""Generator from the pivot model to a Graphviz diagram (``.dot``).

One cluster for the model and one per block definition; a node shows its
name, its call as in the `.nn` language and its inferred output shape.
Block calls are drawn as components, graph outputs in green.
"""
from __future__ import annotations

from nnpivot.generators import codegen
from nnpivot.generators.nn_text import call_text
from nnpivot.kinds import kind_of
from nnpivot.metamodel import is_kind
from nnpivot.shapes import ShapeTable, fmt, infer_shapes

COLORS = {"input": "#d6eaf8", "output": "#d5f5e3", "layer": "#fdebd0", "activation": "#fcf3cf",
          "operation": "#eaeded", "block": "#e8daef", "select": "#ffffff"}


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _category(node) -> str:
    if is_kind(node, "Input"):
        return "input"
    if is_kind(node, "BlockCall"):
        return "block"
    if is_kind(node, "Select"):
        return "select"
    return kind_of(node).category


def _graph_view(graph, prefix: str, table) -> dict:
    outputs = set(graph.outputs)
    nodes, edges = [], []
    for node in graph.nodes:
        shape = table.of(node)
        lines = [node.name, call_text(node)]
        if shape is not None:
            lines.append(fmt(shape))
        category = _category(node)
        nodes.append({"id": f"{prefix}{node.name}", "label": "\n".join(lines),
                      "color": COLORS["output"] if node in outputs else COLORS[category],
                      "shape": "component" if category == "block" else ("ellipse" if category == "input" else "")})
        edges += [{"source": f"{prefix}{source.name}", "target": f"{prefix}{node.name}"} for source in node.inputs]
    return {"nodes": nodes, "edges": edges}


def to_dot(model, source_name: str | None = None, shapes: ShapeTable | None = None) -> str:
    """The Graphviz text of a pivot model (shapes where they can be inferred, or the validated ``shapes``)."""
    table = shapes if shapes is not None else infer_shapes(model)[0]
    graphs = [{"id": model.name, "label": f"model {model.name}", **_graph_view(model, "", table)}]
    for block in model.blocks:
        graphs.append({"id": block.name, "label": f"block {block.name}",
                       **_graph_view(block, f"{block.name}.", table)})
    env = codegen.environment("dot")
    env.filters["quote"] = _quote
    header = codegen.header(source_name or model.name, comment="//")
    return env.get_template("model.dot.j2").render(header=header, model=model, graphs=graphs)
