"""Named passes over the pivot: each is exact on any model, and a pass that breaks a graph is named."""
from __future__ import annotations

from nnpivot.generators.nn_text import to_text
from nnpivot.importers.nn_text import parse_text
from nnpivot.passes import FOLD_LAST_STEPS, FOLD_RECURRENT_STACKS, Pass, run_pass
from nnpivot.validators import validate


def model(body: str):
    return parse_text(f"model M {{\n    input x: float32[7, 12]\n{body}}}\n", "m.nn")


def test_alike_recurrent_layers_fold_into_one_stacked_node():
    m = model("    a = lstm(x, 8)\n    d = dropout(a, 0.25)\n    b = lstm(d, 8, return_sequences=false)\n"
              "    output b\n")
    changes, problems = run_pass(FOLD_RECURRENT_STACKS, m)
    assert problems == []
    (stack,) = changes[m]
    assert [n.name for n in stack.layers] == ["a", "b"] and stack.rate == 0.25
    assert "a = lstm(x, 8, num_layers=2, dropout=0.25, return_sequences=false)" in to_text(m)
    assert validate(m) == []


def test_layers_that_differ_stay_apart():
    m = model("    a = lstm(x, 8)\n    b = lstm(a, 6, return_sequences=false)\n    output b\n")
    changes, problems = run_pass(FOLD_RECURRENT_STACKS, m)
    assert problems == [] and changes[m] == [] and len(m.nodes) == 3


def test_the_last_step_of_a_sequence_is_return_sequences_false():
    m = model("    a = gru(x, 8)\n    last = index(a, axis=1, index=-1)\n    output last\n")
    changes, problems = run_pass(FOLD_LAST_STEPS, m)
    assert problems == [] and set(changes[m]) == {"a"}
    assert [n.name for n in m.nodes] == ["x", "a"] and m.outputs[0].name == "a"
    assert "a = gru(x, 8, return_sequences=false)" in to_text(m)


def test_a_pass_that_breaks_the_graph_is_named():
    def drop_first_layer(graph):
        graph.nodes.remove(graph.nodes[1])   # still read by the output
        return ["dropped"]

    m = model("    a = relu(x)\n    output a\n")
    broken = Pass("drop-first-layer", requires="anything", ensures="a wired graph", rewrite=drop_first_layer)
    _, problems = run_pass(broken, m)
    assert [d.code for d in problems] == ["pass-failed"]
    assert "pass drop-first-layer broke graph 'M'" in problems[0].message and "'a'" in problems[0].message
    assert str(problems[0]).startswith("m.nn:1:"), "located at the model it broke"


def test_a_pass_refuses_a_graph_it_cannot_take():
    m = model("    a = relu(x)\n    b = relu(a)\n    output b\n")
    m.nodes[1].inputs[0] = m.nodes[2]   # a reads b, b reads a
    _, problems = run_pass(FOLD_LAST_STEPS, m)
    assert [d.code for d in problems] == ["pass-failed"]
    assert problems[0].message.startswith("pass fold-last-steps requires a wired, acyclic graph")
