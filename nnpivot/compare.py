"""Structural comparison of two pivot models.

Walks both containment trees in parallel, generically over the metamodel, so a
feature added to ``nn.ecore`` is compared without touching this module:

* attributes by value (enum literals by name, lists in order); for an
  unsettable attribute also whether it is set at all (``paddingIdx`` 0 is not
  an unset ``paddingIdx``); transient features (``inferredShape``) are skipped;
* contained elements (nodes, blocks, training, optimizer parameters) matched
  by name, or key, or position, and reported when missing, extra or reordered;
* references (inputs, outputs, a call's block) by the qualified name of their
  target: ``x`` for a node of the model, ``Residual.x`` for a node of block
  ``Residual``, so an input from another graph is a difference.
"""
from __future__ import annotations

import math

from pyecore.ecore import EAttribute, EEnumLiteral

from nnpivot.kinds import kind_of, snake
from nnpivot.metamodel import is_kind

_UNSET = object()


def differences(a, b) -> list[str]:
    """Readable differences between two models; empty when they are equal."""
    found: list[str] = []
    _compare(a, b, "model", found)
    return found


def models_equal(a, b) -> bool:
    return not differences(a, b)


def _compare(x, y, where: str, found: list[str]) -> None:
    if x.eClass is not y.eClass:
        found.append(f"{where}: {x.eClass.name} != {y.eClass.name}")
        return
    # An attribute bound to an expression (inside a parameterised block) takes its value from the binding,
    # compared as the node's containment; what the plain attribute holds then means nothing.
    bound = {b.feature for b in getattr(x, "bindings", ())} | {b.feature for b in getattr(y, "bindings", ())}
    for feature in persistent_features(x.eClass):
        if isinstance(feature, EAttribute):
            if feature.name in bound:
                continue
            left, right = _attribute(x, feature), _attribute(y, feature)
            if not _same(left, right):
                found.append(f"{where}: {feature.name} {_show(left)} != {_show(right)}")
        elif feature.containment:
            _compare_children(x, y, feature, where, found)
        else:
            left, right = _targets(x, feature), _targets(y, feature)
            if left != right:
                found.append(f"{where}: {feature.name} {_show(left)} != {_show(right)}")


def persistent_features(eclass) -> list:
    """The features a model keeps (not transient, not derived), inherited ones first as in EMF.

    pyecore's ``eAllStructuralFeatures`` lists a class's own features first;
    EMF's order is the one files and comparisons follow.
    """
    features: list = []
    for supertype in eclass.eSuperTypes:
        features.extend(f for f in persistent_features(supertype) if f not in features)
    features.extend(f for f in eclass.eStructuralFeatures if not (f.transient or f.derived))
    return features


def _attribute(obj, feature):
    if feature.unsettable and not obj.eIsSet(feature):
        return _UNSET
    value = obj.eGet(feature)
    if feature.many:
        return [_plain(v) for v in value]
    return _plain(value)


class _Literal(str):
    """An enum literal's name: shown bare, unlike a string value."""


def _plain(value):
    return _Literal(value.name) if isinstance(value, EEnumLiteral) else value


def _same(left, right) -> bool:
    if left is _UNSET or right is _UNSET:
        return left is right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    if isinstance(left, bool) != isinstance(right, bool):
        return False  # True == 1 in Python, not in a model
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    return left == right


def _show(value) -> str:
    if value is _UNSET:
        return "unset"
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def _label(obj) -> str:
    """How an element is named in a difference: 'node c1', 'block Res, node a', 'training'."""
    feature = obj.eContainmentFeature()
    container = obj.eContainer()
    if feature is None:
        return "model"
    own = _own_label(obj, feature)
    if container is None or container.eContainmentFeature() is None:
        return own
    return f"{_label(container)}, {own}"


def _own_label(obj, feature) -> str:
    key = _key(obj)
    singular = feature.name[:-1] if feature.many and feature.name.endswith("s") else feature.name
    if not feature.many:
        return singular
    if isinstance(key, str):
        return f"{singular} {key}"
    return f"{singular} #{obj.eContainer().eGet(feature).index(obj)}"


