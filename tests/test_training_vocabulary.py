"""The one training vocabulary (nnpivot.kinds.training), tested entry by entry against the real frameworks.

For every optimizer (with each of its parameters), loss (on every kind of model
output) and metric: a .nn model with that setting validates, the generated
PyTorch and Keras training code is accepted by torch and Keras (the optimizer
and loss are instantiated from the generated text, the losses computed on the
same outputs must agree), and the importers read every framework spelling back
to the same pivot name.
"""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F  # the spelling generated code uses
from torch import nn

from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.generators.nn_text import to_text as print_nn
from nnpivot.importers.keras import import_keras
from nnpivot.importers.nn_text import parse_text
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.kinds import training as vocabulary
from nnpivot.validators import validate

pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]  # the frameworks check every generated spelling

OPTIMIZERS = list(vocabulary.OPTIMIZERS.values())
LOSSES = list(vocabulary.LOSSES.values())
METRICS = list(vocabulary.METRICS.values())
ENDINGS = {vocabulary.LOGITS: "", vocabulary.PROBABILITIES: "softmax", vocabulary.BINARY_PROBABILITIES: "sigmoid",
           vocabulary.LOG_PROBABILITIES: "log_softmax"}


def test_count_guard():
    """New entries are picked up by the parametrised tests below; this count makes adding one deliberate."""
    assert (len(OPTIMIZERS), len(LOSSES), len(METRICS)) == (8, 7, 6)
    assert sum(len(e.parameters) for e in OPTIMIZERS) == 32


# --- helpers ---------------------------------------------------------------------------------------

def model_text(optimizer: str = "adam(learning_rate=0.01)", loss: str = "mse", metrics: str = "",
               ending: str = "", units: int = 3) -> str:
    last = f"  e = {ending}(d)\n  output e\n" if ending else "  output d\n"
    return (f"model Net {{\n  input x: float32[4]\n  d = dense(x, {units})\n{last}"
            f"  training {{\n    optimizer {optimizer}\n    loss {loss}\n    epochs 2\n    batch_size 8\n"
            f"{f'    metrics {metrics}' + chr(10) if metrics else ''}  }}\n}}\n")


def line_of(text: str, word: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(word))


def parsed(text: str):
    model = parse_text(text, "net.nn")
    errors = [str(d) for d in validate(model) if d.is_error]
    assert not errors, errors
    return model


def function(code: str, name: str) -> ast.FunctionDef:
    return next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef) and n.name == name)


def torch_training(code: str) -> dict[str, str]:
    """The optimizer, loss object and loss input expressions of a generated PyTorch train()."""
    found = {}
    for node in ast.walk(function(code, "train")):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if target in ("optimizer", "loss_fn"):
                found[target] = ast.unparse(node.value)
            elif target == "loss":
                found["input"] = ast.unparse(node.value.args[0])
    return found


def keras_compile(code: str) -> dict[str, str]:
    """The keyword expressions of the generated Keras train()'s model.compile call."""
    call = next(n for n in ast.walk(function(code, "train"))
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "compile")
    return {k.arg: ast.unparse(k.value) for k in call.keywords}


def parameter_value(parameter) -> float:
    """A legal value different from both frameworks' defaults."""
    if parameter.boolean:
        return 1.0
    return {"momentum": 0.5, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-5, "rho": 0.8, "weight_decay": 0.001,
            "initial_accumulator_value": 0.2}[parameter.name]


def parameter_setting(parameter) -> str:
    """The DSL arguments that set ``parameter`` (and what it requires)."""
    required = f", {parameter.requires}=0.5" if parameter.requires else ""
    return f", {parameter.name}={parameter_value(parameter):g}{required}"


OPTIMIZER_CASES = [(entry, None) for entry in OPTIMIZERS] + [
    (entry, parameter) for entry in OPTIMIZERS for parameter in entry.parameters]


