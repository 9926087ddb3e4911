"""The optimizer rule classes update exactly as the other framework's optimizer (issue 11: training migrates).

Keras adds Adam's epsilon to sqrt(v) before the bias correction, PyTorch after it; Keras subtracts SGD's weight
decay from the weights, PyTorch adds it to the gradient, which momentum carries on. Generated code trains a
model with its source's rule through a small subclass of the target's optimizer (generators/templates/*/
optimizer.py.j2, run here through the same code the runners of ``nnpivot verify --train`` execute). Each test
applies the same fixed gradients for several steps (so the bias correction matters) to the same weights in both
frameworks and compares the weights after every step within 1e-6. The gradients are small (about 1e-6), where
the epsilons differ most: the native pair of optimizers is shown to differ there, so each test can fail.
"""
from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
import torch
from keras import ops

from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import keras_optimizer_class, keras_precision, rule_optimizer_class
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.generators.nn_text import to_text as print_nn
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.kinds import training as vocabulary

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]

STEPS = 8
TOLERANCE = 1e-6
SHAPES = [(3, 4), (4,)]


def _weights_and_gradients(scale: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal(shape) * 0.1).astype(np.float32) for shape in SHAPES]  # float32 ulp << 1e-6
    gradients = [[(rng.standard_normal(shape) * scale).astype(np.float32) for shape in SHAPES]
                 for _ in range(STEPS)]
    return weights, gradients


def _torch_trajectory(optimizer_class, weights, gradients, **options) -> list[list[np.ndarray]]:
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in weights]
    optimizer = optimizer_class(params, **options)
    trajectory = []
    for step in gradients:
        for param, gradient in zip(params, step):
            param.grad = torch.from_numpy(gradient.copy())
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def _keras_trajectory(optimizer_class, weights, gradients, traced: bool, **options) -> list[list[np.ndarray]]:
    return _variables_trajectory(optimizer_class, [keras.Variable(w.copy()) for w in weights], gradients, traced,
                                 **options)


def _variables_trajectory(optimizer_class, variables, gradients, traced: bool, **options) -> list[list[np.ndarray]]:
    """The Keras variables after each step of ``optimizer_class`` on the fixed gradients (eager or jit-compiled)."""
    optimizer = optimizer_class(**options)
    optimizer.build(variables)

    def apply(step):
        optimizer.apply_gradients(zip(step, variables))

    run = tf.function(apply, jit_compile=True) if traced else apply
    trajectory = []
    for step in gradients:
        run([tf.constant(g) for g in step])
        trajectory.append([ops.convert_to_numpy(v).copy() for v in variables])
    return trajectory


def _largest_difference(a, b) -> float:
    return max(float(np.abs(x - y).max()) for step_a, step_b in zip(a, b) for x, y in zip(step_a, step_b))


def _torch_class(name: str):
    return rule_optimizer_class("pytorch", vocabulary.OPTIMIZERS[name], {"torch": torch, "math": math})


def _keras_class(name: str):
    return rule_optimizer_class("keras", vocabulary.OPTIMIZERS[name], {"keras": keras, "ops": ops})


# (pivot optimizer, torch keywords, the same settings as Keras keywords, gradient scale)
ADAM_CASES = [
    ("adam", {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-7}, {"learning_rate": 0.01, "epsilon": 1e-7}, 1e-6),
    ("adam", {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-3, "amsgrad": True},
     {"learning_rate": 0.003, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3, "amsgrad": True}, 1e-2),
    ("adamw", {"lr": 0.01, "eps": 1e-7, "weight_decay": 0.05},
     {"learning_rate": 0.01, "epsilon": 1e-7, "weight_decay": 0.05}, 1e-6),
    # RMSprop: Keras adds epsilon inside the square root, decouples weight decay, keeps lr in its momentum buffer
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-7}, {"learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-7}, 1e-6),
    ("rmsprop", {"lr": 0.003, "alpha": 0.95, "eps": 1e-4, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
     {"learning_rate": 0.003, "rho": 0.95, "epsilon": 1e-4, "momentum": 0.5, "centered": True,
      "weight_decay": 0.05}, 1e-2),
    # Adagrad: Keras adds epsilon inside the square root, decouples weight decay, starts at a float32 accumulator
    ("adagrad", {"lr": 0.01, "eps": 1e-7}, {"learning_rate": 0.01, "epsilon": 1e-7, "initial_accumulator_value": 0.0},
     1e-6),
    ("adagrad", {"lr": 0.05, "eps": 1e-3, "initial_accumulator_value": 0.1, "weight_decay": 0.05},
     {"learning_rate": 0.05, "epsilon": 1e-3, "initial_accumulator_value": 0.1, "weight_decay": 0.05}, 1e-1),
    # Adamax: Keras adds epsilon to the infinity norm, PyTorch inside its maximum; Keras decouples weight decay
    ("adamax", {"lr": 0.01, "betas": (0.9, 0.5), "eps": 1e-6}, {"learning_rate": 0.01, "beta_2": 0.5, "epsilon": 1e-6},
     1e-6),
    ("adamax", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.05},
     {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3, "weight_decay": 0.05}, 1e-2),
    # NAdam: PyTorch's momentum schedule decays 250 times slower than Keras's; Keras decouples weight decay
    # Adadelta: Keras decouples weight decay (the rest of the rule is PyTorch's)
    ("adadelta", {"lr": 0.5, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.05},
     {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-6, "weight_decay": 0.05}, 1e-1),
    ("nadam", {"lr": 0.01, "eps": 1e-7}, {"learning_rate": 0.01, "epsilon": 1e-7}, 1e-2),
    ("nadam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-3, "weight_decay": 0.05},
     {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3, "weight_decay": 0.05}, 1e-2),
]


