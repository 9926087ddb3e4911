"""Checks of the training configuration against the one training vocabulary (nnpivot.kinds.training)."""
from __future__ import annotations

from difflib import get_close_matches

from nnpivot.diagnostics import Diagnostic, error, location_of, warning
from nnpivot.kinds import snake
from nnpivot.kinds.training import CLIPPING_SETTINGS, DEFAULT_OPTIMIZER, LOSSES, METRICS, OPTIMIZERS


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
    found.extend(_check_settings(config))
    if config.schedule is not None:
        found.extend(_check_schedule(config.schedule))
        entry = OPTIMIZERS.get(optimizer.kind) if optimizer is not None else OPTIMIZERS[DEFAULT_OPTIMIZER]
        if config.schedule.eClass.name == "OneCycle" and config.schedule.cycleMomentum and entry is not None and \
                not (entry.parameter("momentum") or entry.parameter("beta_1")):
            found.append(error("out-of-range", f"schedule one_cycle cycles the momentum, and optimizer {entry.name} "
                               "has none: write cycle_momentum=false", location_of(config.schedule)))
    for metric in config.metrics:
        if metric not in METRICS:
            found.append(warning("unknown-metric",
                                 f"unknown metric '{metric}' will be left out of generated code"
                                 f"{_suggest(metric, METRICS)}", location_of(config, "metrics")))
    return found


def _check_settings(config) -> list[Diagnostic]:
    found = []
    for spelled, feature in CLIPPING_SETTINGS.items():
        if getattr(config, feature) < 0:
            found.append(error("out-of-range", f"training: {spelled} must be positive (0: no clipping), got "
                               f"{getattr(config, feature):g}", location_of(config, feature) or location_of(config)))
    if not 0 <= config.labelSmoothing <= 1:
        found.append(error("out-of-range", f"training: label_smoothing must be between 0 and 1, got "
                           f"{config.labelSmoothing:g}", location_of(config, "labelSmoothing") or location_of(config)))
    return found


# Schedule features that must be positive (> 0), and those that must not be negative
_POSITIVE = ("stepSize", "gamma", "decaySteps", "decayRate", "factor", "maxLearningRate", "totalSteps", "divFactor",
             "finalDivFactor")
_NOT_NEGATIVE = ("minimum", "patience", "threshold", "cooldown", "baseMomentum", "maxMomentum")


def _check_schedule(schedule) -> list[Diagnostic]:
    """Values a schedule cannot run with: both frameworks refuse them or divide by them."""
    name, at = snake(schedule.eClass.name), location_of(schedule)
    found = []
    features = {f.name for f in schedule.eClass.eAllStructuralFeatures()}
    for feature in features & set(_POSITIVE):
        if not getattr(schedule, feature) > 0:
            found.append(error("out-of-range", f"schedule {name}: {snake(feature)} must be positive, got "
                               f"{getattr(schedule, feature):g}", location_of(schedule, feature) or at))
    for feature in features & set(_NOT_NEGATIVE):
        if getattr(schedule, feature) < 0:
            found.append(error("out-of-range", f"schedule {name}: {snake(feature)} cannot be negative, got "
                               f"{getattr(schedule, feature):g}", location_of(schedule, feature) or at))
    if name == "reduce_on_plateau" and not schedule.factor < 1:
        found.append(error("out-of-range", f"schedule {name}: factor must be below 1, got {schedule.factor:g}",
                           location_of(schedule, "factor") or at))
    if name == "one_cycle" and not 0 < schedule.pctStart < 1:
        found.append(error("out-of-range", f"schedule {name}: pct_start must be between 0 and 1, got "
                           f"{schedule.pctStart:g}", location_of(schedule, "pctStart") or at))
    if name == "piecewise_constant_decay":
        boundaries, values = list(schedule.boundaries), list(schedule.values)
        if any(b <= 0 for b in boundaries) or boundaries != sorted(set(boundaries)):
            found.append(error("out-of-range", f"schedule {name}: boundaries must be positive and increasing, got "
                               f"{boundaries}", location_of(schedule, "boundaries") or at))
        if len(values) != len(boundaries) + 1 or any(not v > 0 for v in values):
            found.append(error("out-of-range", f"schedule {name}: values must be {len(boundaries) + 1} positive "
                               f"learning rates (one more than the boundaries), got {values}",
                               location_of(schedule, "values") or at))
    return found
