"""The training configuration's vocabulary and its checks.

The names are framework-neutral (snake_case, Keras-like parameter names); the
code generators map them to ``torch.optim``/``keras.optimizers`` and to the
losses and metrics of their framework, so this table is the one place that
says which names a model may use.
"""
from __future__ import annotations

from difflib import get_close_matches

from nnpivot.diagnostics import Diagnostic, error, location_of, warning

# optimizer -> the parameters it accepts besides learning_rate
OPTIMIZERS: dict[str, frozenset[str]] = {
    "sgd": frozenset({"momentum", "nesterov", "weight_decay"}),
    "adam": frozenset({"beta_1", "beta_2", "epsilon", "weight_decay", "amsgrad"}),
    "adamw": frozenset({"beta_1", "beta_2", "epsilon", "weight_decay", "amsgrad"}),
    "rmsprop": frozenset({"rho", "momentum", "epsilon", "weight_decay", "centered"}),
    "adagrad": frozenset({"epsilon", "weight_decay", "initial_accumulator_value"}),
}

# cross_entropy takes class indices as targets (PyTorch CrossEntropyLoss, Keras sparse categorical
# cross-entropy); categorical_cross_entropy takes one-hot or soft targets (Keras CategoricalCrossentropy)
LOSSES: frozenset[str] = frozenset({"cross_entropy", "categorical_cross_entropy", "binary_cross_entropy", "nll",
                                    "mse", "mae", "huber"})

METRICS: frozenset[str] = frozenset({"accuracy", "mse", "mae", "precision", "recall", "auc"})


def _suggest(name: str, known) -> str:
    close = get_close_matches(name or "", sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{hint}; known: {', '.join(sorted(known))}"


def check_training(model) -> list[Diagnostic]:
    """Problems of the model's training configuration (none when it has none)."""
    config = model.training
    if config is None:
        return []
    found: list[Diagnostic] = []
    optimizer = config.optimizer
    if optimizer is not None:
        at = location_of(optimizer)
        if optimizer.kind not in OPTIMIZERS:
            found.append(error("unknown-optimizer",
                               f"unknown optimizer '{optimizer.kind}'{_suggest(optimizer.kind, OPTIMIZERS)}", at))
        else:
            accepted = OPTIMIZERS[optimizer.kind]
            for parameter in optimizer.parameters:
                if parameter.key not in accepted:
                    found.append(error("unknown-argument",
                                       f"optimizer {optimizer.kind} has no parameter '{parameter.key}'"
                                       f"{_suggest(parameter.key, accepted)}", location_of(parameter)))
        if not optimizer.learningRate > 0:
            found.append(error("out-of-range",
                               f"optimizer {optimizer.kind}: learning_rate must be positive, "
                               f"got {optimizer.learningRate}", at))
    if config.loss is not None and config.loss not in LOSSES:
        found.append(error("unknown-loss", f"unknown loss '{config.loss}'{_suggest(config.loss, LOSSES)}",
                           location_of(config, "loss")))
    for feature in ("epochs", "batchSize"):
        value = getattr(config, feature)
        if value <= 0:
            spelled = "batch_size" if feature == "batchSize" else feature
            found.append(error("out-of-range", f"training: {spelled} must be positive, got {value}",
                               location_of(config, feature)))
    for metric in config.metrics:
        if metric not in METRICS:
            found.append(warning("unknown-metric",
                                 f"unknown metric '{metric}' will be left out of generated code"
                                 f"{_suggest(metric, METRICS)}", location_of(config, "metrics")))
    return found