@pytest.mark.parametrize(("name", "torch_options", "keras_options", "scale"), ADAM_CASES)
def test_keras_adam_in_pytorch_updates_as_keras(name, torch_options, keras_options, scale):
    weights, gradients = _weights_and_gradients(scale)
    keras_class = getattr(keras.optimizers, vocabulary.OPTIMIZERS[name].keras_name)
    expected = _keras_trajectory(keras_class, weights, gradients, traced=False, **keras_options)
    native = _torch_trajectory(getattr(torch.optim, vocabulary.OPTIMIZERS[name].torch_name), weights, gradients,
                               **torch_options)
    assert _largest_difference(native, expected) > 100 * TOLERANCE  # PyTorch's own rule differs here
    assert _largest_difference(_torch_trajectory(_torch_class(name), weights, gradients, **torch_options),
                               expected) <= TOLERANCE


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "jit_compile"])
@pytest.mark.parametrize(("name", "torch_options", "keras_options", "scale"), ADAM_CASES)
def test_pytorch_adam_in_keras_updates_as_pytorch(name, torch_options, keras_options, scale, traced):
    weights, gradients = _weights_and_gradients(scale)
    entry = vocabulary.OPTIMIZERS[name]
    expected = _torch_trajectory(getattr(torch.optim, entry.torch_name), weights, gradients, **torch_options)
    native = _keras_trajectory(getattr(keras.optimizers, entry.keras_name), weights, gradients, traced,
                               **keras_options)
    assert _largest_difference(native, expected) > 100 * TOLERANCE
    assert _largest_difference(_keras_trajectory(_keras_class(name), weights, gradients, traced, **keras_options),
                               expected) <= TOLERANCE


# In float64 (nnpivot verify --train's default) the rule classes take the other framework's steps up to float64
# rounding. Keras raises beta_1 and beta_2 rounded to float32 in its bias corrections and rounds its weight decay
# so (ops.cast of a Python float goes through float32), PyTorch takes them as given: a 6e-6 relative difference
# of every Adam step (6e-8 here) until the rule classes carried it over, which made the Keras tutorial CNN's
# check part at step 40 in float64.
FLOAT64_TOLERANCE = 1e-12


@pytest.mark.parametrize(("name", "torch_options", "keras_options", "scale"), ADAM_CASES)
def test_adam_rule_classes_take_the_other_frameworks_steps_in_float64(name, torch_options, keras_options, scale):
    weights, gradients = _weights_and_gradients(scale)
    weights = [w.astype(np.float64) for w in weights]
    gradients = [[g.astype(np.float64) for g in step] for step in gradients]
    entry = vocabulary.OPTIMIZERS[name]
    with keras_precision("float64"):  # the learning rate variable too
        keras_own = _keras_trajectory(getattr(keras.optimizers, entry.keras_name), weights, gradients, False,
                                      **keras_options)
        keras_rule = _keras_trajectory(_keras_class(name), weights, gradients, True, **keras_options)
    torch_own = _torch_trajectory(getattr(torch.optim, entry.torch_name), weights, gradients, **torch_options)
    torch_rule = _torch_trajectory(_torch_class(name), weights, gradients, **torch_options)
    assert keras_own[-1][0].dtype == torch_own[-1][0].dtype == np.float64
    assert _largest_difference(torch_rule, keras_own) <= FLOAT64_TOLERANCE
    assert _largest_difference(keras_rule, torch_own) <= FLOAT64_TOLERANCE


def test_keras_adam_rounds_its_betas_to_float32_in_float64():
    """What the float64 rule classes carry over: Keras's own Adam against Adam written out with the betas rounded
    to float32 in the bias corrections (and as given in the averages) agrees; with the betas as given it does not."""
    weights, gradients = _weights_and_gradients(1e-2)
    weights = [w.astype(np.float64) for w in weights]
    gradients = [[g.astype(np.float64) for g in step] for step in gradients]
    with keras_precision("float64"):
        found = _keras_trajectory(keras.optimizers.Adam, weights, gradients, False, learning_rate=0.01)

    def written_out(beta_of_corrections):
        params, m, v, trajectory = [w.copy() for w in weights], [0.0] * len(weights), [0.0] * len(weights), []
        for t, step in enumerate(gradients, start=1):
            for i, g in enumerate(step):
                m[i] = m[i] + (g - m[i]) * (1 - 0.9)
                v[i] = v[i] + (g * g - v[i]) * (1 - 0.999)
                alpha = 0.01 * math.sqrt(1 - beta_of_corrections(0.999) ** t) / (1 - beta_of_corrections(0.9) ** t)
                params[i] = params[i] - m[i] * alpha / (np.sqrt(v[i]) + 1e-7)
            trajectory.append([p.copy() for p in params])
        return trajectory

    assert _largest_difference(found, written_out(lambda beta: float(np.float32(beta)))) <= FLOAT64_TOLERANCE
    assert _largest_difference(found, written_out(lambda beta: beta)) > 100 * FLOAT64_TOLERANCE