def optimizer_id(case) -> str:
    entry, parameter = case
    return f"{entry.name}-{parameter.name if parameter else 'defaults'}"


# --- the vocabulary agrees with the installed frameworks ---------------------------------------------

def _defaults(cls) -> dict:
    return {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("entry", OPTIMIZERS, ids=[e.name for e in OPTIMIZERS])
def test_optimizer_defaults_are_the_frameworks(entry):
    torch_defaults = _defaults(getattr(torch.optim, entry.torch_name))
    keras_defaults = _defaults(getattr(keras.optimizers, entry.keras_name))
    assert torch_defaults["lr"] == pytest.approx(entry.torch_learning_rate)
    assert keras_defaults["learning_rate"] == pytest.approx(entry.keras_learning_rate)
    for parameter in entry.parameters:
        torch_default = torch_defaults[parameter.torch]
        if parameter.torch_index is not None:
            torch_default = torch_default[parameter.torch_index]
        assert torch_default == parameter.torch_default, parameter.name
        assert keras_defaults[parameter.keras] == parameter.keras_default, parameter.name
    for spelling in entry.keras_strings:
        assert isinstance(keras.optimizers.get(spelling), getattr(keras.optimizers, entry.keras_name))


@pytest.mark.parametrize("entry", LOSSES, ids=[e.name for e in LOSSES])
def test_loss_spellings_exist_in_the_frameworks(entry):
    for spelling in entry.torch_spellings:
        module, name = spelling.name.split(".")
        assert callable(getattr({"nn": nn, "F": F}[module], name)), spelling.name
    for spelling in entry.keras_spellings:
        found = keras.losses.get(spelling.name)
        assert callable(found), spelling.name


@pytest.mark.parametrize("entry", METRICS, ids=[e.name for e in METRICS])
def test_metric_spellings_exist_in_keras(entry):
    for spelling in (entry.keras, *entry.keras_spellings):
        if spelling not in ("accuracy", "acc"):  # compile() picks the accuracy that fits the loss
            assert keras.metrics.get(spelling) is not None, spelling


# --- (a) generated training code is accepted by both frameworks ----------------------------------------

@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=[optimizer_id(c) for c in OPTIMIZER_CASES])
def test_optimizer_is_generated_for_both_frameworks(case, tmp_path):
    entry, parameter = case
    setting = parameter_setting(parameter) if parameter else ""
    model = parsed(model_text(f"{entry.name}(learning_rate=0.05{setting})"))

    # a .nn model's settings follow PyTorch's update rule: Keras trains them with its rule class where the rules
    # differ (TorchAdam...), both frameworks' optimizer classes otherwise
    rule = vocabulary.rule_of(model.training.optimizer)
    code = P.generate(model, "net.nn")
    net = nn.Linear(4, 3)
    optimizer = eval(torch_training(code)["optimizer"],  # our own generated expression
                     {"torch": torch, "model": net, "learning_rate": 0.05})
    assert type(optimizer) is getattr(torch.optim, entry.torch_name)
    assert not vocabulary.rule_class(entry, rule, "torch")
    group = optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(0.05)
    if parameter is not None:
        value = group[parameter.torch] if parameter.torch_index is None else group[parameter.torch][parameter.torch_index]
        assert value == pytest.approx(parameter.torch_value(parameter_value(parameter)))
    net(torch.randn(2, 4)).sum().backward()
    optimizer.step()

    code = K.generate(model, "net.nn")
    names = {"keras": keras}
    exec(compile(code.split("\ndef train(")[0], "net.py", "exec"), names)  # noqa: S102 - the generated classes
    optimizer = eval(keras_compile(code)["optimizer"], names)
    expected = vocabulary.rule_class(entry, rule, "keras") or entry.keras_name
    assert type(optimizer).__name__ == expected and isinstance(optimizer, getattr(keras.optimizers, entry.keras_name))
    assert float(optimizer.learning_rate) == pytest.approx(0.05)
    if parameter is not None:
        assert getattr(optimizer, parameter.keras) == pytest.approx(parameter.keras_value(parameter_value(parameter)))


