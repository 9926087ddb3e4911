"""A learned tensor added to activations (add_learned, issue 10): a position table made in ``__init__``.

PyTorch writes it ``self.pos = nn.Parameter(torch.zeros(1, n, d))`` (or ``randn``/``empty``) and adds it in
forward; Keras ``self.table = self.add_weight(shape=..., trainable=True)`` in a custom layer. Each direction
is migrated with the user's checkpoint and the migrated model, loaded with the user's own loader and called
directly in its framework's layout at two batch sizes, computes what the original computes. A buffer of
computed content (a sinusoid table) stays a located refusal.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from nnpivot.frameworks import load_source_module
from nnpivot.migrate import migrate

TORCH_SOURCE = textwrap.dedent('''\
    """A tiny vision transformer stem: patches by a strided conv, a class-free token grid, a learned position
    table, one encoder layer and a linear read-out of the mean token."""
    import torch
    import torch.nn as nn

    IMAGE, PATCH = 16, 4


    class PatchStem(nn.Module):
        def __init__(self, channels=3, width=24, classes=5):
            super().__init__()
            tokens = (IMAGE // PATCH) ** 2
            self.patches = nn.Conv2d(channels, width, kernel_size=PATCH, stride=PATCH)
            self.pos = nn.Parameter(torch.zeros(1, tokens, width))
            self.channel_bias = nn.Parameter(torch.randn(width))
            nn.init.trunc_normal_(self.pos, std=0.02)
            self.mix = nn.Linear(width, width)
            self.head = nn.Linear(width, classes)

        def forward(self, images):
            tokens = self.patches(images).flatten(2).transpose(1, 2)
            tokens = self.mix(tokens + self.pos)
            tokens = torch.relu(tokens + self.channel_bias)
            return self.head(tokens.mean(dim=1))
    ''')

KERAS_SOURCE = textwrap.dedent('''\
    """Tags each step of a sensor sequence; a learned position table is added to the embedded steps."""
    import keras
    from keras import layers

    STEPS, FEATURES = 10, 6


    class PositionTable(layers.Layer):
        def __init__(self, steps, width, **kwargs):
            super().__init__(**kwargs)
            self.table = self.add_weight(shape=(steps, width), initializer="random_normal", trainable=True,
                                         name="table")

        def call(self, x):
            return x + self.table


    class Tagger(keras.Model):
        def __init__(self, classes=4):
            super().__init__()
            self.embed = layers.Dense(16)
            self.position = PositionTable(STEPS, 16, name="position")
            self.head = layers.Dense(classes)

        def call(self, x):
            return self.head(self.position(self.embed(x)))
    ''')


def _errors(result):
    return [d for d in result.diagnostics if d.is_error]


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_pytorch_position_table_migrates_to_keras_with_its_checkpoint(tmp_path):
    import torch

    source = tmp_path / "stem.py"
    source.write_text(TORCH_SOURCE)
    torch.manual_seed(0)
    original = load_source_module(source).PatchStem().eval()
    with torch.no_grad():   # a trained table, not the initial one
        original.pos.normal_()
        original.channel_bias.normal_()
    torch.save(original.state_dict(), tmp_path / "stem.pt")
    result = migrate(source, "keras", tmp_path / "stem_keras.py", weights=tmp_path / "stem.pt",
                     weights_out=tmp_path / "stem.weights.h5")
    assert result.ok and not _errors(result), [str(d) for d in result.diagnostics]
    assert [d.location.line for d in result.diagnostics if d.code == "weight-init-ignored"] == [16]
    kinds = [n.eClass.name for n in result.model.nodes]
    assert kinds.count("AddLearned") == 2
    text = (tmp_path / "stem_keras.py").read_text()
    # the table is added where the tokens are still (N, width, tokens) in Keras: its variable is permuted too
    assert "shape=(1, 24, 16)" in text and "shape=(24,)" in text
    migrated = load_source_module(tmp_path / "stem_keras.py").PatchStem()
    rng = np.random.default_rng(0)
    for batch in (2, 5):
        images = rng.standard_normal((batch, 3, 16, 16)).astype("float32")
        channels_last = np.transpose(images, (0, 2, 3, 1))
        if not migrated.built:
            migrated(channels_last)
            migrated.load_weights(tmp_path / "stem.weights.h5")
        with torch.no_grad():
            expected = original(torch.from_numpy(images)).numpy()
        got = np.asarray(migrated(channels_last, training=False))
        assert np.abs(expected - got).max() < 1e-5, batch


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_keras_add_weight_table_migrates_to_pytorch_with_its_checkpoint(tmp_path):
    import keras
    import torch

    source = tmp_path / "tagger.py"
    source.write_text(KERAS_SOURCE)
    keras.utils.set_random_seed(0)
    original = load_source_module(source).Tagger()
    original(np.zeros((1, 10, 6), "float32"))
    original.save_weights(tmp_path / "tagger.weights.h5")
    result = migrate(source, "pytorch", tmp_path / "tagger_torch.py", model_name="Tagger", input_shapes=[[10, 6]],
                     weights=tmp_path / "tagger.weights.h5", weights_out=tmp_path / "tagger.pt")
    assert result.ok and not _errors(result), [str(d) for d in result.diagnostics]
    assert "self.table = nn.Parameter(torch.zeros(10, 16))" in (tmp_path / "tagger_torch.py").read_text()
    migrated = load_source_module(tmp_path / "tagger_torch.py").Tagger().eval()
    migrated.load_state_dict(torch.load(tmp_path / "tagger.pt"))
    assert np.abs(migrated.position.table.detach().numpy()).max() > 0   # the table came over, not the zeros
    rng = np.random.default_rng(1)
    for batch in (2, 5):
        steps = rng.standard_normal((batch, 10, 6)).astype("float32")
        expected = np.asarray(original(steps))
        with torch.no_grad():
            got = migrated(torch.from_numpy(steps)).numpy()
        assert np.abs(expected - got).max() < 1e-5, batch


def test_a_computed_buffer_stays_a_located_refusal(tmp_path):
    source = tmp_path / "sinusoid.py"
    source.write_text(textwrap.dedent('''\
        import torch
        import torch.nn as nn


        class Encoder(nn.Module):
            def __init__(self, steps=12, width=8):
                super().__init__()
                position = torch.arange(steps).unsqueeze(1)
                self.register_buffer("table", torch.sin(position / 100.0).expand(steps, width))
                self.proj = nn.Linear(width, width)

            def forward(self, x):
                return self.proj(x + self.table)
        '''))
    result = migrate(source, "keras", tmp_path / "out.py", input_shapes=[[12, 8]])
    assert result.failed == "import" and not (tmp_path / "out.py").exists()
    assert any(d.location is not None and d.location.line in (8, 9) for d in _errors(result)), \
        [str(d) for d in result.diagnostics]


KERAS_CONV_TABLE_SOURCE = textwrap.dedent('''\
    """Forecasts from patches of a signal: a strided Conv1D cuts the patches, a learned table gives each patch
    position its offset (added to the channels-last patches), a dense head reads them all."""
    import keras
    from keras import layers

    STEPS, PATCH, WIDTH = 24, 4, 8


    class PatchPositions(layers.Layer):
        def __init__(self, patches, width, **kwargs):
            super().__init__(**kwargs)
            self.table = self.add_weight(shape=(1, patches, width), initializer="zeros", name="table")

        def call(self, patches):
            return patches + self.table


    class Forecaster(keras.Model):
        def __init__(self, horizon=3, **kwargs):
            super().__init__(**kwargs)
            self.patchify = layers.Conv1D(WIDTH, PATCH, strides=PATCH)
            self.positions = PatchPositions(STEPS // PATCH, WIDTH, name="positions")
            self.flatten = layers.Flatten()
            self.head = layers.Dense(horizon)

        def call(self, signal):
            return self.head(self.flatten(self.positions(self.patchify(signal))))
    ''')


@pytest.mark.torch
@pytest.mark.tensorflow
def test_a_keras_table_added_to_conv1d_patches_migrates_to_pytorch_with_its_checkpoint(tmp_path):
    """The table's axes are the channels-last patches' (steps, channels), not the pivot's: the sum is read on
    the patches in Keras order, so the variable keeps its axes (it was refused before)."""
    import keras
    import torch

    source = tmp_path / "forecaster.py"
    source.write_text(KERAS_CONV_TABLE_SOURCE)
    keras.utils.set_random_seed(2)
    original = load_source_module(source).Forecaster()
    original(np.zeros((1, 24, 2), "float32"))
    original.positions.table.assign(np.random.default_rng(3).standard_normal((1, 6, 8)).astype("float32"))
    original.save_weights(tmp_path / "forecaster.weights.h5")
    result = migrate(source, "pytorch", tmp_path / "forecaster_torch.py", input_shapes=[[24, 2]],
                     weights=tmp_path / "forecaster.weights.h5", weights_out=tmp_path / "forecaster.pt")
    assert result.ok and not _errors(result), [str(d) for d in result.diagnostics]
    migrated = load_source_module(tmp_path / "forecaster_torch.py").Forecaster().eval()
    migrated.load_state_dict(torch.load(tmp_path / "forecaster.pt"))
    rng = np.random.default_rng(4)
    for batch in (2, 5):
        signal = rng.standard_normal((batch, 24, 2)).astype("float32")   # (N, T, F) in both frameworks
        expected = np.asarray(original(signal))
        with torch.no_grad():
            got = migrated(torch.from_numpy(signal)).numpy()
        assert got.shape == expected.shape == (batch, 3)
        assert np.abs(expected - got).max() < 1e-5, batch
