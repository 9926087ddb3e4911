"""Whole scripts (issue 10): the model the script trains, what the script computes, --set, verify without the script.

The importers read a training script as it is handed over: they pick the network it compiles, fits, gives to an
optimizer or trains in a loop; they evaluate argparse defaults, config dataclasses and dicts; a value the script
computes from data is a ``free-value`` diagnostic naming the ``--set`` flag that gives it. ``verify`` and the
weight readers run only the source's definitions, never its top level or ``__main__`` block.
"""
from __future__ import annotations

import os
import textwrap

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nnpivot.cli import main
from nnpivot.diagnostics import NNPivotError
from nnpivot.formats import UsageError
from nnpivot.importers.keras import import_keras
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.migrate import parse_settings

pytestmark = [pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")]


def write(folder, name: str, text: str):
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def place(path, text: str) -> tuple[int, int]:
    """Line and column (1-based) of ``text``'s first occurrence in the file."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} is not in {path}")


def cli(capsys, *argv) -> tuple[int, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


TORCH_SCRIPT = '''
    """Train a classifier on a CSV file."""
    import argparse
    from dataclasses import dataclass, field

    import numpy as np
    import torch
    import torch.nn as nn


    @dataclass
    class Config:
        hidden: int = 16
        dropout: float = 0.5
        widths: list = field(default_factory=lambda: [8, 4])


    class Net(nn.Module):
        def __init__(self, in_features, num_classes, cfg=None, bias=True):
            super().__init__()
            cfg = cfg or Config()
            self.body = nn.Sequential(nn.Linear(in_features, cfg.hidden, bias=bias), nn.ReLU(),
                                      nn.Dropout(cfg.dropout))
            self.head = nn.Linear(cfg.hidden, num_classes)

        def forward(self, x):
            return self.head(self.body(x))


    class Baseline(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)


    class LabelSmoothingLoss(nn.Module):
        def forward(self, logits, target):
            return nn.functional.cross_entropy(logits, target, label_smoothing=0.1)


    def main():
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("data")
        parser.add_argument("--hidden", type=int, default=32)
        parser.add_argument("--dropout", default="0.25", type=float)
        parser.add_argument("--no-bias", action="store_true")
        args = parser.parse_args()
        table = np.loadtxt(args.data, delimiter=",")
        num_classes = len(np.unique(table[:, -1]))
        cfg = Config(hidden=args.hidden, dropout=args.dropout)
        model = Net(table.shape[1] - 1, num_classes, cfg=cfg, bias=not args.no_bias)
        model = model.to("cpu")
        criterion = LabelSmoothingLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.from_numpy(table[:, :-1]).float()
        y = torch.from_numpy(table[:, -1]).long()
        for _ in range(3):
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


    if __name__ == "__main__":
        main()
'''


# --- the model the script trains, with the arguments it passes ------------------------------------------

def test_pytorch_script_trains_net_with_argparse_and_dataclass_values(tmp_path):
    path = write(tmp_path, "train.py", TORCH_SCRIPT)
    model, report = import_pytorch(path, input_shapes=[[6]], settings={"in_features": 6, "num_classes": 3})
    assert (report.model, report.model_kind) == ("Net", "class")
    arguments = report.model_arguments
    assert (arguments["in_features"], arguments["num_classes"], arguments["bias"]) == (6, 3, True)
    config = arguments["cfg"]
    assert config.cls == "Config"
    assert config.attrs == {"hidden": 32, "dropout": 0.25, "widths": [8, 4]}   # argparse over dataclass defaults
    dense = [n for n in model.nodes if n.eClass.name == "Dense"] + [
        n for block in model.blocks for n in block.nodes if n.eClass.name == "Dense"]
    assert sorted(n.units for n in dense) == [3, 32]


def test_values_from_data_are_free_and_named_with_their_flag(tmp_path):
    path = write(tmp_path, "train.py", TORCH_SCRIPT)
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path, input_shapes=[[6]])
    first = caught.value.diagnostics[0]
    assert first.code == "free-value"
    assert first.message.startswith("in_features comes from data (table.shape[1] - 1) at ")
    assert first.message.endswith("fix it with --set in_features=VALUE")
    assert (first.location.line, first.location.col) == place(path, "table.shape[1] - 1")
    codes = [d.code for d in caught.value.diagnostics]
    assert "free-value" in codes[1:] and "num_classes" in caught.value.diagnostics[1].message


def test_script_without_input_shape_names_the_free_values_first(tmp_path):
    path = write(tmp_path, "train.py", TORCH_SCRIPT)
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path)
    codes = [d.code for d in caught.value.diagnostics]
    assert codes[0] == "free-value" and codes[-1] == "missing-input-shape"


def test_argparse_value_through_int_is_known(tmp_path):
    """DCGAN's ``nz = int(opt.nz)``: an argparse default, not a refusal."""
    path = write(tmp_path, "dcgan.py", '''
        import argparse
        import torch.nn as nn

        parser = argparse.ArgumentParser()
        parser.add_argument("--nz", type=int, default=100, help="size of the latent vector")
        parser.add_argument("--ngf", type=int, default=8)
        opt = parser.parse_args()
        nz = int(opt.nz)
        ngf = int(opt.ngf)


        class Generator(nn.Module):
            def __init__(self):
                super().__init__()
                self.main = nn.Sequential(nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.ReLU(True),
                                          nn.ConvTranspose2d(ngf * 2, 3, 4, 2, 1, bias=False), nn.Tanh())

            def forward(self, z):
                return self.main(z)
    ''')
    model, report = import_pytorch(path, input_shapes=[[100, 1, 1]])
    assert report.model == "Generator" and not report.diagnostics
    assert [n.filters for n in model.nodes if n.eClass.name == "ConvTranspose2d"] == [16, 3]


def test_two_trained_networks_are_ambiguous_with_their_places(tmp_path):
    path = write(tmp_path, "gan.py", '''
        import torch
        from torch import nn


        class G(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 8)

            def forward(self, z):
                return self.fc(z)


        class D(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 1)

            def forward(self, x):
                return self.fc(x)


        def main():
            g = G()
            d = D()
            opt_g = torch.optim.Adam(g.parameters())
            opt_d = torch.optim.Adam(d.parameters())
    ''')
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path, input_shapes=[[4]])
    (problem,) = caught.value.diagnostics
    assert problem.code == "ambiguous-model"
    for name, use in (("G", "torch.optim.Adam(g."), ("D", "torch.optim.Adam(d.")):
        line, col = place(path, use)
        assert f"{name} (given to an optimizer at {path}:{line}:{col})" in problem.message
    _, report = import_pytorch(path, model_name="D", input_shapes=[[8]])
    assert report.model == "D"


