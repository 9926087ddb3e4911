"""nnpivot.compare: equal models have no differences, and each kind of difference is found and named."""
from __future__ import annotations

import pytest
from pivot_models import PROGRAMMATIC_MODELS, lenet, small_resnet, text_classifier

from nnpivot.compare import differences, models_equal
from nnpivot.graph import new_node
from nnpivot.metamodel import Block, Parameter, eenum


def node(model, name, graph=None):
    return next(n for n in (graph or model).nodes if n.name == name)


@pytest.mark.parametrize("name", PROGRAMMATIC_MODELS)
def test_two_builds_of_a_model_are_equal(name):
    a, b = PROGRAMMATIC_MODELS[name](), PROGRAMMATIC_MODELS[name]()
    assert differences(a, b) == []
    assert models_equal(a, b)


def test_model_name_and_description():
    a, b = lenet(), lenet()
    b.name, b.description = "LeNet", None
    assert differences(a, b) == [
        "model: name 'LeNet5' != 'LeNet'",
        "model: description 'LeNet-5 (LeCun et al. 1998), tanh variant' != none",
    ]
    assert not models_equal(a, b)


def test_attribute_value_list_and_enum():
    a, b = lenet(), lenet()
    node(b, "c1").kernelSize[:] = [3, 3]
    node(b, "c3").padding = eenum("Padding").getEEnumLiteral("same")
    node(b, "c3").bias = True
    assert differences(a, b) == [
        "node c1: kernelSize [5, 5] != [3, 3]",
        "node c3: padding explicit != same",
        "node c3: bias false != true",
    ]


def test_a_list_with_a_repeated_value_differs_from_a_shorter_one():
    a, b = lenet(), lenet()
    node(b, "c1").kernelSize[:] = [5]
    assert differences(a, b) == ["node c1: kernelSize [5, 5] != [5]"]


def test_unsettable_attribute_set_to_default_differs_from_unset():
    a, b = text_classifier(), text_classifier()
    node(b, "emb").paddingIdx = 1
    assert differences(a, b) == ["node emb: paddingIdx 0 != 1"]
    fresh = text_classifier()
    unset = new_node("Embedding", "emb", [node(fresh, "tokens")], num_embeddings=10000, embedding_dim=326)
    original = node(fresh, "emb")
    position = fresh.nodes.index(original)
    fresh.nodes.remove(original)
    fresh.nodes.insert(position, unset)
    node(fresh, "bi").inputs[:] = [unset]
    assert differences(a, fresh) == ["node emb: paddingIdx 0 != unset"]


def test_node_class():
    a, b = lenet(), lenet()
    relu = new_node("ReLU", "t1", [node(b, "c1")])
    position = b.nodes.index(node(b, "t1"))
    node(b, "s2").inputs[:] = [relu]
    b.nodes[position] = relu
    assert differences(a, b) == ["node t1: Tanh != ReLU"]


def test_inputs_by_name_and_repetition():
    a, b = small_resnet(), small_resnet()
    both = node(b, "both")
    both.inputs[:] = [node(b, "r2"), node(b, "r1")]
    assert differences(a, b) == ["node both: inputs ['r2', 'r2'] != ['r2', 'r1']"]


def test_input_from_another_graph_is_a_difference():
    a, b = small_resnet(), small_resnet()
    block = b.blocks[0]
    node(b, "total", block).inputs[1] = node(b, "x")  # the model's x, not the block's
    assert differences(a, b) == [
        "block Residual, node total: inputs ['Residual.act', 'Residual.x'] != ['Residual.act', 'x']"]


def test_outputs():
    a, b = text_classifier(), text_classifier()
    b.outputs.pop()
    assert differences(a, b) == ["model: outputs ['probs', 'states'] != ['probs']"]


def test_missing_extra_and_reordered_nodes():
    a, b = lenet(), lenet()
    b.nodes.append(new_node("Identity", "extra", [node(b, "out")]))
    f = node(b, "f")
    b.nodes.remove(f)
    node(b, "d1").inputs[:] = [node(b, "c3")]
    assert differences(a, b) == [
        "model: nodes differ (only in the first: f; only in the second: extra)",
        "node d1: inputs ['f'] != ['c3']",
    ]
    c = lenet()
    c1 = node(c, "c1")
    c.nodes.remove(c1)
    c.nodes.insert(0, c1)
    assert differences(a, c) == [
        ("model: nodes differ (order ['x', 'c1', 't1', 's2', 'c3', 'f', 'd1', 'd2', 'out'] != "
         "['c1', 'x', 't1', 's2', 'c3', 'f', 'd1', 'd2', 'out'])")]


def test_block_reference_by_name_and_block_contents():
    a, b = small_resnet(), small_resnet()
    other = Block(name="Other")
    other.nodes.append(new_node("Input", "x"))
    other.outputs.append(other.nodes[0])
    b.blocks.append(other)
    node(b, "r2").block = other
    node(b, "conv", b.blocks[0]).stride.extend([2, 2])
    assert differences(a, b) == [
        "node r2: block 'Residual' != 'Other'",
        "model: blocks differ (only in the second: Other)",
        "block Residual, node conv: stride [] != [2, 2]",
    ]


def test_training_configuration():
    a, b = lenet(), lenet()
    optimizer = b.training.optimizer
    optimizer.parameters[0].value = 0.95
    optimizer.parameters.append(Parameter(key="epsilon", value=1e-7))
    optimizer.learningRate = 0.01
    b.training.metrics.pop()
    b.training.epochs = 3
    assert differences(a, b) == [  # metamodel order: the optimizer comes first in TrainingConfig
        "training, optimizer: learningRate 0.001 != 0.01",
        "training, optimizer: parameters differ (only in the second: epsilon)",
        "training, optimizer, parameter beta_1: value 0.9 != 0.95",
        "training: epochs 10 != 3",
        "training: metrics ['accuracy', 'top 5 accuracy'] != ['accuracy']",
    ]
    c = lenet()
    c.training = None
    assert differences(a, c) == ["model: training present != missing"]


def test_inferred_shape_is_ignored():
    a, b = lenet(), lenet()
    node(b, "c1").inferredShape.extend([-1, 6, 32, 32])
    assert differences(a, b) == []
