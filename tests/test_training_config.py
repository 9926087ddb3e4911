"""The whole training configuration migrates (issue 11): schedules, clipping, loss settings, epochs and batch size
from argparse, config dicts and loops, the right optimizer in a script with two networks.

The numeric tests train the user's original script with its own code and the migrated model with the generated
``train`` on the same deterministic data, and compare the learning rate of every optimizer step (read where each
framework's optimizer takes it) and, where one batch holds the data, the loss of every epoch
(tolerance: see tests/test_training_code.py).
"""
from __future__ import annotations

import re

import keras
import numpy as np
import pytest
import torch
from test_training_code import STEP_TOLERANCE, load_module, printed_losses
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.generators.nn_text import to_text as print_nn
from nnpivot.generators.xmi import save_xmi
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.importers.xmi import load_xmi
from nnpivot.migrate import migrate
from nnpivot.validators import validate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]


class RateRecorder(keras.callbacks.Callback):
    """The learning rate Keras's optimizer uses for each step (a schedule's value at the step, or the variable
    a LearningRateScheduler set at the epoch's start)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.fixture
def keras_rates(monkeypatch):
    """Every ``fit`` records the learning rate of each of its steps."""
    recorder = RateRecorder()
    fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), recorder]
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", recording_fit)
    return recorder.rates


@pytest.fixture
def torch_rates():
    """Every torch optimizer step records the learning rate it takes."""
    rates = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"]))
    yield rates
    handle.remove()


# --- the schedule case and the argparse case: a PyTorch script with StepLR to Keras ---------------------------

STEPLR_SCRIPT = """\
import argparse

import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.optim.lr_scheduler import StepLR


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 12)
        self.out = nn.Linear(12, 3)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="train the classifier")
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--clip", type=float, default=0.3)
    return parser.parse_args(argv)


def main(dataset, argv=()):
    args = get_args(argv)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size)
    model = Classifier()
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    losses = []
    for epoch in range(args.epochs):
        for features, labels in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(features), labels, label_smoothing=0.1)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=args.clip)
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
    return model, losses
"""


def classes_data(count: int, seed: int):
    rng = np.random.RandomState(seed)
    features = rng.uniform(-1, 1, (count, 6)).astype("float32")
    labels = (features[:, :3] @ np.array([1.0, -2.0, 0.5], "float32") > 0).astype("int64") + \
        (features[:, 3] > 0.5).astype("int64")
    return features, labels


def test_steplr_script_trains_the_same_in_keras_epoch_by_epoch(tmp_path, torch_rates, keras_rates):
    script = tmp_path / "classifier.py"
    script.write_text(STEPLR_SCRIPT)
    model, report = import_pytorch(script, input_shapes=[[6]])
    assert report.ok
    training = print_nn(model).split("training {")[1]
    # the argparse defaults, the schedule per epoch (scheduler.step() after the batch loop), the clipping
    for line in ("optimizer sgd(learning_rate=0.5)", "schedule step_decay(step_size=2, gamma=0.5)", "epochs 7",
                 "loss cross_entropy(label_smoothing=0.1)",
                 "batch_size 40", "clip_norm 0.3"):
        assert line in training

    user = load_module(script)
    torch.manual_seed(0)
    torch.save(user.Classifier().state_dict(), tmp_path / "initial.pt")
    out = tmp_path / "keras_classifier.py"
    result = migrate(script, "keras", out, input_shapes=[[6]], weights=tmp_path / "initial.pt",
                     weights_out=tmp_path / "initial.weights.h5")
    assert result.weights_written
    generated = re.sub(r"\s", "", out.read_text())
    assert "LearningRateScheduler" in generated and "global_clipnorm=0.3" in generated
    # label smoothing on class indices: one-hot labels and Keras's categorical loss, which has it
    assert "CategoricalCrossentropy(from_logits=True,label_smoothing=0.1)" in generated
    assert "y=keras.ops.one_hot(keras.ops.reshape(y,(-1,)),3)" in generated

    features, labels = classes_data(40, seed=2)
    torch.manual_seed(0)
    _, torch_losses = user.main(torch.utils.data.TensorDataset(torch.from_numpy(features),
                                                               torch.from_numpy(labels)))
    migrated = load_module(out)
    net = migrated.Classifier()
    net(np.zeros((1, 6), "float32"))
    net.load_weights(tmp_path / "initial.weights.h5")
    keras_losses = migrated.train(net, features, labels).history["loss"]

    assert torch_rates == pytest.approx([0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625])
    assert keras_rates == pytest.approx(torch_rates)
    assert len(keras_losses) == len(torch_losses) == 7
    np.testing.assert_allclose(keras_losses, torch_losses, atol=STEP_TOLERANCE)
    assert torch_losses[-1] < torch_losses[0] - 0.05


# --- the schedule case per step, and epochs from a loop around fit: a Keras script to PyTorch ------------------

KERAS_DECAY_SCRIPT = """\
import keras
from keras import layers

CONFIG = {"learning_rate": 0.2, "decay_steps": 2, "batch_size": 16, "stages": 3}


