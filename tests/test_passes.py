"""Named passes over the pivot: each is exact on any model, and a pass that breaks a graph is named."""
from __future__ import annotations

import pytest

from nnpivot.diagnostics import NNPivotError
from nnpivot.generators.nn_text import to_text
from nnpivot.graph import new_node
from nnpivot.importers import nn_text
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.metamodel import Model
from nnpivot.passes import (
    CANCEL_PERMUTES,
    CANONICAL_FORMS,
    FOLD_EDGE_PADS,
    FOLD_LAST_STEPS,
    FOLD_RECURRENT_STACKS,
    FOLD_STRIDED_SLICES,
    FOLD_TRANSPOSED_CROPS,
    Pass,
    run_pass,
)
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


def test_the_dsl_reader_names_a_canonicalisation_pass_that_breaks_the_model(monkeypatch):
    def drop_first_layer(graph):
        graph.nodes.remove(graph.nodes[1])
        return ["dropped"]

    broken = Pass("drop-first-layer", requires="anything", ensures="a wired graph", rewrite=drop_first_layer)
    monkeypatch.setattr(nn_text, "CANONICALISATION", (broken,))
    with pytest.raises(NNPivotError) as caught:
        model("    a = relu(x)\n    output a\n")
    assert [d.code for d in caught.value.diagnostics] == ["pass-failed"]
    assert "pass drop-first-layer broke graph 'M'" in caught.value.diagnostics[0].message


def test_a_cycle_in_dsl_text_is_the_validators_to_report_not_a_pass_failure():
    m = model("    a = relu(b)\n    b = relu(a)\n    output b\n")
    codes = {d.code for d in validate(m)}
    assert "cycle" in codes and "pass-failed" not in codes


# --- canonical forms: one spelling per meaning ---------------------------------------------------------------

def built(input_shape: list[int], *nodes_of):
    """A model built in Python (the `.nn` reader would already canonicalise): x -> the nodes made in turn."""
    m = Model(name="M")
    last = new_node("Input", "x", shape=input_shape)
    m.nodes.append(last)
    for make in nodes_of:
        last = make(last)
        m.nodes.append(last)
    m.outputs.append(last)
    return m


def test_a_reduction_over_exactly_the_spatial_axes_is_a_global_pooling():
    m = built([3, 16, 16], lambda x: new_node("ReduceMean", "m", [x], axes=[-1, 2]),
              lambda m: new_node("Dense", "d", [m], units=4))
    changes, problems = run_pass(CANONICAL_FORMS, m)
    assert problems == []
    (change,) = changes[m]
    assert change.before.eClass.name == "ReduceMean" and change.after.eClass.name == "GlobalAvgPool"
    assert [n.name for n in m.nodes] == ["x", "m", "d"] and m.nodes[2].inputs[0] is m.nodes[1]
    assert "m = global_avg_pool(x)" in to_text(m) and validate(m) == []


def test_reductions_that_are_not_a_global_pooling_stay():
    over_channels = built([3, 16, 16], lambda x: new_node("ReduceMax", "m", [x], axes=[1, 2, 3]))
    sequence_steps = built([7, 12], lambda x: new_node("ReduceMean", "m", [x], axes=[1]))
    total = built([3, 16, 16], lambda x: new_node("ReduceSum", "m", [x], axes=[2, 3]))
    for m in (over_channels, sequence_steps, total):
        changes, problems = run_pass(CANONICAL_FORMS, m)
        assert problems == [] and changes[m] == [] and m.nodes[1].eClass.name.startswith("Reduce")


def test_pooling_that_keeps_its_axes_is_the_adaptive_pooling_to_one_cell():
    kept = built([4, 6, 6, 6], lambda x: new_node("ReduceMax", "m", [x], axes=[2, 3, 4], keepdims=True))
    changes, _ = run_pass(CANONICAL_FORMS, kept)
    assert [c.before.eClass.name for c in changes[kept]] == ["ReduceMax"]
    assert "m = adaptive_max_pool3d(x, 1)" in to_text(kept)
    global_kept = built([3, 20], lambda x: new_node("GlobalAvgPool", "g", [x], keepdims=True))
    run_pass(CANONICAL_FORMS, global_kept)
    assert "g = adaptive_avg_pool1d(x, 1)" in to_text(global_kept) and validate(global_kept) == []
    dropped = built([3, 20], lambda x: new_node("GlobalAvgPool", "g", [x]))
    assert run_pass(CANONICAL_FORMS, dropped)[0][dropped] == []


