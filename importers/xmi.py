"""XMI -> pivot model.

Reads XMI 2.0 written by nnpivot or by Eclipse EMF. The file is first checked
against the metamodel element by element, so every problem is reported with
its line and all problems are reported at once (pyecore itself stops at the
first with a Python exception); then pyecore's ``XMIResource`` builds the
model in a ``ResourceSet`` where the ``nn`` package is registered, and every
element gets the location of its XML element for later diagnostics.

Diagnostic codes: ``file-not-found``, ``unreadable-file``, ``xmi-syntax`` (not well-formed XML),
``xmi-metamodel`` (unknown namespace, root, class or feature), ``xmi-value``
(a value that does not fit its attribute type), ``xmi-reference`` (a
reference to nothing, to the wrong kind of element, or to another file).
"""
from __future__ import annotations

from pathlib import Path

from lxml import etree
from pyecore.ecore import EAttribute, EClass, EEnum
from pyecore.resources import URI, ResourceSet

from nnpivot.diagnostics import Location, NNPivotError, error, set_location
from nnpivot.fileio import check_readable
from nnpivot.metamodel import NS_URI, Model, nn

XSI_URL = "http://www.w3.org/2001/XMLSchema-instance"
XMI_URL = "http://www.omg.org/XMI"
XSI_TYPE = f"{{{XSI_URL}}}type"
XMI_TYPE = f"{{{XMI_URL}}}type"
XMI_ID = f"{{{XMI_URL}}}id"
ROOT_CLASS = "Model"


def load_xmi(path) -> Model:
    """Load a pivot model from an XMI file; raises NNPivotError with diagnostics."""
    path = check_readable(path)
    try:
        tree = etree.parse(str(path), etree.XMLParser(remove_comments=True, remove_pis=True))
    except etree.XMLSyntaxError as exc:
        line, col = exc.position
        raise NNPivotError([error("xmi-syntax", exc.msg, Location(str(path), line, col))]) from None
    except OSError as exc:
        raise NNPivotError([error("unreadable-file", f"cannot read {path}: {exc.strerror or exc}",
                                  Location(str(path)))]) from None
    checker = _Checker(str(path))
    try:
        checker.check(tree.getroot())
    except ValueError as exc:  # a name lxml parsed but refuses as a qualified name (like 'inputs:xmi')
        checker.report("xmi-syntax", f"not a model file: {exc}", tree.getroot())
    if checker.diagnostics:
        raise NNPivotError(checker.diagnostics)

    resources = ResourceSet()
    resources.metamodel_registry[NS_URI] = nn
    try:
        resource = resources.get_resource(URI(str(path)))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # the checker accepted what pyecore refuses: still a problem of the file, not a crash
        raise NNPivotError([error("xmi-metamodel", f"pyecore could not load the model: {exc}",
                                  Location(str(path)))]) from None
    model = resource.contents[0]
    resources.remove_resource(resource)
    _attach_locations(model, tree.getroot(), str(path))
    return model


def _parse_value(etype, text: str):
    """The value of ``text`` for a data type; ValueError when it does not fit (EMF's rules)."""
    if isinstance(etype, EEnum):
        literal = etype.getEEnumLiteral(text)
        if literal is None:
            names = ", ".join(lit.name for lit in etype.eLiterals)
            raise ValueError(f"'{text}' is not a {etype.name} (one of {names})")
        return literal
    if etype.name == "EBoolean":  # the metamodel's data types are proxies to Ecore's: compare names
        if text not in ("true", "false"):
            raise ValueError(f"'{text}' is not a boolean (true or false)")
        return text == "true"
    try:
        return etype.from_string(text)
    except (TypeError, ValueError):
        raise ValueError(f"'{text}' is not a valid {etype.name}") from None