def test_inexact_keras_weight_decay_is_a_located_warning():
    # RMSprop has no rule class: Keras decouples its decay, PyTorch's is L2 (Adam's and SGD's are exact: TorchAdam)
    model = parsed(model_text("rmsprop(learning_rate=0.05, weight_decay=0.01)"))
    program = K.plan(model)
    K.render(program, "net.nn")
    [diagnostic] = [d for d in program.diagnostics if d.code == "approximate-translation"]
    assert (diagnostic.location.line, diagnostic.location.col) == (6, 43) and "decouples" in diagnostic.message
    for exact in ("adamw(learning_rate=0.05, weight_decay=0.01)", "adam(learning_rate=0.05, weight_decay=0.01)",
                  "sgd(learning_rate=0.05, momentum=0.9, weight_decay=0.01)"):
        program = K.plan(parsed(model_text(exact)))
        K.render(program, "net.nn")
        assert not program.diagnostics, exact


def test_boolean_parameters_are_flags():
    diagnostics = validate(parse_text(model_text("sgd(learning_rate=0.1, momentum=0.9, nesterov=2)"), "net.nn"))
    assert [(d.code, d.location.line, d.location.col) for d in diagnostics] == [("out-of-range", 6, 52)]
    assert "nesterov is a flag (true or false), got 2" in diagnostics[0].message


def test_flags_are_written_true_or_false():
    model = parsed(model_text("sgd(learning_rate=0.1, momentum=0.9, nesterov=true)"))
    assert [(p.key, p.value) for p in model.training.optimizer.parameters] == [("momentum", 0.9), ("nesterov", 1.0)]
    text = print_nn(model)
    assert "optimizer sgd(learning_rate=0.1, momentum=0.9, nesterov=true)" in text
    assert print_nn(parse_text(text, "again.nn")) == text
    assert "nesterov=True" in P.generate(model, "net.nn") and "nesterov=True" in K.generate(model, "net.nn")
    with pytest.raises(NNPivotError) as raised:  # only flags take true/false
        parse_text(model_text("adam(learning_rate=0.1, epsilon=true)"), "net.nn")
    assert [(d.code, d.location.line, d.location.col) for d in raised.value.diagnostics] == [("bad-value", 6, 39)]


def test_nesterov_needs_momentum():
    """torch.optim.SGD refuses nesterov without momentum (Keras would accept it): the validator says so."""
    diagnostics = validate(parse_text(model_text("sgd(learning_rate=0.1, nesterov=1)"), "net.nn"))
    assert [(d.code, d.location.line, d.location.col) for d in diagnostics] == [("out-of-range", 6, 38)]
    assert "nesterov needs a positive momentum" in diagnostics[0].message
    with pytest.raises(ValueError, match="momentum"):
        torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, nesterov=True)


def _classes(count: int, rows: int = 6) -> np.ndarray:
    return np.arange(rows) % count


def loss_data(entry, ending: str):
    """Raw scores, the model's outputs (after its ending) and fitting targets."""
    rng = np.random.default_rng(0)
    units = 1 if entry.name == "binary_cross_entropy" else 3
    scores = rng.normal(size=(6, units)).astype("float32")
    finish = {vocabulary.LOGITS: lambda s: s,
              vocabulary.PROBABILITIES: lambda s: torch.softmax(s, -1),
              vocabulary.BINARY_PROBABILITIES: torch.sigmoid,
              vocabulary.LOG_PROBABILITIES: lambda s: torch.log_softmax(s, -1)}[ending]
    outputs = finish(torch.from_numpy(scores)).numpy()
    if entry.name in ("cross_entropy", "nll"):
        targets = _classes(units)
    elif entry.name == "categorical_cross_entropy":
        targets = np.eye(units, dtype="float32")[_classes(units)]
    elif entry.name == "binary_cross_entropy":
        targets = (_classes(2)[:, None]).astype("float32")
    else:
        targets = rng.normal(size=outputs.shape).astype("float32")
    return units, outputs, targets


