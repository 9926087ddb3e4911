"""Keras preprocessing layers (issue 10 item 4): Normalization is the exact kind ``normalization``, CenterCrop an
exact slice at the input size the code gives, and augmentation layers are left out with a note (they act only in
training). A realistic training script migrates to PyTorch with its adapted statistics; the kind runs the same in
both generated frameworks from the same weights."""
from __future__ import annotations

import os
import types
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import open_model_file
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as torch_generator
from nnpivot.importers.nn_text import parse_text
from nnpivot.migrate import import_source, migrate, source_runner
from nnpivot.weights import WeightStore

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "samples" / "corpus" / "keras" / "cnn_normalization_center_crop.py"
ATOL = 1e-5

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning"),
              pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match:UserWarning")]


def _codes(diagnostics):
    return {(d.code, d.location.line if d.location else None) for d in diagnostics}


def _tinted_images(rng, count, size):
    """Raw pixels whose channels have different means and spreads, as the script's data."""
    return (rng.uniform(0, 255, size=(count, size, size, 3)) * [1.0, 0.5, 2.0] + [40.0, 0.0, -30.0]).astype("float32")


@pytest.mark.torch
@pytest.mark.tensorflow
def test_training_script_with_preprocessing_migrates_with_its_adapted_statistics(tmp_path):
    import torch

    model, report = import_source(SCRIPT, "keras")
    assert report.ok, [str(d) for d in report.diagnostics]
    kinds = [node.eClass.name for node in model.nodes]
    assert kinds[1:3] == ["Slice", "Normalization"] and "RandomFlip" not in kinds
    notes = [d for d in report.diagnostics if d.code == "training-only-layer"]
    assert [(d.severity, d.location.line) for d in notes] == [("note", 33), ("note", 33)]
    assert {"RandomFlip", "RandomRotation"} <= {d.message.split()[0] for d in notes}

    # the trained build: the normalizer adapted on the training images, then the weights saved by Keras
    original = source_runner(SCRIPT, "keras", model, report)
    keras_model = original.obj
    rng = np.random.default_rng(7)
    [normalizer] = [layer for layer in keras_model.layers if type(layer).__name__ == "Normalization"]
    normalizer.adapt(_tinted_images(rng, 48, 36))
    assert np.ptp(np.asarray(normalizer.adapt_mean)) > 10.0   # the statistics differ per channel
    checkpoint = tmp_path / "tinted_classifier.weights.h5"
    keras_model.save_weights(str(checkpoint))

    output, weights_out = tmp_path / "classifier.py", tmp_path / "classifier.pt"
    result = migrate(SCRIPT, "pytorch", output, weights=checkpoint, weights_out=weights_out)
    assert result.ok, [str(d) for d in result.diagnostics]
    generated = open_model_file(output, result.model, "pytorch").obj
    state = torch.load(weights_out, weights_only=True)
    assert np.allclose(state["normalizer.mean"].numpy(), np.asarray(normalizer.adapt_mean))
    generated.load_state_dict(state)
    generated.eval()
    for batch in (2, 5):
        images = _tinted_images(rng, batch, 36)                       # channels last, as Keras takes them
        want = np.asarray(keras_model(images, training=False))
        with torch.no_grad():
            got = generated(torch.from_numpy(np.ascontiguousarray(np.moveaxis(images, -1, 1)))).numpy()
        assert got.shape == want.shape == (batch, 4)
        assert np.abs(want - got).max() <= ATOL, (batch, float(np.abs(want - got).max()))


NORMALIZED_NET = """model Standardized {
  input x: float32[3, ?, ?]
  norm = normalization(x)
  conv = conv2d(norm, 4, kernel_size=3, padding="same")
  output conv
}
"""


@pytest.mark.torch
@pytest.mark.tensorflow
def test_normalization_kind_computes_the_same_in_both_generated_frameworks():
    import torch

    model = parse_text(NORMALIZED_NET, "standardized.nn")
    rng = np.random.default_rng(3)
    store = WeightStore()
    store["norm.mean"] = np.array([120.0, -4.0, 0.5], dtype="float32")
    # the last channel is constant in the data: Keras divides by its epsilon floor, not by sqrt(variance + eps)
    store["norm.variance"] = np.array([900.0, 0.25, 0.0], dtype="float32")
    store["conv.weight"] = rng.normal(0.0, 0.3, (4, 3, 3, 3)).astype("float32")
    store["conv.bias"] = rng.normal(0.0, 0.3, (4,)).astype("float32")

    module = types.ModuleType("standardized_torch")
    exec(compile(torch_generator.generate(model, "standardized.nn"), "standardized_torch", "exec"),  # noqa: S102
         module.__dict__)
    torch_model = module.Standardized()
    torch_model.load_state_dict({key: torch.from_numpy(value) for key, value in store.items()})
    torch_model.eval()
    keras_model = keras_generator.build_keras_model(model)
    assert not keras_generator.assign_store(keras_model, model, store)

    for batch, size in ((1, 8), (3, 13)):
        images = rng.normal(0.0, 30.0, (batch, 3, size, size)).astype("float32")
        images[:, 2] = 0.5 + rng.normal(0.0, 1e-6, (batch, size, size)).astype("float32")
        with torch.no_grad():
            got = torch_model(torch.from_numpy(images)).numpy()
        want = np.moveaxis(np.asarray(keras_model(np.moveaxis(images, 1, -1), training=False)), -1, 1)
        assert got.shape == want.shape == (batch, 4, size, size)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=ATOL)