def test_set_fills_a_free_constructor_argument_of_a_module_level_value(tmp_path):
    path = write(tmp_path, "folder.py", '''
        import os

        import torch.nn as nn

        CLASSES = sorted(os.listdir("images"))
        model = nn.Sequential(nn.Flatten(), nn.Linear(12, len(CLASSES)))
        num_classes = len(CLASSES)
        head = nn.Sequential(nn.Linear(12, num_classes))
    ''')
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(path, model_name="head", input_shapes=[[12]])
    assert caught.value.diagnostics[0].code == "free-value"
    assert "--set num_classes=VALUE" in caught.value.diagnostics[0].message
    model, _ = import_pytorch(path, model_name="head", input_shapes=[[12]], settings={"num_classes": 4})
    assert next(n for n in model.nodes if n.eClass.name == "Dense").units == 4


KERAS_SCRIPT = '''
    import argparse
    import os

    import keras
    from keras import layers

    IMAGE_SIZE = (32, 32)


    def augmentation():
        return keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomZoom(0.1)])


    def build_baseline(num_classes):
        return keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), layers.Dense(num_classes)])


    def build_model(input_shape, num_classes, width=8):
        inputs = keras.Input(shape=input_shape)
        x = layers.Conv2D(width, 3, activation="relu")(inputs)
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, layers.Dense(num_classes)(x))


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--width", type=int, default=12)
        args = parser.parse_args()
        class_names = sorted(os.listdir("data"))
        augment = augmentation()
        model = build_model(IMAGE_SIZE + (3,), len(class_names), width=args.width)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(augment(keras.utils.image_dataset_from_directory("data")), epochs=2)


    if __name__ == "__main__":
        main()
'''


