"""Every sample: generated PyTorch and Keras code agree within 1e-4 over 20 random inputs, both weight
directions; and the generated code of every sample is golden.

Each sample's two files are built once and run twice: with PyTorch's
initialization moved through the pivot into Keras, then with Keras'
initialization moved into PyTorch (constant arrays made random first, see
``nnpivot.frameworks.enliven``). The 20 inputs run as one batch. VGG16 at
224x224 dominates the runtime (about 2.5 minutes on 2 cores: 4 forward passes
of 20 images); ``benchmarks/bench.py`` prints the same differences as a table.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from conftest import SAMPLES
from golden import check_golden

from nnpivot.frameworks import enliven, runner_for_code
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.importers.nn_text import parse_file
from nnpivot.verify import verify_runners

ATOL = 1e-4
INPUTS = 20
TARGETS = {"pytorch": pytorch_generator.generate, "keras": keras_generator.generate}
IDS = [path.stem for path in SAMPLES]


def test_every_sample_is_covered():
    assert len(SAMPLES) >= 8
    assert {"alexnet", "vgg16", "text_classifier", "cnn_rnn", "tf_tutorial_cnn", "lenet5"} <= set(IDS)


@pytest.mark.parametrize("path", SAMPLES, ids=IDS)
def test_generated_code_is_golden(path):
    model = parse_file(path)
    for target, generate in TARGETS.items():
        check_golden(f"generated/{path.stem}.{target}.py", generate(model, path.name))


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("path", SAMPLES, ids=IDS)
def test_sample_is_equivalent_both_ways(path, tmp_path, record_property):
    model = parse_file(path)
    torch_runner = runner_for_code(pytorch_generator.generate(model, path.name), tmp_path / "torch_model.py",
                                   model, "pytorch")
    keras_runner = runner_for_code(keras_generator.generate(model, path.name), tmp_path / "keras_model.py",
                                   model, "keras")
    keras_native = keras_runner.native_store()  # read before the first direction overwrites it

    forward = verify_runners(torch_runner, keras_runner, model, inputs=INPUTS, atol=ATOL)
    backward = verify_runners(keras_runner, torch_runner, model, store=enliven(keras_native, seed=1),
                              inputs=INPUTS, atol=ATOL, seed=1)
    record_property("pytorch_to_keras_max_abs_diff", forward.max_abs_diff)
    record_property("keras_to_pytorch_max_abs_diff", backward.max_abs_diff)
    print(f"{path.stem}: PyTorch->Keras {forward.max_abs_diff:.3g}, Keras->PyTorch {backward.max_abs_diff:.3g}")
    assert forward.passed, (f"PyTorch -> pivot -> Keras: {forward.max_abs_diff:.3g}, first divergent node "
                            f"{forward.first_divergent_node}")
    assert backward.passed, (f"Keras -> pivot -> PyTorch: {backward.max_abs_diff:.3g}, first divergent node "
                             f"{backward.first_divergent_node}")