LOSS_CASES = [(entry, ending) for entry in LOSSES for ending in ENDINGS]


@pytest.mark.parametrize("case", LOSS_CASES, ids=[f"{e.name}-{ending}" for e, ending in LOSS_CASES])
def test_loss_is_the_same_number_in_both_frameworks(case):
    entry, ending = case
    units, outputs, targets = loss_data(entry, ending)
    text = model_text(loss=entry.name, ending=ENDINGS[ending], units=units)
    model = parsed(text)

    torch_code = torch_training(P.generate(model, "net.nn"))
    loss_fn = eval(torch_code["loss_fn"], {"nn": nn, "torch": torch})
    torch_targets = torch.from_numpy(targets).long() if targets.dtype.kind == "i" else torch.from_numpy(targets)
    loss_input = eval(torch_code["input"], {"torch": torch, "outputs": torch.from_numpy(outputs)})
    torch_loss = float(loss_fn(loss_input, torch_targets))

    writing = entry.keras(ending)
    if writing.code is None:
        with pytest.raises(NNPivotError) as raised:
            K.generate(model, "net.nn")
        [diagnostic] = raised.value.diagnostics
        assert diagnostic.code == "unsupported-for-target" and entry.name in diagnostic.message
        assert (diagnostic.location.line, diagnostic.location.col) == (line_of(text, "loss"), 5)
        return
    keras_loss = eval(keras_compile(K.generate(model, "net.nn"))["loss"], {"keras": keras})
    assert float(keras_loss(targets, outputs)) == pytest.approx(torch_loss, rel=1e-4, abs=1e-6)
    assert np.isfinite(torch_loss)


def metric_setup(entry):
    """A loss, output width, ending and targets the metric fits."""
    if entry.name == "accuracy":
        return "cross_entropy", 3, "", _classes(3)
    if entry.name in ("mse", "mae"):
        return "mse", 3, "", np.random.default_rng(0).normal(size=(6, 3)).astype("float32")
    return "binary_cross_entropy", 1, "sigmoid", _classes(2)[:, None].astype("float32")


@pytest.mark.parametrize("entry", METRICS, ids=[e.name for e in METRICS])
def test_metric_is_generated_for_both_frameworks(entry):
    loss, units, ending, targets = metric_setup(entry)
    text = model_text(loss=loss, metrics=entry.name, ending=ending, units=units)
    model = parsed(text)
    code, diagnostics = P.generate_code(model, "net.nn")
    if entry.torch is not None:
        assert entry.torch in code and not diagnostics
        outputs = torch.randn(6, units)
        value = eval(entry.torch, {"outputs": outputs, "targets": torch.from_numpy(targets)})
        assert np.isfinite(value)
    else:  # PyTorch has no such metric of its own: said where, and left out
        assert [(d.code, d.location.line) for d in diagnostics] == [("unknown-metric", line_of(text, "metrics"))]
        assert f"'{entry.name}' is left out of the PyTorch training function" in diagnostics[0].message
        assert f"{entry.name}_sum" not in code
    compile_args = keras_compile(K.generate(model, "net.nn"))
    assert ast.literal_eval(compile_args["metrics"]) == [entry.keras]
    layers = [keras.Input(shape=(4,)), keras.layers.Dense(units)] + (
        [keras.layers.Activation(ending)] if ending else [])
    net = keras.Sequential(layers)
    net.compile(optimizer="sgd", loss=eval(compile_args["loss"], {"keras": keras}),
                metrics=[entry.keras])
    results = net.evaluate(np.zeros((6, 4), "float32"), targets, verbose=0, return_dict=True)
    assert len(results) == 2 and all(np.isfinite(v) for v in results.values())


# --- (b) the importers read every spelling back to the same pivot name ----------------------------------

