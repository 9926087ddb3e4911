"""Helper modules that take more than tensors stay classes: packed arguments and per-call numbers.

A helper written to sit after an RNN in an ``nn.Sequential`` takes the RNN's whole ``(output, h_n)`` tuple and
unpacks it; a decoder's forward takes the number of steps to repeat its code for beside its tensor. Both are
blocks of the pivot (a ``PackedInput`` argument holding several inputs; a per-call ``BlockParameter`` bound to
the tile's count), written in ``.nn`` as ``input inputs = (output, state)`` and ``block Decoder(input steps:
int)``, and generated as classes whose ``forward``/``call`` take what the source's takes.

The two corpus files that hold such helpers migrate with the original's own weights (saved the way its users
save them) to PyTorch and Keras, are loaded the users' way (strict ``load_state_dict``, ``load_weights``) and
called at two sequence lengths within 1e-5 of the original; the generated classes are used where the
source's were (inside the source's ``nn.Sequential``; the decoder with another step count). What the pivot
cannot hold (a number used in arithmetic, an LSTM's nested ``(out, (h, c))``) stays inlined, exactly.
"""
from __future__ import annotations

import importlib.util
import os
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import ROOT
from generated_module import load_generated

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.codegen import class_name
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import save_xmi
from nnpivot.grammars import reader
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.importers.xmi import load_xmi
from nnpivot.metamodel import PackedInput
from nnpivot.migrate import migrate
from nnpivot.validators import validate

CORPUS = ROOT / "samples" / "corpus" / "pytorch"
ATOL = 1e-5
# file -> (model, constructor arguments, --set values, input shape, a second sequence length)
FILES = {
    "rnn_sequential_helpers.py": ("model", {}, None, [9, 4], 14),
    "script_lstm_anomaly_autoencoder.py": ("LSTMAutoencoder", {"n_features": 4, "hidden": 48, "latent": 12},
                                           {"n_features": 4}, [30, 4], 17),
}

HELPERS_TEXT = """\
model Helpers {
    input x: float32[7, 3]
    rnn = simple_rnn(x, 5, input_size=3)
    state = rnn[1]
    last = LastOutput(rnn, state)
    z = dense(last, 4, in_features=5)
    decoded = Decoder(z, 6)
    output decoded

    block LastOutput {
        input inputs = (output, h_n)
        step = index(output, axis=1, index=-1)
        output step
    }

    block Decoder(input steps: int) {
        input z
        wide = unsqueeze(z, 1)
        repeated = tile(wide, [steps, 1])
        out = dense(repeated, 2, in_features=4)
        output out
    }
}
"""


def _original(name: str):
    """The corpus model as its users build it, initialised by torch (seeded)."""
    import torch

    model_name, kwargs, _, _, _ = FILES[name]
    torch.manual_seed(0)   # the module-level Sequential is built when the file is imported
    spec = importlib.util.spec_from_file_location(f"original_{name[:-3]}", CORPUS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)   # imported, as its users import it: no __main__ block runs
    built = getattr(module, model_name)
    return module, (built(**kwargs) if isinstance(built, type) else built).eval()