def test_pytorch_adam_weight_decay_in_keras_is_added_to_the_gradient():
    """torch.optim.Adam's weight decay is L2 (Keras's Adam decouples it): the rule class adds it to the gradient."""
    weights, gradients = _weights_and_gradients(1e-2)
    expected = _torch_trajectory(torch.optim.Adam, weights, gradients, lr=0.01, eps=1e-8, weight_decay=0.1)
    found = _keras_trajectory(_keras_class("adam"), weights, gradients, False, learning_rate=0.01, epsilon=1e-8,
                              weight_decay=0.1)
    assert _largest_difference(found, expected) <= TOLERANCE


SGD_TORCH = {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-2}
SGD_KERAS = {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 5e-2}


@pytest.mark.parametrize("nesterov", [False, True])
def test_keras_sgd_decay_in_pytorch_is_decoupled(nesterov):
    weights, gradients = _weights_and_gradients(1e-1)
    expected = _keras_trajectory(keras.optimizers.SGD, weights, gradients, False, nesterov=nesterov, **SGD_KERAS)
    native = _torch_trajectory(torch.optim.SGD, weights, gradients, nesterov=nesterov, **SGD_TORCH)
    assert _largest_difference(native, expected) > 100 * TOLERANCE
    found = _torch_trajectory(_torch_class("sgd"), weights, gradients, nesterov=nesterov, **SGD_TORCH)
    assert _largest_difference(found, expected) <= TOLERANCE


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "jit_compile"])
@pytest.mark.parametrize("nesterov", [False, True])
def test_pytorch_sgd_decay_in_keras_is_added_to_the_gradient(nesterov, traced):
    weights, gradients = _weights_and_gradients(1e-1)
    expected = _torch_trajectory(torch.optim.SGD, weights, gradients, nesterov=nesterov, **SGD_TORCH)
    native = _keras_trajectory(keras.optimizers.SGD, weights, gradients, traced, nesterov=nesterov, **SGD_KERAS)
    assert _largest_difference(native, expected) > 100 * TOLERANCE
    found = _keras_trajectory(_keras_class("sgd"), weights, gradients, traced, nesterov=nesterov, **SGD_KERAS)
    assert _largest_difference(found, expected) <= TOLERANCE


# A learning rate that changes at every step (a StepLR(step_size=1, gamma=0.5) or an ExponentialDecay schedule):
# Keras's SGD keeps each past step's rate in its momentum buffer, PyTorch's multiplies its buffer by this step's.
# The rates are float32 values (Keras's learning-rate variable is float32); weight decay too (Keras rounds it).
SCHEDULED_RATES = [0.5 * 0.5 ** step for step in range(STEPS)]


def _torch_scheduled(optimizer_class, weights, gradients, **options):
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in weights]
    optimizer = optimizer_class(params, lr=SCHEDULED_RATES[0], **options)
    trajectory = []
    for rate, step in zip(SCHEDULED_RATES, gradients):
        for group in optimizer.param_groups:
            group["lr"] = rate
        for param, gradient in zip(params, step):
            param.grad = torch.from_numpy(gradient.copy())
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def _keras_scheduled(optimizer_class, weights, gradients, **options):
    variables = [keras.Variable(w.copy()) for w in weights]
    optimizer = optimizer_class(learning_rate=SCHEDULED_RATES[0], **options)
    optimizer.build(variables)
    trajectory = []
    for rate, step in zip(SCHEDULED_RATES, gradients):
        optimizer.learning_rate = rate
        optimizer.apply_gradients(zip([tf.constant(g) for g in step], variables))
        trajectory.append([ops.convert_to_numpy(v).copy() for v in variables])
    return trajectory


@pytest.mark.parametrize("weight_decay", [0.0, 0.0625])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_rule_classes_keep_their_momentum_buffer_under_a_changing_rate(nesterov, weight_decay):
    """In float64, each SGD rule class follows the other framework's SGD within 1e-12 while the rate halves every
    step; the target's own SGD does not (its buffer keeps the rate the other way)."""
    weights, gradients = _weights_and_gradients(1e-1)
    weights = [w.astype(np.float64) for w in weights]
    gradients = [[g.astype(np.float64) for g in step] for step in gradients]
    common = {"momentum": 0.9, "nesterov": nesterov, "weight_decay": weight_decay}
    with keras_precision("float64"):
        keras_own = _keras_scheduled(keras.optimizers.SGD, weights, gradients, **common)
        keras_rule = _keras_scheduled(_keras_class("sgd"), weights, gradients, **common)
    torch_own = _torch_scheduled(torch.optim.SGD, weights, gradients, **common)
    torch_rule = _torch_scheduled(_torch_class("sgd"), weights, gradients, **common)
    assert keras_own[-1][0].dtype == torch_own[-1][0].dtype == np.float64
    assert _largest_difference(torch_rule, keras_own) <= FLOAT64_TOLERANCE
    assert _largest_difference(keras_rule, torch_own) <= FLOAT64_TOLERANCE
    assert _largest_difference(torch_own, keras_own) > 1e-4  # what the rule classes carry over


def test_sgd_momentum_under_a_schedule_records_its_rule():
    sgd = vocabulary.OPTIMIZERS["sgd"]
    assert vocabulary.rule_matters(sgd, {"momentum": 0.9}, changes_rate=True)
    assert not vocabulary.rule_matters(sgd, {}, changes_rate=True)  # without momentum: the same update
    model = parse_text(TAGGER.format(optimizer="sgd(learning_rate=0.1, momentum=0.9, rule=keras)"))
    assert vocabulary.rule_of(model.training.optimizer) == ""
    scheduled = TAGGER.format(optimizer="sgd(learning_rate=0.1, momentum=0.9, rule=keras)").replace(
        "    loss", "    schedule step_decay(step_size=1, gamma=0.5, interval=step)\n    loss", 1)
    model = parse_text(scheduled)
    assert model.training.schedule is not None
    assert vocabulary.rule_of(model.training.optimizer) == "keras"


