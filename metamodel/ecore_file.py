"""Reading ``nn.ecore`` into pyecore's dynamic EPackage without ``pyecore.resources``.

pyecore's XMI resource loads any Ecore file, but importing it pulls in
urllib, http, email and ssl, and it links each class to its supertypes after
all classes exist, so Python recomputes the method order of every subclass
again and again: about two thirds of the start-up of a command that only
lists the layer kinds. This reader knows the part of Ecore that ``nn.ecore``
uses (classes, enums, attributes, references, documentation annotations) and
builds each class after its supertypes. Anything else in the file is an
error here, so a metamodel edit outside that part is noticed;
``tests/test_xmi.py`` checks the result against pyecore's own reading.

The structural features (about 200) are made by :func:`_feature` rather than
pyecore's constructors: those set some fifteen values each through a
descriptor that type-checks the value and sends a notification nobody listens
to yet, about half of the reading; ``tests/test_xmi.py`` checks that each
feature equals, value by value, the one pyecore's constructor makes.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pyecore import ecore
from pyecore.valuecontainer import EValue

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
ECORE_TYPES = "ecore:EDataType http://www.eclipse.org/emf/2002/Ecore#//"
LOCAL = "#//"
# The XML attributes of each element this reader knows, and how each is read.
_BOOL = {"true": True, "false": False}
_FEATURE_ATTRIBUTES = {"name", "eType", "upperBound", "lowerBound", "unique", "containment", "transient",
                       "unsettable", "defaultValueLiteral", XSI_TYPE}


class EcoreFileError(ValueError):
    """``nn.ecore`` uses a part of Ecore this reader does not know."""


def read_package(path: Path) -> ecore.EPackage:
    root = ET.parse(path).getroot()
    package = ecore.EPackage(root.get("name"), nsURI=root.get("nsURI"), nsPrefix=root.get("nsPrefix"))
    elements = {}
    for element in root:
        _expect(element.tag == "eClassifiers", f"unknown package element <{element.tag}>")
        elements[element.get("name")] = element
    classifiers: dict = {}
    for name, element in elements.items():
        kind = element.get(XSI_TYPE)
        if kind == "ecore:EEnum":
            classifiers[name] = _enum(element)
        else:
            _expect(kind == "ecore:EClass", f"unknown classifier type {kind} of {name}")
    for name in elements:
        _eclass(name, elements, classifiers)
    package.eClassifiers.extend(classifiers[name] for name in elements)   # the file's order
    for name, element in elements.items():
        if element.get(XSI_TYPE) == "ecore:EClass":
            _features(classifiers[name], element, classifiers)
    return package


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise EcoreFileError(f"nn.ecore: {message}")


def _enum(element) -> ecore.EEnum:
    _expect(set(element.keys()) <= {"name", XSI_TYPE}, f"unknown attributes of enum {element.get('name')}")
    enum = ecore.EEnum(element.get("name"))
    for literal in element:
        _expect(literal.tag == "eLiterals" and set(literal.keys()) <= {"name", "value"},
                f"unknown enum content in {enum.name}")
        enum.eLiterals.append(ecore.EEnumLiteral(literal.get("name"), value=int(literal.get("value", 0))))
    return enum


def _eclass(name: str, elements: dict, classifiers: dict) -> ecore.EClass:
    """The EClass ``name``, made after its supertypes (so no subclass exists yet when its bases are set)."""
    if name in classifiers:
        return classifiers[name]
    element = elements[name]
    _expect(set(element.keys()) <= {"name", "abstract", "eSuperTypes", XSI_TYPE}, f"unknown attributes of {name}")
    supers = tuple(_eclass(_local(ref), elements, classifiers) for ref in element.get("eSuperTypes", "").split())
    eclass = ecore.EClass(name, superclass=supers, abstract=_BOOL[element.get("abstract", "false")])
    _annotate(eclass, element)
    classifiers[name] = eclass
    return eclass


def _local(reference: str) -> str:
    _expect(reference.startswith(LOCAL), f"unknown reference {reference}")
    return reference[len(LOCAL):]


def _annotate(owner, element) -> None:
    for annotation in element.findall("eAnnotations"):
        note = ecore.EAnnotation(annotation.get("source"))
        note.details.update({d.get("key"): d.get("value") for d in annotation.findall("details")})
        owner.eAnnotations.append(note)


def _features(eclass: ecore.EClass, element, classifiers: dict) -> None:
    features = []
    for child in element:
        if child.tag == "eAnnotations":
            continue
        _expect(child.tag == "eStructuralFeatures" and set(child.keys()) <= _FEATURE_ATTRIBUTES,
                f"unknown content of {eclass.name}")
        type_name = child.get("eType")
        is_reference = child.get(XSI_TYPE) == "ecore:EReference"
        if type_name.startswith(ECORE_TYPES):
            etype = getattr(ecore, type_name[len(ECORE_TYPES):])
        else:
            etype = classifiers[_local(type_name)]
        if not is_reference:
            _expect(child.get(XSI_TYPE) == "ecore:EAttribute" and child.get("containment") is None,
                    f"unknown feature type of {eclass.name}.{child.get('name')}")
        feature = _feature(ecore.EReference if is_reference else ecore.EAttribute, child.get("name"), etype,
                           lower=int(child.get("lowerBound", 0)), upper=int(child.get("upperBound", 1)),
                           unique=_BOOL[child.get("unique", "true")],
                           transient=_BOOL[child.get("transient", "false")],
                           unsettable=_BOOL[child.get("unsettable", "false")],
                           containment=_BOOL[child.get("containment", "false")],
                           literal=child.get("defaultValueLiteral"))
        _annotate(feature, child)
        features.append(feature)
    eclass.eStructuralFeatures.extend(features)


def _feature(kind: type, name: str, etype, *, lower: int, upper: int, unique: bool, transient: bool,
             unsettable: bool, containment: bool, literal: str | None) -> ecore.EStructuralFeature:
    """An EAttribute or EReference in the state ``kind(name, etype, lower=..., ...)`` leaves it in.

    Each value is stored as pyecore's descriptor stores it (a value holder per
    feature, marked set, the type told of its user) without the descriptor's
    type check and notification: the values come from the checked file, and a
    new object has no listener. The constructor's plain attributes follow it.
    """
    values = [("name", name), ("eType", etype), ("lowerBound", lower), ("upperBound", upper), ("ordered", True),
              ("unique", unique), ("required", False), ("changeable", True), ("volatile", False),
              ("transient", transient), ("unsettable", unsettable), ("derived", False)]
    values += [("containment", containment)] if kind is ecore.EReference else [("iD", False),
                                                                                ("defaultValueLiteral", literal)]
    feature = kind.__new__(kind)  # pyecore's bookkeeping of every object (listeners, set features, ...)
    state, marked = feature.__dict__, feature._isset
    for value_name, value in values:
        meta, is_reference = _META_FEATURES[kind, value_name]
        holder = EValue.__new__(EValue)
        holder.owner, holder.feature, holder.generic_type, holder._value = feature, meta, None, value
        holder.is_ref, holder.is_cont = is_reference, False
        state[value_name] = holder
        marked[meta] = None
        if is_reference and hasattr(value, "_inverse_rels"):
            value._inverse_rels.add((feature, meta))
    feature._many_cache = upper < 0 or upper > 1
    feature._eternal_listener.append(feature)
    feature.derived_class, feature._name, feature._eType = ecore.ECollection, name, etype
    if kind is ecore.EReference:
        feature._eopposite = None
    else:
        feature.default_value = etype.default_value if isinstance(etype, ecore.EDataType) else None
    return feature


# (meta-class, value name) -> (the meta-feature pyecore stores the value under, whether it is a reference)
_META_FEATURES = {(kind, name): (getattr(kind, name), getattr(kind, name).is_reference)
                  for kind in (ecore.EAttribute, ecore.EReference)
                  for name in ("name", "eType", "lowerBound", "upperBound", "ordered", "unique", "required",
                               "changeable", "volatile", "transient", "unsettable", "derived",
                               *(("containment",) if kind is ecore.EReference else ("iD", "defaultValueLiteral")))}


__all__ = ["EcoreFileError", "read_package"]
