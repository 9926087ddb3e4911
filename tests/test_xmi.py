"""XMI save and load: round trips, the golden file, every diagnostic of the importer, safe writing."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from golden import check_golden
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pivot_models import PROGRAMMATIC_MODELS, lenet, small_resnet, text_classifier
from pyecore import ecore
from pyecore.resources import URI, ResourceSet
from pyecore.valuecontainer import EValue

from nnpivot.compare import differences
from nnpivot.diagnostics import NNPivotError, location_of
from nnpivot.generators.xmi import save_xmi, to_xmi_string
from nnpivot.graph import new_node
from nnpivot.importers.xmi import load_xmi
from nnpivot.kinds import KINDS, is_enum
from nnpivot.metamodel import ECORE_PATH, Input, Model, eenum, nn
from nnpivot.metamodel.ecore_file import EcoreFileError, read_package

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n<nn:Model xmi:version="2.0" xmlns:xmi="http://www.omg.org/XMI" '
          'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:nn="http://nnpivot.org/nn/1.0" name="M"')


def round_trip(model, folder: Path):
    path = save_xmi(model, folder / "model.xmi")
    return load_xmi(path)


def codes(excinfo) -> list[str]:
    return [d.code for d in excinfo.value.diagnostics]


def write(folder: Path, text: str, name: str = "bad.xmi") -> Path:
    path = folder / name
    path.write_text(text)
    return path


# --- round trips ---------------------------------------------------------------

@pytest.mark.parametrize("name", PROGRAMMATIC_MODELS)
def test_programmatic_model_round_trips(name, tmp_path):
    model = PROGRAMMATIC_MODELS[name]()
    assert differences(model, round_trip(model, tmp_path)) == []


def test_sample_round_trips(sample_path, tmp_path):
    from nnpivot.importers.nn_text import parse_file
    model = parse_file(sample_path)
    loaded = round_trip(model, tmp_path)
    assert differences(model, loaded) == []
    assert to_xmi_string(loaded) == to_xmi_string(model)  # canonical: a second trip writes the same text


def test_golden_xmi():
    check_golden("xmi/lenet.xmi", to_xmi_string(lenet()))


def test_saved_file_is_the_xmi_string(tmp_path):
    model = small_resnet()
    assert save_xmi(model, tmp_path / "m.xmi").read_text() == to_xmi_string(model)


def test_output_does_not_depend_on_the_order_attributes_were_set():
    a, b = Model(name="M"), Model(name="M")
    a.nodes.append(new_node("Conv2d", "c", filters=4, kernel_size=[3, 3], padding="same", bias=False))
    conv = new_node("Conv2d", "c", bias=False)
    conv.padding = eenum("Padding").getEEnumLiteral("same")
    conv.kernelSize.extend([3, 3])
    conv.filters = 4
    b.nodes.append(conv)
    assert to_xmi_string(a) == to_xmi_string(b)


def test_repeated_list_values_and_unsettable_defaults_survive(tmp_path):
    loaded = round_trip(text_classifier(), tmp_path)
    emb = next(n for n in loaded.nodes if n.name == "emb")
    shifted = next(n for n in loaded.nodes if n.name == "shifted")
    assert emb.eIsSet("paddingIdx") and emb.paddingIdx == 0
    assert shifted.eIsSet("scalar") and shifted.scalar == 0.0
    assert not emb.eIsSet("maxNorm")
    conv = next(n for n in load_xmi(save_xmi(lenet(), tmp_path / "l.xmi")).nodes if n.name == "c1")
    assert list(conv.kernelSize) == [5, 5]


def test_loaded_elements_know_their_line(tmp_path):
    path = save_xmi(small_resnet(), tmp_path / "m.xmi")
    lines = path.read_text().splitlines()
    model = load_xmi(path)
    conv = model.blocks[0].nodes[1]
    location = location_of(conv)
    assert location.file == str(path)
    assert 'name="conv"' in lines[location.line - 1]


def test_saving_leaves_the_model_in_its_resource(tmp_path):
    model = load_xmi(save_xmi(lenet(), tmp_path / "a.xmi"))
    resource = model.eResource
    save_xmi(model, tmp_path / "b.xmi")
    assert model.eResource is resource


# --- the importer's diagnostics ----------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(tmp_path / "nothing.xmi")
    assert codes(excinfo) == ["file-not-found"]


def test_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(tmp_path)
    assert codes(excinfo) == ["not-a-file"]
    assert "directory" in str(excinfo.value)


def test_malformed_xml_has_line_and_column(tmp_path):
    path = write(tmp_path, HEADER + '>\n  <nodes xsi:type="nn:Input" name="x">\n</nn:Model>\n')
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(path)
    (diagnostic,) = excinfo.value.diagnostics
    assert diagnostic.code == "xmi-syntax"
    assert (diagnostic.location.line, diagnostic.location.col) == (4, 12)  # where </nn:Model> closes <nodes>
    assert str(diagnostic).startswith(f"{path}:4:12: error[xmi-syntax]: ")


@pytest.mark.parametrize("text, message, line", [
    ('<?xml version="1.0"?>\n<other:Model xmlns:other="http://example.org/x" name="M"/>\n',
     "not the pivot metamodel", 2),
    ('<?xml version="1.0"?>\n<nn:Block xmlns:nn="http://nnpivot.org/nn/1.0" name="M"/>\n',
     "root element is nn:Block", 2),
    (('<?xml version="1.0"?>\n<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:nn="http://nnpivot.org/nn/1.0">\n'
     '  <nn:Model name="A"/>\n  <nn:Model name="B"/>\n</xmi:XMI>\n'), "several root objects", 2),
    (HEADER + '>\n  <nodes xsi:type="nn:Conv9d" name="c"/>\n</nn:Model>\n', "unknown class Conv9d", 3),
    (HEADER + '>\n  <nodes xsi:type="nn:Layer" name="c"/>\n</nn:Model>\n', "class Layer is abstract", 3),
    (HEADER + '>\n  <nodes xsi:type="nn:Block" name="c"/>\n</nn:Model>\n', "a Block cannot be in nodes", 3),
    (HEADER + '>\n  <nodes xsi:type="nn:Dense" name="d" unitz="3"/>\n</nn:Model>\n', "Dense has no feature 'unitz'", 3),
    (HEADER + '>\n  <layers name="d"/>\n</nn:Model>\n', "Model has no feature 'layers'", 3),
    (HEADER + '>\n  <nodes name="d"/>\n</nn:Model>\n', "needs an xsi:type", 3),
])
def test_metamodel_mismatches(tmp_path, text, message, line):
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(write(tmp_path, text))
    (diagnostic,) = excinfo.value.diagnostics
    assert diagnostic.code == "xmi-metamodel"
    assert message in diagnostic.message
    assert diagnostic.location.line == line


@pytest.mark.parametrize("attribute, message", [
    ('kernelSize="3 x"', "'x' is not a valid EInt"),
    ('padding="half"', "'half' is not a Padding (one of valid, same, explicit)"),
    ('bias="yes"', "'yes' is not a boolean"),
])
def test_values_that_do_not_fit_their_type(tmp_path, attribute, message):
    text = HEADER + f'>\n  <nodes xsi:type="nn:Conv2d" name="c" filters="4" {attribute}/>\n</nn:Model>\n'
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(write(tmp_path, text))
    (diagnostic,) = excinfo.value.diagnostics
    assert (diagnostic.code, diagnostic.location.line) == ("xmi-value", 3)
    assert message in diagnostic.message


@pytest.mark.parametrize("reference, message", [
    ('inputs="//@nodes.9"', "dangling reference: inputs refers to '//@nodes.9'"),
    ('inputs="//@blocks.0"', "a Block, where a Node is expected"),
])
def test_bad_references(tmp_path, reference, message):
    text = (HEADER + f'>\n  <nodes xsi:type="nn:Input" name="x"/>\n  <nodes xsi:type="nn:ReLU" name="r" {reference}/>\n'
            '  <blocks name="B"/>\n</nn:Model>\n')
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(write(tmp_path, text))
    (diagnostic,) = excinfo.value.diagnostics
    assert (diagnostic.code, diagnostic.location.line) == ("xmi-reference", 4)
    assert message in diagnostic.message


def test_href_to_a_missing_file_is_dangling(tmp_path):
    text = (HEADER + '>\n  <nodes xsi:type="nn:ReLU" name="r">\n'
            '    <inputs xsi:type="nn:Input" href="other.xmi#//@nodes.0"/>\n  </nodes>\n</nn:Model>\n')
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(write(tmp_path, text))
    (diagnostic,) = excinfo.value.diagnostics
    assert (diagnostic.code, diagnostic.location.line) == ("xmi-reference", 4)
    assert "dangling" in diagnostic.message


def test_all_problems_are_reported_at_once(tmp_path):
    text = (HEADER + '>\n  <nodes xsi:type="nn:Dense" name="d" units="many" inputs="//@nodes.7"/>\n'
            '  <nodes xsi:type="nn:Nope" name="n"/>\n</nn:Model>\n')
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(write(tmp_path, text))
    assert sorted(codes(excinfo)) == ["xmi-metamodel", "xmi-reference", "xmi-value"]


def test_an_unknown_class_is_reported_once_not_again_by_its_users(tmp_path):
    text = (HEADER + '>\n  <nodes xsi:type="nn:Conv9d" name="c"/>\n'
            '  <nodes xsi:type="nn:ReLU" name="r" inputs="//@nodes.0"/>\n</nn:Model>\n')
    with pytest.raises(NNPivotError) as excinfo:
        load_xmi(write(tmp_path, text))
    assert codes(excinfo) == ["xmi-metamodel"]


def test_emf_style_file_loads(tmp_path):
    """What EMF writes: lists as elements, a schema location, same-file references, any attribute order."""
    text = (HEADER + ' xsi:schemaLocation="http://nnpivot.org/nn/1.0 ../metamodel/nn.ecore" outputs="//@nodes.1">\n  <nodes xsi:type="nn:Input" name="x">\n    <shape>3</shape>\n'
            '    <shape>3</shape>\n  </nodes>\n  <nodes xsi:type="nn:MaxPool2d" inputs="//@nodes.0" name="p">\n'
            '    <kernelSize>2</kernelSize>\n    <kernelSize>2</kernelSize>\n  </nodes>\n</nn:Model>\n')
    model = load_xmi(write(tmp_path, text))
    assert list(model.nodes[0].shape) == [3, 3]
    assert list(model.nodes[1].kernelSize) == [2, 2]
    assert model.nodes[1].inputs[0] is model.nodes[0] and model.outputs[0] is model.nodes[1]


# --- writing safely -----------------------------------------------------------------

def test_existing_file_is_not_overwritten_without_force(tmp_path):
    path = tmp_path / "m.xmi"
    path.write_text("keep me")
    with pytest.raises(NNPivotError) as excinfo:
        save_xmi(lenet(), path)
    assert codes(excinfo) == ["output-exists"]
    assert path.read_text() == "keep me"
    save_xmi(lenet(), path, force=True)
    assert differences(lenet(), load_xmi(path)) == []


def test_failed_save_leaves_no_file(tmp_path):
    model = lenet()
    stranger = Input(name="stranger")  # not contained in the model
    model.nodes[1].inputs.append(stranger)
    with pytest.raises(NNPivotError) as excinfo:
        save_xmi(model, tmp_path / "m.xmi")
    assert codes(excinfo) == ["xmi-reference"]
    assert "stranger" in str(excinfo.value)
    assert os.listdir(tmp_path) == []


def test_text_xml_cannot_carry_is_a_diagnostic(tmp_path):
    model = lenet()
    model.description = "bell \x07"
    with pytest.raises(NNPivotError) as excinfo:
        save_xmi(model, tmp_path / "m.xmi")
    assert codes(excinfo) == ["xmi-value"]
    assert os.listdir(tmp_path) == []


# --- property: random models round-trip ----------------------------------------------

EXAMPLES = [(kind, example) for kind in KINDS.values() for example in kind.examples]


@cache
def example_node(index: int):
    """The node of registry example ``index``, parsed with the DSL so its attributes mean what the DSL says."""
    from nnpivot.importers.nn_text import parse_text
    kind, example = EXAMPLES[index]
    text = "model M {\n" + "".join(f"  input {i}\n" for i in example.inputs) + f"  n = {example.call}\n  output n\n}}\n"
    return next(n for n in parse_text(text, f"{kind.keyword}.nn").nodes if n.name == "n")


def value_strategy(attribute):
    etype = attribute.eType
    if is_enum(attribute):
        single = st.sampled_from(list(etype.eLiterals))
    else:
        single = {"EInt": st.sampled_from([0, 1, -1]) | st.integers(-2**31, 2**31 - 1), "EBoolean": st.booleans(),
                  "EDouble": st.floats(allow_nan=False, allow_infinity=False),
                  "EString": st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)}[etype.name]
    return st.lists(single, max_size=4) if attribute.many else single


def assign(node, attribute, value) -> None:
    if attribute.many:
        values = node.eGet(attribute)
        values.clear()
        values.extend(list(value))
    else:
        node.eSet(attribute, value)


@st.composite
def random_models(draw):
    model = Model(name=draw(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)),
                  description=draw(st.none() | st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                                                       max_size=20)))
    previous = new_node("Input", "x", shape=draw(st.lists(st.integers(-1, 64), max_size=4)),
                        dtype=draw(st.sampled_from(["float32", "int64", "bool"])))
    model.nodes.append(previous)
    for position in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(EXAMPLES) - 1))
        kind, template = EXAMPLES[index][0], example_node(index)
        node = new_node(kind.eclass_name, f"n{position}", [previous] * kind.arity[0])
        for attribute in kind.attributes():
            if attribute.transient:
                continue
            source = draw(st.sampled_from(["example"] * 4 + ["random", "default"]))
            if source == "random":
                assign(node, attribute, draw(value_strategy(attribute)))
            elif source == "default" and not attribute.many:  # explicitly set: matters when unsettable
                assign(node, attribute, attribute.get_default_value())
            elif template.eIsSet(attribute):
                assign(node, attribute, template.eGet(attribute))
        model.nodes.append(node)
        previous = node
    model.outputs.append(previous)
    return model


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=random_models())
def test_random_models_round_trip(model, tmp_path):
    path = tmp_path / "random.xmi"
    save_xmi(model, path, force=True)
    assert differences(model, load_xmi(path)) == []


# --- the metamodel: nnpivot's reader of nn.ecore against pyecore's own ---------------------------------------

def _described(element, seen=None) -> object:
    """Every feature value of a metamodel element, reflectively; other elements by name, contained ones in full."""
    described = {}
    for feature in element.eClass.eAllStructuralFeatures():
        if feature.name in ("eResource", "eGenericType", "eGenericSuperTypes", "ePackage", "eContainingClass"):
            continue
        value = element.eGet(feature)
        if feature.many:
            value = [(_described(v) if feature.containment else getattr(v, "name", v)) for v in value]
        elif hasattr(value, "eClass"):
            value = _described(value) if feature.containment else (value.eClass.name, getattr(value, "name", None))
        described[feature.name] = value
    if element.eClass.name == "EAnnotation":
        described["details"] = dict(element.details)
    return element.eClass.name, described


def test_the_metamodel_reader_builds_what_pyecore_reads():
    by_pyecore = ResourceSet().get_resource(URI(str(ECORE_PATH))).contents[0]
    assert _described(nn) == _described(by_pyecore)
    assert [c.name for c in nn.eClassifiers] == [c.name for c in by_pyecore.eClassifiers]


# What the reader's features hold beyond their feature values: the class they belong to is set when they are added.
_PLACEMENT = {"eContainingClass", "eAnnotations", "_container", "_containment_feature", "_inverse_rels", "dyn_inst",
              "_isset", "listeners", "_eternal_listener"}


def _state(feature) -> dict:
    """Everything a pyecore feature object stores: each set value's holder, plain attributes, what is set."""
    state = {}
    for key, value in vars(feature).items():
        if key in _PLACEMENT:
            continue
        if isinstance(value, EValue):
            if value.feature not in feature._isset:  # made on a first read of an unset value (other tests read)
                continue
            value = ("held", type(value), value.owner is feature, value.feature, value.is_ref, value.is_cont,
                     value.generic_type, value._value)
        state[key] = value
    state["set"] = {meta for meta in feature._isset if meta.name not in _PLACEMENT}
    state["listeners"] = ([listener is feature for listener in feature._eternal_listener], feature.listeners)
    return state


