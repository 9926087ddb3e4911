"""The Keras source importer: every manifest model, the layout translation, training, diagnostics, round trips.

The importer never runs the code it reads; these tests do (once per model, symbolically) to get the
real Keras output shapes the pivot's inferred shapes must equal.
"""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
from pathlib import Path

import pytest
from markers import FRAMEWORK_MARKS
from test_importer_round_trip import read_back_keras

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.importers.constructed_keras import import_keras_source
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.kinds import KINDS, kind_of
from nnpivot.shapes import infer_shapes

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = [ROOT / "samples" / "paper" / "manifest.json", ROOT / "samples" / "corpus" / "manifest.json"]


def _entries():
    found = []
    for manifest in MANIFESTS:
        for entry in json.loads(manifest.read_text())["entries"]:
            if entry["framework"] == "keras":
                found.append(dict(entry, file=manifest.parent / entry["path"]))
    return found


ENTRIES = _entries()
IDS = [e["path"] for e in ENTRIES]


def _shapes(entry):
    return [i["shape"] for i in entry["inputs"]]


def _import(entry):
    return import_keras_source(entry["file"], entry["model"], entry.get("kwargs") or None, _shapes(entry),
                               run_constructor=entry.get("run_constructor", False))


def test_count_guard():
    corpus = [e for e in ENTRIES if "corpus" in str(e["file"])]
    assert len(corpus) >= 30, f"only {len(corpus)} Keras corpus models in the manifest"
    assert len(ENTRIES) - len(corpus) == 10
    on_disk = {p.name for p in (ROOT / "samples" / "corpus" / "keras").glob("*.py")}
    assert on_disk == {Path(e["path"]).name for e in corpus}, "every corpus file is in the manifest"