def build_model():
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(10, activation="relu")(inputs)
    outputs = layers.Dense(3)(x)
    return keras.Model(inputs, outputs)


def train_model(model, x, y):
    schedule = keras.optimizers.schedules.ExponentialDecay(
        CONFIG["learning_rate"], decay_steps=CONFIG["decay_steps"], decay_rate=0.5, staircase=True)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for stage in range(CONFIG["stages"]):
        model.fit(x, y, epochs=1, batch_size=CONFIG["batch_size"], verbose=0)
    return model
"""


def test_keras_step_schedule_and_fit_loop_train_at_the_same_rates_in_pytorch(tmp_path, torch_rates, keras_rates):
    script = tmp_path / "decay_net.py"
    script.write_text(KERAS_DECAY_SCRIPT)
    model, report = import_keras(script)
    assert report.ok
    training = print_nn(model).split("training {")[1]
    # Keras's momentum buffer keeps the rate of each past step: the model records Keras's rule
    for line in ("optimizer sgd(learning_rate=0.2, momentum=0.9, rule=keras)", "epochs 3", "batch_size 16",
                 "schedule exponential_decay(decay_steps=2, decay_rate=0.5, staircase=true, interval=step)"):
        assert line in training

    source = load_module(script)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    source.build_model().save_weights(tmp_path / "initial.weights.h5")
    out = tmp_path / "torch_net.py"
    assert migrate(script, "pytorch", out, weights=tmp_path / "initial.weights.h5",
                   weights_out=tmp_path / "initial.pt").weights_written
    assert "StepLR(optimizer, step_size=2, gamma=0.5)" in out.read_text() and "= KerasSGD(" in out.read_text()

    features, labels = classes_data(48, seed=4)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    source.train_model(source.build_model(), features, labels)
    migrated = load_module(out)
    net = migrated.Model()
    net.load_state_dict(torch.load(tmp_path / "initial.pt"))
    losses = printed_losses(migrated.train, net, torch.utils.data.TensorDataset(
        torch.from_numpy(features), torch.from_numpy(labels)))

    # three epochs of three steps each, the rate halved every second step in both
    assert keras_rates == pytest.approx([0.2 * 0.5 ** (step // 2) for step in range(9)])
    assert torch_rates == pytest.approx(keras_rates)
    assert len(losses) == 3


def test_each_schedule_gives_the_same_rates_in_both_generated_trainings(tmp_path, torch_rates, keras_rates):
    """Per epoch and per step, every closed-form schedule: 4 epochs of 3 steps."""
    schedules = ["step_decay(step_size=3, gamma=0.5, interval=step)",
                 "exponential_decay(decay_steps=2, decay_rate=0.8)",
                 "exponential_decay(decay_steps=4, decay_rate=0.5, staircase=true, interval=step)",
                 "cosine_decay(decay_steps=3, minimum=0.01)",
                 "cosine_decay(decay_steps=7, minimum=0.02, interval=step)",
                 "piecewise_constant_decay(boundaries=[1, 3], values=[0.1, 0.05, 0.01])",
                 "piecewise_constant_decay(boundaries=[4, 8], values=[0.1, 0.05, 0.01], interval=step)",
                 "piecewise_constant_decay(boundaries=[2, 3], values=[0.1, 0.03, 0.009])"]  # MultiStepLR
    features, labels = classes_data(12, seed=5)
    for index, schedule in enumerate(schedules):
        text = SCHEDULED_MODEL.format(schedule=schedule)
        pivot = parse_text(text, "net.nn")
        torch_file, keras_file = tmp_path / f"t{index}.py", tmp_path / f"k{index}.py"
        torch_file.write_text(P.generate(pivot, "net.nn"))
        keras_file.write_text(K.generate(pivot, "net.nn"))
        torch_rates.clear()
        keras_rates.clear()
        printed_losses(load_module(torch_file).train, load_module(torch_file).Net(),
                       torch.utils.data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels)))
        keras_module = load_module(keras_file)
        keras_module.train(keras_module.Net(), features, labels)
        assert len(torch_rates) == len(keras_rates) == 12, schedule
        np.testing.assert_allclose(keras_rates, torch_rates, rtol=1e-6, err_msg=schedule)
        assert len(set(torch_rates)) > 1, schedule  # the schedule does change the rate


SCHEDULED_MODEL = """\
model Net {{
    input x: float32[6]
    h = dense(x, 4)
    output h

    training {{
        optimizer sgd(learning_rate=0.1)
        loss cross_entropy
        schedule {schedule}
        epochs 4
        batch_size 4
    }}
}}
"""


def test_reduce_on_plateau_waits_the_same_epochs_in_both_frameworks():
    """The pivot's patience is PyTorch's (reduce after patience + 1 bad epochs); Keras counts one more."""
    pivot = parse_text(SCHEDULED_MODEL.format(schedule="reduce_on_plateau(factor=0.5, patience=1, "
                                                       "threshold=0.0, threshold_mode=absolute)"), "net.nn")
    assert "scheduler.step(loss_sum / seen)" in P.generate(pivot, "net.nn")
    assert 'ReduceLROnPlateau(monitor="loss",factor=0.5,patience=2,' in re.sub(r"\s", "", K.generate(pivot, "net.nn"))
    losses = [1.0, 0.9, 0.95, 0.97, 0.99, 0.98]   # improves, then four bad epochs
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1, threshold=0.0,
                                                           threshold_mode="abs")
    torch_rates = []
    for loss in losses:
        scheduler.step(loss)
        torch_rates.append(optimizer.param_groups[0]["lr"])
    callback = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=0.0)
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    callback.set_model(net)
    callback.on_train_begin()
    keras_rates = []
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"loss": loss})
        keras_rates.append(float(keras.ops.convert_to_numpy(net.optimizer.learning_rate)))
    assert torch_rates == keras_rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]


# --- the two-model case -------------------------------------------------------------------------------------

GAN_SCRIPT = """\
import torch
from torch import nn

