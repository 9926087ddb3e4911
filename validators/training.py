"""Checks of the training configuration against the one training vocabulary (nnpivot.kinds.training)."""
from __future__ import annotations

from difflib import get_close_matches

from nnpivot.diagnostics import Diagnostic, error, location_of, warning
from nnpivot.kinds.training import LOSSES, METRICS, OPTIMIZERS


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
            entry = OPTIMIZERS[optimizer.kind]
            accepted = {p.name for p in entry.parameters}
            values = {p.key: p.value for p in optimizer.parameters}
            for parameter in optimizer.parameters:
                known = entry.parameter(parameter.key)
                if known is None:
                    found.append(error("unknown-argument",
                                       f"optimizer {optimizer.kind} has no parameter '{parameter.key}'"
                                       f"{_suggest(parameter.key, accepted)}", location_of(parameter)))
                elif known.boolean and parameter.value not in (0, 1):
                    found.append(error("out-of-range", f"optimizer {optimizer.kind}: {parameter.key} is a flag "
                                       f"(true or false), got {parameter.value:g}", location_of(parameter)))
                elif known.requires and parameter.value and not values.get(known.requires, 0) > 0:
                    found.append(error("out-of-range", f"optimizer {optimizer.kind}: {parameter.key} needs a positive "
                                       f"{known.requires}", location_of(parameter)))
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