def test_a_keras_rule_class_survives_saving(tmp_path):
    """The Keras rule classes are registered: a model compiled with one saves and loads again with its settings."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=_keras_class("adam")(learning_rate=0.01, epsilon=1e-8), loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer).__name__ == "TorchAdam" and loaded.optimizer.epsilon == 1e-8


def test_the_rule_matters_only_where_the_updates_differ():
    sgd, adam = vocabulary.OPTIMIZERS["sgd"], vocabulary.OPTIMIZERS["adam"]
    assert vocabulary.rule_matters(sgd, {"momentum": 0.9, "weight_decay": 1e-4})
    assert not vocabulary.rule_matters(sgd, {"momentum": 0.9})
    assert not vocabulary.rule_matters(sgd, {"weight_decay": 1e-4})  # without momentum: the same update
    assert vocabulary.rule_matters(adam, {"epsilon": 1e-7})
    assert not vocabulary.rule_matters(adam, {"epsilon": 0.0}) and not vocabulary.rule_matters(adam, {})
    rmsprop = vocabulary.OPTIMIZERS["rmsprop"]
    assert vocabulary.rule_matters(rmsprop, {"epsilon": 1e-7}) and vocabulary.rule_matters(rmsprop, {"weight_decay": 1})
    assert not vocabulary.rule_matters(rmsprop, {"rho": 0.9, "momentum": 0.5})
    # a model with an Embedding: Keras squares each occurrence's gradient apart (not SGD: its update is linear)
    assert vocabulary.rule_matters(adam, {}, gathers=True) and vocabulary.rule_matters(rmsprop, {}, gathers=True)
    assert not vocabulary.rule_matters(sgd, {"momentum": 0.9}, gathers=True)
    assert vocabulary.rule_matters(vocabulary.OPTIMIZERS["adagrad"], {"epsilon": 1e-7})
    assert vocabulary.rule_matters(vocabulary.OPTIMIZERS["nadam"], {})  # the momentum schedules differ
    adadelta = vocabulary.OPTIMIZERS["adadelta"]
    assert not vocabulary.rule_matters(adadelta, {"epsilon": 1e-7})  # inside the square root in both
    assert vocabulary.rule_matters(adadelta, {"epsilon": 1e-7, "weight_decay": 0.01})


# --- an Embedding: Keras's gradient is one slice per occurrence of a row --------------------------------------

IDS = np.array([[1, 1, 4, 1], [4, 0, 1, 1]])  # rows 1 and 4 looked up several times in a batch
TABLE_SHAPE = (6, 3)
# (pivot optimizer, torch keywords, Keras keywords)
EMBEDDING_CASES = [
    ("adam", {"lr": 0.01, "eps": 1e-7}, {"learning_rate": 0.01, "epsilon": 1e-7}),
    ("adam", {"lr": 0.01, "eps": 1e-7, "amsgrad": True}, {"learning_rate": 0.01, "epsilon": 1e-7, "amsgrad": True}),
    ("adamw", {"lr": 0.01, "eps": 1e-7, "weight_decay": 0.05},
     {"learning_rate": 0.01, "epsilon": 1e-7, "weight_decay": 0.05}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-7}, {"learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-7}),
    # (Keras 3.15's centered RMSprop fails on a gradient with repeated rows: its sparse subtraction gathers out of
    # range, so there is no Keras behaviour to match there)
    ("rmsprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-7, "momentum": 0.5},
     {"learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-7, "momentum": 0.5}),
    ("adagrad", {"lr": 0.01, "eps": 1e-7, "initial_accumulator_value": 0.1},
     {"learning_rate": 0.01, "epsilon": 1e-7, "initial_accumulator_value": 0.1}),
    ("adamax", {"lr": 0.01, "eps": 1e-7}, {"learning_rate": 0.01, "epsilon": 1e-7}),  # sums |g| per occurrence
    ("nadam", {"lr": 0.01, "eps": 1e-7}, {"learning_rate": 0.01, "epsilon": 1e-7}),
    ("adadelta", {"lr": 1.0, "rho": 0.9, "eps": 1e-6}, {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6}),
]


def _table_and_readout():
    """The table's start, a readout vector, and a weight of each looked-up value (of mixed signs, so that the
    occurrences of a row get gradients of different signs)."""
    rng = np.random.default_rng(3)
    return (rng.standard_normal(TABLE_SHAPE), rng.standard_normal(TABLE_SHAPE[1]),
            rng.standard_normal((*IDS.shape, TABLE_SHAPE[1])))


def _torch_embedding_trajectory(optimizer_class, watch: bool = False, **options):
    """An nn.Embedding trained on a loss of its lookups (autograd sums each row's gradient), float64; ``watch``
    gives the optimizer the model (a rule class's ``model=``, as generated code does)."""
    table, readout, mixing = _table_and_readout()
    model = torch.nn.Embedding(*TABLE_SHAPE).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(table))
    optimizer = optimizer_class(model.parameters(), **options, **({vocabulary.RULE_MODEL_KEYWORD: model} if watch else {}))
    trajectory = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        looked_up = model(torch.from_numpy(IDS))
        ((looked_up @ torch.from_numpy(readout)).square().sum() + (looked_up * torch.from_numpy(mixing)).sum()).backward()
        optimizer.step()
        trajectory.append([model.weight.detach().numpy().copy()])
    return trajectory


def _keras_embedding_trajectory(optimizer_class, **options):
    """A Keras Embedding trained on the same loss: its gradient is tf.IndexedSlices, one slice per lookup."""
    table, readout, mixing = _table_and_readout()
    with keras_precision("float64"):
        layer = keras.layers.Embedding(*TABLE_SHAPE)
        layer.build((None, IDS.shape[1]))
        layer.embeddings.assign(table)
        optimizer = optimizer_class(**options)
        optimizer.build(layer.trainable_variables)
    trajectory = []
    for _ in range(STEPS):
        with tf.GradientTape() as tape:
            looked_up = layer(IDS)
            loss = ops.sum(ops.square(ops.matmul(looked_up, readout))) + ops.sum(looked_up * mixing)
        [gradient] = tape.gradient(loss, [layer.embeddings])
        assert isinstance(gradient, tf.IndexedSlices)
        optimizer.apply_gradients([(gradient, layer.embeddings)])
        trajectory.append([ops.convert_to_numpy(layer.embeddings).copy()])
    return trajectory


@pytest.mark.parametrize(("name", "torch_options", "keras_options"), EMBEDDING_CASES)
def test_embedding_trains_with_the_other_frameworks_squares(name, torch_options, keras_options):
    """The rule classes take an Embedding's steps as the other framework does: Keras's squares each lookup's
    gradient apart and sums the squares (KerasAdam, KerasRMSprop watch the model's nn.Embedding layers),
    PyTorch's squares the row's sum (TorchAdam, TorchRMSprop sum the slices first), within 1e-12 in float64;
    the stock optimizers of one framework differ from the other's by more than 1e-6 (0.1 in Adam's case)."""
    entry = vocabulary.OPTIMIZERS[name]
    keras_own = _keras_embedding_trajectory(getattr(keras.optimizers, entry.keras_name), **keras_options)
    torch_own = _torch_embedding_trajectory(getattr(torch.optim, entry.torch_name), **torch_options)
    assert _largest_difference(keras_own, torch_own) > 1e-6
    found = _torch_embedding_trajectory(_torch_class(name), watch=True, **torch_options)
    assert _largest_difference(found, keras_own) <= FLOAT64_TOLERANCE
    unwatched = _torch_embedding_trajectory(_torch_class(name), **torch_options)  # without model=: sums, as PyTorch
    assert _largest_difference(unwatched, keras_own) > 1e-6
    assert _largest_difference(_keras_embedding_trajectory(_keras_class(name), **keras_options),
                               torch_own) <= FLOAT64_TOLERANCE


# --- the rule travels: .nn text, generated code read back ---------------------------------------------------

NET = """\
model Net {{
  input x: float32[4]
  d = dense(x, 3)
  output d
  training {{
    optimizer {optimizer}
    loss mse
    epochs 2
    batch_size 8
  }}
}}
"""


def test_the_rule_is_written_and_read_in_nn_text():
    text = NET.format(optimizer="adam(learning_rate=0.01, epsilon=1e-07, rule=keras)")
    model = parse_text(text, "net.nn")
    assert model.training.optimizer.rule.name == "keras"
    printed = print_nn(model)
    assert "optimizer adam(learning_rate=0.01, epsilon=1e-07, rule=keras)" in printed
    assert print_nn(parse_text(printed, "net.nn")) == printed
    pytorch_rule = parse_text(NET.format(optimizer="adam(learning_rate=0.01, epsilon=1e-07)"), "net.nn")
    assert pytorch_rule.training.optimizer.rule.name == "pytorch" and "rule=" not in print_nn(pytorch_rule)


def test_an_unknown_rule_is_a_located_error():
    with pytest.raises(NNPivotError) as raised:
        parse_text(NET.format(optimizer="adam(learning_rate=0.01, rule=jax)"), "net.nn")
    [problem] = raised.value.diagnostics
    assert problem.code == "bad-value" and "pytorch, keras" in problem.message
    assert (problem.location.line, problem.location.col) == (6, 40)  # at rule=


@pytest.mark.parametrize(("optimizer", "rule"), [
    ("adam(learning_rate=0.01, epsilon=1e-07, rule=keras)", "keras"),
    ("adam(learning_rate=0.01, epsilon=1e-08, weight_decay=0.1)", "pytorch"),
    ("adamw(learning_rate=0.01, epsilon=1e-07, weight_decay=0.004, rule=keras)", "keras"),
    ("sgd(learning_rate=0.1, momentum=0.9, weight_decay=0.0005)", "pytorch"),
    ("sgd(learning_rate=0.1, momentum=0.9, weight_decay=0.0005, rule=keras)", "keras"),
    ("rmsprop(learning_rate=0.01, rho=0.9, epsilon=1e-07, rule=keras)", "keras"),
    ("rmsprop(learning_rate=0.01, rho=0.99, epsilon=1e-08, momentum=0.5, centered=1, weight_decay=0.01)", "pytorch"),
    ("adagrad(learning_rate=0.01, epsilon=1e-07, initial_accumulator_value=0.1, rule=keras)", "keras"),
    ("adagrad(learning_rate=0.01, epsilon=1e-10, initial_accumulator_value=0, weight_decay=0.01)", "pytorch"),
    ("adamax(learning_rate=0.01, epsilon=1e-07, rule=keras)", "keras"),
    ("adamax(learning_rate=0.01, epsilon=1e-08, weight_decay=0.01)", "pytorch"),
    ("adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-07, weight_decay=0.01, rule=keras)", "keras"),
    ("adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-06, weight_decay=0.01)", "pytorch"),
    ("nadam(learning_rate=0.01, epsilon=1e-07, rule=keras)", "keras"),
    ("nadam(learning_rate=0.01, epsilon=1e-08)", "pytorch"),  # the momentum schedules differ whatever the settings
])
def test_generated_code_reads_back_with_its_rule(optimizer, rule, tmp_path):
    """Each target writes the rule class where its own optimizer updates otherwise; its importer reads the class
    back as the optimizer with that rule, the settings unchanged."""
    model = parse_text(NET.format(optimizer=optimizer), "net.nn")
    expected = ({p.key: p.value for p in model.training.optimizer.parameters}, model.training.optimizer.kind)
    for generate, read, target in ((P.generate, import_pytorch, "torch"), (K.generate, import_keras, "keras")):
        path = tmp_path / f"{target}_net.py"
        path.write_text(generate(model, "net.nn"))
        entry = vocabulary.OPTIMIZERS[model.training.optimizer.kind]
        rule_class = vocabulary.rule_class(entry, rule, target)
        assert (f"class {rule_class}(" in path.read_text()) == bool(rule_class)
        again, report = read(path, input_shapes=[[4]])
        assert report.ok and not report.diagnostics, [str(d) for d in report.diagnostics]
        optimizer_again = again.training.optimizer
        assert ({p.key: p.value for p in optimizer_again.parameters}, optimizer_again.kind) == expected
        assert vocabulary.rule_of(optimizer_again) == rule, target


TAGGER = """\
model Tagger {{
  input tokens: int64[12]
  embed = embedding(tokens, 50, 8)
  pooled = global_avg_pool(embed)
  logits = dense(pooled, 2)
  output logits
  training {{
    optimizer {optimizer}
    loss cross_entropy
  }}
}}
"""


@pytest.mark.parametrize(("optimizer", "rule"), [
    ("adam(learning_rate=0.01, epsilon=1e-07, rule=keras)", "keras"),
    ("rmsprop(learning_rate=0.01, rho=0.9, rule=keras)", "keras"),  # no epsilon: the Embedding alone matters
    ("rmsprop(learning_rate=0.01, rho=0.99)", "pytorch"),
])
def test_a_model_with_an_embedding_trains_with_its_rule_class(optimizer, rule, tmp_path):
    """With an Embedding, the rule matters whatever the settings: the PyTorch training of a Keras rule gives the
    rule class the model (model=model: it watches the nn.Embedding layers), the Keras training of a PyTorch rule
    uses the class that sums the slices; both read back with the rule and no diagnostic."""
    model = parse_text(TAGGER.format(optimizer=optimizer), "tagger.nn")
    entry = vocabulary.OPTIMIZERS[model.training.optimizer.kind]
    assert vocabulary.rule_of(model.training.optimizer) == rule
    for generate, read, target in ((P.generate, import_pytorch, "torch"), (K.generate, import_keras, "keras")):
        path = tmp_path / f"{target}_tagger.py"
        path.write_text(generate(model, "tagger.nn"))
        code = path.read_text()
        rule_class = vocabulary.rule_class(entry, rule, target)
        assert (f"class {rule_class}(" in code) == bool(rule_class)
        assert ("model=model" in code) == (target == "torch" and bool(rule_class))
        again, report = read(path, input_shapes=[[12]])
        assert report.ok and not report.diagnostics, [str(d) for d in report.diagnostics]
        assert vocabulary.rule_of(again.training.optimizer) == rule, target


@pytest.mark.parametrize("name", list(vocabulary.OPTIMIZERS))
def test_an_embedding_trains_exactly_under_every_optimizer(name):
    """Every optimizer that squares the gradient has rule classes that take an Embedding's steps as the model's
    rule does (SGD's update is linear in the gradient): generating either target warns about nothing."""
    model = parse_text(TAGGER.format(optimizer=f"{name}(learning_rate=0.01)"), "tagger.nn")
    assert bool(vocabulary.rule_of(model.training.optimizer)) == vocabulary.squares_gradient(vocabulary.OPTIMIZERS[name])
    for generator in (K, P):
        code, diagnostics = generator.generate_code(model, "tagger.nn")
        assert code is not None and not diagnostics, [str(d) for d in diagnostics]


def test_a_padding_row_is_written_as_the_embedding_that_keeps_it_out_of_training():
    """PyTorch's padding_idx row takes no gradient: the Keras code writes the Embedding as its generated
    PaddedEmbedding (the row read through stop_gradient), with or without training, and warns of nothing."""
    text = TAGGER.format(optimizer="sgd(learning_rate=0.1)").replace("embedding(tokens, 50, 8)",
                                                                      "embedding(tokens, 50, 8, padding_idx=-1)")
    no_training = text[:text.index("  training")] + "}\n"
    for source in (text, no_training):
        code, diagnostics = K.generate_code(parse_text(source, "tagger.nn"), "tagger.nn")
        assert code is not None and not diagnostics, [str(d) for d in diagnostics]
        assert "class PaddedEmbedding(layers.Embedding):" in code and "ops.stop_gradient(" in code
        assert "PaddedEmbedding(50, 8, padding_idx=49, " in code   # PyTorch's negative index, counted from the end
    plain, _ = K.generate_code(parse_text(text.replace(", padding_idx=-1", ""), "tagger.nn"), "tagger.nn")
    assert "PaddedEmbedding" not in plain and "layers.Embedding(50, 8, " in plain


# --- recurrent biases: PyTorch trains two where Keras has one ---------------------------------------------

RECURRENT = """\
model Reader {{
  input tokens: int64[12]
  embed = embedding(tokens, 50, 8)
  state = lstm(embed, 6, return_sequences=false)
  logits = dense(state, 2)
  output logits
{training}}}
"""


def test_keras_training_of_two_recurrent_biases_steps_their_sum_twice():
    """Each of PyTorch's two LSTM biases receives the whole gradient and takes the same SGD step: the Keras
    training function's optimizer takes twice its step for the one bias (their sum) and says why in a comment.
    (This test warned before: the doubled step makes the translation exact.)"""
    training = "  training {\n    optimizer sgd(learning_rate=0.1)\n    loss cross_entropy\n  }\n"
    program = K.plan(parse_text(RECURRENT.format(training=training), "reader.nn"))
    code = K.render(program, "reader.nn")
    assert not program.diagnostics, [str(d) for d in program.diagnostics]
    assert "class TwoBiasSGD(keras.optimizers.SGD):" in code
    assert "optimizer=TwoBiasSGD(learning_rate=0.1, two_bias_layers=(\"state\",))" in code
    assert "# PyTorch's two biases (bias_ih, bias_hh) of state are Keras's one bias" in code


@pytest.mark.parametrize(("optimizer", "clipping", "reason"), [
    ("sgd(learning_rate=0.1, momentum=0.9, weight_decay=0.001)", "", "weight decay is added to each bias's gradient"),
    ("adam(learning_rate=0.01, epsilon=1e-08, weight_decay=0.001)", "", "weight decay is added"),
    ("adam(learning_rate=0.01)", "    clip_norm 1.0\n", "counts the two biases' gradient twice"),
])
def test_keras_training_of_two_recurrent_biases_that_cannot_be_exact_is_a_located_warning(optimizer, clipping, reason):
    """With weight decay added to the gradient (each bias's own value) or clipping by the global norm, the two
    PyTorch biases do not take the same step twice: the Keras training steps its bias once and warns at the layer,
    saying why (inference is exact: no warning without training)."""
    training = f"  training {{\n    optimizer {optimizer}\n    loss cross_entropy\n{clipping}  }}\n"
    program = K.plan(parse_text(RECURRENT.format(training=training), "reader.nn"))
    code = K.render(program, "reader.nn")
    [problem] = [d for d in program.diagnostics if "bias_ih, bias_hh" in d.message]
    assert problem.code == "approximate-translation" and not problem.is_error
    assert "state" in problem.message and reason in problem.message and problem.location.line == 4
    assert "TwoBias" not in code and "two_bias_layers" not in code
    program = K.plan(parse_text(RECURRENT.format(training=""), "reader.nn"))
    K.render(program, "reader.nn")
    assert not program.diagnostics


def test_decoupled_weight_decay_keeps_the_doubled_step_exact():
    adamw, sgd = vocabulary.OPTIMIZERS["adamw"], vocabulary.OPTIMIZERS["sgd"]
    assert vocabulary.two_bias_problem(adamw, {"weight_decay": 0.01, "epsilon": 1e-8}) == ""
    assert vocabulary.two_bias_problem(sgd, {"momentum": 0.9, "nesterov": 1}) == ""
    assert vocabulary.two_bias_problem(sgd, {"weight_decay": 0.01})
    assert vocabulary.two_bias_problem(sgd, {}, clip_norm=1.0)


# PyTorch's LSTM with its two biases against Keras's with one: the fixed gradients of each step are given to both
# PyTorch biases, as autograd gives them; the Keras bias is their sum. (pivot optimizer, torch class, torch
# keywords, the settings' parameters (pivot names), rule)
TWO_BIAS_CASES = [
    ("sgd", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}, {"momentum": 0.9}, ""),
    ("sgd", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}, {"momentum": 0.9, "nesterov": 1}, ""),
    ("sgd", torch.optim.SGD, {"lr": 0.1}, {}, ""),
    ("adam", torch.optim.Adam, {"lr": 0.01, "eps": 1e-8}, {"epsilon": 1e-8}, "pytorch"),
    ("adamw", torch.optim.AdamW, {"lr": 0.01, "eps": 1e-8, "weight_decay": 0.1},
     {"epsilon": 1e-8, "weight_decay": 0.1}, "pytorch"),
]