def test_keras_script_picks_the_compiled_model_not_the_augmentation_or_baseline(tmp_path):
    path = write(tmp_path, "keras_train.py", KERAS_SCRIPT)
    _, report = import_keras(path)
    assert (report.model, report.model_kind) == ("build_model", "function")
    (problem, *_) = [d for d in report.diagnostics if d.is_error]
    assert problem.code == "free-value"
    assert (problem.location.line, problem.location.col) == place(path, "len(class_names), width")
    assert "num_classes comes from data (len(class_names))" in problem.message
    assert "fix it with --set num_classes=VALUE" in problem.message
    model, report = import_keras(path, settings={"num_classes": 6})
    assert not [d for d in report.diagnostics if d.is_error]
    assert report.model_arguments == {"input_shape": (32, 32, 3), "num_classes": 6, "width": 12}
    assert [n.filters for n in model.nodes if n.eClass.name == "Conv2d"] == [12]


def test_keras_shape_from_data_is_set_as_a_tuple(tmp_path):
    path = write(tmp_path, "series.py", '''
        import sys

        import numpy as np
        import keras
        from keras import layers


        def build(input_shape, units=4):
            inputs = keras.Input(shape=input_shape)
            return keras.Model(inputs, layers.Dense(units)(layers.Flatten()(inputs)))


        if __name__ == "__main__":
            x = np.load(sys.argv[1])
            net = build(x.shape[1:])
            net.compile(optimizer="sgd", loss="mse")
    ''')
    with pytest.raises(NNPivotError) as caught:
        import_keras(path)
    assert caught.value.diagnostics[0].code == "free-value"
    assert "fix it with --set input_shape=VALUE" in caught.value.diagnostics[0].message
    settings = parse_settings(["input_shape=10,3"])
    assert settings == {"input_shape": (10, 3)}
    model, _ = import_keras(path, settings=settings)
    assert list(model.nodes[0].shape) == [10, 3]


def test_parse_settings():
    assert parse_settings(None) is None
    assert parse_settings(["n=10", "rate=0.5", "name=cls", "shape=[2, 3]", "flag=true"]) == {
        "n": 10, "rate": 0.5, "name": "cls", "shape": (2, 3), "flag": True}
    with pytest.raises(UsageError):
        parse_settings(["10"])


def test_migrate_takes_set_and_names_the_flag(tmp_path, capsys):
    path = write(tmp_path, "keras_train.py", KERAS_SCRIPT)
    status, out = cli(capsys, "migrate", path, "--to", "nn", "-o", tmp_path / "out.nn")
    assert status == 1 and "error[free-value]" in out and "--set num_classes=VALUE" in out
    status, out = cli(capsys, "migrate", path, "--to", "nn", "-o", tmp_path / "out.nn", "--set", "num_classes=5")
    assert status == 0, out
    assert "dense(" in (tmp_path / "out.nn").read_text()
    status, out = cli(capsys, "convert", path, "-o", tmp_path / "again.nn", "--set", "num_classes=5")
    assert status == 0, out


# --- verify and weights: the source's definitions only ------------------------------------------------

SIDE_EFFECTS = '''
    import sys

    import torch
    from torch import nn

    DATA = open("/nonexistent/training-data.csv").read()
    WIDTH = 6
    head = nn.Sequential(nn.Linear(4, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 2))
    sys.exit("the script ran")

    if __name__ == "__main__":
        raise SystemExit("training must not run")
'''


