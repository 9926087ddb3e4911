"""Never a silently wrong file (issue 9): what `nnpivot migrate` does with whole real-style files.

* Code that only runs at construction to initialise weights (an ``nn.init``
  loop over ``self.modules()``, ``model.apply(weights_init)``) or to log is
  left out with a ``weight-init-ignored`` note: the weights come from the
  checkpoint, and the migration is complete (no error, not partial).
* Code outside the migrated model (a training loop, argparse, ``main()``,
  the other network of the file) does not make the result partial.
* An output that comes from code that could not be translated (a block whose
  body calls ``torch.utils.checkpoint``, a VAE sampling with ``randn_like``)
  stops the migration: no file is written rather than one without it.

The files are in ``samples/faithful/pytorch``; none needs ``--input-shape``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnpivot.frameworks import load_source_module
from nnpivot.migrate import migrate

FILES = Path(__file__).resolve().parent.parent / "samples" / "faithful" / "pytorch"


def _errors(result):
    return [d for d in result.diagnostics if d.is_error]


def test_an_init_loop_and_a_log_line_are_left_out_with_a_note(tmp_path):
    result = migrate(FILES / "mobilenet_v2_init.py", "keras", tmp_path / "mobilenet.py")
    assert result.ok and not result.partial and not _errors(result)
    notes = [(d.location.line, d.code) for d in result.diagnostics if d.code == "weight-init-ignored"]
    assert notes == [(72, "weight-init-ignored"), (83, "weight-init-ignored")]   # the loop, the log.info call
    assert result.report.input_shapes == {"x": (3, -1, -1)}
    text = (tmp_path / "mobilenet.py").read_text()
    assert "add = x + " in text   # the residual blocks keep their addition (use_res_connect)


def test_weights_init_applied_at_module_level_and_a_training_loop_leave_both_networks_whole(tmp_path):
    for network, shape in (("Generator", (100, -1, -1)), ("Discriminator", (3, 32, 32))):
        result = migrate(FILES / "dcgan_weights_init.py", "keras", tmp_path / f"{network}.py", model_name=network)
        assert result.ok and not result.partial and not _errors(result), network
        assert result.report.input_shapes == {"noise" if network == "Generator" else "image": shape}


def test_argparse_and_a_training_loop_do_not_make_a_vae_partial(tmp_path):
    result = migrate(FILES / "vae_training_script.py", "pytorch", tmp_path / "vae.py")
    assert result.ok and not result.partial and not _errors(result)
    assert len(result.model.outputs) == 3   # decoded, mu, logvar
    assert result.report.input_shapes == {"x": (784,)}


def test_a_block_whose_body_cannot_be_translated_stops_the_migration(tmp_path):
    out = tmp_path / "mobilenet.py"
    result = migrate(FILES / "mobilenet_v2_checkpointed.py", "keras", out)
    assert result.failed == "import" and not out.exists()
    messages = [d.message for d in _errors(result) if d.code == "output-not-translated"]
    assert any("block InvertedResidual" in m for m in messages)
    assert any(d.code == "unknown-function" and d.location.line == 26 for d in _errors(result))


def test_an_output_lost_to_untranslated_sampling_stops_the_migration(tmp_path):
    out = tmp_path / "vae.py"
    result = migrate(FILES / "vae_sampling_in_forward.py", "keras", out)
    assert result.failed == "import" and not out.exists()
    assert [d.code for d in _errors(result)][-1] == "output-not-translated"
    assert "output 0 of the model" in _errors(result)[-1].message


@pytest.mark.torch
@pytest.mark.tensorflow
def test_the_mobilenet_migrated_without_a_shape_matches_the_original_at_two_sizes(tmp_path):
    """The user's contract: the Keras model, given the converted checkpoint, called directly on channels-last
    batches of two sizes, computes what the PyTorch original computes on the same (channels-first) batches."""
    import torch

    source = load_source_module(FILES / "mobilenet_v2_init.py")
    original = source.MobileNetV2().eval()
    with torch.no_grad():   # fresh BatchNorm statistics are 0 and 1: give them values a trained model has
        for module in original.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    torch.save(original.state_dict(), tmp_path / "mobilenet.pt")
    result = migrate(FILES / "mobilenet_v2_init.py", "keras", tmp_path / "mobilenet_keras.py",
                     weights=tmp_path / "mobilenet.pt", weights_out=tmp_path / "mobilenet.weights.h5")
    assert result.ok and not _errors(result)
    migrated = load_source_module(tmp_path / "mobilenet_keras.py").MobileNetV2()
    rng = np.random.default_rng(0)
    for size in (32, 44):
        images = rng.standard_normal((3, 3, size, size)).astype("float32")
        if not migrated.built:
            migrated(np.transpose(images, (0, 2, 3, 1)))
            migrated.load_weights(tmp_path / "mobilenet.weights.h5")
        with torch.no_grad():
            expected = original(torch.from_numpy(images)).numpy()
        got = np.asarray(migrated(np.transpose(images, (0, 2, 3, 1)), training=False))
        assert np.abs(expected - got).max() < 1e-5, size
