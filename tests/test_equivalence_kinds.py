"""Every registry kind, every example: generated PyTorch and Keras code compute the same function.

For each ``Example`` of each kind the one-kind model
``model K { input <decls>  result = <call>  output result }`` is generated to
both frameworks and run through the verify API in both weight directions:
PyTorch's initialization -> pivot -> Keras, and Keras' initialization -> pivot
-> PyTorch (constant arrays such as fresh BatchNorm statistics made random, see
``nnpivot.frameworks.enliven``). Outputs must agree to 1e-5 on 3 random inputs
(plus 1e-6 of the magnitude, float32 rounding of large values).
A kind a generator refuses must be listed in ``EXPECTED_REFUSALS`` with its
diagnostic code, so nothing is skipped silently.
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from counts import EXAMPLE_COUNT, KIND_COUNT

from nnpivot.diagnostics import NNPivotError
from nnpivot.frameworks import enliven, runner_for_code
from nnpivot.generators import keras as keras_generator
from nnpivot.generators import pytorch as pytorch_generator
from nnpivot.importers.nn_text import parse_text
from nnpivot.kinds import KINDS
from nnpivot.verify import verify_runners

ATOL = 1e-5
RTOL = 1e-6  # ~8 float32 ulps: 3 / x near x = 0 is ~8000, where one ulp is 5e-4
INPUTS = 3
GENERATORS = {"pytorch": pytorch_generator.generate, "keras": keras_generator.generate}

# "<keyword>-<example index>" -> (target, diagnostic code) for examples a generator must refuse.
EXPECTED_REFUSALS: dict[str, tuple[str, str]] = {}


def one_kind_model(example) -> str:
    declarations = "\n".join(f"    input {declaration}" for declaration in example.inputs)
    return f"model K {{\n{declarations}\n    result = {example.call}\n    output result\n}}\n"


CASES = [(f"{keyword}-{index}", example) for keyword, kind in KINDS.items()
         for index, example in enumerate(kind.examples)]


def test_count_guard():
    """No kind without an example under test, and no example lost."""
    assert len(KINDS) == KIND_COUNT
    assert {case.rsplit("-", 1)[0] for case, _ in CASES} == set(KINDS)
    assert len(CASES) == sum(len(kind.examples) for kind in KINDS.values()) == EXAMPLE_COUNT
    assert set(EXPECTED_REFUSALS) <= {case for case, _ in CASES}


def _generate(case, model) -> dict[str, str] | None:
    """Both frameworks' code, or None after checking the refusal is the expected one."""
    code, refusals = {}, {}
    for target, generate in GENERATORS.items():
        try:
            code[target] = generate(model, f"{case}.nn")
        except NNPivotError as exc:
            refusals[target] = [d.code for d in exc.diagnostics if d.is_error]
    if case in EXPECTED_REFUSALS:
        target, code_expected = EXPECTED_REFUSALS[case]
        assert code_expected in refusals.get(target, []), f"{case} was expected to be refused by {target}"
        return None
    assert not refusals, f"{case}: refused {refusals}"
    return code


@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.parametrize("case,example", CASES, ids=[case for case, _ in CASES])
def test_kind_example_is_equivalent_both_ways(case, example, tmp_path):
    model = parse_text(one_kind_model(example), f"{case}.nn")
    code = _generate(case, model)
    if code is None:
        return
    torch_runner = runner_for_code(code["pytorch"], tmp_path / "k_torch.py", model, "pytorch")
    keras_runner = runner_for_code(code["keras"], tmp_path / "k_keras.py", model, "keras")
    keras_native = keras_runner.native_store()  # read before the first direction overwrites it

    forward = verify_runners(torch_runner, keras_runner, model, inputs=INPUTS, atol=ATOL, rtol=RTOL)
    assert forward.passed, (f"PyTorch -> pivot -> Keras: max abs difference {forward.max_abs_diff:.3g}, first "
                            f"divergent node {forward.first_divergent_node}")
    backward = verify_runners(keras_runner, torch_runner, model, store=enliven(keras_native), inputs=INPUTS,
                              atol=ATOL, rtol=RTOL, seed=1)
    assert backward.passed, (f"Keras -> pivot -> PyTorch: max abs difference {backward.max_abs_diff:.3g}, first "
                             f"divergent node {backward.first_divergent_node}")