def test_a_transposed_same_convolution_that_crops_nothing_is_valid():
    crops_nothing = built([3, 8, 8], lambda x: new_node("ConvTranspose2d", "t", [x], filters=4, kernel_size=[2, 2],
                                                        stride=[2], padding="same"))
    dilated = built([3, 8], lambda x: new_node("ConvTranspose1d", "t", [x], filters=4, kernel_size=[2], stride=[3],
                                               dilation=[2], padding="same"))
    crops = built([3, 8, 8], lambda x: new_node("ConvTranspose2d", "t", [x], filters=4, kernel_size=[3], stride=[2],
                                                padding="same"))
    for m, padding in ((crops_nothing, "valid"), (dilated, "valid"), (crops, "same")):
        run_pass(CANONICAL_FORMS, m)
        assert str(m.nodes[1].padding) == padding


def test_blocks_are_canonical_too_and_every_source_reader_runs_the_pass(tmp_path):
    text = ("model M {\n    input x: float32[3, 8, 8]\n    c = conv2d(x, 4, kernel_size=3)\n    y = Head(c)\n"
            "    z = max(c, [2, 3], keepdims=true)\n    output y, z\n\n"
            "    block Head {\n        input h\n        p = mean(h, [2, 3])\n        output p\n    }\n}\n")
    m = parse_text(text, "m.nn")
    assert "p = global_avg_pool(h)" in to_text(m) and "z = adaptive_max_pool2d(c, 1)" in to_text(m)
    source = tmp_path / "net.py"
    source.write_text("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
                      "    def __init__(self):\n        super().__init__()\n        self.conv = nn.Conv2d(3, 4, 3)\n\n"
                      "    def forward(self, x):\n        x = self.conv(x)\n        return x.mean(dim=(-2, -1)), "
                      "torch.amax(x, dim=(2, 3), keepdim=True)\n", encoding="utf-8")
    imported, report = import_pytorch(source, "Net", None, [[3, 8, 8]])
    assert [n.eClass.name for n in imported.nodes[2:]] == ["GlobalAvgPool", "AdaptiveMaxPool2d"]
    assert [(e.node, e.kind) for e in report.entries[1:]] == [("global_avg_pool", "global_avg_pool"),
                                                             ("adaptive_max_pool2d", "adaptive_max_pool2d")]
    source.write_text("import keras\nfrom keras import layers, ops\n\n\ndef build():\n"
                      "    x = keras.Input((8, 8, 3))\n    y = layers.Conv2D(4, 3)(x)\n"
                      "    y = ops.mean(y, axis=(1, 2))\n    return keras.Model(x, y)\n", encoding="utf-8")
    imported, _ = import_keras(source, "build")
    assert [n.eClass.name for n in imported.nodes[-1:]] == ["GlobalAvgPool"]


# --- edge pads written as joins ------------------------------------------------------------------------------

def sliced(x, name: str, start: int, end: int, axis: int):
    return new_node("Slice", name, [x], axes=[axis], starts=[start], ends=[end])


OPEN = 2 ** 31 - 1


def test_joins_of_edge_cells_are_replicate_and_circular_pads():
    m = built([3, 20])
    x = m.nodes[0]
    head, tail = sliced(x, "head", -1, OPEN, 2), sliced(x, "tail", 0, 2, 2)
    join = new_node("Concat", "padded", [head, x, tail], axis=-1)
    m.nodes.extend([head, tail, join])
    m.outputs[0] = join
    changes, problems = run_pass(FOLD_EDGE_PADS, m)
    assert problems == [] and changes[m] == {"padded": "circular"}
    assert "padded = pad(x, [1, 2], mode=circular)" in to_text(m) and validate(m) == []


def test_edge_cells_repeated_along_two_axes_fold_into_one_replicate_pad():
    m = built([3, 8, 8])
    x = m.nodes[0]
    first = sliced(x, "first", 0, 1, 2)
    tiled = new_node("Tile", "tiled", [first], repeats=[1, 2, 1])
    rows = new_node("Concat", "rows", [tiled, x], axis=2)
    last = sliced(rows, "last", -1, OPEN, 3)
    both = new_node("Concat", "both", [rows, last], axis=3)
    m.nodes.extend([first, tiled, rows, last, both])
    m.outputs[0] = both
    changes, problems = run_pass(FOLD_EDGE_PADS, m)
    assert problems == [] and changes[m] == {"rows": "replicate", "both": "replicate"}
    assert [n.name for n in m.nodes] == ["x", "both"]
    assert "both = pad(x, [2, 0, 0, 1], mode=replicate)" in to_text(m) and validate(m) == []