SETTINGS = {"epochs": 12, "batch_size": 8}


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 6))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)


def main(real_data):
    generator, discriminator = None, None
    generator = Generator()
    discriminator = Discriminator()
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.RMSprop(discriminator.parameters(), lr=5e-5)
    criterion = nn.BCEWithLogitsLoss()
    loader = torch.utils.data.DataLoader(real_data, batch_size=SETTINGS["batch_size"], shuffle=True)
    for epoch in range(SETTINGS.get("epochs", 1)):
        for (real,) in loader:
            fake = generator(torch.randn(len(real), 4))
            opt_d.zero_grad()
            loss_d = criterion(discriminator(real), torch.ones(len(real), 1)) + \\
                criterion(discriminator(fake.detach()), torch.zeros(len(real), 1))
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = criterion(discriminator(fake), torch.ones(len(real), 1))
            loss_g.backward()
            opt_g.step()
"""


def test_each_network_of_a_two_model_script_gets_its_own_optimizer(tmp_path):
    script = tmp_path / "gan.py"
    script.write_text(GAN_SCRIPT)
    generator, _ = import_pytorch(script, model_name="Generator", input_shapes=[[4]])
    discriminator, _ = import_pytorch(script, model_name="Discriminator", input_shapes=[[6]])
    assert generator.training.optimizer.kind == "adam"
    assert [(p.key, p.value) for p in generator.training.optimizer.parameters][:2] == [("beta_1", 0.5),
                                                                                       ("beta_2", 0.999)]
    assert discriminator.training.optimizer.kind == "rmsprop"
    assert discriminator.training.optimizer.learningRate == 5e-5
    for model in (generator, discriminator):   # the config dict's epochs and batch size
        assert (model.training.epochs, model.training.batchSize) == (12, 8)
    code = K.generate(discriminator, "gan.py")
    assert "TorchRMSprop(learning_rate=5e-05," in re.sub(r"\s", "", code)  # epsilon as PyTorch adds it
    assert "torch.optim.RMSprop(model.parameters(),lr=learning_rate" in re.sub(r"\s", "", P.generate(discriminator,
                                                                                                 "gan.py"))


# --- settings from config dicts and settings classes --------------------------------------------------------

KERAS_CONFIG_SCRIPT = """\
import argparse

import keras
from keras import layers

HPARAMS = dict(units=16, epochs=5, rate=3e-3)
parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=24)
args = parser.parse_args()


def build_model():
    return keras.Sequential([keras.Input((8,)), layers.Dense(HPARAMS["units"], activation="relu"),
                             layers.Dense(1, activation="sigmoid")])


def train_model(model, x_train, y_train):
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=HPARAMS["rate"] * 10, clipvalue=0.5),
                  loss=keras.losses.BinaryCrossentropy(label_smoothing=0.05, reduction="sum"))
    model.fit(x_train, y_train, epochs=HPARAMS["epochs"], batch_size=args.batch,
              callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.2, patience=3),
                         keras.callbacks.EarlyStopping(patience=5)])
