"""A PyTorch LSTM trains two biases (bias_ih, bias_hh), its Keras migration one, their sum: each PyTorch bias
receives the whole gradient and takes the same step, so the generated Keras training takes twice its optimizer's
step for that bias (a TwoBias<Optimizer> class told the layers). Checked on a user's training script: through
``nnpivot verify --train`` (the migrated file's own optimizer, read back by the Keras importer) and through the
generated ``train()`` with plain ``model.fit``; where it cannot be exact (weight decay) the migration warns.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.migrate import migrate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

SCRIPT = """\
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

VOCABULARY, SEQUENCE, CLASSES = 60, 12, 3


class SentimentTagger(nn.Module):
    def __init__(self, vocabulary=VOCABULARY, width=8, hidden=6, classes=CLASSES):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.encoder = nn.LSTM(width, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        states, _ = self.encoder(self.embed(tokens))
        return self.head(states[:, -1])


def main():
    tokens = torch.randint(0, VOCABULARY, (160, SEQUENCE))
    labels = torch.randint(0, CLASSES, (160,))
    loader = DataLoader(TensorDataset(tokens, labels), batch_size=16, shuffle=True)
    model = SentimentTagger()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        for batch, targets in loader:
            optimizer.zero_grad()
            loss_fn(model(batch), targets).backward()
            optimizer.step()


if __name__ == "__main__":
    main()
"""

STEPS = 30


def _migrated(tmp_path, script: str = SCRIPT):
    source = tmp_path / "tagger.py"
    source.write_text(script)
    target = tmp_path / "tagger_keras.py"
    result = migrate(source, "keras", target)
    assert result.failed is None, [str(d) for d in result.diagnostics]
    return source, target, result.diagnostics


def _verify(capsys, source, target) -> tuple[int, str, str]:
    status = main(["verify", str(source), str(target), "--train", str(STEPS)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_migrated_training_steps_the_sum_of_the_two_biases_twice(tmp_path, capsys):
    source, target, diagnostics = _migrated(tmp_path)
    assert not [d for d in diagnostics if d.code == "approximate-translation"], [str(d) for d in diagnostics]
    code = target.read_text()
    assert "class TwoBiasSGD(keras.optimizers.SGD):" in code
    assert "# PyTorch's two biases (bias_ih, bias_hh) of encoder are Keras's one bias" in code
    assert 'two_bias_layers=("encoder",)' in code
    status, out, err = _verify(capsys, source, target)
    assert status == 0, out + err
    assert "the one bias of encoder stands for PyTorch's two" in out
    assert float(out.split("max relative difference ")[1].split()[0]) <= 1e-6
    assert float(out.split("max abs difference ")[1].split()[0]) <= 1e-6
    # the check trains the file as its code says: without the doubled step, the losses part from the second step
    assert "optimizer=TwoBiasSGD(" in code
    target.write_text(code.replace("optimizer=TwoBiasSGD(", "optimizer=keras.optimizers.SGD(").replace(
        ', two_bias_layers=("encoder",)', ""))
    status, out, err = _verify(capsys, source, target)
    assert status == 1
    assert "first diverging step: 2\n" in out and f"error[training-diverges]: step 2 of {STEPS}" in err


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_train_with_model_fit_moves_the_bias_as_pytorch(tmp_path):
    """The generated train(): model.fit with the script's 3 epochs of batches of 16 on 16 samples (3 steps of the
    whole batch, whatever fit's shuffling) from the same weights as PyTorch's model, which takes the same 3 steps."""
    import keras
    import torch

    source, target, _ = _migrated(tmp_path)
    torch.manual_seed(3)
    original = _load(source).SentimentTagger()
    migrated = _load(target).SentimentTagger()
    rng = np.random.default_rng(4)
    tokens = rng.integers(0, 60, size=(16, 12))
    labels = rng.integers(0, 3, size=(16,))
    migrated(tokens[:2])
    state = {k: v.detach().numpy().copy() for k, v in original.state_dict().items()}
    migrated.embed.embeddings.assign(state["embed.weight"])
    cell = migrated.encoder.cell   # Keras gates (i, f, c, o) are PyTorch's (i, f, g, o)
    cell.kernel.assign(state["encoder.weight_ih_l0"].T)
    cell.recurrent_kernel.assign(state["encoder.weight_hh_l0"].T)
    cell.bias.assign(state["encoder.bias_ih_l0"] + state["encoder.bias_hh_l0"])
    migrated.head.kernel.assign(state["head.weight"].T)
    migrated.head.bias.assign(state["head.bias"])

    history = _load(target).train(migrated, tokens, labels)
    optimizer = torch.optim.SGD(original.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(original(torch.from_numpy(tokens)), torch.from_numpy(labels))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    bias_sum = (original.encoder.bias_ih_l0 + original.encoder.bias_hh_l0).detach().numpy()
    moved = np.abs(bias_sum - (state["encoder.bias_ih_l0"] + state["encoder.bias_hh_l0"])).max()
    assert moved > 1e-2   # the steps move the bias well beyond the tolerance below
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cell.bias), bias_sum, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cell.kernel), original.encoder.weight_ih_l0.detach().numpy().T,
                               atol=1e-5)


def test_weight_decay_keeps_the_located_warning(tmp_path):
    """Weight decay added to each bias's gradient depends on the bias's own value: the two PyTorch biases take
    different steps, which no step of the one Keras bias reproduces; the migration says so at the LSTM."""
    script = SCRIPT.replace("lr=0.1, momentum=0.9)", "lr=0.1, momentum=0.9, weight_decay=1e-3)")
    _, target, diagnostics = _migrated(tmp_path, script)
    [warning] = [d for d in diagnostics if d.code == "approximate-translation" and "bias_ih, bias_hh" in d.message]
    assert "weight decay is added to each bias's gradient" in warning.message and "encoder" in warning.message
    assert warning.location.line == 12 and not warning.is_error
    assert "TwoBias" not in target.read_text()


PIVOT = """\
model Tagger {
    input x: float32[7, 3]
    encoded = lstm(x, 5, num_layers=2, bidirectional=true)
    mixed = gru(encoded, 4)
    summary = simple_rnn(mixed, 4, return_sequences=false)
    logits = dense(summary, 3)
    output logits

    training {
        optimizer adam(learning_rate=0.01, epsilon=1e-08)
        loss cross_entropy
    }
}
"""


def test_generated_pair_with_stacked_bidirectional_layers_trains_alike(tmp_path, capsys):
    """A .nn model's stacked bidirectional LSTM and SimpleRNN have PyTorch's two biases, its GRU Keras's two as
    well (reset_after): the Keras training steps the one bias of each stacked layer twice (both directions), the
    GRU's once, and the generated pair trains alike under PyTorch's Adam."""
    model = tmp_path / "tagger.nn"
    model.write_text(PIVOT)
    for target, name in (("pytorch", "tagger_torch.py"), ("keras", "tagger_keras.py")):
        assert main(["convert", str(model), "--to", target, "-o", str(tmp_path / name)]) == 0
    code = (tmp_path / "tagger_keras.py").read_text()
    assert "class TwoBiasTorchAdam(TorchAdam):" in code
    assert 'two_bias_layers=("encoded_l0","encoded_l1","summary")' in "".join(code.split())
    capsys.readouterr()
    status = main(["verify", str(tmp_path / "tagger_torch.py"), str(tmp_path / "tagger_keras.py"), "--model",
                   str(model), "--train", "20"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "the one bias of encoded_l0, encoded_l1, summary_ stands for PyTorch's two" in out  # read from the file
    assert float(out.split("max relative difference ")[1].split()[0]) <= 1e-5
    assert float(out.split("max abs difference ")[1].split()[0]) <= 1e-5