TORCH_NET = """\
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, {units})

    def forward(self, x):
        return {forward}


model = Net()
optimizer = {optimizer}
{loss}
"""

TORCH_ENDINGS = {vocabulary.LOGITS: "self.fc(x)", vocabulary.PROBABILITIES: "torch.softmax(self.fc(x), dim=1)",
                 vocabulary.BINARY_PROBABILITIES: "torch.sigmoid(self.fc(x))",
                 vocabulary.LOG_PROBABILITIES: "F.log_softmax(self.fc(x), dim=1)"}


def import_torch_script(tmp_path, optimizer="torch.optim.SGD(model.parameters(), lr=0.1)", loss="", units=3,
                        ending=vocabulary.LOGITS):
    path = tmp_path / "net.py"
    path.write_text(TORCH_NET.format(units=units, forward=TORCH_ENDINGS[ending], optimizer=optimizer, loss=loss))
    return import_pytorch(path, input_shapes=[[4]])


def _torch_ending(spelling) -> str:
    return {vocabulary.PROBABILITIES: vocabulary.PROBABILITIES, vocabulary.LOG_PROBABILITIES:
            vocabulary.LOG_PROBABILITIES}.get(spelling.reads, vocabulary.LOGITS)


TORCH_LOSS_SPELLINGS = [(e, s) for e in LOSSES for s in e.torch_spellings]


@pytest.mark.parametrize("case", TORCH_LOSS_SPELLINGS, ids=[s.name for _, s in TORCH_LOSS_SPELLINGS])
def test_pytorch_importer_reads_each_loss_spelling(case, tmp_path):
    entry, spelling = case
    binary = entry.name == "binary_cross_entropy"
    ending = _torch_ending(spelling)
    if binary and ending == vocabulary.PROBABILITIES:
        ending = vocabulary.BINARY_PROBABILITIES
    call = f"{spelling.name}()" if spelling.name.startswith("nn.") else \
        f"None\n\n\ndef step(inputs, targets):\n    return {spelling.name}(model(inputs), targets)"
    model, report = import_torch_script(tmp_path, loss=f"loss = {call}", units=1 if binary else 3, ending=ending)
    assert model.training.loss == entry.name
    assert not report.diagnostics, [str(d) for d in report.diagnostics]


def test_pytorch_loss_that_reads_the_output_otherwise_is_a_located_warning(tmp_path):
    model, report = import_torch_script(tmp_path, loss="loss_fn = nn.CrossEntropyLoss()",
                                        ending=vocabulary.PROBABILITIES)
    assert model.training.loss == "cross_entropy"
    [diagnostic] = report.diagnostics
    assert diagnostic.code == "approximate-translation" and diagnostic.location.line == 17
    assert "takes logits but the model outputs probabilities" in diagnostic.message


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=[optimizer_id(c) for c in OPTIMIZER_CASES])
def test_pytorch_importer_reads_each_optimizer(case, tmp_path):
    entry, parameter = case
    arguments = ""
    if parameter is not None:
        value = parameter.torch_value(parameter_value(parameter))
        if parameter.torch_index is not None:
            value = tuple(value if p is parameter else p.torch_default for p in entry.torch_tuple(parameter.torch))
        arguments = f", {parameter.torch}={value!r}"
    model, report = import_torch_script(tmp_path, f"torch.optim.{entry.torch_name}(model.parameters(){arguments})")
    optimizer = model.training.optimizer
    assert (optimizer.kind, optimizer.learningRate) == (entry.name, pytest.approx(entry.torch_learning_rate))
    if parameter is not None:
        values = {p.key: p.value for p in optimizer.parameters}
        assert values[parameter.name] == pytest.approx(parameter_value(parameter))
    assert not report.diagnostics


