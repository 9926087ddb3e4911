"""Constructs real code uses (issue 10, item 4), migrated both ways with their weights.

Each test writes a whole small source file as people write them, migrates it to
the other framework with a checkpoint of the original (every weight random, so
each one is checked), loads the generated model with the target framework's own
loader and calls both models directly in their users' layouts at two input
sizes; outputs agree within 1e-5.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import open_model_file
from nnpivot.generators.keras import keras_layouts
from nnpivot.kinds.recurrent import CONV_LSTM_CODE
from nnpivot.migrate import import_source, migrate, source_runner

ATOL = 1e-5
OTHER = {"pytorch": "keras", "keras": "pytorch"}
SUFFIX = {"pytorch": ".pt", "keras": ".weights.h5"}

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow,
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]


def _randomize(framework: str, model, seed: int) -> None:
    """Every weight random (biases too), so a weight the migration drops or misplaces shows."""
    rng = np.random.default_rng(seed)
    if framework == "pytorch":
        import torch
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(torch.from_numpy(rng.normal(0.0, 0.5, tuple(tensor.shape)).astype("float32")))
        return
    for variable in model.weights:
        values = rng.uniform(0.5, 1.5, variable.shape) if "variance" in variable.path else \
            rng.normal(0.0, 0.5, variable.shape)
        variable.assign(values.astype("float32"))


def _save(framework: str, model, path) -> None:
    if framework == "pytorch":
        import torch
        torch.save(model.state_dict(), path)
    else:
        model.save_weights(str(path))


def _load(framework: str, model, path) -> None:
    if framework == "pytorch":
        import torch
        model.load_state_dict(torch.load(path, weights_only=True))
        model.eval()
    else:
        model.load_weights(str(path))


def call(framework: str, model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The model called as its users call it: torch tensors under no_grad, or numpy arrays in inference mode."""
    if framework == "pytorch":
        import torch
        with torch.no_grad():
            out = model(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        outputs = out if isinstance(out, (tuple, list)) else [out]
        return [o.numpy() for o in outputs]
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outputs = out if isinstance(out, (tuple, list)) else [out]
    return [np.asarray(o) for o in outputs]


def migrated(tmp_path, text: str, framework: str, shapes: list, model_name: str | None = None):
    """(original model, generated model, migration result): ``text`` migrated with random weights."""
    source = tmp_path / "net.py"
    source.write_text(text)
    model, report = import_source(source, framework, model_name, None, shapes)
    problems = [str(d) for d in report.diagnostics if d.is_error]
    assert not problems, problems
    original = source_runner(source, framework, model, report).obj
    _randomize(framework, original, seed=7)
    checkpoint = tmp_path / f"original{SUFFIX[framework]}"
    _save(framework, original, checkpoint)
    target = OTHER[framework]
    output, weights_out = tmp_path / "migrated.py", tmp_path / f"migrated{SUFFIX[target]}"
    result = migrate(source, target, output, model_name=model_name, input_shapes=shapes, weights=checkpoint,
                     weights_out=weights_out)
    assert result.ok, [str(d) for d in result.diagnostics]
    generated = open_model_file(output, result.model, target).obj
    _load(target, generated, weights_out)
    return original, generated, result


def assert_same(framework: str, original, generated, batches: list[list[np.ndarray]], to_target=None) -> None:
    """Both models on each batch; ``to_target`` turns the source's inputs into the target's layout."""
    target = OTHER[framework]
    for inputs in batches:
        want = call(framework, original, inputs)
        got = call(target, generated, to_target(inputs) if to_target else inputs)
        assert len(want) == len(got)
        for a, b in zip(want, got):
            assert a.shape == b.shape
            assert np.abs(a - b).max() <= ATOL, float(np.abs(a - b).max())


def normal(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# --- GRU cells stepped by hand ---------------------------------------------------------------------------

TORCH_GRU_CELL = '''"""A character-level decoder in the manner of the seq2seq tutorials: one GRUCell stepped over time."""
import torch
import torch.nn as nn


class StepDecoder(nn.Module):
    def __init__(self, features=6, hidden=10, classes=4):
        super().__init__()
        self.hidden = hidden
        self.cell = nn.GRUCell(features, hidden)
        self.refine = nn.GRUCell(hidden, hidden, bias=False)
        self.head = nn.Linear(hidden, classes)

    def forward(self, frames):
        batch, steps, _ = frames.shape
        h = torch.zeros(batch, self.hidden, device=frames.device)
        g = torch.zeros(batch, self.hidden, device=frames.device)
        outputs = []
        for t in range(steps):
            h = self.cell(frames[:, t], h)
            g = self.refine(h, g)
            outputs.append(self.head(g))
        return torch.stack(outputs, dim=1)


if __name__ == "__main__":
    model = StepDecoder()
    print(model(torch.randn(3, 5, 6)).shape)
'''

KERAS_GRU_CELL = '''"""An autoregressive refiner written with Keras cells: an LSTMCell and a GRUCell stepped by hand."""
import keras
from keras import layers, ops

STEPS = 4


class Refiner(keras.Model):
    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.lstm_cell = layers.LSTMCell(units)
        self.gru_cell = layers.GRUCell(units, use_bias=True)
        self.out = layers.Dense(3)

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        states = [ops.zeros((batch, self.units)), ops.zeros((batch, self.units))]
        h = ops.zeros((batch, self.units))
        steps = []
        for t in range(STEPS):
            y, states = self.lstm_cell(inputs[:, t, :], states)
            h, _ = self.gru_cell(y, [h])
            steps.append(self.out(h))
        return ops.stack(steps, axis=1)


if __name__ == "__main__":
    model = Refiner()
    model.compile(optimizer="adam", loss="mse")
'''


def test_pytorch_gru_cell_loop_migrates_to_keras(tmp_path):
    original, generated, result = migrated(tmp_path, TORCH_GRU_CELL, "pytorch", [[5, 6]])
    cells = [n for n in result.model.nodes if n.eClass.name == "GRUCell"]
    assert len(cells) == 10 and sum(n.weightsOf is None for n in cells) == 2
    assert [len(n.inputs) for n in cells[:2]] == [1, 1]   # the zero states are the cells' default
    assert_same("pytorch", original, generated, [[normal(2, 5, 6)], [normal(7, 5, 6, seed=1)]])


def test_keras_lstm_and_gru_cells_migrate_to_pytorch(tmp_path):
    original, generated, result = migrated(tmp_path, KERAS_GRU_CELL, "keras", [[STEPS_KERAS, 5]])
    kinds = [n.eClass.name for n in result.model.nodes]
    assert kinds.count("LSTMCell") == kinds.count("GRUCell") == STEPS_KERAS
    assert_same("keras", original, generated, [[normal(2, STEPS_KERAS, 5)], [normal(6, STEPS_KERAS, 5, seed=1)]])


STEPS_KERAS = 4


KERAS_RNN_OF_CELLS = '''"""A sequence tagger built from cells wrapped in keras.layers.RNN, as older Keras tutorials write it."""
import keras
from keras import layers


def build_tagger(features=5, units=12, tags=3):
    frames = keras.Input(shape=(None, features), name="frames")
    x = layers.RNN(layers.LSTMCell(units), return_sequences=True)(frames)
    x = layers.RNN(layers.GRUCell(units, use_bias=False), return_sequences=True, name="smooth")(x)
    last = layers.RNN(cell=layers.SimpleRNNCell(units, activation="relu"))(x)
    return keras.Model(frames, [layers.Dense(tags)(x), layers.Dense(1)(last)])


model = build_tagger()
model.compile(optimizer="adam", loss=["mse", "mse"])
'''


def test_keras_rnn_of_cells_migrates_to_pytorch(tmp_path):
    original, generated, result = migrated(tmp_path, KERAS_RNN_OF_CELLS, "keras", [[7, 5]])
    kinds = [n.eClass.name for n in result.model.nodes]
    assert {"LSTM", "GRU", "SimpleRNN"} <= set(kinds)
    # the recurrent layers run over any sequence length: two lengths and batch sizes
    assert_same("keras", original, generated, [[normal(2, 7, 5)], [normal(4, 11, 5, seed=1)]])


# --- recurrent initial states ------------------------------------------------------------------------------

TORCH_SEQ2SEQ = '''"""A sequence-to-sequence forecaster: the encoder's final states start the decoder; a GRU from a context."""
import torch
import torch.nn as nn


class Seq2Seq(nn.Module):
    def __init__(self, features=6, targets=4, hidden=16, context=3):
        super().__init__()
        self.encoder = nn.LSTM(features, hidden, num_layers=2, batch_first=True)
        self.decoder = nn.LSTM(targets, hidden, num_layers=2, batch_first=True)
        self.init_state = nn.Linear(context, 8)
        self.smoother = nn.GRU(hidden, 8, batch_first=True, bidirectional=True)
        self.head = nn.Linear(16, targets)

    def forward(self, source, target, context):
        _, (h, c) = self.encoder(source)
        decoded, _ = self.decoder(target, (h, c))
        start = torch.tanh(self.init_state(context)).unsqueeze(0)
        smoothed, _ = self.smoother(decoded, torch.cat([start, -start], dim=0))
        return self.head(smoothed)
'''


def test_pytorch_initial_states_migrate_to_keras(tmp_path):
    original, generated, result = migrated(tmp_path, TORCH_SEQ2SEQ, "pytorch", [[9, 6], [5, 4], [3]])
    decoder = next(n for n in result.model.nodes if n.name == "decoder")
    assert [n.eClass.name for n in decoder.inputs] == ["Input", "Select", "Select"]
    smoother = next(n for n in result.model.nodes if n.name == "smoother")
    assert len(smoother.inputs) == 2
    code = (tmp_path / "migrated.py").read_text()
    assert "initial_state=[" in code
    batches = [[normal(2, 9, 6), normal(2, 5, 4, seed=1), normal(2, 3, seed=2)],
               [normal(5, 12, 6, seed=3), normal(5, 7, 4, seed=4), normal(5, 3, seed=5)]]
    assert_same("pytorch", original, generated, batches)


KERAS_SEQ2SEQ = '''"""Keras encoder-decoder (the lstm_seq2seq example's shape): the encoder's states start the decoder."""
import keras
from keras import layers

LATENT = 12


def build(source_tokens=7, target_tokens=5, context_size=3):
    encoder_inputs = keras.Input(shape=(None, source_tokens))
    _, state_h, state_c = layers.LSTM(LATENT, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, target_tokens))
    decoded = layers.LSTM(LATENT, return_sequences=True)(decoder_inputs, initial_state=[state_h, state_c])
    context = keras.Input(shape=(context_size,))
    start = layers.Dense(6, activation="tanh")(context)
    refined = layers.Bidirectional(layers.GRU(6, return_sequences=True))(decoded, initial_state=[start, start])
    summary = layers.GRU(6)(decoder_inputs, start)
    outputs = layers.Dense(target_tokens, activation="softmax")(refined)
    return keras.Model([encoder_inputs, decoder_inputs, context], [outputs, summary])


model = build()
model.compile(optimizer="rmsprop", loss=["categorical_crossentropy", "mse"])
'''


def test_keras_initial_states_migrate_to_pytorch(tmp_path):
    original, generated, result = migrated(tmp_path, KERAS_SEQ2SEQ, "keras", [[8, 7], [6, 5], [3]])
    recurrent = [n for n in result.model.nodes if n.eClass.name in ("LSTM", "GRU")]
    assert [len(n.inputs) for n in recurrent] == [1, 3, 2, 2]
    assert [n.eClass.name for n in recurrent[1].inputs[1:]] == ["Select", "Select"]  # the encoder's, as returned
    batches = [[normal(2, 8, 7), normal(2, 6, 5, seed=1), normal(2, 3, seed=2)],
               [normal(4, 10, 7, seed=3), normal(4, 3, 5, seed=4), normal(4, 3, seed=5)]]
    assert_same("keras", original, generated, batches)


def test_keras_initial_state_of_the_wrong_count_is_located(tmp_path):
    source = tmp_path / "net.py"
    source.write_text(KERAS_SEQ2SEQ.replace("initial_state=[state_h, state_c]", "initial_state=[state_h]"))
    with pytest.raises(NNPivotError) as raised:
        import_source(source, "keras", None, None, [[8, 7], [6, 5], [3]])
    errors = [d for d in raised.value.diagnostics if d.is_error]
    assert errors[0].code == "unsupported-construct"   # the cause comes first
    assert "initial_state holds 1 state(s); this layer takes 2" in errors[0].message
    assert errors[0].location.line == 12


# --- Keras MultiHeadAttention with head sizes of its own -------------------------------------------------------

KERAS_ATTENTION = '''"""A small cross-attention tagger: Keras MultiHeadAttention with key_dim * num_heads unlike the features."""
import keras
from keras import layers


class CrossTagger(keras.Model):
    def __init__(self, tags=3, **kwargs):
        super().__init__(**kwargs)
        self.self_attention = layers.MultiHeadAttention(num_heads=4, key_dim=8)
        self.cross = layers.MultiHeadAttention(num_heads=2, key_dim=5, value_dim=3, output_shape=10,
                                               use_bias=False)
        self.norm = layers.LayerNormalization()
        self.classify = layers.Dense(tags)

    def call(self, inputs):
        tokens, memory = inputs
        x = self.norm(tokens + self.self_attention(tokens, tokens))
        mixed = self.cross(x, memory)
        return self.classify(mixed)
'''


def test_keras_attention_head_sizes_migrate_to_pytorch_and_back(tmp_path):
    original, generated, result = migrated(tmp_path, KERAS_ATTENTION, "keras", [[9, 6], [4, 11]])
    attention = {n.name: n for n in result.model.nodes if n.eClass.name == "MultiHeadAttention"}
    assert {(n.keyDim, n.valueDim, n.outputDim) for n in attention.values()} == {(8, 0, 0), (5, 3, 10)}
    code = (tmp_path / "migrated.py").read_text()
    assert code.count("class ProjectedAttention(nn.Module)") == 1 and "nn.MultiheadAttention(" not in code
    batches = [[normal(2, 9, 6), normal(2, 4, 11, seed=1)], [normal(3, 5, 6, seed=2), normal(3, 13, 11, seed=3)]]
    assert_same("keras", original, generated, batches)

    # the generated PyTorch module, read back with its weights, migrates to Keras again
    back = tmp_path / "back"
    back.mkdir()
    again = migrate(tmp_path / "migrated.py", "keras", back / "net.py", input_shapes=[[9, 6], [4, 11]],
                    weights=tmp_path / "migrated.pt", weights_out=back / "net.weights.h5")
    assert again.ok, [str(d) for d in again.diagnostics]
    keras_again = open_model_file(back / "net.py", again.model, "keras").obj
    keras_again.load_weights(str(back / "net.weights.h5"))
    assert_same("pytorch", generated, keras_again, batches)


# --- ConvLSTM2D ------------------------------------------------------------------------------------------------

KERAS_CONV_LSTM = '''"""Next-frame prediction in the manner of the Keras video example: stacked ConvLSTM2D layers, then a Conv3D."""
import keras
from keras import layers

FRAME = 12


def build_predictor(channels=1):
    frames = keras.Input(shape=(None, FRAME, FRAME, channels))
    x = layers.ConvLSTM2D(6, kernel_size=(5, 5), padding="same", return_sequences=True, activation="tanh")(frames)
    x = layers.BatchNormalization()(x)
    x = layers.ConvLSTM2D(filters=4, kernel_size=3, padding="same", return_sequences=True)(x)
    x = layers.Conv3D(channels, kernel_size=(3, 3, 3), activation="sigmoid", padding="same")(x)
    last = layers.ConvLSTM2D(3, 3, use_bias=False)(frames)
    return keras.Model(frames, [x, layers.GlobalAveragePooling2D()(last)])


model = build_predictor()
model.compile(loss=["binary_crossentropy", "mse"], optimizer="adam")
'''


def _to_pivot(keras_array, layout):
    return np.ascontiguousarray(np.transpose(keras_array, np.argsort(layout)))


def test_keras_conv_lstm_migrates_to_pytorch(tmp_path):
    original, generated, result = migrated(tmp_path, KERAS_CONV_LSTM, "keras", [[5, 12, 12, 1]])
    assert sum(n.eClass.name == "ConvLSTM2d" for n in result.model.nodes) == 3
    assert "class ConvLSTM2d(nn.Module)" in (tmp_path / "migrated.py").read_text()
    (layout,) = result.report.input_layouts
    batches = [[normal(2, 5, 12, 12, 1)], [normal(3, 8, 12, 12, 1, seed=1)]]   # the source pins the frame size
    for inputs in batches:
        want = call("keras", original, inputs)
        got = call("pytorch", generated, [_to_pivot(inputs[0], layout)])
        # the sequence comes back as PyTorch's (N, C, T, H, W) volume, the pooled last step as (N, F)
        got[0] = np.transpose(got[0], (0, 2, 3, 4, 1))
        for a, b in zip(want, got):
            assert a.shape == b.shape and np.abs(a - b).max() <= ATOL, float(np.abs(a - b).max())


TORCH_CONV_LSTM = '''"""Precipitation nowcasting with a convolutional LSTM module written in the project (as nnpivot writes it)."""
import torch
from torch import nn


''' + CONV_LSTM_CODE + '''

class Nowcaster(nn.Module):
    def __init__(self, channels=2, hidden=5):
        super().__init__()
        self.encoder = ConvLSTM2d(channels, hidden, 3, padding="same", return_sequences=True)
        self.forecaster = ConvLSTM2d(hidden, hidden, (3, 5), bias=False)
        self.head = nn.Conv2d(hidden, 1, 1)

    def forward(self, radar):
        return self.head(self.forecaster(self.encoder(radar)))
'''


def test_pytorch_conv_lstm_module_migrates_to_keras(tmp_path):
    original, generated, result = migrated(tmp_path, TORCH_CONV_LSTM, "pytorch", [[4, 2, 10, 12]])
    assert [n.eClass.name for n in result.model.nodes if n.eClass.name == "ConvLSTM2d"] == ["ConvLSTM2d"] * 2
    (layout,), _ = keras_layouts(result.model)   # the Keras tensor is the pivot's transposed by layout
    # Keras' ConvLSTM2D keeps the map size of its first call (its cell's input spec): sequences vary in length
    for inputs in [[normal(2, 4, 2, 10, 12)], [normal(3, 7, 2, 10, 12, seed=1)]]:
        want = call("pytorch", original, inputs)
        (got,) = call("keras", generated, [np.transpose(inputs[0], layout)])
        got = np.transpose(got, (0, 3, 1, 2))   # Keras maps are channels last
        assert got.shape == want[0].shape and np.abs(got - want[0]).max() <= ATOL