@pytest.mark.torch
@pytest.mark.tensorflow
def test_verify_runs_only_the_definitions_and_reads_sequential_keys(tmp_path, capsys):
    import torch

    path = write(tmp_path, "script.py", SIDE_EFFECTS)
    out_path = tmp_path / "head_keras.py"
    status, out = cli(capsys, "migrate", path, "--to", "keras", "-o", out_path, "--input-shape", "4")
    assert status == 0, out
    torch.manual_seed(3)
    reference = nn_sequential_state(torch)
    torch.save(reference, tmp_path / "head.pt")
    status, out = cli(capsys, "verify", path, out_path, "--input-shape", "4", "--weights", tmp_path / "head.pt",
                      "--inputs", 4)
    assert status == 0, out
    assert "PASS" in out and "head.pt" in out


def nn_sequential_state(torch):
    """A state_dict with nn.Sequential's own keys (0.weight, 2.bias...), as the script's model saves it."""
    from torch import nn
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)).state_dict()


@pytest.mark.torch
@pytest.mark.tensorflow
def test_verify_builds_the_script_model_with_its_arguments_and_set(tmp_path, capsys):
    path = write(tmp_path, "train.py", TORCH_SCRIPT)
    out_path = tmp_path / "net_keras.py"
    options = ("--input-shape", "6", "--set", "in_features=6", "--set", "num_classes=3")
    status, out = cli(capsys, "migrate", path, "--to", "keras", "-o", out_path, *options)
    assert status == 0, out
    status, out = cli(capsys, "verify", path, out_path, *options, "--inputs", 4)
    assert status == 0, out
    assert "max abs difference" in out and "PASS" in out
    status, out = cli(capsys, "verify", path, out_path, "--input-shape", "6", "--set", "in_features=6")
    assert status != 0 and "free-value" in out and "--set num_classes=VALUE" in out


FUNCTIONAL = '''
    import keras
    from keras import layers

    inputs = keras.Input(shape=(10, 6))
    sequence = layers.LSTM(8, return_sequences=True)(inputs)
    per_step = layers.Dense(3, name="per_step")(sequence)
    pooled = layers.GlobalAveragePooling1D()(sequence)
    hidden = layers.Dense(5, activation="relu")(pooled)
    summary = layers.Dense(1, activation="sigmoid")(layers.BatchNormalization()(hidden))
    model = keras.Model(inputs=inputs, outputs=[per_step, summary])

    raise SystemExit("the script's training would start here")
'''


@pytest.mark.tensorflow
def test_keras_weights_h5_are_read_by_layer_path_without_running_the_source(tmp_path):
    """The h5 groups are numbered per class in model.layers order, deepest first (the named 'per_step', an
    output, is 'layers/dense_1' after 'hidden'); reading them by path gives what Keras itself loads into the
    model built from the definitions."""
    import keras
    import numpy as np

    from nnpivot.frameworks import enliven
    from nnpivot.source_runs import read_source_weights, source_runner, store_from_keras_h5

    path = write(tmp_path, "functional.py", FUNCTIONAL)
    model, report = import_keras(path)
    assert report.keras_weight_paths["hidden"] == "layers/dense"
    assert report.keras_weight_paths["per_step"] == "layers/dense_1"
    keras.utils.set_random_seed(0)
    runner = source_runner(path, "keras", model, report)
    runner.load_store(enliven(runner.native_store()))
    expected, _ = runner._read_store()
    weights = tmp_path / "model.weights.h5"
    runner.obj.save_weights(str(weights))
    store, diagnostics = store_from_keras_h5(weights, model, report)
    assert not diagnostics and sorted(store) == sorted(expected)
    assert all(np.array_equal(store[key], expected[key]) for key in expected)
    read, problems = read_source_weights(path, "keras", model, report, weights)
    assert not [d for d in problems if d.is_error]
    assert all(np.array_equal(read[key], expected[key]) for key in expected)