@pytest.fixture(scope="module")
def keras_outputs():
    """Real Keras output shapes of every manifest model, built symbolically once."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    shapes = {}
    for entry in ENTRIES:
        spec = importlib.util.spec_from_file_location(f"keras_sample_{len(shapes)}", entry["file"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        target, kwargs = getattr(module, entry["model"]), entry.get("kwargs") or {}
        model = target(**kwargs) if entry["model_kind"] in ("class", "function") else target
        inputs = [keras.Input(shape=tuple(i["shape"]), dtype=i["dtype"]) for i in entry["inputs"]]
        outputs = model(inputs[0] if len(inputs) == 1 else inputs)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        shapes[entry["path"]] = [tuple(o.shape)[1:] for o in outputs]
    return shapes


@pytest.mark.tensorflow
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_manifest_model_imports_with_keras_shapes(entry, keras_outputs):
    model, report = _import(entry)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    table, diagnostics = infer_shapes(model)
    assert diagnostics == []
    pivot = [table.of(node) for node in model.outputs]
    # The report's layouts say how each pivot output is laid out in Keras.
    in_keras = [tuple(shape[a] for a in perm)[1:] for shape, perm in zip(pivot, report.output_layouts)]
    assert in_keras == keras_outputs[entry["path"]]
    assert report.model in (entry["model"], *[c for c in report.candidates])
    assert report.exact, "the report lists what was translated"


@pytest.mark.parametrize("entry", [   # constructor-mode files run their builders: they need TensorFlow
    pytest.param(e, id=e["path"], marks=[FRAMEWORK_MARKS["keras"]] if e.get("run_constructor") else [])
    for e in ENTRIES])
def test_round_trip_through_generated_keras(entry, tmp_path):
    from nnpivot.generators.keras import generate
    model, _ = _import(entry)
    generated = tmp_path / "generated.py"
    generated.write_text(generate(model, entry["path"]))
    again, report = import_keras(generated, input_shapes=_shapes(entry))
    assert not [d for d in report.diagnostics if d.is_error]
    if model.training is not None and model.training.loss is None:
        model.training.loss = again.training.loss  # the training function needs a loss; the source gave none
    assert differences(model, again) == []


# --- layout and conventions --------------------------------------------------------------------------

def _model(tmp_path, source, **kw):
    path = tmp_path / "net.py"
    path.write_text(source)
    return import_keras(path, **kw)


def _by_name(model):
    return {n.name: n for n in model.nodes}


def test_image_input_is_channels_first_and_flatten_keeps_keras_order(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\nfrom keras import layers\n"
        "model = keras.Sequential([layers.Conv2D(4, 3, padding='same', input_shape=(8, 6, 3)),\n"
        "    layers.MaxPooling2D(), layers.Flatten(), layers.Dense(5)])\n"))
    nodes = _by_name(model)
    assert list(nodes["x"].shape) == [3, 8, 6]
    assert nodes["conv2d"].padding.name == "same"
    assert list(nodes["max_pooling2d"].kernelSize) == [2] and list(nodes["max_pooling2d"].stride) == []
    permute = nodes["flatten"].inputs[0]
    assert kind_of(permute).keyword == "permute" and list(permute.dims) == [0, 2, 3, 1]
    assert report.input_layouts == [(0, 2, 3, 1)]
    assert "approximately idiomatic, exact" in next(e.note for e in report.exact if e.node == "flatten")
    assert report.input_shapes == {"x": (8, 6, 3)}   # as the Keras code states it


def test_axes_follow_the_layout(tmp_path):
    model, _ = _model(tmp_path, (
        "import tensorflow as tf\n"
        "inputs = tf.keras.Input(shape=(8, 8, 3))\n"
        "a = tf.keras.layers.Conv2D(4, 1)(inputs)\n"
        "b = tf.keras.layers.Conv2D(2, 1)(inputs)\n"
        "c = tf.keras.layers.Concatenate(axis=-1)([a, b])\n"
        "s = tf.keras.layers.Softmax()(c)\n"
        "seq = tf.keras.Input(shape=(5, 7))\n"
        "j = tf.keras.layers.Concatenate()([seq, seq])\n"
        "model = tf.keras.Model([inputs, seq], [s, j])\n"))
    nodes = _by_name(model)
    assert nodes["c"].axis == 1 and nodes["s"].axis == 1
    assert nodes["j"].axis == -1   # Keras' axis -1, counted from the end in the pivot too


def test_conv1d_on_sequences_gets_permutes_and_keras_defaults_are_converted(tmp_path):
    model, _ = _model(tmp_path, (
        "from tensorflow.keras import layers, Sequential\n"
        "model = Sequential([layers.Conv1D(6, 3, input_shape=(20, 4)), layers.BatchNormalization(),\n"
        "    layers.LeakyReLU(), layers.GRU(5, reset_after=False)])\n"))
    nodes = _by_name(model)
    assert list(nodes["conv1d_in"].dims) == [0, 2, 1]
    assert nodes["batch_normalization"].momentum == pytest.approx(0.01)
    assert nodes["batch_normalization"].eps == pytest.approx(1e-3)
    assert nodes["leaky_re_lu"].negativeSlope == pytest.approx(0.3)
    gru = nodes["gru"]
    assert not gru.resetAfter and not gru.returnSequences
    assert kind_of(gru.inputs[0]).keyword == "permute"


def test_subclass_with_activation_bidirectional_and_return_state(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\n"
        "class Net(keras.Model):\n"
        "    def __init__(self, units=8):\n"
        "        super().__init__()\n"
        "        self.rnn = keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=True))\n"
        "        self.last = keras.layers.LSTM(units, return_state=True)\n"
        "        self.out = keras.layers.Dense(3, activation='softmax')\n"
        "    def call(self, x):\n"
        "        y = self.rnn(x)\n"
        "        seq, h, c = self.last(y)\n"
        "        return self.out(h + c)\n"), input_shapes=[(7, 4)])
    nodes = _by_name(model)
    assert nodes["rnn"].bidirectional and nodes["rnn"].returnSequences
    assert kind_of(nodes["out_softmax"]).keyword == "softmax"
    table, diagnostics = infer_shapes(model)
    assert diagnostics == [] and table.of(model.outputs[0]) == (None, 3)
    assert report.model == "Net"


def test_generated_state_idiom_is_the_states_output(tmp_path):
    # The Keras generator's spelling of the pivot's (layers * directions, N, H) states: per-direction states
    # stacked in order. Stacked in another order, they are an ordinary stack.
    source = ("import keras\nfrom keras import layers, ops\n"
              "class Net(keras.Model):\n"
              "    def __init__(self):\n"
              "        super().__init__()\n"
              "        self.rec = layers.Bidirectional(layers.GRU(5, return_state=True))\n"
              "    def call(self, x):\n"
              "        seq, h_fw, h_bw = self.rec(x)\n"
              "        states = ops.stack([{}], axis=0)\n"
              "        return seq, states, states[1]\n")
    model, report = _model(tmp_path, source.format("h_fw, h_bw"), input_shapes=[(7, 4)])
    nodes = _by_name(model)
    assert report.ok and nodes["states"].eClass.name == "Select" and nodes["states"].index == 1
    assert nodes["states"].inputs[0] is nodes["rec"] and nodes["rec"].bidirectional
    backward = model.outputs[2]  # states[1] indexes the layers * directions axis, not the batch
    assert kind_of(backward).keyword == "index" and (backward.axis, backward.index) == (0, 1)
    table, _ = infer_shapes(model)
    assert [table.of(n) for n in model.outputs] == [(None, 10), (2, None, 5), (None, 5)]
    model, _ = _model(tmp_path, source.format("h_bw, h_fw"), input_shapes=[(7, 4)])
    assert kind_of(_by_name(model)["states"]).keyword == "stack"


def test_cast_of_an_input_is_its_dtype(tmp_path):
    source = ("import keras\nimport tensorflow as tf\n"
              "class Net(keras.Model):\n"
              "    def __init__(self):\n"
              "        super().__init__()\n"
              "        self.embed = keras.layers.Embedding(50, 4)\n"
              "    def call(self, tokens):\n"
              "        tokens = {}\n"
              "        return self.embed(tokens)\n")
    for cast, dtype in (('keras.ops.cast(tokens, "int32")', "int32"), ("tf.cast(tokens, tf.int32)", "int32"),
                        ("tokens", "int64")):  # without a cast, token ids are int64
        model, report = _model(tmp_path, source.format(cast), input_shapes=[(6,)])
        assert report.ok and model.nodes[0].dtype.name == dtype, cast
    _, report = _model(tmp_path, source.format("tokens\n        y = keras.ops.cast(self.embed(tokens), 'int32')"),
                       input_shapes=[(6,)])
    assert ("unsupported-construct", 9, 13) in _codes(report)  # only a model input's cast is a dtype


def test_training_configuration_from_compile_and_fit(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\n"
        "model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, activation='softmax')])\n"
        "model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),\n"
        "              loss='sparse_categorical_crossentropy', metrics=['acc'])\n"
        "model.fit(x, y, epochs=7, batch_size=16)\n"))
    training = model.training
    assert training.optimizer.kind == "sgd" and training.optimizer.learningRate == pytest.approx(0.05)
    assert {p.key: p.value for p in training.optimizer.parameters} == {"momentum": 0.9}
    assert training.loss == "cross_entropy" and list(training.metrics) == ["accuracy"]
    assert (training.epochs, training.batchSize) == (7, 16)
    assert report.ok


# --- diagnostics: every code with its location ----------------------------------------------------------

def _codes(report_or_error):
    diagnostics = report_or_error.diagnostics
    return {(d.code, d.location.line if d.location else None, d.location.col if d.location else None)
            for d in diagnostics}


def test_file_not_found(tmp_path):
    with pytest.raises(NNPivotError) as caught:
        import_keras(tmp_path / "missing.py")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "file-not-found" and str(diagnostic.location) == str(tmp_path / "missing.py")


def test_syntax_error_has_its_location(tmp_path):
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, "import keras\nmodel = keras.Sequential([\n")
    assert ("syntax-error", 2) in {(c, line) for c, line, _ in _codes(caught.value)}


def test_no_model_found_and_unknown_name(tmp_path):
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, "import keras\nx = 1\n")
    assert [d.code for d in caught.value.diagnostics] == ["no-model-found"]
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, "import keras\nm = keras.Sequential([keras.Input(shape=(3,))])\n", model_name="other")
    assert "found: m" in str(caught.value)


def test_ambiguous_model_names_the_second(tmp_path):
    source = ("import keras\n"
              "a = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])\n"
              "b = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4)])\n")
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, source)
    assert ("ambiguous-model", 3, 5) in _codes(caught.value)
    _, report = _model(tmp_path, source, model_name="b")
    assert report.model == "b" and report.candidates == ["a", "b"]


def test_missing_input_shape_names_the_input(tmp_path):
    source = ("import keras\nclass Net(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
              "        self.d = keras.layers.Dense(2)\n    def call(self, features):\n        return self.d(features)\n")
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, source)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "missing-input-shape" and "'features'" in diagnostic.message
    assert (diagnostic.location.line, diagnostic.location.col) == (6, 5)
    model, _ = _model(tmp_path, source, input_shapes={"features": [5]})
    assert list(model.nodes[0].shape) == [5]


def test_unsupported_samples_report_each_construct():
    folder = ROOT / "samples" / "unsupported" / "keras"
    _, report = import_keras(folder / "lambda_and_merge_modes.py")
    assert {("unsupported-construct", 7, 5), ("unsupported-construct", 8, 5), ("unknown-layer", 9, 5)} <= \
        _codes(report)
    assert len(report.not_translated) == 3 and not report.ok
    text = report.to_text()
    assert "not translated: 3" in text and f"{folder / 'lambda_and_merge_modes.py'}:9:5: error[unknown-layer]" in text
    _, report = import_keras(folder / "dynamic_shapes.py")
    assert ("dynamic-value", 9, 18) in _codes(report)


def test_shared_layer_is_exact(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\n"
        "a = keras.Input(shape=(4,))\nb = keras.Input(shape=(4,))\n"
        "shared = keras.layers.Dense(3)\n"
        "out = keras.layers.add([shared(a), shared(b)])\n"
        "model = keras.Model([a, b], out)\n"))
    assert _codes(report) == set() and report.ok
    dense = [n for n in model.nodes if n.eClass.name == "Dense"]
    assert [d.weightsOf for d in dense] == [None, dense[0]]  # the second call shares the first one's weights
    assert report.keras_layer_names[dense[1].name] == report.keras_layer_names[dense[0].name] == "dense"


def test_shared_layer_and_block_in_a_subclass_are_exact(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\n"
        "class Encoder(keras.layers.Layer):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.proj = keras.layers.Dense(4)\n"
        "    def call(self, x):\n"
        "        return self.proj(self.proj(x))\n"
        "class Net(keras.Model):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.encoder = Encoder()\n"
        "    def call(self, inputs):\n"
        "        a, b = inputs\n"
        "        return self.encoder(a) - self.encoder(b)\n"), input_shapes=[(4,), (4,)])
    assert _codes(report) == set() and report.ok
    calls = [n for n in model.nodes if n.eClass.name == "BlockCall"]
    assert [c.weightsOf for c in calls] == [None, calls[0]]
    inner = [n for n in model.blocks[0].nodes if n.eClass.name == "Dense"]
    assert [d.weightsOf for d in inner] == [None, inner[0]]


def test_shared_weights_that_the_pivot_cannot_tie_are_reported(tmp_path):
    # one BatchNormalization for maps and vectors: batch_norm2d and batch_norm1d are not the same pivot layer
    model, report = _model(tmp_path, (
        "import keras\n"
        "a = keras.Input(shape=(6, 6, 3))\nb = keras.Input(shape=(3,))\n"
        "norm = keras.layers.BatchNormalization()\n"
        "pooled = keras.layers.GlobalAveragePooling2D()(norm(a))\n"
        "out = keras.layers.add([pooled, norm(b)])\n"
        "model = keras.Model([a, b], out)\n"))
    assert ("shared-weights", 6, 33) in _codes(report)  # the second call, norm(b)
    assert report.ok, "an untied copy is a warning: the structure is exact"
    assert all(n.weightsOf is None for n in model.nodes)


def test_unsupported_argument_and_dynamic_condition(tmp_path):
    _, report = _model(tmp_path, (
        "import keras, random\n"
        "class Net(keras.Model):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.rnn = keras.layers.LSTM(4, go_backwards=True)\n"
        "    def call(self, x, training=None):\n"
        "        if random.random() > 0.5:\n"
        "            x = x * 2.0\n"
        "        return self.rnn(x)\n"), input_shapes=[(5, 3)])
    assert {("unsupported-construct", 5, 20), ("dynamic-value", 7, 9)} <= _codes(report)


# --- stacked recurrent layers --------------------------------------------------------------------------

def _stacked_examples():
    examples = [e for keyword in ("lstm", "gru", "simple_rnn") for e in KINDS[keyword].examples
                if "num_layers" in e.call]
    assert "lstm(x, 5, num_layers=2, bidirectional=true)" in [e.call for e in examples]
    return [(e.call, e.inputs) for e in examples]


@pytest.mark.parametrize(("call", "inputs"), [
    *_stacked_examples(),
    ("gru(x, 4, num_layers=3, dropout=0.25, return_sequences=false)", ("x: float32[7, 3]",)),
    ("simple_rnn(x, 6, num_layers=2, nonlinearity=relu, bias=false)", ("x: float32[7, 3]",)),
])
def test_stacked_recurrent_node_round_trips_through_keras(call, inputs, tmp_path):
    # The Keras generator writes one layer per pivot layer (<node>_l0, <node>_l1, Dropout between);
    # the importer folds them back into the one node.
    from nnpivot.generators.keras import generate
    from nnpivot.importers.nn_text import parse_text
    model = parse_text("model Net {\n" + "".join(f"  input {i}\n" for i in inputs) + f"  y = {call}\n"
                       "  output y\n}\n", "net.nn")
    (tmp_path / "net.py").write_text(generate(model, "net.nn"))
    again, report = import_keras(tmp_path / "net.py", input_shapes=[list(n.shape) for n in model.nodes[:1]])
    # Keras's SimpleRNN and LSTM train one bias where the pivot's (PyTorch's) two did: the import says so
    one_bias = model.nodes[1].eClass.name != "GRU" and model.nodes[1].bias
    assert report.ok and differences(model, again) == (["node y: oneBias false != true"] if one_bias else [])
    layers = model.nodes[1].numLayers
    assert list(report.folded) == ["y"] and f"num_layers={layers}" in report.folded["y"]
    assert [report.keras_layer_names[f"y_l{i}"] for i in range(layers)] == [f"y_l{i}" for i in range(layers)]
    assert "folded into y:" in report.to_text()


def test_stacked_states_round_trip_through_keras(tmp_path):
    # Per-layer states come back as the states outputs of the one node (layer-major, then direction).
    from nnpivot.generators.keras import generate
    from nnpivot.importers.nn_text import parse_text
    model = parse_text("model Net {\n  input x: float32[7, 3]\n"
                       "  y = lstm(x, 5, num_layers=3, bidirectional=true, dropout=0.25)\n"
                       "  h = y[1]\n  c = y[2]\n  output y, h, c\n}\n", "net.nn")
    (tmp_path / "net.py").write_text(generate(model, "net.nn"))
    again, report = import_keras(tmp_path / "net.py", input_shapes=[[7, 3]])
    # Keras's LSTM trains one bias where the pivot's (PyTorch's) two did: the import says so
    assert report.ok and differences(model, again) == ["node y: oneBias false != true"]


HAND_WRITTEN_STACK = (
    "import keras\nfrom keras import layers\n"
    "tokens = keras.Input(shape=(9, 4))\n"
    "x = layers.LSTM(6, return_sequences=True)(tokens)\n"
    "x = layers.Dropout(0.3)(x)\n"
    "x = layers.LSTM(6, return_sequences=True)(x)\n"
    "x = layers.Dropout(0.3)(x)\n"
    "x = layers.LSTM(6{last})(x)\n"
    "{extra}"
    "model = keras.Model(tokens, {output})\n")


def test_hand_written_stack_folds_exactly(tmp_path):
    model, report = _model(tmp_path, HAND_WRITTEN_STACK.format(last="", extra="", output="x"))
    (rnn,) = [n for n in model.nodes if n.eClass.name == "LSTM"]
    assert (rnn.numLayers, rnn.dropout, rnn.returnSequences) == (3, 0.3, False)
    assert not [n for n in model.nodes if n.eClass.name == "Dropout"]
    assert model.outputs[0] is rnn
    assert "3 stacked Keras LSTM layers" in report.folded[rnn.name] and "Dropout(0.3)" in report.folded[rnn.name]
    assert [report.keras_layer_names[f"{rnn.name}_l{i}"] for i in range(3)] == ["lstm", "lstm_1", "lstm_2"]
    table, diagnostics = infer_shapes(model)
    assert diagnostics == [] and table.of(rnn) == (None, 6)


@pytest.mark.parametrize(("last", "extra", "output", "layers"), [
    (", use_bias=False", "", "x", [2, 1]),           # other settings: the third layer stays apart
    ("", "", "[x, tokens]", [3]),                     # outputs elsewhere do not matter
    ("", "y = layers.Dense(2)(x)\n", "[x, y]", [3]),
])
def test_hand_written_stack_stops_where_it_is_not_exact(last, extra, output, layers, tmp_path):
    model, _ = _model(tmp_path, HAND_WRITTEN_STACK.format(last=last, extra=extra, output=output))
    assert [n.numLayers for n in model.nodes if n.eClass.name == "LSTM"] == layers


def test_a_layer_sequence_read_twice_is_not_folded(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\nfrom keras import layers\n"
        "inputs = keras.Input(shape=(9, 4))\n"
        "a = layers.GRU(5, return_sequences=True)(inputs)\n"
        "b = layers.GRU(5, return_sequences=True)(a)\n"
        "model = keras.Model(inputs, layers.Concatenate()([a, b]))\n"))
    assert [n.numLayers for n in model.nodes if n.eClass.name == "GRU"] == [1, 1] and not report.folded


# PyTorch's padded pooling as the Keras generator writes it (ops.pad with -inf, ZeroPadding, an average over a
# pooled mask of the counted cells) reads back as the pooling it came from: pads, ceil_mode, count_include_pad.
PADDED_POOLINGS = [
    ("[3, 20]", "max_pool1d(x, 3, stride=2, ceil_mode=true)"),
    ("[3, 21]", "avg_pool1d(x, 2, ceil_mode=true)"),
    ("[3, 16, 16]", "avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=false)"),
    ("[3, 16, 16]", "avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=true, count_include_pad=false)"),
    ("[3, 15, 15]", "avg_pool2d(x, 2, ceil_mode=true)"),
    ("[3, 16, 16]", "max_pool2d(x, 3, padding=[[1, 0], [0, 1]])"),
    ("[3, 16, 16]", "avg_pool2d(x, 3, padding=[[1, 0], [0, 1]], count_include_pad=false)"),
    ("[3, 16, 16]", "avg_pool2d(x, 3, stride=2, padding=1)"),
    ("[2, 10, 9, 10]", "max_pool3d(x, 3, stride=2, padding=1, ceil_mode=true)"),
]


@pytest.mark.parametrize(("shape", "call"), PADDED_POOLINGS)
def test_padded_pooling_reads_back_as_the_pooling(shape, call, tmp_path):
    text = f"model Example {{\n    input x: float32{shape}\n    result = {call}\n    output result\n}}\n"
    again, report = read_back_keras(parse_text(text, "pool.nn"), tmp_path)
    assert [str(d) for d in report.diagnostics] == []
    assert differences(parse_text(text, "pool.nn"), again) == []


def test_a_division_by_pooled_ones_that_is_no_average_pooling_is_refused(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(
        "import keras\nfrom keras import layers, ops\n\n\n"
        "class Net(keras.Model):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.pool = layers.AveragePooling2D(2)\n"
        "        self.other = layers.AveragePooling2D(2)\n\n"
        "    def call(self, x):\n"
        "        return self.pool(ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))) / self.other(ops.ones_like(x))\n")
    with pytest.raises(NNPivotError) as refused:
        import_keras(path, input_shapes=[(8, 8, 3)])
    assert [d.code for d in refused.value.diagnostics][:1] == ["unsupported-construct"]
    assert "ones_like" in refused.value.diagnostics[0].message and refused.value.diagnostics[0].location.line == 12


def test_repeat_vector_tile_and_numpy_pad_modes(tmp_path):
    source = (
        "import keras\nfrom keras import layers, ops\n\n\n"
        "def build(steps=6):\n"
        "    inputs = keras.Input(shape=(5,))\n"
        "    seq = layers.RepeatVector(steps)(layers.Dense(8)(inputs))\n"
        "    wide = ops.tile(seq, (1, 2))\n"
        "    edge = ops.pad(wide, ((0, 0), (1, 2), (0, 0)), mode='edge')\n"
        "    wrapped = ops.pad(edge, [[0, 0], [0, 0], [3, 1]], mode='wrap')\n"
        "    return keras.Model(inputs, {})\n")
    model, report = _model(tmp_path, source.format("wrapped"))
    assert report.ok
    nodes = _by_name(model)
    assert nodes["seq_steps"].axis == 1 and list(nodes["seq"].repeats) == [6, 1]
    assert list(nodes["wide"].repeats) == [1, 2]   # numpy's tile fills the leading counts with 1
    assert (list(nodes["edge"].pads), nodes["edge"].mode.name) == ([1, 2, 0, 0], "replicate")
    assert (list(nodes["wrapped"].pads), nodes["wrapped"].mode.name) == ([3, 1], "circular")
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, source.format("ops.pad(wrapped, [[0, 0], [1, 1], [0, 0]], mode='symmetric')"))
    assert ("unsupported-construct", 11, 32) in _codes(caught.value)
    assert "mode='symmetric' has no pivot counterpart" in caught.value.diagnostics[0].message


def test_dilated_convolution_then_strided_slice_is_a_strided_dilated_convolution(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\nfrom keras import layers\n\n"
        "inputs = keras.Input(shape=(17, 15, 3))\n"
        "padded = layers.ZeroPadding2D(2)(inputs)\n"
        "folded = layers.Conv2D(4, 3, dilation_rate=2, name='folded')(padded)[:, ::2, ::3]\n"
        "kept = layers.Conv2D(4, 3, dilation_rate=2, padding='same', name='same')(inputs)[:, ::2, ::2]\n"
        "named = layers.Conv2D(4, 3, dilation_rate=2, name='named')(inputs)\n"
        "later = named[:, ::2]\n"
        "shared = layers.Conv2D(4, 3, dilation_rate=2, name='shared')(inputs)\n"
        "model = keras.Model(inputs, [folded, kept, later, shared[:, ::2], shared])\n"))
    assert report.ok
    nodes = _by_name(model)
    assert (list(nodes["folded"].stride), list(nodes["folded"].dilation)) == ([2, 3], [2])
    assert list(nodes["folded"].pads) == [2, 2, 2, 2]
    # a convolution kept in a variable and read only through the slice is strided too (the pass sees every reader)
    assert list(nodes["named"].stride) == [2, 1]
    # TensorFlow's 'same' pads depend on the stride, and an output read elsewhere too: both stay slices
    assert list(nodes["same"].stride) == [] and list(nodes["shared"].stride) == []
    assert sum(kind_of(n).keyword == "slice" for n in model.nodes if kind_of(n)) == 2


def test_reshapes_that_fold_time_steps_into_the_batch(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\nfrom keras import layers, ops\n\n\n"
        "class PerStep(keras.Model):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = layers.Dense(4)\n\n"
        "    def call(self, x):\n"
        "        frames = ops.reshape(x, (-1, 6))\n"
        "        return ops.reshape(self.fc(frames), (-1, 5, 4))\n"), input_shapes=[(5, 6)])
    assert report.ok
    nodes = _by_name(model)
    assert (nodes["frames"].startDim, nodes["frames"].endDim) == (0, 1)
    unflatten = next(n for n in model.nodes if n.eClass.name == "Unflatten")
    assert (unflatten.axis, list(unflatten.shape)) == (0, [-1, 5])


def test_rescaling_is_arithmetic_and_augmentation_is_left_out_with_a_note(tmp_path):
    source = ("import keras\nfrom keras import layers\n\n"
              "model = keras.Sequential([\n"
              "    keras.Input(shape=(8, 8, 3)),\n"
              "    layers.RandomFlip('horizontal'),\n"
              "    layers.Rescaling(1.0 / 255),\n"
              "    layers.Rescaling(2.0, offset=-1.0, name='centre'),\n"
              "    layers.GaussianNoise(0.1),\n"
              "])\n")
    model, report = _model(tmp_path, source)
    assert [(n.eClass.name, n.name, n.scalar) for n in model.nodes[1:]] == [
        ("Mul", "rescaling", 1 / 255), ("Mul", "centre_scaled", 2.0), ("Add", "centre", -1.0)]
    assert _codes(report) == {("training-only-layer", 6, 5), ("training-only-layer", 9, 5)}
    assert {d.severity for d in report.diagnostics} == {"note"}
    listed = report.to_text()
    assert "RandomFlip" in listed and "GaussianNoise" in listed and "only in training" in listed
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, source.replace("GaussianNoise(0.1)", "Rescaling(scale=[1.0, 2.0, 3.0])"))
    assert ("unsupported-construct", 9, 5) in _codes(caught.value)
    assert any("per-channel" in d.message for d in caught.value.diagnostics)


def test_position_embedding_of_ops_arange_in_a_custom_layer(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\nfrom keras import layers, ops\n\n\n"
        "class TokenAndPositionEmbedding(layers.Layer):\n"
        "    def __init__(self, maxlen, vocab_size, embed_dim):\n"
        "        super().__init__()\n"
        "        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)\n"
        "        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)\n\n"
        "    def call(self, x):\n"
        "        maxlen = ops.shape(x)[-1]\n"
        "        positions = ops.arange(start=0, stop=maxlen, step=1)\n"
        "        return self.token_emb(x) + self.pos_emb(positions)\n\n\n"
        "inputs = layers.Input(shape=(20,), dtype='int32')\n"
        "x = TokenAndPositionEmbedding(20, 500, 16)(inputs)\n"
        "model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling1D()(x)))\n"))
    assert report.ok
    block = model.blocks[0]
    nodes = {n.name: n for n in block.nodes}
    assert (nodes["positions"].eClass.name, nodes["positions"].start, nodes["positions"].end) == ("Arange", 0, 20)
    assert nodes["positions"].inputs[0].eClass.name == "Input"
    assert nodes["pos_emb"].inputs[0] is nodes["positions"] and nodes["pos_emb"].numEmbeddings == 20


STEPPER = '''import keras
from keras import layers, ops

STEPS, UNITS = 4, 8


class Stepper(keras.Model):
    """An LSTM cell unrolled by hand over the first steps of a sequence, its last state classified."""

    def __init__(self, classes=3, **kwargs):
        super().__init__(**kwargs)
        self.cell = layers.LSTMCell(UNITS, use_bias=False)
        self.head = layers.Dense(classes)

    def call(self, sequence):
        batch = ops.shape(sequence)[0]
        state = [ops.zeros((batch, UNITS)), ops.zeros((batch, UNITS))]
        for step in range(STEPS):
            hidden, state = self.cell(sequence[:, step], state)
        return self.head(hidden)
'''


def test_an_lstm_cell_unrolled_over_steps(tmp_path):
    model, report = _model(tmp_path, STEPPER, input_shapes=[[6, 5]])
    assert report.ok
    cells = [n for n in model.nodes if n.eClass.name == "LSTMCell"]
    assert len(cells) == 4 and all(c.hiddenSize == 8 and not c.bias for c in cells)
    assert len(cells[0].inputs) == 1   # zero states: the pivot's cell without state inputs
    for previous, cell in itertools.pairwise(cells):
        x, h, c = cell.inputs
        assert x.eClass.name == "Index" and h is previous
        assert (c.eClass.name, c.index, c.inputs[0]) == ("Select", 1, previous)
        assert cell.weightsOf is cells[0]   # one layer object called four times
    head = _by_name(model)["head"]
    assert head.inputs[0] is cells[-1] and model.outputs[0] is head
    assert infer_shapes(model)[1] == []


def test_zeros_other_than_a_cell_state_are_not_translated(tmp_path):
    with pytest.raises(NNPivotError) as caught:
        _model(tmp_path, STEPPER.replace("ops.zeros((batch, UNITS))", "ops.zeros((batch, UNITS, 2))"),
               input_shapes=[[6, 5]])
    assert any(d.code == "unsupported-construct" and "zero state" in d.message for d in caught.value.diagnostics)


def test_one_loss_per_output_is_left_out_with_a_warning_that_says_so(tmp_path):
    model, report = _model(tmp_path, (
        "import keras\nfrom keras import layers\n"
        "inputs = keras.Input(shape=(6,))\n"
        "hidden = layers.Dense(8, activation='relu')(inputs)\n"
        "model = keras.Model(inputs, [layers.Dense(3)(hidden), layers.Dense(1)(hidden)])\n"
        "model.compile(optimizer='adam', loss=['categorical_crossentropy', 'mse'])\n"))
    assert model.training.loss is None
    [warning] = [d for d in report.diagnostics if "loss" in d.message]
    assert (warning.code, warning.location.line) == ("unsupported-construct", 6)
    assert "one loss per output" in warning.message