def _migrated(name: str, target: str, tmp_path):
    import torch

    model_name, kwargs, settings, shape, _ = FILES[name]
    module, original = _original(name)
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)
    code = tmp_path / f"migrated_{target}.py"
    weights = tmp_path / ("migrated.pt" if target == "pytorch" else "migrated.weights.h5")
    result = migrate(CORPUS / name, target, code, model_name=model_name, model_args=kwargs or None,
                     input_shapes=[shape], settings=settings, weights=checkpoint, weights_out=weights)
    assert result.ok, result.report_text()
    return module, original, load_generated(code.read_text(), f"migrated_{target}"), class_name(result.model.name), \
        weights


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("target", ["pytorch", "keras"])
@pytest.mark.parametrize("name", sorted(FILES))
def test_a_helper_file_migrates_with_its_class_and_weights_exactly(name, target, tmp_path):
    import keras
    import torch

    _, original, generated, model_class, weights = _migrated(name, target, tmp_path)
    helper = {"rnn_sequential_helpers.py": "LastOutput", "script_lstm_anomaly_autoencoder.py": "Decoder"}[name]
    assert hasattr(generated, helper), f"no class {helper} in the generated {target} code"
    migrated = getattr(generated, model_class)()
    _, _, _, shape, other_length = FILES[name]
    rng = np.random.default_rng(1)
    for length in (shape[0], other_length):
        batch = rng.standard_normal((3, length, shape[1])).astype("float32")
        with torch.no_grad():
            expected = original(torch.from_numpy(batch)).numpy()
        if target == "pytorch":
            if migrated.training:
                migrated.load_state_dict(torch.load(weights))   # strict: every key of the file, no other
                migrated.eval()
            with torch.no_grad():
                got = migrated(torch.from_numpy(batch)).numpy()
        else:
            if not migrated.weights:
                migrated(batch)   # builds it, as its users do
                migrated.load_weights(str(weights))
            got = keras.ops.convert_to_numpy(migrated(batch, training=False))
        assert got.shape == expected.shape, (length, got.shape, expected.shape)
        assert float(np.abs(got - expected).max()) <= ATOL, length


@pytest.mark.torch
def test_the_generated_last_output_works_inside_the_sources_sequential(tmp_path):
    """The generated LastOutput takes the RNN's tuple as the source's does: swapped into the source's own
    nn.Sequential, the model computes the same."""
    import torch

    module, original, generated, _, _ = _migrated("rnn_sequential_helpers.py", "pytorch", tmp_path)
    layers = list(original)
    index = next(i for i, layer in enumerate(layers) if isinstance(layer, module.LastOutput))
    swapped = torch.nn.Sequential(*layers[:index], generated.LastOutput(), *layers[index + 1:]).eval()
    batch = torch.randn(2, 11, 4)
    with torch.no_grad():
        assert torch.allclose(swapped(batch), original(batch), atol=ATOL)


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("target", ["pytorch", "keras"])
def test_the_generated_decoder_takes_its_steps_at_each_call(target, tmp_path):
    """The number of steps is forward's argument, not baked in: the migrated decoder with the original's
    weights decodes 7 and 41 steps as the original decoder does."""
    import keras
    import torch

    _, original, generated, _, weights = _migrated("script_lstm_anomaly_autoencoder.py", target, tmp_path)
    migrated = generated.LSTMAutoencoder()
    latent = np.random.default_rng(2).standard_normal((2, 12)).astype("float32")
    if target == "pytorch":
        migrated.load_state_dict(torch.load(weights))
        migrated.eval()
    else:
        migrated(np.zeros((1, 30, 4), "float32"))
        migrated.load_weights(str(weights))
    for steps in (7, 41):
        with torch.no_grad():
            expected = original.decoder(torch.from_numpy(latent), steps).numpy()
        if target == "pytorch":
            with torch.no_grad():
                got = migrated.decoder(torch.from_numpy(latent), steps).numpy()
        else:
            got = keras.ops.convert_to_numpy(migrated.decoder(latent, steps=steps))
        assert got.shape == expected.shape == (2, steps, 4)
        assert float(np.abs(got - expected).max()) <= ATOL, steps


# --- the pivot, the language, XMI ---------------------------------------------------------------------------

def test_packed_inputs_and_per_call_parameters_check_print_back_and_round_trip_through_xmi(tmp_path):
    model = parse_text(HELPERS_TEXT, "helpers.nn")
    assert [d for d in validate(model) if d.is_error] == []
    last, decoder = model.blocks
    assert [(p.name, [i.name for i in p.items]) for p in last.packs] == [("inputs", ["output", "h_n"])]
    assert [(p.name, p.perCall) for p in decoder.parameters] == [("steps", True)]
    assert to_text(model) == HELPERS_TEXT
    assert reader.read(HELPERS_TEXT) is not None   # the fast reader knows both forms
    loaded = load_xmi(save_xmi(model, tmp_path / "helpers.xmi"))
    assert differences(model, loaded) == []
    assert to_text(loaded) == HELPERS_TEXT