"""


def test_keras_settings_from_dicts_argparse_and_callbacks_are_read(tmp_path):
    script = tmp_path / "config_net.py"
    script.write_text(KERAS_CONFIG_SCRIPT)
    model, report = import_keras(script)
    training = model.training
    assert training.optimizer.kind == "adadelta"   # Adadelta survives, with Keras's own rho and epsilon
    assert training.optimizer.learningRate == pytest.approx(0.03)
    assert {p.key: p.value for p in training.optimizer.parameters} == {"rho": 0.95, "epsilon": 1e-7}
    assert (training.epochs, training.batchSize, training.clipValue) == (5, 24, 0.5)
    assert (training.labelSmoothing, training.lossReduction.name) == (0.05, "sum")
    schedule = training.schedule
    assert schedule.eClass.name == "ReduceOnPlateau"
    assert (schedule.monitor, schedule.factor, schedule.patience, schedule.thresholdMode.name) == \
        ("loss", 0.2, 2, "absolute")
    [warned] = [d for d in report.diagnostics if d.severity == "warning"]
    assert warned.code == "unsupported-construct" and "EarlyStopping" in warned.message
    assert (warned.location.line, warned.location.col) == (22, 26)

    code = P.generate(model, "config_net.py")
    compact = re.sub(r"\s", "", code)
    assert "torch.optim.Adadelta(model.parameters(),lr=learning_rate,rho=0.95,eps=1e-07)" in compact
    assert 'nn.BCELoss(reduction="sum")' in compact and "clip_grad_value_(model.parameters(),0.5)" in compact
    assert 'ReduceLROnPlateau(optimizer,factor=0.2,patience=2,threshold=0.0001,threshold_mode="abs"' in compact
    # Keras's binary label smoothing, on the targets: PyTorch's BCE has none
    assert "targets=targets.reshape(outputs.shape).to(outputs.dtype)*(1-0.05)+0.5*0.05" in compact
    outputs = torch.tensor([[0.9], [0.2], [0.6]])
    labels = torch.tensor([1.0, 0.0, 1.0])
    targets = eval("labels.reshape(outputs.shape).to(outputs.dtype) * (1 - 0.05) + 0.5 * 0.05")   # as generated
    expected = keras.losses.BinaryCrossentropy(label_smoothing=0.05, reduction="sum")(labels[:, None].numpy(),
                                                                                      outputs.numpy())
    assert torch.nn.BCELoss(reduction="sum")(outputs, targets).item() == pytest.approx(float(expected), rel=1e-5)


def test_pytorch_settings_class_and_dict_values_are_read(tmp_path):
    script = tmp_path / "net.py"
    script.write_text(SETTINGS_CLASS_SCRIPT)
    model, report = import_pytorch(script, input_shapes=[[5]])
    training = model.training
    assert report.ok
    assert training.optimizer.kind == "adamw" and training.optimizer.learningRate == pytest.approx(2e-3)
    assert (training.epochs, training.batchSize) == (9, 10)
    assert (training.labelSmoothing, training.lossReduction.name) == (0.1, "sum")
    schedule = training.schedule
    assert (schedule.eClass.name, schedule.decaySteps, schedule.minimum, schedule.interval.name) == \
        ("CosineDecay", 9, 1e-5, "step")


SETTINGS_CLASS_SCRIPT = """\
import torch
from torch import nn


class Settings:
    EPOCHS = 9
    BATCH = 10
    LR = 1e-3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        return self.fc(x)


def fit(model, data):
    cfg = Settings()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.LR * 2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=Settings.EPOCHS, eta_min=1e-5)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1, reduction="sum")
    loader = torch.utils.data.DataLoader(data, batch_size=Settings.BATCH)
    for epoch in range(cfg.EPOCHS):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            scheduler.step()


