"""Whole PyTorch scripts of the corpus (issue 10 item 6): what the importer had to learn to read them as handed over.

A GAN script trains two networks and keeps the one whose weights it saves; a script may train the network a
builder function returns; a character vocabulary is spelled with ``string`` constants; a triplet network calls
one block on three inputs, which fit only at one size together; categorical columns are read by embeddings
column by column (``emb(x_cat[:, i])``), so the input holds ids. Each test writes a small script the way people
write them and checks the migrated model, called directly, against the original.
"""
from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import random_inputs
from nnpivot.generators.codegen import class_name
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.migrate import migrate

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")]


def write(folder, name: str, text: str):
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def place(path, text: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} is not in {path}")


GAN = '''
    import argparse

    import torch
    from torch import nn


    class Generator(nn.Module):
        def __init__(self, nz=8, hidden=16):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(nz, hidden), nn.ReLU(), nn.Linear(hidden, 12), nn.Tanh())

        def forward(self, z):
            return self.net(z)


    class Discriminator(nn.Module):
        def __init__(self, hidden=16):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(12, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))

        def forward(self, x):
            return self.net(x)


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--nz", type=int, default=6)
        opt = parser.parse_args()
        netG, netD = Generator(int(opt.nz)), Discriminator()
        opt_d = torch.optim.Adam(netD.parameters(), lr=2e-4)
        opt_g = torch.optim.Adam(netG.parameters(), lr=2e-4)
        for step in range(100):
            fake = netG(torch.randn(32, opt.nz))
            loss_d = netD(fake.detach()).mean() - netD(torch.randn(32, 12)).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        SAVED


    if __name__ == "__main__":
        main()
'''


def test_a_gan_script_keeps_the_network_whose_weights_it_saves(tmp_path):
    path = write(tmp_path, "gan.py", GAN.replace("SAVED", 'torch.save({"g": netG.state_dict(), "step": step}, "g.pt")'))
    _, report = import_pytorch(path)
    assert (report.model, report.model_arguments) == ("Generator", {"nz": 6})
    assert report.input_shapes == {"z": (6,)}
    (note,) = [d for d in report.diagnostics if d.code == "model-picked"]
    assert not note.is_error and "saves the weights of Generator only" in note.message
    assert (note.location.line, note.location.col) == place(path, "torch.optim.Adam(netG.")


def test_a_gan_script_saving_both_networks_stays_ambiguous(tmp_path):
    saved = 'torch.save(netG.state_dict(), "g.pt")\n        torch.save(netD.state_dict(), "d.pt")'
    path = write(tmp_path, "gan.py", GAN.replace("SAVED", saved))
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path)
    assert [d.code for d in caught.value.diagnostics] == ["ambiguous-model"]


BUILDER = '''
    import torch
    import torch.nn as nn

    HPARAMS = {"features": 10, "width": 24, "depth": 2}


    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x) + x


    def make_model(features, width=16, depth=1, n_out=3):
        blocks = [Residual(nn.Sequential(nn.Linear(width, width), nn.GELU())) for _ in range(depth)]
        return nn.Sequential(nn.Linear(features, width), *blocks, nn.LayerNorm(width), nn.Linear(width, n_out))


    def make_optimizer(model, lr=1e-3):
        return torch.optim.AdamW(model.parameters(), lr=lr)


    if __name__ == "__main__":
        model = make_model(**HPARAMS)
        optimizer = make_optimizer(model)
        for _ in range(10):
            loss = model(torch.randn(8, 10)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
'''


