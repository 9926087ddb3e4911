"""Generators and validate() read the model and never write into it.

Every sample, every model built in Python and every registry example goes
through validate and the PyTorch, Keras, `.nn`, XMI and DOT generators; before
and after, the model's `.nn` text, its XMI and a snapshot of every feature of
every object (transient ones such as ``inferredShape`` included) are the same.
Static: no framework is imported.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from pivot_models import PROGRAMMATIC_MODELS
from test_registry import example_model

from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.generators.dot import to_dot
from nnpivot.generators.nn_text import to_text
from nnpivot.generators.xmi import to_xmi_string
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS
from nnpivot.validators import validate

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "samples").glob("*.nn"))
MODELS = {**{f"sample:{p.stem}": (lambda p=p: parse_file(p)) for p in SAMPLES},
          **{f"python:{name}": build for name, build in PROGRAMMATIC_MODELS.items()},
          **{f"example:{kind.keyword}-{i}": (lambda e=e: parse_text(example_model(e), "example.nn"))
             for kind in KINDS.values() for i, e in enumerate(kind.examples)}}


def snapshot(model) -> list:
    """Every object of the model with every feature's value (references by name), in containment order."""
    def value(v):
        if hasattr(v, "eClass"):
            return (v.eClass.name, getattr(v, "name", None))
        return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)

    found = []
    for obj in [model, *model.eAllContents()]:
        features = []
        for feature in obj.eClass.eAllStructuralFeatures():
            got = obj.eGet(feature)
            features.append((feature.name, [value(v) for v in got] if feature.many else value(got),
                             obj.eIsSet(feature)))
        found.append((obj.eClass.name, features))
    return found


def test_every_sample_and_kind_is_under_test():
    assert len(SAMPLES) >= 8 and sum(name.startswith("example:") for name in MODELS) == \
        sum(len(kind.examples) for kind in KINDS.values())


@pytest.mark.parametrize("name", list(MODELS))
def test_validating_and_generating_leave_the_model_as_it_was(name):
    model = MODELS[name]()
    before = (to_text(model), to_xmi_string(model), snapshot(model))
    validate(model)
    for generate in (lambda m: pytorch_generator.generate(m, "model.nn"),
                     lambda m: keras_generator.generate(m, "model.nn"), to_text, to_xmi_string, to_dot):
        try:
            generate(model)
        except NNPivotError:   # a model a target cannot state: what it read is still left untouched
            pass
        after = (to_text(model), to_xmi_string(model), snapshot(model))
        assert after[0] == before[0] and after[1] == before[1]
        assert after[2] == before[2]
