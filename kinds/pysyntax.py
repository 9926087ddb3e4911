"""How plain values and names are spelled in generated Python source.

:func:`literal` is the one function through which any value, user text
included, reaches generated code. Kind mappings and generators use these, so
they live below both.
"""
from __future__ import annotations

import keyword
import math
import re
import unicodedata
from collections.abc import Container
from functools import cache

from .spec import is_enum

LINE_WIDTH = 88  # ruff format's default


INDENT = "    "

# Builtins the generated classes call (``super().__init__()``, ``float("nan")``): no variable may take them.
CODE_BUILTINS = frozenset({"super", "float"})


# The characters Python reads as something other than plain text inside a literal or comment get an escape.
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A comment on line 1 or 2 matching PEP 263 would set the file's encoding: its separator is written escaped.
_ENCODING_DECLARATION = re.compile(r"(?<=coding)[:=]")


def _escape(char: str) -> str:
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                                  else f"\\U{code:08x}")


def _escaped(text: str, keep: str = "") -> str:
    """``text`` with backslashes, quotes and every non-printable character (line breaks, NUL, lone surrogates,
    U+2028...) escaped as in a Python string literal; characters in ``keep`` stay as they are."""
    if text.isprintable() and "\\" not in text and '"' not in text:
        return text
    out = []
    for char in text:
        if char == "\\" or char == '"':
            out.append("\\" + char)
        elif char.isprintable() or char in keep:
            out.append(char)
        else:
            out.append(_escape(char))
    return "".join(out)


class SymbolicInt(int):
    """A number that is written as a Python expression: an attribute of a parameterised block computed
    from its parameters (``planes * 4``). It computes as the number it holds for one call."""

    source: str

    def __new__(cls, value, source: str):
        number = super().__new__(cls, value)
        number.source = source
        return number


class SymbolicFloat(float):
    """A float written as a Python expression (see SymbolicInt)."""

    source: str

    def __new__(cls, value, source: str):
        number = super().__new__(cls, value)
        number.source = source
        return number


def symbolic(value, source: str):
    """``value`` written as ``source`` in generated code; None for a value no number can stand for."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return SymbolicInt(value, source)
    if isinstance(value, float):
        return SymbolicFloat(value, source)
    return None


def is_symbolic(value) -> bool:
    if isinstance(value, (list, tuple)):
        return any(is_symbolic(v) for v in value)
    return isinstance(value, (SymbolicInt, SymbolicFloat))


def literal(value) -> str:
    """Python source for a plain value (lists become tuples, strings double-quoted and escaped).

    THE quoting path of generated code: any user text becomes a one-line literal
    here (or a docstring or a comment below), whatever characters it holds. A
    symbolic number is its expression, which the generator built from literals
    and identifiers.
    """
    if isinstance(value, (SymbolicInt, SymbolicFloat)):
        return value.source
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, str):
        return '"' + _escaped(value) + '"'
    if isinstance(value, (list, tuple)):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    raise TypeError(f"no Python literal for {value!r}")


def docstring(text: str) -> str:
    """A triple-quoted literal of ``text`` keeping its line breaks (a class or function docstring).

    A quote is escaped only where it could end the literal: before another quote or at the end.
    """
    if text.replace("\n", "").isprintable() and "\\" not in text and '"' not in text:
        return '"""' + text + '"""'
    out = []
    for index, char in enumerate(text):
        if char == '"':
            out.append('\\"' if index + 1 == len(text) or text[index + 1] == '"' else char)
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n" or char.isprintable():
            out.append(char)
        else:
            out.append(_escape(char))
    return '"""' + "".join(out) + '"""'


def comment(text: str) -> str:
    """``text`` safe to put after ``#`` on one line: line breaks, NUL and other non-printable characters
    escaped, and no PEP 263 encoding declaration."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else _escape(char) for char in text)
    return _ENCODING_DECLARATION.sub(lambda m: _escape(m.group()), text)


def fstring_text(text: str) -> str:
    """``text`` as the literal part of a double-quoted f-string (escaped, braces doubled)."""
    return _escaped(text).replace("{", "{{").replace("}", "}}")


# --- names ---------------------------------------------------------------------

def _identifier_text(name: str) -> str:
    """``name`` in the form Python reads it (NFKC), characters an identifier cannot hold replaced by ``_``."""
    text = unicodedata.normalize("NFKC", name)
    if not text.isidentifier():
        text = "".join(char if ("_" + char).isidentifier() else "_" for char in text) or "_"
        if not text[0].isidentifier():
            text = "_" + text
        text = unicodedata.normalize("NFKC", text)
    return text if text.isidentifier() else "_" + re.sub(r"[^A-Za-z0-9_]", "_", text)


def identifier(name: str, reserved: Container[str] = frozenset()) -> str:
    """``name`` as a Python identifier that is no keyword and not in ``reserved`` (anything with ``in``):
    underscores are appended until it is free (for fresh names: pass the names taken so far)."""
    text = _identifier_text(name)
    while keyword.iskeyword(text) or text in reserved:
        text += "_"
    return text


@cache
def _trailing(reserved: frozenset[str]) -> dict[str, int]:
    """Stem -> the most trailing underscores a reserved name with that stem has (``requires_grad_``: 1)."""
    most: dict[str, int] = {}
    for name in reserved:
        stem = name.rstrip("_")
        most[stem] = max(most.get(stem, 0), len(name) - len(stem))
    return most


def python_name(name: str, reserved: frozenset[str]) -> str:
    """The identifier of a user's name (a node, an input) in generated code, avoiding ``reserved``.

    One rule, without knowing the other names: underscores are appended by the
    name's stem (the name without trailing underscores). A stem of a reserved
    name gets one more than the reserved names with it have (``self`` ->
    ``self_``, ``requires_grad`` -> ``requires_grad__``); a keyword, an empty
    stem (``_`` holds the outputs nobody reads) or one that starts with an
    underscore (the frameworks' private attributes) gets one. All names with a
    stem move alike, so distinct names stay distinct, and no result is reserved.
    """
    text = _identifier_text(name)
    stem = text.rstrip("_")
    most = _trailing(reserved).get(stem)
    shift = most + 1 if most is not None else 1 if not stem or stem.startswith("_") or keyword.iskeyword(stem) else 0
    return text + "_" * shift


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
    (3, 3) == [3, 3], but True is not 1 and a list is not a number. An expression is always written."""
    if is_symbolic(a) or is_symbolic(b):
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b or isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b


def wrap_append(listed: str, head: str, args: list[str], indent: str = "") -> str:
    """``listed.append(head args...))`` laid out as ``ruff format`` does: one line when it fits, else the call
    on its own lines one level in (``head`` ends with the call's opening bracket)."""
    one_line = f"{indent}{listed}.append({head}{', '.join(args)}))"
    if len(one_line) <= LINE_WIDTH:
        return one_line
    return f"{indent}{listed}.append(\n{wrap_call(head, args, indent + INDENT)}\n{indent})"


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