SEPARABLE_FUNCTIONAL = '''
    import keras
    from keras import layers

    inputs = keras.Input(shape=(12, 12, 3))
    x = layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(2)(x))
'''


@pytest.mark.tensorflow
def test_a_separable_convolution_read_from_a_weights_h5_gives_each_half_its_part(tmp_path):
    """A SeparableConv2D is two pivot nodes over one layer's three variables: read by path from the file,
    the depthwise node takes the depthwise kernel and the pointwise node the pointwise kernel and the bias
    (it once took the depthwise kernel and the pointwise one as its bias)."""
    import keras
    import numpy as np

    from nnpivot.frameworks import enliven
    from nnpivot.source_runs import source_runner, store_from_keras_h5

    path = write(tmp_path, "separable.py", SEPARABLE_FUNCTIONAL)
    model, report = import_keras(path)
    assert set(report.keras_weight_parts) == {"separable_conv2d", "separable_conv2d_pointwise"}
    keras.utils.set_random_seed(0)
    runner = source_runner(path, "keras", model, report)
    runner.load_store(enliven(runner.native_store()))
    expected, _ = runner._read_store()
    weights = tmp_path / "model.weights.h5"
    runner.obj.save_weights(str(weights))
    store, diagnostics = store_from_keras_h5(weights, model, report)
    assert not diagnostics, [str(d) for d in diagnostics]
    assert sorted(store) == sorted(expected)
    assert all(np.array_equal(store[key], expected[key]) for key in expected)


MIXER_SCRIPT = '''
    """Token mixer: two objects of one custom layer (a Sequential and a LayerNormalization inside)."""
    import argparse

    import keras
    from keras import layers


    class MixerBlock(layers.Layer):
        def __init__(self, width, hidden, **kwargs):
            super().__init__(**kwargs)
            self.norm = layers.LayerNormalization()
            self.ffn = keras.Sequential([layers.Dense(hidden, activation="gelu"), layers.Dense(width)])

        def call(self, x):
            return x + self.ffn(self.norm(x))


    def build(width=8, hidden=16, blocks=2):
        tokens = keras.Input(shape=(5, width))
        x = tokens
        for _ in range(blocks):
            x = MixerBlock(width, hidden)(x)
        return keras.Model(tokens, layers.Dense(3)(layers.GlobalAveragePooling1D()(x)))


    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--blocks", type=int, default=2)
        model = build(blocks=parser.parse_args().blocks)
        model.compile(optimizer="adam", loss="mse")
        model.fit(keras.random.normal((8, 5, 8)), keras.random.normal((8, 3)), epochs=1)
'''