def test_generated_classes_take_the_packed_tuple_and_the_steps():
    model = parse_text(HELPERS_TEXT, "helpers.nn")
    torch_code = pytorch_generator.generate(model, "helpers.nn")
    assert "    def forward(self, inputs):\n        output, _ = inputs\n" in torch_code
    assert "    def forward(self, z, steps):\n" in torch_code
    assert "self.last(rnn, state)" not in torch_code and "self.last((rnn, state))" in torch_code
    assert "self.decoded(z, 6)" in torch_code and "Decoder()" in torch_code
    keras_code = keras_generator.generate(model, "helpers.nn")
    assert "class Decoder(keras.layers.Layer):" in keras_code
    assert "    def call(self, z, steps):\n" in keras_code and "self.decoded(z, steps=6)" in keras_code
    assert "ops.tile(wide, (1, steps, 1))" in keras_code


@pytest.mark.torch
@pytest.mark.tensorflow
def test_generated_helper_classes_agree_with_each_other_at_two_lengths():
    import keras
    import torch

    model = parse_text(HELPERS_TEXT, "helpers.nn")
    torch_module = load_generated(pytorch_generator.generate(model, "helpers.nn"), "helpers_torch")
    keras_module = load_generated(keras_generator.generate(model, "helpers.nn"), "helpers_keras")
    torch_model = torch_module.Helpers().eval()
    keras_model = keras_module.Helpers()
    keras_model(np.zeros((1, 7, 3), "float32"))
    state = torch_model.state_dict()
    with torch.no_grad():   # the Keras layers get the PyTorch weights, converted by hand (kernel transposed)
        rnn = keras_model.rnn
        rnn.set_weights([state["rnn.weight_ih_l0"].numpy().T, state["rnn.weight_hh_l0"].numpy().T,
                         (state["rnn.bias_ih_l0"] + state["rnn.bias_hh_l0"]).numpy()])
        keras_model.z.set_weights([state["z.weight"].numpy().T, state["z.bias"].numpy()])
        keras_model.decoded.out.set_weights([state["decoded.out.weight"].numpy().T, state["decoded.out.bias"].numpy()])
    rng = np.random.default_rng(3)
    for length in (7, 12):
        batch = rng.standard_normal((2, length, 3)).astype("float32")
        with torch.no_grad():
            expected = torch_model(torch.from_numpy(batch)).numpy()
        got = keras.ops.convert_to_numpy(keras_model(batch))
        assert got.shape == expected.shape == (2, 6, 2)
        assert float(np.abs(got - expected).max()) <= ATOL


def test_a_per_call_default_is_forwards_default():
    model = parse_text(HELPERS_TEXT.replace("input steps: int", "input steps: int = 3"), "helpers.nn")
    assert "def forward(self, z, steps=3):" in pytorch_generator.generate(model, "helpers.nn")
    assert "def call(self, z, steps=3):" in keras_generator.generate(model, "helpers.nn")


def test_a_packed_input_of_one_item_and_a_clash_are_located():
    text = HELPERS_TEXT.replace("input inputs = (output, h_n)", "input inputs = (output)")
    with pytest.raises(NNPivotError) as raised:
        parse_text(text, "one.nn")
    assert [(d.code, d.location.line) for d in raised.value.diagnostics] == [("packed-input-single", 11)]
    text = HELPERS_TEXT.replace("input inputs = (output, h_n)", "input inputs = (output, output)")
    with pytest.raises(NNPivotError) as raised:
        parse_text(text, "twice.nn")
    assert [(d.code, d.location.line) for d in raised.value.diagnostics] == [("duplicate-name", 11)]


def test_packed_inputs_apart_cannot_be_generated():
    model = parse_text(HELPERS_TEXT, "helpers.nn")
    last = model.blocks[0]
    last.packs.clear()
    last.packs.append(PackedInput(name="inputs", items=[last.nodes[1], last.nodes[0]]))   # the other order
    for generator in (pytorch_generator, keras_generator):
        with pytest.raises(NNPivotError) as raised:
            generator.generate(model, "helpers.nn")
        assert "packed-inputs-apart" in {d.code for d in raised.value.diagnostics}


