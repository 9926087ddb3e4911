"""Pivot model -> XMI 2.0, the interchange format of Eclipse EMF.

The file is written by a pyecore ``XMIResource`` whose element builder is
replaced by a canonical one, because pyecore's own serializer

* writes features in the order they happened to be set (so the same model
  built twice gives two different files), and
* drops an unsettable attribute that is set to its default value
  (``Embedding.paddingIdx = 0`` would come back unset).

The canonical builder writes features in metamodel order and follows EMF's
``eIsSet`` rule: an unsettable attribute when it was set, a many-valued
feature when it is not empty, any other attribute when it differs from its
default. References are EMF's default URI fragments (``//@nodes.3``,
``//@blocks.0/@nodes.1``), so EMF and nnpivot read each other's files.
"""
from __future__ import annotations

import io
import math
from functools import partial
from pathlib import Path

from lxml.etree import Element, QName, SubElement, tostring
from pyecore.ecore import EAttribute
from pyecore.resources import URI
from pyecore.resources.xmi import XMI, XMI_URL, XSI, XSI_URL, XMIResource

from nnpivot.compare import persistent_features
from nnpivot.diagnostics import NNPivotError, error
from nnpivot.fileio import refuse_existing, write_atomic


class _StreamURI(URI):
    """A URI whose output stream is owned by the caller (pyecore never closes it)."""

    def __init__(self, stream, name: str):
        super().__init__(name)
        self._stream = stream

    def create_outstream(self):
        return self._stream

    def close_stream(self):
        pass


def is_set(obj, feature) -> bool:
    """EMF's ``eIsSet``: what a conforming serializer writes."""
    if feature.unsettable:
        return obj.eIsSet(feature)
    value = obj.eGet(feature)
    if feature.many:
        return len(value) > 0
    if isinstance(feature, EAttribute):
        return value is not None and value != feature.get_default_value()
    return value is not None


class CanonicalXMIResource(XMIResource):
    """An XMIResource that writes one model deterministically, the EMF way."""

    def __init__(self, uri=None):
        super().__init__(uri)
        self._fragments: dict = {}

    def save(self, output=None, options=None):
        """Write the one root the way EMF lays a file out (xmi:version first, then features)."""
        if len(self.contents) != 1:
            raise ValueError("a pivot XMI file holds exactly one model")
        model = self.contents[0]
        self.options = options or {}
        self._fragments = {}
        self._index(model, "/")  # EMF's fragment of a single root
        self.prefixes.clear()
        self.reverse_nsmap.clear()
        body = self._go_across(model)
        namespaces = {XMI: XMI_URL, XSI: XSI_URL, **{k: v for k, v in self.prefixes.items() if k != XSI}}
        root = Element(body.tag, nsmap=namespaces)
        root.attrib[QName(XMI_URL, "version")] = "2.0"
        root.attrib.update(body.attrib)
        root[:] = body[:]
        stream = self.open_out_stream(output)
        stream.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        stream.write(tostring(root, pretty_print=True, encoding="UTF-8"))
        stream.flush()

    def _index(self, obj, fragment: str) -> None:
        self._fragments[obj] = fragment
        for feature in persistent_features(obj.eClass):
            if not getattr(feature, "containment", False):
                continue
            value = obj.eGet(feature)
            children = list(value) if feature.many else ([value] if value is not None else [])
            for position, child in enumerate(children):
                suffix = f"@{feature.name}.{position}" if feature.many else f"@{feature.name}"
                self._index(child, f"{fragment}/{suffix}")

    def _reference(self, owner, feature, target) -> str:
        fragment = self._fragments.get(target)
        if fragment is None:
            owner_name = getattr(owner, "name", None) or owner.eClass.name
            target_name = getattr(target, "name", None) or target.eClass.name
            raise NNPivotError([error(
                "xmi-reference",
                f"{owner_name}: {feature.name} refers to {target_name}, which is not part of the saved model")])
        return fragment

    def _go_across(self, obj, serialize_default=False):
        containment = obj.eContainmentFeature()
        if containment is not None:
            node = Element(containment.name)
            if containment.eType is not obj.eClass:
                self._add_explicit_type(node, obj)
        else:
            self.register_eobject_epackage(obj)
            node = Element(QName(obj.eClass.ePackage.nsURI, obj.eClass.name))
        for feature in persistent_features(obj.eClass):
            if not is_set(obj, feature):
                continue
            value = obj.eGet(feature)
            if isinstance(feature, EAttribute):
                self._write_attribute(node, feature, value)
            elif feature.containment:
                for child in (value if feature.many else [value]):
                    node.append(self._go_across(child))
            else:
                targets = value if feature.many else [value]
                node.attrib[feature.name] = " ".join(self._reference(obj, feature, t) for t in targets)
        return node

    @staticmethod
    def _write_attribute(node, feature, value) -> None:
        to_string = feature.eType.to_string
        if feature.eType.name == "EDouble":
            to_string = partial(_java_double, to_string)
        if not feature.many:
            node.attrib[feature.name] = to_string(value)
            return
        texts = [to_string(v) for v in value]
        if all(t and not any(c.isspace() for c in t) for t in texts):
            node.attrib[feature.name] = " ".join(texts)  # compact form, as EMF reads it
        else:
            for text in texts:  # strings with spaces: one element per value
                SubElement(node, feature.name).text = text


def _java_double(to_string, value) -> str:
    """A double as EMF writes it: Java spells the values without digits NaN, Infinity and -Infinity."""
    if math.isfinite(value):
        return to_string(value)
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def _xmi_bytes(model, name: str) -> bytes:
    buffer = io.BytesIO()
    resource = CanonicalXMIResource(URI(name))
    previous_resource = model._eresource  # saving must not move the model out of its resource
    resource.append(model)
    try:
        resource.save(output=_StreamURI(buffer, name))
    except ValueError as exc:  # lxml refuses text XML cannot carry (control characters)
        raise NNPivotError([error("xmi-value", f"the model cannot be written as XML: {exc}")]) from None
    finally:
        resource.contents.remove(model)
        model._eresource = previous_resource
    return buffer.getvalue()


def to_xmi_string(model) -> str:
    """The XMI text of ``model``."""
    return _xmi_bytes(model, "model.xmi").decode("utf-8")


def save_xmi(model, path, force: bool = False) -> Path:
    """Write ``model`` as XMI to ``path`` atomically; never over an existing file unless ``force``.

    The whole file is built in memory first, so a model that cannot be saved
    (a reference outside the model) leaves no file behind.
    """
    refuse_existing(path, force)
    return write_atomic(path, _xmi_bytes(model, str(path)), force=force)