@pytest.mark.torch
@pytest.mark.tensorflow
def test_weights_inside_custom_layers_are_read_per_layer_object(tmp_path):
    """Both MixerBlock objects are calls of one pivot block; each call's weights come from the layers ITS
    object holds (run-time names of its own Dense and LayerNormalization), so the migrated PyTorch model
    computes the original at two batch sizes."""
    import keras
    import numpy as np
    import torch

    from nnpivot.frameworks import enliven
    from nnpivot.migrate import migrate
    from nnpivot.source_runs import source_runner

    path = write(tmp_path, "mixer.py", MIXER_SCRIPT)
    model, report = import_keras(path)
    calls = [node for node in model.nodes if node.eClass.name == "BlockCall"]
    assert len(calls) == 2 and calls[0].block is calls[1].block and calls[1].weightsOf is None
    first, second = (report.keras_block_layers[call.name] for call in calls)
    assert first.keys() == second.keys() and len(set(first.values())) == 3   # a LayerNormalization, two Denses
    assert not set(first.values()) & set(second.values())   # each object's own layers

    keras.utils.set_random_seed(0)
    original = source_runner(path, "keras", model, report)
    original.load_store(enliven(original.native_store()))
    checkpoint = tmp_path / "original.weights.h5"
    original.obj.save_weights(str(checkpoint))
    output, weights_out = tmp_path / "migrated.py", tmp_path / "migrated.pt"
    result = migrate(path, "pytorch", output, weights=checkpoint, weights_out=weights_out)
    assert result.ok, result.report_text()
    namespace = {"__name__": "migrated_mixer"}
    exec(compile(output.read_text(), str(output), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    (name,) = [k for k, v in namespace.items() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == "migrated_mixer" and k[0].isupper() and "Block" not in k]
    migrated = namespace[name]().eval()
    migrated.load_state_dict(torch.load(weights_out, weights_only=True))
    rng = np.random.default_rng(1)
    for batch in (1, 3):
        x = rng.standard_normal((batch, 5, 8)).astype("float32")
        want = keras.ops.convert_to_numpy(original.obj(x, training=False))
        with torch.no_grad():
            got = migrated(torch.from_numpy(x)).numpy()
        assert np.abs(want - got).max() <= 1e-5


CONFIG_SCRIPT = '''
    import argparse
    from dataclasses import dataclass

    import numpy as np
    import keras
    from keras import layers, ops


    @dataclass
    class Config:
        image_size: int = 16
        patch_size: int = 4
        width: int = 8
        epochs: int = 3

        @property
        def num_patches(self):
            return (self.image_size // self.patch_size) ** 2


    class Patches(layers.Layer):
        def __init__(self, num_patches, width, patch_size, **kwargs):
            super().__init__(**kwargs)
            self.num_patches = num_patches
            self.project = layers.Conv2D(width, patch_size, strides=patch_size)
            self.flatten = layers.Reshape((num_patches, width))
            self.position = layers.Embedding(num_patches, width)

        def call(self, images):
            positions = ops.expand_dims(ops.arange(start=0, stop=self.num_patches, step=1), axis=0)
            return self.flatten(self.project(images)) + self.position(positions)


    def build(config=None):
        config = config or Config()
        images = keras.Input(shape=(config.image_size, config.image_size, 3))
        x = Patches(config.num_patches, config.width, config.patch_size)(images)
        return keras.Model(images, layers.Dense(2)(layers.GlobalAveragePooling1D()(x)))


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=Config.epochs)
        args = parser.parse_args()
        config = Config(epochs=args.epochs)
        model = build(config)
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.load("x.npy"), np.load("y.npy"), epochs=config.epochs)


    if __name__ == "__main__":
        main()
'''


def test_config_properties_class_defaults_and_or_defaults_are_evaluated(tmp_path):
    """A dataclass property (config.num_patches), a class attribute as an argparse default (Config.epochs),
    ``config = config or Config()`` and position ids ops.expand_dims(ops.arange(...), axis=0) are all read
    statically, as the script computes them."""
    path = write(tmp_path, "patches.py", CONFIG_SCRIPT)
    model, report = import_keras(path)
    assert not [d for d in report.diagnostics if d.is_error], [str(d) for d in report.diagnostics]
    assert report.model == "build" and report.input_shapes == {"images": (16, 16, 3)}
    assert "epochs 3" in report.training
    (arange,) = [n for block in model.blocks for n in block.nodes if n.eClass.name == "Arange"]
    assert (arange.start, arange.end) == (0, 16)
    _, fallback = import_keras(path, model_name="build")   # the builder on its own: config=None
    assert fallback.input_shapes == {"images": (16, 16, 3)}


def test_a_sequential_input_shape_from_data_names_its_flag(tmp_path):
    path = write(tmp_path, "convnet.py", '''
        import numpy as np
        import keras
        from keras import layers


        def make_convnet(input_shape, num_classes):
            return keras.Sequential([keras.Input(shape=input_shape), layers.Flatten(), layers.Dense(num_classes)])


        def main():
            x_train, y_train = np.load("x.npy"), np.load("y.npy")
            model = make_convnet(x_train.shape[1:], len(np.unique(y_train)))
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x_train, y_train)


        if __name__ == "__main__":
            main()
    ''')
    with pytest.raises(NNPivotError) as caught:
        import_keras(path)
    first = caught.value.diagnostics[0]
    assert first.code == "free-value" and "--set input_shape=" in first.message
    _, report = import_keras(path, settings={"input_shape": [28, 28, 1], "num_classes": 10})
    assert report.input_shapes == {"x": (28, 28, 1)}


NESTED_MODELS_SCRIPT = '''
    """Change detection: one functional tower model embeds both images; a decoder model sized from the
    tower's output_shape maps the difference back."""
    import numpy as np
    import keras
    from keras import layers


    def build_tower(input_shape, width=4):
        image = keras.Input(shape=input_shape)
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(image)
        return keras.Model(image, layers.Conv2D(width * 2, 1)(x), name="tower")


    def build_head(code_shape):
        code = keras.Input(shape=code_shape)
        x = layers.GlobalAveragePooling2D()(code)
        return keras.Model(code, layers.Dense(3, activation="softmax")(x), name="head")


    def build_model(input_shape=(8, 8, 2)):
        tower = build_tower(input_shape)
        head = build_head(tower.output_shape[1:])
        before, after = keras.Input(shape=input_shape), keras.Input(shape=input_shape)
        change = layers.Subtract()([tower(after), tower(before)])
        return keras.Model([before, after], head(change))


    if __name__ == "__main__":
        pairs = np.load("pairs.npz")
        model = build_model()
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit([pairs["before"], pairs["after"]], pairs["change"], epochs=5)
'''


@pytest.mark.torch
@pytest.mark.tensorflow
def test_functional_models_called_as_layers_become_blocks_sharing_their_weights(tmp_path):
    """A functional model called as a layer keeps its graph as a block; the second call of the tower shares
    the first call's weights (Keras does), the head's input shape is read from tower.output_shape, and the
    softmax inside the head is the model's ending (no loss warning). Migrated with a .weights.h5 of the
    original, the PyTorch model computes it at two batch sizes."""
    import keras
    import numpy as np
    import torch

    from nnpivot.frameworks import enliven
    from nnpivot.migrate import migrate
    from nnpivot.shapes import infer_shapes
    from nnpivot.source_runs import source_runner

    path = write(tmp_path, "change.py", NESTED_MODELS_SCRIPT)
    model, report = import_keras(path)
    assert not report.diagnostics, [str(d) for d in report.diagnostics]
    calls = [node for node in model.nodes if node.eClass.name == "BlockCall"]
    assert [call.block.name for call in calls] == ["Tower", "Tower", "Head"]
    assert calls[1].weightsOf is calls[0] and calls[0].weightsOf is None
    (head_input,) = [n for n in calls[2].block.nodes if n.eClass.name == "Input"]
    assert list(head_input.shape) == []   # a block's input takes its sizes from the call
    table, problems = infer_shapes(model)
    assert problems == [] and tuple(table.of(calls[0]))[1:] == (8, 4, 4)   # pivot layout of (None, 4, 4, 8)
    assert tuple(table.of(calls[2]))[1:] == (3,)

    keras.utils.set_random_seed(0)
    original = source_runner(path, "keras", model, report)
    original.load_store(enliven(original.native_store()))
    checkpoint = tmp_path / "original.weights.h5"
    original.obj.save_weights(str(checkpoint))
    output, weights_out = tmp_path / "migrated.py", tmp_path / "migrated.pt"
    result = migrate(path, "pytorch", output, weights=checkpoint, weights_out=weights_out)
    assert result.ok, result.report_text()
    namespace = {"__name__": "migrated_change"}
    exec(compile(output.read_text(), str(output), "exec"), namespace)  # noqa: S102 - nnpivot's own output
    migrated = namespace["ChangeModel" if "ChangeModel" in namespace else "Model"]().eval()
    migrated.load_state_dict(torch.load(weights_out, weights_only=True))
    rng = np.random.default_rng(2)
    for batch in (1, 3):
        before, after = (rng.standard_normal((batch, 8, 8, 2)).astype("float32") for _ in range(2))
        want = keras.ops.convert_to_numpy(original.obj([before, after], training=False))
        with torch.no_grad():
            got = migrated(*(torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
                             for a in (before, after))).numpy()
        assert np.abs(want - got).max() <= 1e-5


def test_custom_layer_objects_differing_only_by_name_share_a_block_and_unpacked_inputs_keep_their_names(tmp_path):
    """name= changes no computation (generated Keras code names every object), and ``a, b = inputs`` names a
    block's inputs as the call unpacks them."""
    path = write(tmp_path, "pairs.py", '''
        import keras
        from keras import layers


        class Gate(layers.Layer):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.dense = layers.Dense(units, activation="sigmoid")

            def call(self, inputs):
                value, context = inputs
                return value * self.dense(context)


        value = keras.Input(shape=(6,))
        context = keras.Input(shape=(4,))
        x = Gate(6, name="first_gate")([value, context])
        x = Gate(6, name="second_gate")([x, context])
        model = keras.Model([value, context], layers.Dense(2)(x))
    ''')
    model, report = import_keras(path)
    assert not [d for d in report.diagnostics if d.is_error]
    (block,) = model.blocks
    assert [n.name for n in block.nodes if n.eClass.name == "Input"] == ["value", "context"]
    assert [n.name for n in model.nodes if n.eClass.name == "BlockCall"] == ["first_gate", "second_gate"]


def test_a_trainer_model_without_call_names_the_models_it_is_given(tmp_path):
    """A keras.Model subclass that only trains others (a GAN's train_step) cannot be the network: the refusal
    names the models it holds, with the builders that made them, and the --model way out."""
    path = write(tmp_path, "gan.py", '''
        import keras
        from keras import layers


        def make_generator():
            return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16)])


        def make_critic():
            return keras.Sequential([keras.Input(shape=(16,)), layers.Dense(1)])


        class Adversarial(keras.Model):
            def __init__(self, generator, critic):
                super().__init__()
                self.generator = generator
                self.critic = critic

            def train_step(self, data):
                return {}


        if __name__ == "__main__":
            gan = Adversarial(make_generator(), make_critic())
            gan.compile(optimizer="adam")
            gan.fit(keras.random.normal((4, 16)), epochs=1)
    ''')
    with pytest.raises(NNPivotError) as caught:
        import_keras(path)
    (first, *_) = caught.value.diagnostics
    assert first.code == "no-model-found" and first.location.line == place(path, "class Adversarial")[0]
    assert "self.generator (make_generator), self.critic (make_critic)" in first.message and "--model" in first.message
    _, report = import_keras(path, model_name="make_critic")
    assert report.input_shapes == {"x": (16,)}


def test_an_input_handed_to_a_layer_that_embeds_it_holds_token_ids(tmp_path):
    """keras.Input without dtype= into a token-and-position embedding layer: the pivot input holds int64 ids,
    as one read by an Embedding directly does (the migrated PyTorch model's nn.Embedding needs them)."""
    path = write(tmp_path, "tokens.py", '''
        import keras
        from keras import layers, ops


        class TokenAndPosition(layers.Layer):
            def __init__(self, maxlen, vocab, width, **kwargs):
                super().__init__(**kwargs)
                self.tokens = layers.Embedding(vocab, width)
                self.positions = layers.Embedding(maxlen, width)

            def call(self, ids):
                return self.tokens(ids) + self.positions(ops.arange(0, ops.shape(ids)[-1]))


        ids = keras.Input(shape=(12,))
        features = keras.Input(shape=(3,))
        x = layers.GlobalAveragePooling1D()(TokenAndPosition(12, 50, 8)(ids))
        model = keras.Model([ids, features], layers.Dense(2)(layers.Concatenate()([x, features])))
    ''')
    model, report = import_keras(path)
    assert not [d for d in report.diagnostics if d.is_error]
    assert {n.name: n.dtype.name for n in model.nodes if n.eClass.name == "Input"} == {"ids": "int64",
                                                                                      "features": "float32"}