KERAS_NET = """\
import keras

model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense({units}){ending}])
model.compile(optimizer={optimizer}, loss={loss}, metrics={metrics})
model.fit(x, y, epochs=3, batch_size=8)
"""
KERAS_ENDINGS = {vocabulary.LOGITS: "", vocabulary.PROBABILITIES: ", keras.layers.Softmax()",
                 vocabulary.BINARY_PROBABILITIES: ", keras.layers.Activation('sigmoid')"}


def import_keras_script(tmp_path, optimizer="'sgd'", loss="'mse'", metrics="[]", units=3,
                        ending=vocabulary.LOGITS):
    path = tmp_path / "net.py"
    path.write_text(KERAS_NET.format(units=units, ending=KERAS_ENDINGS[ending], optimizer=optimizer, loss=loss,
                                     metrics=metrics))
    return import_keras(path)


KERAS_LOSS_CASES = [(e, s, logits) for e in LOSSES for s in e.keras_spellings
                    for logits in ((False, True) if s.logits_keyword and s.name[0].isupper() else (False,))]


@pytest.mark.parametrize("case", KERAS_LOSS_CASES,
                         ids=[f"{s.name}{'-from_logits' if lg else ''}" for _, s, lg in KERAS_LOSS_CASES])
def test_keras_importer_reads_each_loss_spelling(case, tmp_path):
    entry, spelling, logits = case
    binary = entry.name == "binary_cross_entropy"
    if spelling.reads == vocabulary.VALUES or logits:
        ending = vocabulary.LOGITS
    else:
        ending = vocabulary.BINARY_PROBABILITIES if binary else vocabulary.PROBABILITIES
    written = f"keras.losses.{spelling.name}(from_logits={logits})" if spelling.name[0].isupper() else \
        repr(spelling.name)
    model, report = import_keras_script(tmp_path, loss=written, units=1 if binary else 3, ending=ending)
    assert model.training.loss == entry.name
    assert not report.diagnostics, [str(d) for d in report.diagnostics]


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=[optimizer_id(c) for c in OPTIMIZER_CASES])
def test_keras_importer_reads_each_optimizer(case, tmp_path):
    entry, parameter = case
    arguments = f"{parameter.keras}={parameter.keras_value(parameter_value(parameter))!r}" if parameter else ""
    for written in [f"keras.optimizers.{entry.keras_name}({arguments})",
                    *([repr(s) for s in entry.keras_strings] if parameter is None else [])]:
        model, report = import_keras_script(tmp_path, optimizer=written)
        optimizer = model.training.optimizer
        # Keras decouples Adam's weight decay: exactly PyTorch's AdamW
        decoupled = entry.name == "adam" and parameter is not None and parameter.name == "weight_decay"
        kind = "adamw" if decoupled else entry.name
        assert (optimizer.kind, optimizer.learningRate) == (kind, pytest.approx(entry.keras_learning_rate))
        if parameter is not None:
            values = {p.key: p.value for p in optimizer.parameters}
            assert values[parameter.name] == pytest.approx(parameter_value(parameter))
        expected = ["approximate-translation"] if parameter is not None and parameter.keras_differs and \
            not decoupled else []
        assert [d.code for d in report.diagnostics] == expected


@pytest.mark.parametrize("entry", METRICS, ids=[e.name for e in METRICS])
def test_keras_importer_reads_each_metric_spelling(entry, tmp_path):
    written = [repr(s) if s[0].islower() else f"keras.metrics.{s}()" for s in entry.keras_spellings]
    model, report = import_keras_script(tmp_path, metrics=f"[{', '.join(written)}]")
    assert list(model.training.metrics) == [entry.name] * len(written)
    assert not report.diagnostics


# --- round trips through generated code ------------------------------------------------------------

ROUND_TRIPS = [(entry, parameter, loss) for (entry, parameter) in OPTIMIZER_CASES for loss in ("mse",)] + [
    (vocabulary.OPTIMIZERS["adam"], None, loss.name) for loss in LOSSES]


def _round_trip_id(case) -> str:
    entry, parameter, loss = case
    return f"{optimizer_id((entry, parameter))}-{loss}"


