"""Large models and the memory-lean weight path: behaviour, not timings (benchmarks/scaling.py times them).

* A 30,000-node chain goes through parse, validate and both generators without
  RecursionError, and so does a Flatten read through thousands of activations.
* The collector pause of those steps ends with them.
* ``write_weights_h5`` (deferred Keras variables) writes the file the ordinary
  path (build, set_weights, save_weights) writes, and leaves nothing behind;
  a store the owner releases (``release_written``) is drained as it is written.
* Name allocation, ``is_kind`` and the attribute cache keep their answers.
"""
from __future__ import annotations

import gc
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from benchmark_module import load_benchmark

from nnpivot import fileio
from nnpivot.diagnostics import NNPivotError
from nnpivot.generators import codegen
from nnpivot.generators import keras as K
from nnpivot.generators import pytorch as P
from nnpivot.importers.nn_text import parse_file, parse_text
from nnpivot.kinds import KINDS
from nnpivot.metamodel import eclass, is_kind
from nnpivot.validators import validate
from nnpivot.weights import WeightStore

ROOT = Path(__file__).resolve().parent.parent


scaling = load_benchmark("scaling")  # the model builders the benchmark times
chain_text = scaling.chain_text
residual_text = scaling.residual_text


def test_a_30000_node_chain_goes_through_every_stage():
    model = parse_text(chain_text(30_000), "chain.nn")
    assert len(model.nodes) == 30_001
    assert not [d for d in validate(model) if d.is_error]
    torch_code = P.generate(model, "chain.nn")
    keras_code = K.generate(model, "chain.nn")
    assert "self.n29999 = nn.LayerNorm(16)" in torch_code
    assert "return n29999" in torch_code and "return n29999" in keras_code


def test_a_residual_model_keeps_its_skip_connections():
    model = parse_text(residual_text(3_000), "residual.nn")
    code = P.generate(model, "residual.nn")
    assert "a2997 = r2997 + a2994" in code


def test_a_flatten_read_through_thousands_of_activations_needs_no_recursion():
    lines = ["model Deep {", "    input x: float32[3, 8, 8]", "    c = conv2d(x, 4, kernel_size=3)", "    f = flatten(c)"]
    previous = "f"
    for index in range(3 * sys.getrecursionlimit()):
        lines.append(f"    r{index} = relu({previous})")
        previous = f"r{index}"
    lines += [f"    d = dense({previous}, 5)", "    output d", "}"]
    model = parse_text("\n".join(lines), "deep.nn")
    code = K.generate(model, "deep.nn")
    assert "ops.transpose" not in code  # only Dense reads the flattened maps: its rows move instead


@pytest.mark.parametrize("disabled_before", [False, True])
def test_the_collector_pause_ends_with_the_step(disabled_before):
    text = chain_text(30)
    if disabled_before:
        gc.disable()
    try:
        model = parse_text(text)
        validate(model)
        P.generate(model, "c.nn")
        K.generate(model, "c.nn")
        assert gc.isenabled() is not disabled_before
    finally:
        gc.enable()


def test_the_collector_resumes_after_a_failing_step():
    with pytest.raises(NNPivotError):
        parse_text("model M { input x: float32[3]\n y = nothing(x)\n output y }")
    assert gc.isenabled()


def _random_store(model, seed=0) -> WeightStore:
    rng = np.random.default_rng(seed)
    return WeightStore({slot.pivot_key: rng.standard_normal(slot.shape).astype("float32")
                        for slot in P.parameter_slots(model)})


def _h5_contents(path) -> dict:
    contents = {}
    with h5py.File(path, "r") as stored:
        stored.visititems(lambda name, item: contents.__setitem__(name, np.asarray(item))
                          if isinstance(item, h5py.Dataset) else None)
    return contents


@pytest.mark.tensorflow
@pytest.mark.parametrize("sample", ["lenet5", "cnn_rnn", "small_resnet", "transformer_encoder", "text_classifier",
                                    "tf_tutorial_cnn"])
def test_deferred_keras_weights_file_equals_the_ordinary_one(tmp_path, sample):
    from keras.src.backend.common import global_state

    model = parse_file(ROOT / "samples" / f"{sample}.nn")
    store = _random_store(model)
    assert K.write_weights_h5(tmp_path / "deferred.weights.h5", model, store) == []
    built = K.build_keras_model(model)
    assert K.assign_store(built, model, store) == []
    built.save_weights(str(tmp_path / "ordinary.weights.h5"))
    deferred, ordinary = (_h5_contents(tmp_path / f"{n}.weights.h5") for n in ("deferred", "ordinary"))
    assert sorted(deferred) == sorted(ordinary)
    seeds = {name for name in ordinary if "seed_generator" in name}  # random per instance in both
    for name in set(ordinary) - seeds:
        np.testing.assert_array_equal(deferred[name], ordinary[name], err_msg=name)
    assert not global_state.get_global_attribute("uninitialized_variables")  # nothing kept for later