def test_joins_that_are_not_an_edge_pad_stay():
    short = built([3, 2])   # two cells: x[:, :, -3:] holds two, not the three a circular pad would
    x = short.nodes[0]
    wrap = sliced(x, "wrap", -3, OPEN, 2)
    short.nodes.extend([wrap, new_node("Concat", "j", [wrap, x], axis=2)])
    short.outputs[0] = short.nodes[-1]
    shared = built([3, 20])   # the slice is read elsewhere too
    x = shared.nodes[0]
    edge = sliced(x, "edge", 0, 1, 2)
    shared.nodes.extend([edge, new_node("Concat", "j", [edge, x], axis=2)])
    shared.outputs.extend([edge])
    mixed = built([3, 20])   # a head cell before and a head cell after: neither pad
    x = mixed.nodes[0]
    a, b = sliced(x, "a", 0, 1, 2), sliced(x, "b", 0, 1, 2)
    mixed.nodes.extend([a, b, new_node("Concat", "j", [a, x, b], axis=2)])
    mixed.outputs[0] = mixed.nodes[-1]
    for m in (short, shared, mixed):
        changes, problems = run_pass(FOLD_EDGE_PADS, m)
        assert problems == [] and changes[m] == {} and m.nodes[-1].eClass.name == "Concat"


def test_pytorch_code_joining_edge_cells_reads_as_a_pad(tmp_path):
    source = tmp_path / "net.py"
    source.write_text("import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
                      "    def forward(self, x):\n"
                      "        return torch.cat([x[:, :, -2:], x, x[:, :, :1]], dim=2)\n", encoding="utf-8")
    imported, report = import_pytorch(source, "Net", None, [[4, 10]])
    assert [n.eClass.name for n in imported.nodes] == ["Input", "Pad"]
    assert str(imported.nodes[1].mode) == "circular" and list(imported.nodes[1].pads) == [2, 1]
    assert [e.kind for e in report.entries] == ["pad"]


# --- layout permutes -----------------------------------------------------------------------------------------

def test_permutes_of_permutes_merge_and_permutes_that_move_nothing_go():
    m = built([3, 8, 8])
    x = m.nodes[0]
    there = new_node("Permute", "there", [x], dims=[0, 2, 3, 1])
    back = new_node("Permute", "back", [there], dims=[0, -1, 1, 2])
    swap = new_node("Permute", "swap", [back], dims=[0, 1, 3, 2])
    relu = new_node("ReLU", "relu", [swap])
    m.nodes.extend([there, back, swap, relu])
    m.outputs[0] = relu
    changes, problems = run_pass(CANCEL_PERMUTES, m)
    assert problems == [] and changes[m] == {"there": "merged", "back": "removed"}   # back undid there
    assert [n.name for n in m.nodes] == ["x", "swap", "relu"] and list(m.nodes[1].dims) == [0, 1, 3, 2]
    assert "swap = permute(x, [0, 1, 3, 2])" in to_text(m) and validate(m) == []
    undone = built([7, 12], lambda x: new_node("Permute", "t", [x], dims=[0, 2, 1]),
                   lambda t: new_node("Permute", "u", [t], dims=[0, 2, 1]),
                   lambda u: new_node("ReLU", "r", [u]))
    changes, _ = run_pass(CANCEL_PERMUTES, undone)
    assert [n.name for n in undone.nodes] == ["x", "r"] and undone.nodes[1].inputs[0] is undone.nodes[0]


def test_a_permute_read_twice_or_a_graph_output_stays():
    shared = built([7, 12], lambda x: new_node("Permute", "t", [x], dims=[0, 2, 1]),
                   lambda t: new_node("Permute", "u", [t], dims=[0, 2, 1]))
    shared.outputs.append(shared.nodes[1])   # t is read by u and is an output itself
    output = built([7, 12], lambda x: new_node("Permute", "same", [x], dims=[0, 1, 2]))
    for m in (shared, output):
        changes, problems = run_pass(CANCEL_PERMUTES, m)
        assert problems == [] and changes[m] == {} and all(n.eClass.name in ("Input", "Permute") for n in m.nodes)