def _settings(model):
    training = model.training
    optimizer = training.optimizer
    entry = vocabulary.OPTIMIZERS[optimizer.kind]
    # PyTorch writes beta_1 and beta_2 as one tuple, so the generated code states both: a member left at
    # the torch default means the same as an unset parameter
    parameters = [(p.key, round(p.value, 9)) for p in optimizer.parameters
                  if not (entry.parameter(p.key).torch_index is not None and
                          p.value == entry.parameter(p.key).torch_default)]
    return optimizer.kind, round(optimizer.learningRate, 9), sorted(parameters), training.loss


def _with_source_defaults(settings, framework: str):
    """``settings`` as an importer of ``framework`` code reads them: defaults that differ between the frameworks
    are made explicit (issue 11), the ones the model left unset as that framework's."""
    kind, rate, parameters, loss = settings
    given = {key for key, _ in parameters}
    made_explicit = [(p.name, round(float(default), 9)) for p, default in
                     vocabulary.source_defaults(vocabulary.OPTIMIZERS[kind], framework) if p.name not in given]
    return kind, rate, sorted(parameters + made_explicit), loss


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=[_round_trip_id(c) for c in ROUND_TRIPS])
def test_generated_training_code_reads_back(case, tmp_path):
    entry, parameter, loss = case
    setting = parameter_setting(parameter) if parameter else ""
    ending = {"nll": "log_softmax", "binary_cross_entropy": "sigmoid"}.get(loss, "")
    model = parsed(model_text(f"{entry.name}(learning_rate=0.05{setting})", loss,
                              units=1 if loss == "binary_cross_entropy" else 3, ending=ending))
    path = tmp_path / "torch_net.py"
    path.write_text(P.generate(model, "net.nn"))
    again, report = import_pytorch(path, input_shapes=[[4]])
    assert report.ok, [str(d) for d in report.diagnostics]
    # PyTorch writes one-hot cross-entropy as CrossEntropyLoss, which reads back as class-index cross-entropy
    expected = _with_source_defaults(_settings(model), "torch")
    if loss == "categorical_cross_entropy":
        expected = (*expected[:3], "cross_entropy")
    assert _settings(again) == expected
    path = tmp_path / "keras_net.py"
    path.write_text(K.generate(model, "net.nn"))
    again, report = import_keras(path, input_shapes=[[4]])
    assert report.ok, [str(d) for d in report.diagnostics]
    expected = _with_source_defaults(_settings(model), "keras")
    if loss == "nll":  # Keras writes nll on log-probabilities as sparse cross-entropy from logits
        expected = (*expected[:3], "cross_entropy")
    assert _settings(again) == expected