@pytest.mark.tensorflow
@pytest.mark.parametrize("sample", ["alexnet", "cnn_rnn", "transformer_encoder"])
def test_a_store_released_as_written_gives_the_same_file_and_ends_empty(tmp_path, sample):
    model = parse_file(ROOT / "samples" / f"{sample}.nn")
    kept, released = _random_store(model), _random_store(model)
    released.release_written = True
    assert K.write_weights_h5(tmp_path / "kept.weights.h5", model, kept) == []
    assert K.write_weights_h5(tmp_path / "released.weights.h5", model, released) == []
    assert len(kept) == len(_random_store(model)) and len(released) == 0  # only the released one is drained
    a, b = (_h5_contents(tmp_path / f"{n}.weights.h5") for n in ("kept", "released"))
    assert sorted(a) == sorted(b)
    for name in a:
        if "seed_generator" not in name:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.tensorflow
def test_deferred_model_holds_no_values_until_read():
    model = parse_file(ROOT / "samples" / "alexnet.nn")  # with Dropout, whose seed variable is made in __init__
    keras_model = K._deferred_keras_model(model)
    try:
        assert keras_model is not None, "Keras initialized the variables: the weight path fell back to a built model"
        assert len(keras_model.variables) == 18 and all(v._value is None for v in keras_model.variables)
    finally:
        K._forget_deferred(keras_model)


@pytest.mark.tensorflow
def test_deferred_write_reports_a_misshapen_weight_and_writes_nothing(tmp_path):
    model = parse_file(ROOT / "samples" / "lenet5.nn")
    store = _random_store(model)
    key = next(k for k in store if k.endswith(".weight"))
    store[key] = np.zeros((1, 2), dtype="float32")
    diagnostics = K.write_weights_h5(tmp_path / "bad.weights.h5", model, store)
    assert [d.code for d in diagnostics] == ["weight-shape-mismatch"] and key in diagnostics[0].message
    assert not list(tmp_path.iterdir())


@pytest.mark.torch
def test_pytorch_checkpoint_written_without_copies_reads_back(tmp_path):
    model = parse_file(ROOT / "samples" / "lenet5.nn")
    store = _random_store(model)
    P.write_weights(model, store, tmp_path / "w.pt")
    back, diagnostics = P.read_weights(model, tmp_path / "w.pt")
    assert not diagnostics
    for key in store:
        np.testing.assert_array_equal(back[key], store[key])
    state = P.state_dict_from_store(model, store)  # the default still copies
    first = next(iter(P.parameter_slots(model)))
    state[first.torch_key].zero_()
    assert np.any(store[first.pivot_key] != 0)


def test_write_atomic_streams_and_still_refuses_an_existing_file(tmp_path):
    target = tmp_path / "out.bin"
    fileio.write_atomic(target, lambda stream: stream.write(b"abc"))
    assert target.read_bytes() == b"abc"
    with pytest.raises(NNPivotError):
        fileio.write_atomic(target, lambda stream: stream.write(b"xyz"))
    fileio.write_atomic(target, memoryview(b"xyz"), force=True)
    assert target.read_bytes() == b"xyz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_name_allocation_sees_every_set_without_copying():
    taken = codegen.Taken(frozenset({"self"}), {"x", "x_"})
    assert codegen.identifier("x", taken) == "x__"
    assert codegen.identifier("self", taken) == "self_"
    assert codegen.identifier("class", taken) == "class_"
    code = K.GraphCode(None, None, [], {}, [])
    assert [code.attribute("conv") for _ in range(3)] == ["conv", "conv_", "conv__"]


def test_cached_metamodel_answers_match_pyecore():
    node = eclass("LSTM")(name="l")
    assert is_kind(node, "LSTM") and is_kind(node, "Recurrent") and is_kind(node, "Node")
    assert not is_kind(node, "GRU") and not is_kind(None, "Node") and not is_kind(object(), "Node")
    for kind in KINDS.values():
        expected = [f for f in kind.eclass.eAllStructuralFeatures()
                    if f.__class__.__name__ == "EAttribute" and f.name not in {"name", "inferredShape"}]
        assert list(kind.attributes()) == expected
