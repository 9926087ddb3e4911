"""Pivot models built in Python, for tests that must not depend on the DSL parser.

They cover what a file format has to carry: lists with repeated values
(kernel_size [3, 3]), unsettable attributes set to their default
(padding_idx=0, scalar=0.0), strings with spaces, enum literals, a node used
twice as the same input, Select of a multi-output node, blocks called twice,
an input from a block, several inputs and outputs, a training config, and a
parameterised block whose padding is an expression over its parameters.
"""
from __future__ import annotations

from nnpivot.graph import new_node
from nnpivot.metamodel import Block, Model, Optimizer, Parameter, TrainingConfig, eclass, eenum


def _graph(graph, *nodes):
    graph.nodes.extend(nodes)
    return nodes[-1]


def lenet() -> Model:
    model = Model(name="LeNet5", description="LeNet-5 (LeCun et al. 1998), tanh variant")
    x = new_node("Input", "x", shape=[1, 32, 32])
    c1 = new_node("Conv2d", "c1", [x], filters=6, kernel_size=[5, 5], padding="same")
    t1 = new_node("Tanh", "t1", [c1])
    s2 = new_node("AvgPool2d", "s2", [t1], kernel_size=[2, 2], stride=[2, 2], count_include_pad=False)
    c3 = new_node("Conv2d", "c3", [s2], filters=16, kernel_size=[5, 5], padding="explicit", pads=[1, 0, 2, 1],
                  bias=False)
    f = new_node("Flatten", "f", [c3])
    d1 = new_node("Dense", "d1", [f], units=120)
    d2 = new_node("Dense", "d2", [d1], units=10)
    out = new_node("Softmax", "out", [d2], axis=-1)
    _graph(model, x, c1, t1, s2, c3, f, d1, d2, out)
    model.outputs.append(out)
    optimizer = Optimizer(kind="adam", learningRate=0.001)
    optimizer.parameters.extend([Parameter(key="beta_1", value=0.9), Parameter(key="beta_2", value=0.999)])
    model.training = TrainingConfig(loss="cross_entropy", epochs=10, batchSize=32, optimizer=optimizer)
    model.training.metrics.extend(["accuracy", "top 5 accuracy"])
    return model


def text_classifier() -> Model:
    model = Model(name="TextClassifier", description="Embedding, BiLSTM, LSTM, Dense (Daoudi et al.)")
    x = new_node("Input", "tokens", shape=[100], dtype="int64")
    emb = new_node("Embedding", "emb", [x], num_embeddings=10000, embedding_dim=326, padding_idx=0)
    bi = new_node("LSTM", "bi", [emb], hidden_size=40, num_layers=2, bidirectional=True, dropout=0.25)
    states = new_node("Select", "states", [bi], index=1)
    drop = new_node("Dropout", "drop", [bi], rate=0.5)
    last = new_node("LSTM", "last", [drop], hidden_size=40, return_sequences=False)
    shifted = new_node("Add", "shifted", [last], scalar=0.0)
    dense = new_node("Dense", "dense", [shifted], units=40)
    act = new_node("ReLU", "act", [dense])
    logits = new_node("Dense", "logits", [act], units=2)
    probs = new_node("Softmax", "probs", [logits])
    _graph(model, x, emb, bi, states, drop, last, shifted, dense, act, logits, probs)
    model.outputs.extend([probs, states])
    return model


def small_resnet() -> Model:
    model = Model(name="SmallResNet")
    block = Block(name="Residual")
    bx = new_node("Input", "x")
    conv = new_node("Conv2d", "conv", [bx], filters=8, kernel_size=[3, 3], padding="same", dilation=[1, 1])
    norm = new_node("BatchNorm2d", "norm", [conv], eps=0.001, momentum=0.01)
    act = new_node("ReLU", "act", [norm])
    total = new_node("Add", "total", [act, bx])
    _graph(block, bx, conv, norm, act, total)
    block.outputs.append(total)
    model.blocks.append(block)

    x = new_node("Input", "x", shape=[3, 16, 16])
    stem = new_node("Conv2d", "stem", [x], filters=8, kernel_size=[3, 3], padding="same")
    r1 = new_node("BlockCall", "r1", [stem], block=block)
    r2 = new_node("BlockCall", "r2", [r1], block=block)
    both = new_node("Concat", "both", [r2, r2], axis=1)
    pool = new_node("GlobalAvgPool", "pool", [both])
    head = new_node("Dense", "head", [pool], units=10)
    _graph(model, x, stem, r1, r2, both, pool, head)
    model.outputs.append(head)
    return model


def two_inputs() -> Model:
    model = Model(name="TwoInputs", description="several inputs & outputs <with> \"markup\" characters")
    q = new_node("Input", "q", shape=[5, 12])
    kv = new_node("Input", "kv", shape=[-1, 12], dtype="float64")
    attn = new_node("MultiHeadAttention", "attn", [q, kv, kv], embed_dim=12, num_heads=3, bias=False)
    weights = new_node("Select", "weights", [attn], index=1)
    parts = new_node("Split", "parts", [attn], sizes=[4, 4, 4], axis=2)
    first = new_node("Select", "first", [parts], index=0)
    third = new_node("Select", "third", [parts], index=2)
    gelu = new_node("GELU", "gelu", [third], approximate="tanh")
    up = new_node("Upsample", "up", [first], scale_factor=[2.0, 0.5], mode="bilinear", align_corners=True)
    _graph(model, q, kv, attn, weights, parts, first, third, gelu, up)
    model.outputs.extend([gelu, weights, up])
    return model