fit(Net(), [])
"""


# --- what cannot be carried over is a located warning -------------------------------------------------------

@pytest.mark.parametrize("code,line,col,named", [
    ("torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.95 ** epoch)", 21, 21, "LambdaLR"),
    ("torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='max')", 21, 21, "mode='max'"),
    ("torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1)", 21, 21, "total_steps"),
])
def test_a_schedule_the_pivot_cannot_hold_is_a_located_warning(code, line, col, named, tmp_path):
    script = tmp_path / "net.py"
    script.write_text(WARNED_SCRIPT.format(optimizer="torch.optim.SGD(model.parameters(), lr=0.1)", scheduler=code))
    model, report = import_pytorch(script, input_shapes=[[5]])
    assert model.training.schedule is None
    [warned] = report.diagnostics
    assert warned.code == "unsupported-construct" and named in warned.message
    assert (warned.location.line, warned.location.col) == (line, col)


# schedules with no torch.optim.lr_scheduler class: generated PyTorch writes their closed form as a LambdaLR
LAMBDA_SCHEDULES = ["exponential_decay(decay_steps=1000, decay_rate=0.9, interval=step)",
                    "exponential_decay(decay_steps=3, decay_rate=0.25)",
                    "cosine_decay(decay_steps=7, minimum=0.02, interval=step)",
                    "cosine_decay(decay_steps=3)",
                    "piecewise_constant_decay(boundaries=[4, 8], values=[0.1, 0.05, 0.01], interval=step)",
                    "piecewise_constant_decay(boundaries=[1], values=[0.2, 0.03])"]


def schedule_features(schedule) -> dict:
    return {f.name: (list(v) if f.many else v.name if hasattr(v, "eEnum") else v)
            for f in schedule.eClass.eAllStructuralFeatures() if (v := schedule.eGet(f)) is not None}


@pytest.mark.parametrize("schedule", LAMBDA_SCHEDULES)
def test_the_generated_lambda_lr_reads_back_as_its_pivot_schedule(schedule, tmp_path):
    pivot = parse_text(SCHEDULED_MODEL.format(schedule=schedule), "net.nn")
    script = tmp_path / "net.py"
    script.write_text(P.generate(pivot, "net.nn"))
    assert "torch.optim.lr_scheduler.LambdaLR(" in script.read_text()
    model, report = import_pytorch(script, input_shapes=[[6]])
    assert not [d for d in report.diagnostics if "LambdaLR" in d.message]
    read = model.training.schedule
    assert read.eClass.name == pivot.training.schedule.eClass.name
    assert schedule_features(read) == schedule_features(pivot.training.schedule)
    assert read.interval.name == ("step" if "interval=step" in schedule else "epoch")


@pytest.mark.parametrize("written,replaced", [
    ("(step / 1000)", "(step / 1000.0)"),                    # another number than the pivot's integer steps
    ("(step / 1000)) / learning_rate", "(step / 1000)) / 0.1"),   # not a factor of the optimizer's rate
    ("0.9 ** (step / 1000)", "0.9 ** (step / 1000) + 0.0"),   # more than the closed form
])
def test_a_lambda_lr_near_the_generated_form_is_still_a_located_warning(written, replaced, tmp_path):
    pivot = parse_text(SCHEDULED_MODEL.format(schedule=LAMBDA_SCHEDULES[0]), "net.nn")
    code = P.generate(pivot, "net.nn")
    assert written in code
    script = tmp_path / "net.py"
    script.write_text(code.replace(written, replaced))
    model, report = import_pytorch(script, input_shapes=[[6]])
    assert model.training.schedule is None
    [warned] = [d for d in report.diagnostics if "LambdaLR" in d.message]
    line = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if "LambdaLR(" in text)
    assert warned.code == "unsupported-construct" and warned.location.line == line


def test_an_unknown_optimizer_is_a_warning_naming_it(tmp_path):
    script = tmp_path / "net.py"
    script.write_text(WARNED_SCRIPT.format(optimizer="torch.optim.LBFGS(model.parameters(), lr=0.1)",
                                           scheduler="None"))
    model, report = import_pytorch(script, input_shapes=[[5]])
    assert model.training.optimizer is None
    [warned] = report.diagnostics
    assert "torch.optim.LBFGS" in warned.message and (warned.location.line, warned.location.col) == (20, 21)


ONE_CYCLES = ["one_cycle(max_learning_rate=0.1, total_steps=12)",
              "one_cycle(max_learning_rate=0.1, total_steps=12, three_phase=true)",
              "one_cycle(max_learning_rate=0.2, total_steps=12, annealing=linear, pct_start=0.25, div_factor=10.0)",
              ("one_cycle(max_learning_rate=0.2, total_steps=12, annealing=linear, three_phase=true, "
               "base_momentum=0.8, max_momentum=0.9, final_div_factor=100.0)")]


class StepRecorder(keras.callbacks.Callback):
    """The learning rate and momentum (beta_1) each Keras optimizer step takes: what the optimizer reads."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        cycled = optimizer._learning_rate.momentum(optimizer.iterations)
        self.steps.append((rate, float(keras.ops.convert_to_numpy(cycled))))


@pytest.mark.parametrize("optimizer", ["sgd(learning_rate=0.1, momentum=0.9)",
                                       "sgd(learning_rate=0.1, momentum=0.9, nesterov=true, weight_decay=0.01)",
                                       "adam(learning_rate=0.1, epsilon=1e-06)",
                                       "adam(learning_rate=0.1, epsilon=1e-07, rule=keras)",
                                       "adamw(learning_rate=0.1, epsilon=1e-08, weight_decay=0.01)"])
@pytest.mark.parametrize("schedule", ONE_CYCLES, ids=["cos", "cos_three_phase", "linear", "linear_three_phase"])
def test_one_cycle_cycles_rate_and_momentum_alike_in_both_generated_trainings(optimizer, schedule, tmp_path,
                                                                              monkeypatch):
    """12 epochs of one batch from the same weights: every step's rate and momentum (beta_1) as PyTorch's
    OneCycleLR sets them, and the same weights after the 12 steps."""
    text = SCHEDULED_MODEL.format(schedule=schedule).replace("sgd(learning_rate=0.1)", optimizer).replace(
        "epochs 4", "epochs 12").replace("batch_size 4", "batch_size 16")
    pivot = parse_text(text, "net.nn")
    program = K.plan(pivot)
    keras_file, torch_file = tmp_path / "keras_net.py", tmp_path / "torch_net.py"
    keras_file.write_text(K.render(program, "net.nn"))
    torch_file.write_text(P.generate(pivot, "net.nn"))
    assert program.diagnostics == []
    torch_module, keras_module = load_module(torch_file), load_module(keras_file)
    features, labels = classes_data(16, seed=8)
    torch.manual_seed(0)
    torch_net, keras_net = torch_module.Net(), keras_module.Net()
    keras_net(features[:1])
    keras_net.h.set_weights([torch_net.h.weight.detach().numpy().T, torch_net.h.bias.detach().numpy()])

    torch_steps, depth = [], []

    def before(opt, args, kwargs):   # a rule class's step calls its base's: the outer one is the step
        group = opt.param_groups[0]
        if not depth:
            torch_steps.append((group["lr"], group["betas"][0] if "betas" in group else group["momentum"]))
        depth.append(opt)
    handles = [register_optimizer_step_pre_hook(before),
               register_optimizer_step_post_hook(lambda opt, args, kwargs: depth.pop())]
    try:
        printed_losses(torch_module.train, torch_net, torch.utils.data.TensorDataset(torch.from_numpy(features),
                                                                                     torch.from_numpy(labels)))
    finally:
        for handle in handles:
            handle.remove()
    recorder, fit = StepRecorder(), keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda model, *args, **kwargs: fit(
        model, *args, **{**kwargs, "callbacks": [recorder], "verbose": 0}))
    keras_module.train(keras_net, features, labels)

    assert len(torch_steps) == len(recorder.steps) == 12
    np.testing.assert_allclose(np.array(recorder.steps), np.array(torch_steps), rtol=1e-7, atol=0)
    rates, momenta = zip(*torch_steps)
    assert len(set(rates)) == 12 and len(set(momenta)) > 4   # both cycle
    # float32 rounding in two orders: up to 5.7e-6 measured (Keras's Adam rule); a constant momentum (beta_1)
    # lands 1e-4 and more away
    kernel, bias = keras_net.h.get_weights()
    np.testing.assert_allclose(kernel, torch_net.h.weight.detach().numpy().T, atol=2e-5)
    np.testing.assert_allclose(bias, torch_net.h.bias.detach().numpy(), atol=2e-5)