def test_readme_tables_are_fresh():
    """Refresh with: .venv/bin/python -c 'from nnpivot.kinds.training import markdown_table; print(markdown_table())'."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start, end = text.index(vocabulary.README_START), text.index(vocabulary.README_END)
    assert text[start + len(vocabulary.README_START):end].strip() == vocabulary.markdown_table().strip()


@pytest.mark.parametrize("spelling,line", [
    ("nn.SmoothL1Loss()", 17), ("None\n\n\ndef step(inputs, targets):\n    return F.smooth_l1_loss(model(inputs), targets)", 21)])
def test_pytorch_loss_outside_the_vocabulary_is_a_located_warning(spelling, line, tmp_path):
    model, report = import_torch_script(tmp_path, loss=f"loss_fn = {spelling}")
    assert model.training.loss is None
    assert [(d.code, d.location.line) for d in report.diagnostics] == [("unsupported-construct", line)]
    assert "has no pivot counterpart" in report.diagnostics[0].message


def test_unset_optimizer_and_loss_mean_the_same_defaults_in_both_targets():
    model = parsed("model Net {\n  input x: float32[4]\n  d = dense(x, 3)\n  output d\n  training {\n    epochs 1\n  }\n}\n")
    torch_code = torch_training(P.generate(model, "net.nn"))
    assert torch_code["optimizer"].startswith("torch.optim.Adam(") and torch_code["loss_fn"] == "nn.CrossEntropyLoss()"
    code = K.generate(model, "net.nn")
    assert keras_compile(code) == {"optimizer": "keras.optimizers.Adam(learning_rate=0.001)",
                                   "loss": "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"}
    namespace = {"__name__": "net"}
    exec(compile(code, "net.py", "exec"), namespace)  # noqa: S102 - our own generated code
    net = namespace["Net"]()
    history = namespace["train"](net, np.zeros((8, 4), "float32"), _classes(3, 8))
    assert np.isfinite(history.history["loss"][0])


def test_pytorch_optimizer_outside_the_vocabulary_is_a_located_warning(tmp_path):
    model, report = import_torch_script(tmp_path, "torch.optim.LBFGS(model.parameters(), lr=0.1)",
                                        loss="loss_fn = nn.MSELoss()")
    assert model.training.optimizer is None and model.training.loss == "mse"
    assert [(d.code, d.location.line) for d in report.diagnostics] == [("unsupported-construct", 16)]
    assert "torch.optim.LBFGS has no pivot counterpart" in report.diagnostics[0].message


@pytest.mark.parametrize("written,warned", [
    ("loss_fn = nn.CrossEntropyLoss(reduction='mean', label_smoothing=0.0)", None),
    ("loss_fn = nn.CrossEntropyLoss(weight=torch.ones(3))", "weight=torch.ones(3)"),
    ("None\n\n\ndef step(inputs, targets):\n    return F.cross_entropy(model(inputs), targets, reduction='none')",
     "reduction='none'"),
])
def test_pytorch_loss_arguments_the_pivot_cannot_hold_are_located_warnings(written, warned, tmp_path):
    model, report = import_torch_script(tmp_path, loss=written)
    assert model.training.loss == "cross_entropy"
    if warned is None:
        assert not report.diagnostics
    else:
        [diagnostic] = report.diagnostics
        assert diagnostic.code == "unsupported-construct" and warned in diagnostic.message
        assert diagnostic.location.line == 17 + written.count("\n")


@pytest.mark.parametrize("written,warned", [
    ("keras.losses.Huber(delta=1.0, reduction='sum_over_batch_size', name='h')", None),
    ("keras.losses.Huber(delta=2.0)", "delta=2.0"),
    ("keras.losses.MeanSquaredError(reduction=None)", "reduction=None"),
])
def test_keras_loss_arguments_the_pivot_cannot_hold_are_located_warnings(written, warned, tmp_path):
    model, report = import_keras_script(tmp_path, loss=written)
    assert model.training.loss in ("huber", "mse")
    if warned is None:
        assert not report.diagnostics
    else:
        [diagnostic] = report.diagnostics
        assert diagnostic.code == "unsupported-construct" and warned in diagnostic.message
        assert diagnostic.location.line == 4


def test_mnist_nll_script_migrates_to_a_loss_keras_accepts(tmp_path):
    """The issue's example: F.nll_loss on a log_softmax model became loss="nll", which Keras rejects."""
    source = Path(__file__).resolve().parent.parent / "samples" / "corpus" / "pytorch" / "mlp_log_softmax_mnist.py"
    model, report = import_pytorch(source, input_shapes=[[1, 14, 14]])
    assert report.ok and model.training.loss == "nll"
    compile_args = keras_compile(K.generate(model, "mlp_log_softmax_mnist.py"))
    assert compile_args["loss"] == "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
    loss = eval(compile_args["loss"], {"keras": keras})
    log_probabilities = torch.log_softmax(torch.randn(4, 10), dim=1)
    targets = torch.tensor([1, 2, 3, 4])
    assert float(loss(targets.numpy(), log_probabilities.numpy())) == pytest.approx(
        float(F.nll_loss(log_probabilities, targets)), rel=1e-5)