def _two_bias_model():
    """A Keras LSTM (its bias at net/rnn/lstm_cell/bias) and a Dense head whose bias must step once."""
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, name="rnn"), keras.layers.Dense(2, name="head")],
                             name="net")
    rng = np.random.default_rng(1)
    for variable in model.trainable_variables:
        variable.assign((rng.standard_normal(variable.shape) * 0.1).astype(np.float32))
    return model


def _two_bias_keras_trajectory(optimizer_class, gradients, traced, **options):
    # the model's own variables: the two-bias optimizer finds the LSTM bias by its path
    return _variables_trajectory(optimizer_class, list(_two_bias_model().trainable_variables), gradients, traced,
                                 **options)


def _two_bias_torch_trajectory(optimizer_class, gradients, **options):
    """The same variables in PyTorch, the LSTM bias (index 2) as two parameters holding unequal parts of it."""
    start = [ops.convert_to_numpy(v).copy() for v in _two_bias_model().trainable_variables]
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in start]
    bias_hh = torch.nn.Parameter(torch.from_numpy(start[2] * 0.25))
    with torch.no_grad():
        params[2].mul_(0.75)
    optimizer = optimizer_class([*params, bias_hh], **options)
    trajectory = []
    for step in gradients:
        for param, gradient in zip(params, step):
            param.grad = torch.from_numpy(gradient.copy())
        bias_hh.grad = torch.from_numpy(step[2].copy())  # autograd gives both biases the same gradient
        optimizer.step()
        arrays = [p.detach().numpy().copy() for p in params]
        arrays[2] = arrays[2] + bias_hh.detach().numpy()
        trajectory.append(arrays)
    return trajectory


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "jit_compile"])
@pytest.mark.parametrize(("name", "torch_class", "torch_options", "parameters", "rule"), TWO_BIAS_CASES)
def test_keras_one_bias_steps_as_pytorchs_two(name, torch_class, torch_options, parameters, rule, traced):
    """The two-bias class the generated training and the runners use moves the one Keras bias as PyTorch moves
    the sum of its two, step for step within 1e-6, and every other variable (the Dense head's bias too) once;
    the class without the doubled step differs by more than 1e-4."""
    entry = vocabulary.OPTIMIZERS[name]
    shapes = [tuple(v.shape) for v in _two_bias_model().trainable_variables]
    rng = np.random.default_rng(2)
    gradients = [[(rng.standard_normal(shape) * 0.05).astype(np.float32) for shape in shapes] for _ in range(STEPS)]
    settings = vocabulary.TrainingSettings(entry, torch_options["lr"], parameters, vocabulary.LOSSES["mse"], 4,
                                           rule, two_bias_layers=("rnn",))
    keras_options = {"learning_rate": settings.learning_rate, **settings.keras_keywords()}
    expected = _two_bias_torch_trajectory(torch_class, gradients, **torch_options)
    found = _two_bias_keras_trajectory(keras_optimizer_class(settings), gradients, traced,
                                       two_bias_layers=("rnn",), **keras_options)
    assert _largest_difference(found, expected) <= TOLERANCE
    once = _two_bias_keras_trajectory(keras_optimizer_class(replace(settings, two_bias_layers=())), gradients,
                                      traced, **keras_options)
    assert _largest_difference(once, expected) > 100 * TOLERANCE
    assert _largest_difference([[s[2]] for s in once], [[s[2]] for s in expected]) > 100 * TOLERANCE