def test_one_cycle_without_cycled_momentum_keeps_keras_own_adam_and_pytorchs_sgd_buffer(tmp_path):
    """cycle_momentum=false: Adam is Keras's own class with the schedule; SGD with momentum still trains with the
    one-cycle class, whose buffer takes the rate at each step as PyTorch's does (Keras's SGD keeps it inside)."""
    schedule = "one_cycle(max_learning_rate=0.1, total_steps=12, cycle_momentum=false)"
    adam = K.generate(parse_text(SCHEDULED_MODEL.format(schedule=schedule).replace(
        "sgd(learning_rate=0.1)", "adam(learning_rate=0.1)"), "net.nn"), "net.nn")
    assert "optimizer=keras.optimizers.Adam(" in adam and "class OneCycle" not in adam
    sgd = K.generate(parse_text(SCHEDULED_MODEL.format(schedule=schedule).replace(
        "sgd(learning_rate=0.1)", "sgd(learning_rate=0.1, momentum=0.9)"), "net.nn"), "net.nn")
    assert "optimizer=OneCycleTorchSGD(" in sgd and "cycle_momentum=False" in sgd


def test_momentum_cycling_keras_cannot_do_is_a_located_warning():
    text = SCHEDULED_MODEL.format(schedule="one_cycle(max_learning_rate=0.1, total_steps=12)").replace(
        "sgd(learning_rate=0.1)", "rmsprop(learning_rate=0.1, momentum=0.5)")
    program = K.plan(parse_text(text, "net.nn"))
    code = K.render(program, "net.nn")
    [warned] = program.diagnostics
    assert warned.code == "unsupported-for-target" and "cycles the momentum of optimizer rmsprop" in warned.message
    assert (warned.location.line, warned.location.col) == (9, 9)
    assert "learning_rate=TorchOneCycle(" in code   # the rate itself still cycles exactly


def test_one_cycle_round_trips_through_keras_and_saves_with_the_model(tmp_path):
    """Keras -> pivot -> PyTorch gives OneCycleLR again; the compiled schedule and class save and load."""
    text = SCHEDULED_MODEL.format(schedule=ONE_CYCLES[3]).replace(
        "sgd(learning_rate=0.1)", "adam(learning_rate=0.1, epsilon=1e-08)")
    pivot = parse_text(text, "net.nn")
    keras_file = tmp_path / "keras_net.py"
    keras_file.write_text(K.generate(pivot, "net.nn"))
    assert "optimizer=OneCycleTorchAdam(" in keras_file.read_text()
    back, report = import_keras(keras_file, input_shapes=[[6]])
    assert report.diagnostics == []
    printed = print_nn(back)
    assert ("schedule one_cycle(max_learning_rate=0.2, total_steps=12, final_div_factor=100.0, annealing=linear, "
            "base_momentum=0.8, max_momentum=0.9, three_phase=true)") in printed
    assert "optimizer adam(learning_rate=0.008, epsilon=1e-08)" in printed   # the first step's rate, 0.2 / 25
    torch_code = re.sub(r"\s", "", P.generate(back, "net.nn"))
    assert ("torch.optim.lr_scheduler.OneCycleLR(optimizer,max_lr=0.2,total_steps=12,pct_start=0.3,"
            "anneal_strategy=\"linear\",cycle_momentum=True,base_momentum=0.8,max_momentum=0.9,div_factor=25.0,"
            "final_div_factor=100.0,three_phase=True") in torch_code

    module = load_module(keras_file)
    net = module.Net()
    features, labels = classes_data(8, seed=3)
    net(features[:1])
    module.train(net, features, labels)
    net.save(tmp_path / "net.keras")
    loaded = keras.models.load_model(tmp_path / "net.keras", custom_objects={"Net": module.Net})
    assert type(loaded.optimizer).__name__ == "OneCycleTorchAdam"
    assert loaded.optimizer._learning_rate.get_config() == net.optimizer._learning_rate.get_config()
    for step in (0, 5, 11):
        assert float(loaded.optimizer._learning_rate(step)) == float(net.optimizer._learning_rate(step))