def _key(obj):
    """What identifies a contained element among its siblings: its name or key, else None."""
    for attribute in ("name", "key"):
        feature = obj.eClass.findEStructuralFeature(attribute)
        if feature is not None and obj.eGet(feature):
            return obj.eGet(feature)
    return None


def _compare_children(x, y, feature, where: str, found: list[str]) -> None:
    if not feature.many:
        left, right = x.eGet(feature), y.eGet(feature)
        if (left is None) != (right is None):
            found.append(f"{where}: {feature.name} {'missing' if left is None else 'present'} != "
                         f"{'missing' if right is None else 'present'}")
        elif left is not None:
            _compare(left, right, _label(left), found)
        return
    left, right = list(x.eGet(feature)), list(y.eGet(feature))
    left_keys, right_keys = [_key(c) for c in left], [_key(c) for c in right]
    keyed = None not in left_keys and None not in right_keys \
        and len(set(left_keys)) == len(left_keys) and len(set(right_keys)) == len(right_keys)
    if not keyed:  # unnamed or ambiguous children: compare by position
        if len(left) != len(right):
            found.append(f"{where}: {len(left)} {feature.name} != {len(right)}")
        for a, b in zip(left, right):
            _compare(a, b, _label(a), found)
        return
    if left_keys != right_keys:
        missing = [k for k in left_keys if k not in right_keys]
        extra = [k for k in right_keys if k not in left_keys]
        if missing or extra:
            detail = "; ".join(part for part in (
                f"only in the first: {', '.join(map(str, missing))}" if missing else "",
                f"only in the second: {', '.join(map(str, extra))}" if extra else "") if part)
        else:
            detail = f"order {_show(left_keys)} != {_show(right_keys)}"
        found.append(f"{where}: {feature.name} differ ({detail})")
    by_key = dict(zip(right_keys, right))
    for child in left:
        if _key(child) in by_key:
            _compare(child, by_key[_key(child)], _label(child), found)


def _targets(obj, feature) -> list[str] | str:
    value = obj.eGet(feature)
    if feature.many:
        return [_qualified(t) for t in value]
    return _qualified(value) if value is not None else "none"


def _qualified(target) -> str:
    """A reference target by name, qualified by its block: 'x', 'Residual.x', '(detached) x'."""
    name = _key(target) or target.eClass.name
    container = target.eContainer()
    if container is None:
        return f"(detached) {name}"
    if container.eContainer() is None:  # in the model itself
        return name
    return f"{_key(container) or container.eClass.name}.{name}"


# --- one node against another -------------------------------------------------------------------

def sharing_difference(node, owner) -> str:
    """How ``node`` is not the same layer as ``owner``, or ''."""
    if node.eClass is not owner.eClass:
        return f"is a {_kind_name(node)}, not a {_kind_name(owner)}"
    if is_kind(node, "BlockCall"):
        if node.block is not owner.block:
            names = [b.name if b is not None else "none" for b in (node.block, owner.block)]
            return f"calls block {names[0]}, not {names[1]}"
        found: list[str] = []
        _compare_children(node, owner, node.eClass.findEStructuralFeature("arguments"), "call", found)
        return "gives the block other arguments" if found else ""
    for feature in persistent_features(node.eClass):
        if not isinstance(feature, EAttribute) or feature.name == "name":
            continue
        mine, theirs = _sharing_value(node, feature), _sharing_value(owner, feature)
        if mine != theirs:
            return f"differs in {snake(feature.name)} ({_sharing_text(mine)} here, {_sharing_text(theirs)} there)"
    return ""


def _kind_name(node) -> str:
    kind = kind_of(node)
    return kind.keyword if kind else "block call" if is_kind(node, "BlockCall") else snake(node.eClass.name)


def _sharing_value(node, feature):
    if feature.unsettable and not node.eIsSet(feature):
        return None
    value = node.eGet(feature)
    if feature.many:
        return [getattr(v, "name", v) for v in value]
    return getattr(value, "name", value)


def _sharing_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "unset" if value is None else str(value)