class _Checker:
    """Walks the XML tree against the metamodel, collecting every problem with its line."""

    def __init__(self, filename: str):
        self.filename = filename
        self.diagnostics: list = []
        self.targets: dict[str, EClass | None] = {}  # URI fragment or xmi:id -> class (None: unknown)
        self.references: list = []              # (element, feature, token) to resolve at the end

    def report(self, code: str, message: str, element=None) -> None:
        line = element.sourceline if element is not None else 0
        self.diagnostics.append(error(code, message, Location(self.filename, line or 0)))

    def check(self, root) -> None:
        namespace, name = etree.QName(root).namespace, etree.QName(root).localname
        if namespace == XMI_URL and name == "XMI":
            self.report("xmi-metamodel", "the file holds several root objects; a pivot model has one root "
                        f"nn:{ROOT_CLASS}", root)
            return
        if namespace != NS_URI:
            self.report("xmi-metamodel", f"root element {name} is in namespace {namespace or '(none)'}, "
                        f"not the pivot metamodel {NS_URI}", root)
            return
        if name != ROOT_CLASS:
            self.report("xmi-metamodel", f"root element is nn:{name}; a pivot model file has nn:{ROOT_CLASS}", root)
            return
        self.visit(root, nn.getEClassifier(ROOT_CLASS), "/")
        for element, feature, token in self.references:
            self.check_reference(element, feature, token)

    def visit(self, element, eclass: EClass, fragment: str) -> None:
        self.targets[fragment] = eclass
        if element.get(XMI_ID):
            self.targets[element.get(XMI_ID)] = eclass
        for key, text in element.attrib.items():
            if etree.QName(key).namespace:
                continue  # xmi:version, xmi:id, xsi:type, xsi:schemaLocation
            feature = eclass.findEStructuralFeature(key)
            if feature is None:
                self.report("xmi-metamodel", f"{eclass.name} has no feature '{key}'", element)
            elif isinstance(feature, EAttribute):
                for token in (text.split() if feature.many else [text]):
                    self.check_value(element, eclass, feature, token)
            elif feature.containment:
                self.report("xmi-metamodel", f"{eclass.name}.{key} holds elements, not a reference", element)
            else:
                self.references.extend((element, feature, token) for token in text.split())
        positions: dict[str, int] = {}
        for child in element:
            tag = etree.QName(child).localname
            feature = eclass.findEStructuralFeature(tag)
            if feature is None:
                self.report("xmi-metamodel", f"{eclass.name} has no feature '{tag}'", child)
            elif isinstance(feature, EAttribute):
                self.check_value(child, eclass, feature, child.text or "")
            elif not feature.containment:
                self.check_element_reference(child, feature)
            else:
                position = positions.get(tag, 0)
                positions[tag] = position + 1
                child_class = self.element_class(child, feature)
                suffix = f"@{tag}.{position}" if feature.many else f"@{tag}"
                if child_class is not None:
                    self.visit(child, child_class, f"{fragment}/{suffix}")
                else:  # already reported; references to it are not dangling on top of that
                    self.targets[f"{fragment}/{suffix}"] = None

    def check_value(self, element, eclass, feature, text: str) -> None:
        try:
            _parse_value(feature.eType, text)
        except ValueError as exc:
            self.report("xmi-value", f"{eclass.name}.{feature.name}: {exc}", element)

    def element_class(self, element, feature) -> EClass | None:
        """The class of a contained element: its xsi:type, else the feature's type."""
        declared = element.get(XSI_TYPE) or element.get(XMI_TYPE)
        expected = feature.eType
        if declared is None:
            if expected.abstract:
                self.report("xmi-metamodel", f"<{feature.name}> needs an xsi:type: {expected.name} is abstract",
                            element)
                return None
            return expected
        prefix, _, class_name = declared.rpartition(":")
        namespace = element.nsmap.get(prefix or None)
        if namespace != NS_URI:
            self.report("xmi-metamodel", f"type {declared} is not from the pivot metamodel {NS_URI}", element)
            return None
        eclass = nn.getEClassifier(class_name)
        if not isinstance(eclass, EClass):
            self.report("xmi-metamodel", f"unknown class {class_name}", element)
            return None
        if eclass.abstract:
            self.report("xmi-metamodel", f"class {class_name} is abstract", element)
            return None
        if not _conforms(eclass, expected):
            self.report("xmi-metamodel", f"a {class_name} cannot be in {feature.name} (expects {expected.name})",
                        element)
            return None
        return eclass

    def check_element_reference(self, element, feature) -> None:
        href = element.get("href")
        if href is None:
            self.report("xmi-reference", f"<{feature.name}> reference without href", element)
            return
        document, _, fragment = href.rpartition("#")
        if document:
            target = (Path(self.filename).parent / document)
            state = "dangling: no such file" if not target.is_file() else "a pivot model is one self-contained file"
            self.report("xmi-reference", f"{feature.name} points to another file ({href}); {state}", element)
        else:
            self.references.append((element, feature, fragment))

    def check_reference(self, element, feature, token: str) -> None:
        token = token.removeprefix("#")
        if token in self.targets and self.targets[token] is None:
            return  # an element of an unknown class, reported where it is
        target = self.targets.get(token)
        if target is None:
            self.report("xmi-reference", f"dangling reference: {feature.name} refers to '{token}', "
                        "which is no element of this file", element)
        elif not _conforms(target, feature.eType):
            self.report("xmi-reference", f"{feature.name} refers to '{token}', a {target.name}, "
                        f"where a {feature.eType.name} is expected", element)


def _conforms(eclass: EClass, expected: EClass) -> bool:
    return eclass is expected or expected in eclass.eAllSuperTypes()


def _attach_locations(obj, element, filename: str) -> None:
    """Give each model element the line of its XML element (same containment order in both)."""
    set_location(obj, Location(filename, element.sourceline or 0))
    children = {}
    for child in element:
        children.setdefault(etree.QName(child).localname, []).append(child)
    for feature in obj.eClass.eAllReferences():
        if not feature.containment or feature.name not in children:
            continue
        value = obj.eGet(feature)
        for child_obj, child_element in zip(value if feature.many else [value], children[feature.name]):
            if child_obj is not None:
                _attach_locations(child_obj, child_element, filename)
