"""How plain values and names are spelled in generated Python source.

:func:`literal` is the one function through which any value, user text
included, reaches generated code. Kind mappings and generators use these, so
they live below both.
"""
from __future__ import annotations

import keyword
import math
import re
from collections.abc import Container

from .spec import is_enum

LINE_WIDTH = 88  # ruff format's default


INDENT = "    "


def identifier(name: str, reserved: Container[str] = frozenset()) -> str:
    """``name`` as a Python identifier that is no keyword and not in ``reserved`` (anything with ``in``)."""
    text = re.sub(r"\W", "_", name) or "_"
    if text[0].isdigit():
        text = "_" + text
    while keyword.iskeyword(text) or text in reserved:
        text += "_"
    return text


def literal(value) -> str:
    """Python source for a plain value (lists become tuples, strings double-quoted)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    raise TypeError(f"no Python literal for {value!r}")


def attribute_value(node, attribute):
    """A node attribute as plain Python: enum literal names, lists, None for an unset optional."""
    if attribute.many:
        return list(getattr(node, attribute.name))
    if attribute.unsettable and not node.eIsSet(attribute):
        return None
    value = getattr(node, attribute.name)
    return value.name if is_enum(attribute) else value


def attribute_default(attribute):
    if attribute.many:
        return []
    if attribute.unsettable:
        return None
    default = attribute.get_default_value()
    return default.name if is_enum(attribute) else default


def same_value(a, b) -> bool:
    """Equal as argument values (an argument equal to its default is not written): 1 == 1.0,
    (3, 3) == [3, 3], but True is not 1 and a list is not a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b or isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b


def wrap_call(head: str, args: list[str], indent: str = "", tail: str = ")", width: int = LINE_WIDTH) -> str:
    """``head`` + arguments + ``tail`` laid out as ``ruff format`` does.

    ``head`` ends with the opening bracket (``"self.c = nn.Conv2d("``). One line
    when it fits; else the arguments on one indented line; else one per line
    with a trailing comma.
    """
    one_line = f"{indent}{head}{', '.join(args)}{tail}"
    if len(one_line) <= width or not args:
        return one_line
    inner = indent + INDENT
    hugged = f"{inner}{', '.join(args)}"
    if len(hugged) <= width:
        return f"{indent}{head}\n{hugged}\n{indent}{tail}"
    return f"{indent}{head}\n" + "".join(f"{inner}{a},\n" for a in args) + f"{indent}{tail}"