def test_keras_sgd_with_the_one_cycle_schedule_reads_as_not_cycling_its_momentum(tmp_path):
    """Only the one-cycle classes take their momentum from the schedule: Keras's own SGD keeps its own."""
    code = K.generate(parse_text(SCHEDULED_MODEL.format(schedule=ONE_CYCLES[0]).replace(
        "sgd(learning_rate=0.1)", "sgd(learning_rate=0.1, momentum=0.9)"), "net.nn"), "net.nn")
    keras_file = tmp_path / "keras_net.py"
    assert "optimizer=OneCycleTorchSGD(" in code  # PyTorch's buffer: the rate changes every step
    keras_file.write_text(code.replace("optimizer=OneCycleTorchSGD(", "optimizer=keras.optimizers.SGD("))
    back, _ = import_keras(keras_file, input_shapes=[[6]])
    assert back.training.schedule.cycleMomentum is False


@pytest.mark.parametrize("steps,named,where", [
    ("epochs=args.epochs, steps_per_epoch=len(loader)", "steps_per_epoch=len(loader)", (26, 72)),
    ("epochs=args.epochs", "total_steps (or epochs and steps_per_epoch) is not given", (25, 17))])
def test_one_cycle_total_steps_not_known_statically_is_a_located_warning(steps, named, where, tmp_path):
    script = tmp_path / "net.py"
    script.write_text(ONE_CYCLE_SCRIPT.replace("epochs=args.epochs, steps_per_epoch=5", steps))
    model, report = import_pytorch(script, input_shapes=[[6]])
    assert model.training.schedule is None
    [warned] = report.diagnostics
    assert warned.code == "unsupported-construct" and named in warned.message
    assert (warned.location.line, warned.location.col) == where


ONE_CYCLE_SCRIPT = """\
import argparse

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(x)


def main(data, argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.3)
    args = parser.parse_args(argv)
    model = Net()
    loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=5, three_phase=True)
    for epoch in range(args.epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            scheduler.step()
    return model
"""


def test_pytorch_one_cycle_with_epochs_and_steps_per_epoch_reads_its_total_steps(tmp_path):
    script = tmp_path / "net.py"
    script.write_text(ONE_CYCLE_SCRIPT)
    model, report = import_pytorch(script, input_shapes=[[6]])
    assert report.ok and report.diagnostics == []
    assert "schedule one_cycle(max_learning_rate=0.3, total_steps=20, three_phase=true)" in print_nn(model)


WARNED_SCRIPT = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 4)

    def forward(self, x):
        return self.fc(x)


