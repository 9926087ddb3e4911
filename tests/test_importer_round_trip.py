"""Every registry example, both frameworks: generate the code, read it back with the source importer, same pivot.

For each example of each kind (one-node models, as in test_registry.py) the
PyTorch and the Keras generator write a module; the static importer of that
framework reads the module back (never running it) and the pivot it builds must
equal the original, compared generically over the metamodel (nnpivot.compare):
the same kind, not a look-alike (a softplus with beta is a softplus, not a
composition of ops), the same attribute values, the same nodes, inputs and
outputs, and no diagnostic.

One thing the comparison accepts, because it is how the pivot is defined:
a declared input size (``in_channels``, ``num_features``, ``input_size``...) of
0 means "inferred from the input shape". PyTorch code states those sizes, so
for PyTorch the original is compared with its inferred sizes written in, and
must still validate (a size that disagrees with the shapes is an error there).

Where two pivot spellings compute the same function, every importer keeps one
(the canonical-forms pass, nnpivot/passes.py), the `.nn` reader of the example
included: a mean over exactly the spatial axes is a global pooling, a global
pooling keeping its axes is the adaptive pooling to one cell, a transposed
'same' convolution that crops nothing is the 'valid' one; and a join of a
tensor with its repeated edge cells or its opposite end's cells is a replicate
or circular pad (fold-edge-pads: TensorFlow's pad has neither mode).

Static: the generators and importers need neither torch nor TensorFlow.

``KNOWN_DIFFERENCES`` lists the examples whose generated code cannot yet state
the pivot they came from, each with why and the exact first difference, so a
change in any of them fails here too. TensorFlow 'same' padding at a stride above 1 is
written in PyTorch as a call of the generated ``same_padded`` helper (pads from the
run-time size), which the PyTorch importer reads back as 'same'.
"""
from __future__ import annotations

import pytest
from counts import KIND_COUNT
from test_registry import example_model

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.graph import graph_inputs
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.kinds import KINDS, camel, kind_of
from nnpivot.kinds.torch_mapping import Site
from nnpivot.shapes import infer_shapes
from nnpivot.validators import validate

FRAMEWORKS = ("pytorch", "keras")
EXAMPLES = [(kind.keyword, i, example) for kind in KINDS.values() for i, example in enumerate(kind.examples)]
CASES = [(framework, keyword, i, example) for framework in FRAMEWORKS for keyword, i, example in EXAMPLES]
IDS = [f"{framework}:{keyword}-{i}" for framework, keyword, i, _ in CASES]


def test_every_example_of_every_kind_is_under_test():
    assert len(KINDS) == KIND_COUNT
    assert {keyword for _, keyword, _, _ in CASES} == set(KINDS)
    assert len(CASES) == len(FRAMEWORKS) * sum(len(kind.examples) for kind in KINDS.values())


def with_declared_sizes(model):
    """The model as PyTorch code states it: every inferred input size (0 in the pivot) written in."""
    table, problems = infer_shapes(model)
    assert problems == []
    for node in model.nodes:
        kind = kind_of(node)
        if kind is None:
            continue
        site = Site(node, [table.operand(dep) for dep in node.inputs], table[node])
        for arg in kind.mappings["pytorch"].args:
            attribute = node.eClass.findEStructuralFeature(camel(arg.name))
            if arg.pivot is None and arg.derive is not None and attribute is not None and not attribute.many \
                    and attribute.eType.name in ("EInt", "EIntegerObject") and not node.eGet(attribute):
                size = arg.derive(site)
                if size is not None:
                    node.eSet(attribute, size)
    return model


def read_back_pytorch(model, folder):
    path = folder / "example.py"
    path.write_text(pytorch_generator.generate(model, "example.nn"), encoding="utf-8")
    shapes = [list(node.shape) for node in graph_inputs(model)]
    return import_pytorch(path, class_name(model.name), None, shapes)


def read_back_keras(model, folder):
    path = folder / "example.py"
    path.write_text(keras_generator.generate(model, "example.nn"), encoding="utf-8")
    perms, _ = keras_generator.keras_layouts(model)
    # the Keras module takes each input in its own layout (channels-last images): give the shapes so
    shapes = [[((None, *node.shape)[axis]) for axis in perm][1:] for node, perm in zip(graph_inputs(model), perms)]
    return import_keras(path, class_name(model.name), shapes)


READ_BACK = {"pytorch": read_back_pytorch, "keras": read_back_keras}

KNOWN_DIFFERENCES = {
    **{f"keras:unflatten-{i}": (("Keras has no unflatten: ops.reshape to the sizes reads back as a reshape (a "
                                 "split of the batch axis only where the per-sample size changes, see "
                                 "test_import_keras.py)"), "node result: Unflatten != Reshape") for i in (0, 1, 2)},
    **{f"keras:{keyword}-{i}": (("Keras's SimpleRNN and LSTM have one bias, the pivot's (PyTorch's) two trained "
                                 "ones: Keras code without a training function says nothing of them and reads back "
                                 "as a layer that trains one bias (one_bias); a training function steps that bias "
                                 "twice and reads back as two (test_training_rules.py); at inference both compute "
                                 "the same"),
                                "node result: oneBias false != true")
       for keyword, count in (("simple_rnn", 3), ("lstm", 3)) for i in range(count)},
}


@pytest.mark.parametrize(("framework", "keyword", "index", "example"), CASES, ids=IDS)
def test_generated_code_reads_back_as_the_same_pivot(framework, keyword, index, example, tmp_path):
    source = example_model(example)
    expected = parse_text(source, f"{keyword}.nn")
    if framework == "pytorch":
        expected = with_declared_sizes(expected)
        assert [str(d) for d in validate(expected)] == []
    try:
        again, report = READ_BACK[framework](parse_text(source, f"{keyword}.nn"), tmp_path)
        # a diagnostic is a difference too: the code must read back without any
        found = [f"{d.code}: {d.message}" for d in report.diagnostics] or differences(expected, again)
    except NNPivotError as refused:
        found = [f"{d.code}: {d.message}" for d in refused.diagnostics]
    case = f"{framework}:{keyword}-{index}"
    if case in KNOWN_DIFFERENCES:
        why, first = KNOWN_DIFFERENCES[case]
        assert found[:1] == [first], why
    else:
        assert found == []


def test_known_differences_are_examples():
    assert set(KNOWN_DIFFERENCES) <= set(IDS)