def siamese() -> Model:
    """Shared weights (``weightsOf``): a layer applied to two inputs, a block call applied again, a layer
    applied twice inside a block, and an LSTM shared by two sequences."""
    model = Model(name="Siamese", description="one encoder, two inputs")
    block = Block(name="Encoder")
    bx = new_node("Input", "x")
    proj = new_node("Dense", "proj", [bx], units=6)
    act = new_node("Tanh", "act", [proj])
    again = new_node("Dense", "again", [act], units=6, weights_of=proj)
    _graph(block, bx, proj, act, again)
    block.outputs.append(again)
    model.blocks.append(block)

    left = new_node("Input", "left", shape=[5, 6])
    right = new_node("Input", "right", shape=[5, 6])
    rnn = new_node("LSTM", "rnn", [left], hidden_size=6, return_sequences=False)
    rnn_right = new_node("LSTM", "rnn_right", [right], hidden_size=6, return_sequences=False, weights_of=rnn)
    enc = new_node("BlockCall", "enc", [rnn], block=block)
    enc_right = new_node("BlockCall", "enc_right", [rnn_right], block=block, weights_of=enc)
    distance = new_node("Sub", "distance", [enc, enc_right])
    score = new_node("Dense", "score", [distance], units=1)
    _graph(model, left, right, rnn, rnn_right, enc, enc_right, distance, score)
    model.outputs.append(score)
    return model


def _int(value: int):
    return eclass("IntLiteral")(value=value)


def _binary(operator: str, left, right):
    return eclass("BinaryExpression")(operator=eenum("BinaryOperator").getEEnumLiteral(operator), left=left,
                                      right=right)


def causal_tcn() -> Model:
    """A temporal convolution network: one parameterised block called at three dilations, its convolution
    padded on the left by ``(kernel_size - 1) * dilation`` (a padding bound to a list expression), the .nn
    text ``CAUSAL_TCN`` built without the parser."""
    block = Block(name="CausalBlock")
    int_type = eenum("ParameterType").getEEnumLiteral("int")
    channels = eclass("BlockParameter")(name="channels", type=int_type)
    dilation = eclass("BlockParameter")(name="dilation", type=int_type)
    kernel = eclass("BlockParameter")(name="kernel_size", type=int_type, default=_int(3))
    block.parameters.extend([channels, dilation, kernel])

    def ref(parameter):
        return eclass("ParameterRef")(parameter=parameter)

    z = new_node("Input", "z")
    conv = new_node("Conv1d", "conv", [z], padding="explicit")
    left_pad = _binary("mul", _binary("sub", ref(kernel), _int(1)), ref(dilation))
    pads = eclass("ListExpression")()
    pads.items.extend([left_pad, _int(0)])
    for feature, value in (("filters", ref(channels)), ("kernelSize", ref(kernel)), ("pads", pads),
                           ("dilation", ref(dilation))):
        conv.bindings.append(eclass("AttributeBinding")(feature=feature, value=value))
    act = new_node("ReLU", "act", [conv])
    out = new_node("Add", "out", [act, z])
    _graph(block, z, conv, act, out)
    block.outputs.append(out)

    model = Model(name="CausalTCN")
    model.blocks.append(block)
    x = new_node("Input", "x", shape=[3, -1])
    stem = new_node("Conv1d", "stem", [x], filters=8, kernel_size=[1])
    calls, previous = [], stem
    for name, values in (("b1", (8, 1)), ("b2", (8, 2)), ("b3", (8, 4, 2))):
        call = new_node("BlockCall", name, [previous], block=block)
        for parameter, value in zip(block.parameters, values):
            call.arguments.append(eclass("Argument")(parameter=parameter, value=_int(value)))
        calls.append(call)
        previous = call
    last = new_node("Index", "last", [previous], axis=2, index=-1)
    head = new_node("Dense", "head", [last], units=2)
    _graph(model, x, stem, *calls, last, head)
    model.outputs.append(head)
    return model


# The .nn text of causal_tcn, as the printer writes it.
CAUSAL_TCN = """model CausalTCN {
    input x: float32[3, ?]
    stem = conv1d(x, 8, kernel_size=1)
    b1 = CausalBlock(stem, 8, 1)
    b2 = CausalBlock(b1, 8, 2)
    b3 = CausalBlock(b2, 8, 4, kernel_size=2)
    last = index(b3, axis=2, index=-1)
    head = dense(last, 2)
    output head

    block CausalBlock(channels: int, dilation: int, kernel_size: int = 3) {
        input z
        conv = conv1d(z, channels, kernel_size=kernel_size, padding=[[(kernel_size - 1) * dilation, 0]], dilation=dilation)
        act = relu(conv)
        out = add(act, z)
        output out
    }
}
"""


PROGRAMMATIC_MODELS = {"lenet": lenet, "text_classifier": text_classifier, "small_resnet": small_resnet,
                       "two_inputs": two_inputs, "siamese": siamese, "causal_tcn": causal_tcn}

__all__ = ["CAUSAL_TCN", "PROGRAMMATIC_MODELS", "causal_tcn", "lenet", "siamese", "small_resnet", "text_classifier",
           "two_inputs"]