def main(data):
    model = Net()
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        model.train()
        optimizer = {optimizer}
        scheduler = {scheduler}
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
"""


# --- the metamodel: text and XMI ---------------------------------------------------------------------------

def test_training_settings_print_read_and_round_trip_through_xmi(tmp_path):
    text = SCHEDULED_MODEL.format(schedule="piecewise_constant_decay(boundaries=[2, 5], values=[0.1, 0.01, 0.001], "
                                           "interval=step)").replace(
        "loss cross_entropy", "loss cross_entropy(reduction=sum, label_smoothing=0.2)").replace(
        "batch_size 4", "batch_size 4\n        clip_norm 2.0")
    model = parse_text(text, "net.nn")
    printed = print_nn(model)
    assert print_nn(parse_text(printed, "again.nn")) == printed
    assert "loss cross_entropy(reduction=sum, label_smoothing=0.2)" in printed and "clip_norm 2.0" in printed
    save_xmi(model, tmp_path / "net.xmi")
    assert print_nn(load_xmi(tmp_path / "net.xmi")) == printed


def test_emf_style_training_loads(tmp_path):
    """Lists as elements and a schedule typed by xsi:type, as EMF writes them."""
    path = tmp_path / "m.xmi"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<nn:Model xmi:version="2.0" xmlns:xmi="http://www.omg.org/XMI" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:nn="http://nnpivot.org/nn/1.0" name="M" '
        'outputs="//@nodes.0">\n  <nodes xsi:type="nn:Input" name="x">\n    <shape>3</shape>\n  </nodes>\n'
        '  <training clipValue="0.5" loss="mse" lossReduction="sum">\n'
        '    <schedule xsi:type="nn:PiecewiseConstantDecay" interval="step">\n'
        '      <boundaries>3</boundaries>\n      <values>0.1</values>\n      <values>0.05</values>\n'
        '    </schedule>\n  </training>\n</nn:Model>\n')
    training = load_xmi(path).training
    assert (list(training.schedule.boundaries), list(training.schedule.values)) == ([3], [0.1, 0.05])
    assert (training.clipValue, training.lossReduction.name, training.schedule.interval.name) == (0.5, "sum", "step")


@pytest.mark.parametrize("setting,message", [
    ("schedule step_decay(step_size=2, gama=0.5)", "schedule step_decay has no argument 'gama' (did you mean 'gamma'?)"),
    ("schedule step_decay(step_size=2.5)", "step_size expects an integer"),
    ("schedule linear_decay(steps=2)", "unknown schedule 'linear_decay'"),
    ("clip_norm -1", "clip_norm expects one positive number"),
    ("loss cross_entropy(reduction=none)", "reduction expects one of mean, sum"),
])
def test_wrong_training_settings_are_located_errors(setting, message):
    text = SCHEDULED_MODEL.format(schedule="step_decay(step_size=2)").replace(
        "        schedule step_decay(step_size=2)", f"        {setting}")
    with pytest.raises(NNPivotError) as raised:
        parse_text(text, "net.nn")
    [problem] = raised.value.diagnostics
    assert message in problem.message and problem.location.line == 9


@pytest.mark.parametrize("schedule,message", [
    ("step_decay(step_size=0)", "schedule step_decay: step_size must be positive, got 0"),
    ("piecewise_constant_decay(boundaries=[3, 2], values=[0.1, 0.01, 0.001])", "must be positive and increasing"),
    ("piecewise_constant_decay(boundaries=[2], values=[0.1])", "values must be 2 positive learning rates"),
    ("reduce_on_plateau(factor=1.5)", "factor must be below 1"),
    ("one_cycle(max_learning_rate=0.1)", "total_steps must be positive"),
])
def test_a_schedule_that_cannot_run_is_a_located_error(schedule, message):
    [problem] = validate(parse_text(SCHEDULED_MODEL.format(schedule=schedule), "net.nn"))
    assert problem.code == "out-of-range" and message in problem.message
    assert problem.location.line == 9


# --- weight decay: Keras decouples Adam's, as PyTorch's AdamW does ------------------------------------------

def test_keras_adam_weight_decay_becomes_pytorch_adamw_and_updates_the_same(tmp_path):
    script = tmp_path / "decayed.py"
    script.write_text(KERAS_DECAY_SCRIPT.replace(
        "keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)",
        "keras.optimizers.Adam(learning_rate=0.05, weight_decay=0.2)"))
    model, report = import_keras(script)
    assert report.ok and not report.diagnostics
    assert model.training.optimizer.kind == "adamw"
    code = re.sub(r"\s", "", P.generate(model, "decayed.py"))
    # AdamW with Keras's epsilon (KerasAdamW, tests/test_training_rules.py): the decay is the same in both
    assert "KerasAdamW(model.parameters(),lr=learning_rate,weight_decay=0.2,eps=1e-07)" in code

    weights = np.array([[1.5, -2.0], [0.5, 3.0]], "float32")
    gradients = [np.array([[0.3, -0.1], [2.0, 0.7]], "float32"), np.array([[-0.4, 0.2], [1.0, -0.9]], "float32")]
    variable = keras.Variable(weights)
    keras_optimizer = keras.optimizers.Adam(learning_rate=0.05, weight_decay=0.2)
    parameter = torch.nn.Parameter(torch.from_numpy(weights.copy()))
    torch_optimizer = torch.optim.AdamW([parameter], lr=0.05, weight_decay=0.2, eps=1e-07)
    coupled = torch.nn.Parameter(torch.from_numpy(weights.copy()))   # what Adam(weight_decay=...) would do
    coupled_optimizer = torch.optim.Adam([coupled], lr=0.05, weight_decay=0.2, eps=1e-07)
    for gradient in gradients:
        keras_optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
        parameter.grad, coupled.grad = torch.from_numpy(gradient), torch.from_numpy(gradient.copy())
        torch_optimizer.step()
        coupled_optimizer.step()
    # float32 rounding in a different order (measured 1.4e-6); L2 decay lands 1e-3 and more away
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), parameter.detach().numpy(), atol=1e-5)
    assert np.abs(coupled.detach().numpy() - parameter.detach().numpy()).max() > 1e-3


def test_one_cycle_needs_an_optimizer_with_momentum():
    text = SCHEDULED_MODEL.format(schedule="one_cycle(max_learning_rate=0.1, total_steps=12)")
    [problem] = validate(parse_text(text.replace("sgd(learning_rate=0.1)", "adagrad(learning_rate=0.1)"), "net.nn"))
    assert "optimizer adagrad has none: write cycle_momentum=false" in problem.message and problem.location.line == 9
    assert validate(parse_text(text.replace("total_steps=12", "total_steps=12, cycle_momentum=false").replace(
        "sgd(learning_rate=0.1)", "adagrad(learning_rate=0.1)"), "net.nn")) == []
    assert validate(parse_text(text, "net.nn")) == []