def test_a_two_bias_class_survives_saving(tmp_path):
    settings = vocabulary.TrainingSettings(vocabulary.OPTIMIZERS["adam"], 0.01, {"epsilon": 1e-8},
                                           vocabulary.LOSSES["mse"], 4, "pytorch", two_bias_layers=("rnn",))
    model = _two_bias_model()
    model.compile(optimizer=keras_optimizer_class(settings)(learning_rate=0.01, epsilon=1e-8,
                                                            two_bias_layers=("rnn",)), loss="mse")
    model.fit(np.ones((4, 5, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer).__name__ == "TwoBiasTorchAdam"
    assert loaded.optimizer.two_bias_layers == ("rnn",) and loaded.optimizer.epsilon == 1e-8


def test_generated_two_bias_training_reads_back_as_two_biases(tmp_path):
    """The generated Keras file's two_bias_layers read back as the pivot's two biases (oneBias false) on those
    layers, with the optimizer's settings and rule; a Keras file without them reads as one bias."""
    training = "  training {\n    optimizer adam(learning_rate=0.01, epsilon=1e-08)\n    loss cross_entropy\n  }\n"
    model = parse_text(RECURRENT.format(training=training), "reader.nn")
    path = tmp_path / "reader.py"
    path.write_text(K.generate(model, "reader.nn"))
    assert "class TwoBiasTorchAdam(TorchAdam):" in path.read_text()
    again, report = import_keras(path, input_shapes=[[12]])
    assert report.ok and not report.diagnostics, [str(d) for d in report.diagnostics]
    state = next(n for n in again.nodes if n.eClass.name == "LSTM")
    assert not state.oneBias and vocabulary.has_two_biases(state)
    assert again.training.optimizer.kind == "adam" and vocabulary.rule_of(again.training.optimizer) == "pytorch"
    regenerated = K.generate(again, "reader.py")  # the layer is read back as node state_ (the attribute's name)
    assert 'TwoBiasTorchAdam(learning_rate=0.01,epsilon=1e-08,two_bias_layers=("state_",))' in \
        "".join(regenerated.split())
    path.write_text(path.read_text().replace("TwoBiasTorchAdam(", "TorchAdam(").replace(
        ', two_bias_layers=("state",)', ""))
    one, _ = import_keras(path, input_shapes=[[12]])
    assert next(n for n in one.nodes if n.eClass.name == "LSTM").oneBias


def test_two_biases_move_their_sum_twice_as_far():
    """The cause, measured: one SGD step on an LSTM moves bias_ih + bias_hh by twice the step of either."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 2, batch_first=True)
    before = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().clone()
    lstm(torch.randn(4, 5, 3))[0].sum().backward()
    assert torch.equal(lstm.bias_ih_l0.grad, lstm.bias_hh_l0.grad)
    torch.optim.SGD(lstm.parameters(), lr=0.1).step()
    moved = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach() - before
    torch.testing.assert_close(moved, -2 * 0.1 * lstm.bias_ih_l0.grad)