def test_the_metamodel_reader_makes_each_feature_as_pyecore_constructs_it():
    """The reader stores feature values without pyecore's per-value checks and notifications (start-up time)."""
    features = [f for c in nn.eClassifiers if isinstance(c, ecore.EClass) for f in c.eStructuralFeatures]
    assert len(features) > 200 and any(isinstance(f, ecore.EReference) for f in features)
    for feature in features:
        options = {"lower": feature.lowerBound, "upper": feature.upperBound, "unique": feature.unique,
                   "transient": feature.transient, "unsettable": feature.unsettable}
        if isinstance(feature, ecore.EReference):
            made = ecore.EReference(feature.name, feature.eType, containment=feature.containment, **options)
        else:
            made = ecore.EAttribute(feature.name, feature.eType, defaultValueLiteral=feature.defaultValueLiteral,
                                    **options)
        if hasattr(feature.eType, "_inverse_rels"):
            assert (feature, ecore.ETypedElement.eType) in feature.eType._inverse_rels, feature
            feature.eType._inverse_rels.discard((made, ecore.ETypedElement.eType))
        assert type(made) is type(feature) and _state(made) == _state(feature), feature
        assert feature.eContainingClass.python_class.__dict__[feature.name] is feature
        assert feature in type(feature)._instances


def test_the_metamodel_reader_refuses_what_it_does_not_know(tmp_path):
    text = ECORE_PATH.read_text(encoding="utf-8").replace(' abstract="true"', ' abstract="true" interface="true"', 1)
    path = tmp_path / "nn.ecore"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EcoreFileError, match="unknown attributes"):
        read_package(path)