def test_a_per_call_number_a_constructor_would_read_gives_one_class_per_argument_set():
    text = textwrap.dedent("""\
        model Widths {
            input x: float32[3]
            a = Head(x, 4)
            b = Head(x, 5)
            output a, b

            block Head(input units: int) {
                input x
                d = dense(x, units, in_features=3)
                output d
            }
        }
        """)
    model = parse_text(text, "widths.nn")
    code, diagnostics = pytorch_generator.generate_code(model, "widths.nn")
    assert [(d.code, d.severity) for d in diagnostics] == [("per-call-in-constructor", "warning")]
    assert "class Head(nn.Module)" in code and "class Head2(nn.Module)" in code and "units" not in code
    keras_code, diagnostics = keras_generator.generate_code(model, "widths.nn")
    assert [(d.code, d.severity) for d in diagnostics] == [("per-call-in-constructor", "warning")]
    assert "class Head2(" in keras_code and "units" not in keras_code


# --- what stays inlined -------------------------------------------------------------------------------------

NOT_A_COUNT = '''
import torch.nn as nn


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(4, 2)

    def forward(self, z, steps):
        return self.out(z.unsqueeze(1).repeat(1, steps * 2, 1))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = Decoder()

    def forward(self, x):
        return self.decoder(x, 3)
'''

NESTED_STATE = '''
import torch.nn as nn


class LastStep(nn.Module):
    def forward(self, inputs):
        output, (h, c) = inputs
        return output[:, -1, :]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=True)
        self.last = LastStep()

    def forward(self, x):
        return self.last(self.lstm(x))
'''


@pytest.mark.torch
@pytest.mark.parametrize(("source", "inlined", "shape"), [(NOT_A_COUNT, "Decoder", [4]),
                                                         (NESTED_STATE, "LastStep", [6, 3])],
                         ids=["arithmetic-on-the-number", "nested-lstm-state"])
def test_what_the_pivot_cannot_hold_stays_inlined_and_exact(source, inlined, shape, tmp_path):
    import torch

    path = tmp_path / "net.py"
    path.write_text(source)
    model, report = import_pytorch(path, "Net", input_shapes=[shape])
    assert not model.blocks and f"{inlined} (called with non-tensors)" in report.inlined
    original = load_generated(source, "original_net").Net().eval()
    torch.save(original.state_dict(), tmp_path / "original.pt")
    result = migrate(path, "pytorch", tmp_path / "migrated.py", model_name="Net", input_shapes=[shape],
                     weights=tmp_path / "original.pt", weights_out=tmp_path / "migrated.pt")
    assert result.ok, result.report_text()
    generated = load_generated((tmp_path / "migrated.py").read_text(), "inlined").Net().eval()
    generated.load_state_dict(torch.load(tmp_path / "migrated.pt"))
    batch = torch.randn(2, *shape)
    with torch.no_grad():
        assert torch.allclose(generated(batch), original(batch), atol=ATOL)


ONE_STEP = '''
import torch.nn as nn


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.out = nn.Linear(4, 2)

    def forward(self, z, steps):
        return self.out(z.unsqueeze(1).repeat(1, steps, 1))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = Decoder()

    def forward(self, x):
        return self.decoder(x, 1)
'''


@pytest.mark.torch
def test_a_per_call_count_of_one_keeps_its_copy(tmp_path):
    """Copying once is no copy at this call, but the class copies ``steps`` times at the next: the tile stays."""
    import torch

    path = tmp_path / "net.py"
    path.write_text(ONE_STEP)
    model, _ = import_pytorch(path, "Net", input_shapes=[[4]])
    generated = load_generated(pytorch_generator.generate(model, "net.py"), "one_step")
    original = load_generated(ONE_STEP, "original_one_step").Net().eval()
    decoder = generated.Decoder().eval()
    decoder.load_state_dict(original.decoder.state_dict())
    z = torch.randn(2, 4)
    with torch.no_grad():
        assert decoder(z, 5).shape == (2, 5, 2)
        assert torch.allclose(decoder(z, 5), original.decoder(z, 5), atol=ATOL)