@pytest.mark.torch
@pytest.mark.tensorflow
def test_center_crop_of_an_odd_margin_is_the_keras_window(tmp_path):
    import keras
    import torch

    source = tmp_path / "crop.py"
    source.write_text("import keras\nfrom keras import layers\n\n"
                      "inputs = keras.Input(shape=(9, 12, 2))\n"
                      "cropped = layers.CenterCrop(4, 7)(inputs)\n"
                      "model = keras.Model(inputs, layers.Flatten()(cropped))\n")
    output = tmp_path / "crop_torch.py"
    result = migrate(source, "pytorch", output)
    assert result.ok, [str(d) for d in result.diagnostics]
    generated = open_model_file(output, result.model, "pytorch").obj
    window = keras.Sequential([keras.Input(shape=(9, 12, 2)), keras.layers.CenterCrop(4, 7)])
    images = np.random.default_rng(1).normal(size=(2, 9, 12, 2)).astype("float32")
    want = np.asarray(window(images)).reshape(2, -1)   # Flatten keeps Keras' channels-last order in both
    with torch.no_grad():
        got = generated(torch.from_numpy(np.ascontiguousarray(np.moveaxis(images, -1, 1)))).numpy()
    assert got.shape == (2, 4 * 7 * 2) and np.array_equal(got, want)


@pytest.mark.parametrize("layer, code, needle", [
    ("layers.CenterCrop(48, 48)", "unsupported-construct", "resizes it"),
    ("layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 1.0, 4.0])", "unsupported-construct",
     "mean and variance given in the code"),
    ("layers.Normalization(invert=True)", "unsupported-construct", "invert=True"),
])
def test_preprocessing_without_an_exact_counterpart_is_a_located_error(tmp_path, layer, code, needle):
    source = tmp_path / "net.py"
    source.write_text("import keras\nfrom keras import layers\n\n"
                      "model = keras.Sequential([\n"
                      "    keras.Input(shape=(32, 32, 3)),\n"
                      f"    {layer},\n"
                      "    layers.Flatten(),\n"
                      "])\n")
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "keras")
    assert (code, 6) in _codes(caught.value.diagnostics)
    assert any(needle in d.message for d in caught.value.diagnostics)


def test_center_crop_of_an_input_of_open_size_asks_for_the_size(tmp_path):
    source = tmp_path / "net.py"
    source.write_text("import keras\nfrom keras import layers\n\n"
                      "inputs = keras.Input(shape=(None, None, 3))\n"
                      "model = keras.Model(inputs, layers.CenterCrop(16, 16)(inputs))\n")
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "keras")
    assert ("input-size-needed", 5) in _codes(caught.value.diagnostics)
    assert any("--input-shape" in d.message for d in caught.value.diagnostics)


RESIZED_NET = """import keras
from keras import layers


def build_model(classes=3):
    inputs = keras.Input(shape=(None, None, 3))
    x = layers.Resizing(12, 10)(inputs)
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(classes)(x))
"""


@pytest.mark.torch
@pytest.mark.tensorflow
def test_bilinear_resizing_is_f_interpolate_at_any_input_size(tmp_path):
    import torch

    source = tmp_path / "resized.py"
    source.write_text(RESIZED_NET)
    model, report = import_source(source, "keras")
    assert report.ok, [str(d) for d in report.diagnostics]
    original = source_runner(source, "keras", model, report)
    checkpoint = tmp_path / "resized.weights.h5"
    original.obj.save_weights(str(checkpoint))
    output, weights_out = tmp_path / "resized_torch.py", tmp_path / "resized.pt"
    result = migrate(source, "pytorch", output, weights=checkpoint, weights_out=weights_out)
    assert result.ok, [str(d) for d in result.diagnostics]
    assert 'F.interpolate(x, size=(12, 10), mode="bilinear")' in output.read_text()
    generated = open_model_file(output, result.model, "pytorch").obj
    generated.load_state_dict(torch.load(weights_out, weights_only=True))
    rng = np.random.default_rng(5)
    for batch, (height, width) in ((2, (7, 19)), (3, (30, 16))):   # down- and up-sampling, both axes
        images = rng.normal(size=(batch, height, width, 3)).astype("float32")
        want = np.asarray(original.obj(images, training=False))
        with torch.no_grad():
            got = generated(torch.from_numpy(np.ascontiguousarray(np.moveaxis(images, -1, 1)))).numpy()
        assert got.shape == want.shape == (batch, 3)
        assert np.abs(want - got).max() <= ATOL, ((height, width), float(np.abs(want - got).max()))


@pytest.mark.parametrize("layer, needle", [
    ('layers.Resizing(16, 16, interpolation="nearest")', "interpolation='nearest'"),
    ("layers.Resizing(16, 16, crop_to_aspect_ratio=True)", "crop_to_aspect_ratio=True"),
])
def test_resizing_without_an_exact_counterpart_is_a_located_error(tmp_path, layer, needle):
    source = tmp_path / "net.py"
    source.write_text("import keras\nfrom keras import layers\n\n"
                      "model = keras.Sequential([\n"
                      "    keras.Input(shape=(32, 32, 3)),\n"
                      f"    {layer},\n"
                      "])\n")
    with pytest.raises(NNPivotError) as caught:
        import_source(source, "keras")
    assert ("unsupported-construct", 6) in _codes(caught.value.diagnostics)
    assert any(needle in d.message and "exact" in d.message for d in caught.value.diagnostics)