@pytest.mark.torch
@pytest.mark.tensorflow
def test_the_network_a_builder_function_returns_is_the_model_and_migrates(tmp_path):
    import keras
    import torch

    path = write(tmp_path, "train.py", BUILDER)
    _, report = import_pytorch(path)
    assert (report.model, report.model_kind) == ("make_model", "function")
    assert report.model_arguments == {"features": 10, "width": 24, "depth": 2}
    assert report.input_shapes == {"x": (10,)}

    namespace: dict = {"__name__": "builder_source"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the test's own script
    torch.manual_seed(0)
    original = namespace["make_model"](features=10, width=24, depth=2).eval()
    checkpoint = tmp_path / "original.pt"
    torch.save(original.state_dict(), checkpoint)
    out, weights = tmp_path / "migrated.py", tmp_path / "migrated.weights.h5"
    result = migrate(path, "keras", out, weights=checkpoint, weights_out=weights)
    assert result.ok, result.report_text()
    generated: dict = {"__name__": "migrated"}
    exec(compile(out.read_text(), str(out), "exec"), generated)  # noqa: S102 - nnpivot's own output
    migrated = generated[class_name(result.model.name)]()
    rng = np.random.default_rng(0)
    migrated(rng.standard_normal((1, 10)).astype("float32"))
    migrated.load_weights(str(weights))
    for batch in (2, 5):
        x = rng.standard_normal((batch, 10)).astype("float32")
        with torch.no_grad():
            expected = original(torch.from_numpy(x)).numpy()
        got = keras.ops.convert_to_numpy(migrated(x, training=False))
        assert np.abs(got - expected).max() <= 1e-5


def test_string_constants_spell_a_character_vocabulary(tmp_path):
    path = write(tmp_path, "chars.py", '''
        import string
        from string import punctuation

        import torch.nn as nn

        ALPHABET = string.ascii_lowercase + string.digits + punctuation
        N_CHARS = len(ALPHABET) + 1   # 0 pads


        class CharGRU(nn.Module):
            def __init__(self, n_chars=N_CHARS, hidden=8):
                super().__init__()
                self.embed = nn.Embedding(n_chars, 4, padding_idx=0)
                self.gru = nn.GRU(4, hidden, batch_first=True)

            def forward(self, chars):
                _, h = self.gru(self.embed(chars))
                return h[-1]
    ''')
    model, _ = import_pytorch(path)
    (embedding,) = [n for n in model.nodes if n.eClass.name == "Embedding"]
    assert embedding.numEmbeddings == 26 + 10 + 32 + 1


TRIPLET = '''
    import torch.nn as nn


    class EmbeddingNet(nn.Module):
        def __init__(self, dim=8):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.fc = nn.Linear(4 * 5 * 5, dim)

        def forward(self, x):
            return self.fc(self.conv(x).flatten(1))


    class TripletNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding_net = EmbeddingNet()

        def forward(self, anchor, positive, negative):
            return self.embedding_net(anchor), self.embedding_net(positive), self.embedding_net(negative)
'''


def test_inputs_of_one_shared_block_are_solved_together(tmp_path):
    path = write(tmp_path, "triplet.py", TRIPLET)
    _, report = import_pytorch(path)
    assert report.input_shapes == dict.fromkeys(("anchor", "positive", "negative"), (1, 12, 12))
    notes = [d for d in report.diagnostics if d.code == "input-size-inferred"]
    assert len(notes) == 3 and all("[1, 12, 12]" in d.message for d in notes)


ENTITY = '''
    import torch
    import torch.nn as nn

    CARDINALITIES = [7, 4, 11]


    class EntityNet(nn.Module):
        def __init__(self, cardinalities=CARDINALITIES, n_continuous=2):
            super().__init__()
            self.embeddings = nn.ModuleList([nn.Embedding(c, 3) for c in cardinalities])
            self.fc = nn.Linear(3 * len(cardinalities) + n_continuous, 1)

        def forward(self, x_cat, x_cont):
            columns = [emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings)]
            return self.fc(torch.cat(columns + [x_cont], dim=1))
'''


def test_columns_read_by_embeddings_make_the_input_ids_below_the_smallest_vocabulary(tmp_path):
    path = write(tmp_path, "entity.py", ENTITY)
    model, _ = import_pytorch(path, input_shapes=[[3], [2]])
    x_cat, x_cont = (n for n in model.nodes if n.eClass.name == "Input")
    assert (x_cat.dtype.name, x_cont.dtype.name) == ("int64", "float32")
    ids, _ = random_inputs(model, 50)
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 4


@pytest.mark.torch
@pytest.mark.tensorflow
def test_columns_read_by_embeddings_verify(tmp_path, capsys):
    path = write(tmp_path, "entity.py", ENTITY)
    out = tmp_path / "entity_keras.py"
    options = ("--input-shape", "x_cat=3", "--input-shape", "x_cont=2")
    assert main(["migrate", str(path), "--to", "keras", "-o", str(out), *options]) == 0
    status = main(["verify", str(path), str(out), *options, "--inputs", "4"])
    captured = capsys.readouterr()
    assert status == 0 and "PASS" in captured.out, captured.out + captured.err


def test_training_settings_come_from_argparse_and_config_objects(tmp_path):
    path = write(tmp_path, "train.py", '''
        import argparse
        from dataclasses import dataclass

        import torch
        import torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset

        CONFIG = {"beta1": 0.5}


        @dataclass
        class Hyper:
            batch_size: int = 48
            weight_decay: float = 0.01


        class Net(nn.Module):
            def __init__(self, hidden=8):
                super().__init__()
                self.fc = nn.Linear(4, hidden)

            def forward(self, x):
                return self.fc(x)


        def main():
            parser = argparse.ArgumentParser()
            parser.add_argument("--lr", type=float, default=3e-4)
            parser.add_argument("--epochs", default="12", type=int)
            args = parser.parse_args()
            hyper = Hyper()
            model = Net()
            loader = DataLoader(TensorDataset(torch.randn(96, 4)), batch_size=hyper.batch_size)
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(CONFIG["beta1"], 0.99),
                                          weight_decay=hyper.weight_decay)
            for epoch in range(args.epochs):
                for (x,) in loader:
                    loss = model(x).pow(2).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()


        if __name__ == "__main__":
            main()
    ''')
    model, report = import_pytorch(path)
    training = model.training
    assert (training.optimizer.kind, training.optimizer.learningRate) == ("adamw", 3e-4)
    parameters = {p.key: p.value for p in training.optimizer.parameters}
    assert (parameters["beta_1"], parameters["beta_2"], parameters["weight_decay"]) == (0.5, 0.99, 0.01)
    assert (training.epochs, training.batchSize) == (12, 48)
    assert not [d for d in report.diagnostics if d.code in ("dynamic-value", "unsupported-construct")]


RECOMMENDER = '''
    import argparse

    import torch
    import torch.nn as nn


    def read_ratings(path):
        users, items = {}, {}
        with open(path) as f:
            for line in f:
                user, item = line.split(",")[:2]
                users.setdefault(user, len(users))
                items.setdefault(item, len(items))
        return len(users), len(items)


    class MatrixFactorization(nn.Module):
        def __init__(self, num_users, num_items, factors=4):
            super().__init__()
            self.user = nn.Embedding(num_users, factors)
            self.item = nn.Embedding(num_items, factors)

        def forward(self, user, item):
            return (self.user(user) * self.item(item)).sum(-1)


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--ratings", default="ratings.csv")
        args = parser.parse_args()
        num_users, num_items = read_ratings(args.ratings)
        model = MatrixFactorization(num_users, num_items)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
'''


def test_counts_a_helper_reads_from_a_file_are_free_not_those_of_empty_dicts(tmp_path):
    path = write(tmp_path, "mf.py", RECOMMENDER)
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path)
    free = [d for d in caught.value.diagnostics if d.code == "free-value"]
    assert [d.message.split()[0] for d in free] == ["num_users", "num_items"]
    assert caught.value.diagnostics[0] is free[0] and "--set num_users=VALUE" in free[0].message
    assert not [d for d in caught.value.diagnostics if "'open'" in d.message]   # the script's own code: not reported
    model, report = import_pytorch(path, settings={"num_users": 30, "num_items": 50})
    assert report.model_arguments == {"num_users": 30, "num_items": 50}
    assert [n.numEmbeddings for n in model.nodes if n.eClass.name == "Embedding"] == [30, 50]


def test_id_inputs_tied_to_each_other_stay_run_time_sizes(tmp_path):
    path = write(tmp_path, "mf.py", RECOMMENDER)
    _, report = import_pytorch(path, settings={"num_users": 30, "num_items": 50})
    assert report.input_shapes == {"user": (-1,), "item": (-1,)}   # equal lengths, any length: not pinned to a probe
    assert not [d for d in report.diagnostics if d.code == "input-size-inferred"]
