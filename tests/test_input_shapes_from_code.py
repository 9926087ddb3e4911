"""Every corpus and paper file migrates with no --input-shape unless its manifest says why one is needed.

The static importers read each input's shape from the code (issue 9): the
channels, features and token ids from the layer that first reads it, a
run-time size (-1, the ``?`` of ``.nn``) where the code leaves it open
(manifest ``free_axes``), and sizes the code pins through the shape
functions. The shape read must equal the manifest's, up to the free axes
(``code_shape`` where a flatten reads the data through another view).
Static only: nothing is executed (except the constructor-mode entries, whose definitions and builders run), the
whole module takes a few seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from markers import FRAMEWORK_MARKS

from nnpivot.diagnostics import NNPivotError
from nnpivot.importers.keras import import_keras
from nnpivot.importers.pytorch import import_pytorch
from nnpivot.migrate import _size_to_give, import_source, parse_input_shapes

ROOT = Path(__file__).resolve().parent.parent / "samples"
ENTRIES = [(folder, entry) for folder in ("corpus", "paper")
           for entry in json.loads((ROOT / folder / "manifest.json").read_text())["entries"]
           if "refused" not in entry]   # a file the importer still refuses: tests/test_corpus_sizes.py


def _read(folder: str, entry: dict):
    return import_source(ROOT / folder / entry["path"], entry["framework"], entry["model"], entry["kwargs"] or None,
                         settings=entry.get("set"), run_constructor=entry.get("run_constructor", False))


@pytest.mark.parametrize(("folder", "entry"), [
    pytest.param(f, e, id=f"{f}/{e['path']}", marks=[FRAMEWORK_MARKS[e["framework"]]] if e.get("run_constructor")
                 else []) for f, e in ENTRIES])
def test_input_shapes_are_read_from_the_code(folder, entry):
    if "shape_needed" in entry:
        with pytest.raises(NNPivotError) as caught:
            _, report = _read(folder, entry)
            raise NNPivotError([d for d in report.diagnostics if d.is_error])
        assert caught.value.diagnostics, "the manifest says a shape is needed but the file migrated without one"
        return
    _, report = _read(folder, entry)
    assert not [d for d in report.diagnostics if d.is_error]
    expected = [tuple(-1 if axis in spec.get("free_axes", ()) else size
                      for axis, size in enumerate(spec.get("code_shape", spec["shape"]))) for spec in entry["inputs"]]
    assert list(report.input_shapes.values()) == expected


def test_the_counts():
    needing = [e["path"] for _, e in ENTRIES if "shape_needed" in e]
    free = [e["path"] for _, e in ENTRIES if "shape_needed" not in e and any("free_axes" in s for s in e["inputs"])]
    # 7 constructor-mode files, 16 PyTorch and 15 Keras whole scripts, a seq2seq with initial states, a Keras script
    # with preprocessing layers (issue 10); the patch transformer (a learned position table, add_learned) migrates
    # since it is read
    assert len(ENTRIES) == 187 and len(needing) == 15 and len(free) == 74


def test_a_flatten_into_a_dense_layer_pins_the_image_and_the_note_says_so():
    _, report = import_pytorch(ROOT / "paper" / "pytorch" / "tutorial_cnn_subclass.py")
    assert report.input_shapes == {"x": (3, 32, 32)}
    notes = [d for d in report.diagnostics if d.code == "input-size-inferred"]
    assert len(notes) == 1 and "[3, 32, 32]" in notes[0].message and "30" in notes[0].message


def test_a_question_mark_in_the_option_is_a_run_time_size():
    assert parse_input_shapes(["x=3,?,?"]) == {"x": [3, -1, -1]}
    model, report = import_pytorch(ROOT / "corpus" / "pytorch" / "cnn_tiny_unet.py",
                                   input_shapes=parse_input_shapes(["3,?,?"]))
    assert report.input_shapes == {"x": (3, -1, -1)}
    assert list(model.nodes[0].shape) == [3, -1, -1]


def test_a_product_of_several_sizes_asks_for_the_shape():
    with pytest.raises(NNPivotError) as caught:
        import_pytorch(ROOT / "corpus" / "pytorch" / "conv3d_sequential.py")
    assert caught.value.diagnostics[0].code == "missing-input-shape"
    assert "[3, ?, ?, ?]" in caught.value.diagnostics[0].message
    assert "[3, 8, 16, 16]" in caught.value.diagnostics[0].message   # the corpus shape is among those proposed


@pytest.mark.parametrize(("path", "given", "expected"), [
    ("corpus/keras/cnn_resnet_functional.py", [[48, 48, 3]], (48, 48, 3)),               # functional model
    ("paper/keras/alexnet_functional.py", {"inputs": [227, 227, 3]}, (227, 227, 3)),    # builder function
    ("corpus/keras/cnn_training_script.py", [[40, 40, 3]], (40, 40, 3)),                 # builder in a script
    ("corpus/keras/lstm_states_outputs.py", parse_input_shapes(["?,6"]), (-1, 6)),       # a run-time length
])
def test_a_given_shape_replaces_the_one_a_keras_input_declares(path, given, expected):
    _, report = import_keras(ROOT / path, input_shapes=given)
    assert not [d for d in report.diagnostics if d.is_error]
    assert list(report.input_shapes.values()) == [expected]


def test_a_keras_subclass_reading_token_ids_needs_no_shape_and_one_reading_images_asks():
    _, report = import_keras(ROOT / "corpus" / "keras" / "gru_sequence_tagger.py")
    assert report.input_shapes == {"sentence": (-1,)}
    with pytest.raises(NNPivotError) as caught:
        import_keras(ROOT / "corpus" / "keras" / "cnn_subclass_spatial_dropout.py")
    assert caught.value.diagnostics[0].code == "missing-input-shape"
    assert "takes its input size from the first call" in caught.value.diagnostics[0].message


def test_a_keras_sequential_starting_with_an_embedding_takes_token_ids_of_any_length(tmp_path):
    source = tmp_path / "sentiment.py"
    source.write_text("from tensorflow import keras\n\n"
                      "model = keras.Sequential([\n"
                      "    keras.layers.Embedding(5000, 32),\n"
                      "    keras.layers.LSTM(16),\n"
                      "    keras.layers.Dense(1, activation='sigmoid'),\n"
                      "])\n")
    model, report = import_keras(source)
    assert report.input_shapes == {"x": (-1,)}
    assert model.nodes[0].dtype.name == "int64"


def test_when_the_target_cannot_be_written_for_run_time_sizes_a_size_the_code_accepts_is_proposed():
    model, report = import_pytorch(ROOT / "paper" / "pytorch" / "alexnet_subclass.py")
    assert report.input_shapes == {"x": (3, -1, -1)}
    (note,) = _size_to_give(model, report)
    assert note.code == "input-size-needed" and "--input-shape x=3,64,64" in note.message   # 32 is too small
    _, fixed = import_pytorch(ROOT / "paper" / "pytorch" / "vgg16_sequential.py")
    assert _size_to_give(model, fixed) == []