# --- crops of a transposed convolution ------------------------------------------------------------------------

UPSAMPLER = '''import keras
from keras import layers


def build():
    image = keras.Input((8, 8, 3))
    up = layers.Conv2DTranspose(4, 3, strides=2)(image)
    up = layers.Cropping2D(((0, 1), (1, 1)))(up)
    border = layers.Cropping2D(2)(layers.Conv2D(4, 1)(image))
    return keras.Model(image, [up, border])
'''


def test_a_crop_right_after_a_transposed_convolution_is_its_padding_and_other_crops_are_slices(tmp_path):
    source = tmp_path / "net.py"
    source.write_text(UPSAMPLER, encoding="utf-8")
    m, report = import_keras(source, "build")
    assert report.ok
    up, border = m.outputs
    assert (up.eClass.name, str(up.padding), list(up.pads)) == ("ConvTranspose2d", "explicit", [0, 1, 1, 1])
    assert (border.eClass.name, list(border.axes), list(border.starts), list(border.ends)) == \
        ("Slice", [2, 3], [2, 2], [-2, -2])
    assert [n.eClass.name for n in m.nodes].count("Slice") == 1
    assert not any(e.kind == "slice" and e.node != border.name for e in report.entries)
    assert "crop" in report.folded[up.name]


def test_crops_that_are_not_a_padding_stay_slices():
    def transposed(x):
        return new_node("ConvTranspose2d", "t", [x], filters=4, kernel_size=[3], stride=[2])

    from_the_start = built([3, 8, 8], transposed, lambda t: sliced(t, "s", 0, 5, 2))   # keeps 5 cells: a size
    stepping = built([3, 8, 8], transposed, lambda t: new_node("Slice", "s", [t], axes=[2], starts=[1], ends=[-1],
                                                                 steps=[2]))
    channels = built([3, 8, 8], transposed, lambda t: sliced(t, "s", 1, -1, 1))
    for m in (from_the_start, stepping, channels):
        changes, problems = run_pass(FOLD_TRANSPOSED_CROPS, m)
        assert problems == [] and changes[m] == {} and m.nodes[-1].eClass.name == "Slice"


@pytest.mark.torch
def test_the_folded_padding_computes_the_crop(tmp_path):
    """PyTorch's padding of a transposed convolution crops its output, output padding included: the crop and
    the padding give the same tensor at two input sizes."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    weight, bias = torch.randn(3, 4, 3, 3), torch.randn(4)
    for size in (5, 8):
        x = torch.randn(2, 3, size, size)
        cropped = F.conv_transpose2d(x, weight, bias, stride=2, output_padding=1)[:, :, 1:-1, 1:-1]
        padded = F.conv_transpose2d(x, weight, bias, stride=2, padding=1, output_padding=1)
        assert torch.allclose(cropped, padded, atol=1e-6)


# --- strided slices of a convolution --------------------------------------------------------------------------

def test_every_second_cell_of_a_stride_one_convolution_is_its_stride_two():
    def conv(x, padding="explicit"):
        return new_node("Conv1d", "c", [x], filters=4, kernel_size=[3], dilation=[2], padding=padding, pads=[2, 2])

    strided = built([3, 20], conv, lambda c: new_node("Slice", "s", [c], axes=[-1], starts=[0], ends=[OPEN],
                                                        steps=[2]))
    changes, problems = run_pass(FOLD_STRIDED_SLICES, strided)
    assert problems == [] and changes[strided] == {"c": "s"}
    assert "c = conv1d(x, 4, kernel_size=3, stride=2, padding=2, dilation=2)" in to_text(strided)
    offset = built([3, 20], conv, lambda c: new_node("Slice", "s", [c], axes=[2], starts=[1], ends=[OPEN],
                                                       steps=[2]))
    same = built([3, 20], lambda x: conv(x, "same"),
                 lambda c: new_node("Slice", "s", [c], axes=[2], starts=[0], ends=[OPEN], steps=[2]))
    for m in (offset, same):
        changes, problems = run_pass(FOLD_STRIDED_SLICES, m)
        assert problems == [] and changes[m] == {} and m.nodes[-1].eClass.name == "Slice"
