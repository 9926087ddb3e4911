"""A direct reader of the ``.nn`` grammar: the fast path of the importer.

textX (``nn.tx``) stays the definition of the language and reports every
syntax error. Its general PEG machinery costs about a millisecond per
statement, so a 10,000-node file took seconds to read; this module walks the
same rules by hand, in the same order and with the same terminals (textX's
``ID``, ``INT`` and ``STRICTFLOAT`` expressions, keywords as whole words, the
``Comment`` rule skipped between tokens), and returns objects that carry the
attribute names, defaults, class names and positions of textX's, so the
importer's builder reads either. It accepts only what the grammar accepts:
on any mismatch it returns None, and the caller parses with textX, which
reports the error exactly as before.
"""
from __future__ import annotations

import bisect
import re
from typing import ClassVar

# The terminals of nn.tx as textX compiles them (re.MULTILINE is Arpeggio's default flag).
_SKIP = re.compile(r"(?:[\t\n\r ]+|//.*?$|#.*?$|/\*(?:.|\n)*?\*/)*", re.MULTILINE)
_ID = re.compile(r"[^\d\W]\w*\b", re.MULTILINE)
_INT = re.compile(r"[-+]?[0-9]+", re.MULTILINE)
_STRICTFLOAT = re.compile(r"[+-]?(((\d+\.(\d*)?|\.\d+)([eE][+-]?\d+)?)|((\d+)([eE][+-]?\d+)))(?<=[\w\.])(?![\w\.])",
                          re.MULTILINE)
_SPECIAL_FLOAT = re.compile(r"[+-]?(nan|inf)\b", re.MULTILINE)
_SKIP_STARTS = frozenset(" \t\n\r/#")
_TEXT = re.compile(r'"(\\.|[^"\\])*"', re.MULTILINE)
_KEYWORDS = {word: re.compile(rf"{word}\b", re.MULTILINE)
             for word in ("model", "block", "input", "output", "training", "true", "false", "if", "else", "not", "for",
                          "in", "range")}
# BinOp of nn.tx in grammar order: textX's autokwd makes the word operators match whole words only.
_BINARY_OPERATORS = tuple((op, re.compile(rf"{op}\b", re.MULTILINE) if op.isalpha() else None)
                          for op in ("or", "and", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "div", "%"))
_NEGATION = re.compile(r"-(?=[ \t]*\()", re.MULTILINE)


class _Element:
    """A parsed element: the attributes of its textX rule, and its position in the text."""

    _defaults: ClassVar[dict] = {}

    def __init__(self, position: int, end: int, **values):
        for name, default in self._defaults.items():
            value = values[name] if name in values else default() if callable(default) else default
            setattr(self, name, value)
        self._tx_position = position
        self._tx_position_end = end

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self._defaults)})"


def _rule(rule_name: str, /, **defaults) -> type:
    """A class named like the textX rule, with the defaults textX gives unmatched attributes."""
    return type(rule_name, (_Element,), {"_defaults": defaults})


File = _rule("File", model=None)
ModelDecl = _rule("ModelDecl", name="", description=None, elements=list)
BlockDecl = _rule("BlockDecl", name="", params=list, elements=list)
ParamDecl = _rule("ParamDecl", perCall=False, name="", type="", default=None)
GuardDecl = _rule("GuardDecl", condition=None, nodes=list, alternative=list, result=None, otherwise=None)
LoopDecl = _rule("LoopDecl", index="", count=None, nodes=list, initial=None, result=None)
InputDecl = _rule("InputDecl", name="", dtype="", dims=list)
PackedInputDecl = _rule("PackedInputDecl", name="", items=list)
Dim = _rule("Dim", size=0, unknown=False)
OutputDecl = _rule("OutputDecl", refs=list)
NodeDecl = _rule("NodeDecl", name="", selection=None, call=None)
Selection = _rule("Selection", source=None, index=0)
Call = _rule("Call", op="", args=list)
Arg = _rule("Arg", key="", value=None)
ListValue = _rule("ListValue", items=list)
Chain = _rule("Chain", terms=list, ops=list)
PrefixedTerm = _rule("PrefixedTerm", prefixes=list, atom=None)
Group = _rule("Group", inner=None, condition=None, otherwise=None)
BoolValue = _rule("BoolValue", value="")
FloatValue = _rule("FloatValue", value=0.0)
IntValue = _rule("IntValue", value=0)
StringValue = _rule("StringValue", value="")
NameValue = _rule("NameValue", value="")
Ref = _rule("Ref", name="")
TrainingDecl = _rule("TrainingDecl", settings=list)
Setting = _rule("Setting", key="", call=None, values=list)


class _Mismatch(Exception):
    """The text leaves the grammar here (textX will say how)."""


class Reader:
    """One pass over one text; every ``rule`` method returns (element, end) or raises _Mismatch."""

    def __init__(self, text: str):
        self.text = text
        self.furthest = 0   # the furthest position a terminal failed to match at: where the text leaves the grammar

    def mismatch(self, pos: int) -> _Mismatch:
        self.furthest = max(self.furthest, pos)
        return _Mismatch()

    # -- terminals ---------------------------------------------------------------
    def skip(self, pos: int) -> int:
        text = self.text
        if pos < len(text) and text[pos] not in _SKIP_STARTS:
            return pos  # the common case, without a regex call
        return _SKIP.match(text, pos).end()

    def word(self, pos: int) -> str | None:
        """The identifier at ``pos`` (after whitespace), to choose among alternatives that start with one."""
        match = _ID.match(self.text, self.skip(pos))
        return match.group() if match else None

    def token(self, pos: int, literal: str) -> tuple[int, int]:
        """(start, end) of ``literal`` after whitespace and comments."""
        start = self.skip(pos)
        if not self.text.startswith(literal, start):
            raise self.mismatch(start)
        return start, start + len(literal)

    def regex(self, pos: int, pattern: re.Pattern) -> tuple[str, int, int]:
        start = self.skip(pos)
        match = pattern.match(self.text, start)
        if match is None:
            raise self.mismatch(start)
        return match.group(), start, match.end()

    def keyword(self, pos: int, word: str) -> tuple[int, int]:
        _, start, end = self.regex(pos, _KEYWORDS[word])
        return start, end

    def peek(self, pos: int, literal: str) -> bool:
        return self.text.startswith(literal, self.skip(pos))

    # -- rules (nn.tx) ------------------------------------------------------------------
    def file(self) -> File:
        model, end = self.model_decl(0)
        if self.skip(end) != len(self.text):
            raise self.mismatch(self.skip(end))  # textX requires the end of the input here
        return File(model._tx_position, end, model=model)

    def model_decl(self, pos):
        start, pos = self.keyword(pos, "model")
        name, _, pos = self.regex(pos, _ID)
        description = None
        try:
            description, _, after = self.regex(pos, _TEXT)
            pos = after
        except _Mismatch:
            pass
        _, pos = self.token(pos, "{")
        elements, pos = self.many(pos, self.model_element)
        _, pos = self.token(pos, "}")
        return ModelDecl(start, pos, name=name, description=description, elements=elements), pos

    def many(self, pos, rule):
        items = []
        while True:
            try:
                item, pos = rule(pos)
            except _Mismatch:
                return items, pos
            items.append(item)

    def separated(self, pos, rule, at_least_one: bool = False):
        """``rule*[',']`` (or ``rule+[',']``): a separator not followed by an item is left unread."""
        try:
            item, pos = rule(pos)
        except _Mismatch:
            if at_least_one:
                raise
            return [], pos
        items = [item]
        while True:
            try:
                _, after = self.token(pos, ",")
                item, after = rule(after)
            except _Mismatch:
                return items, pos
            items.append(item)
            pos = after

    def first_of(self, pos, *rules):
        for rule in rules:
            try:
                return rule(pos)
            except _Mismatch:
                continue
        raise _Mismatch

    def model_element(self, pos):
        # The alternatives in grammar order; a keyword alternative can only match where the word is its keyword.
        return self.first_of(pos, *self.keyword_rules(pos, KEYWORD_ELEMENTS), self.node_decl)

    def keyword_rules(self, pos, allowed):
        rule = allowed.get(self.word(pos))
        return (getattr(self, rule),) if rule else ()

    def block_decl(self, pos):
        start, pos = self.keyword(pos, "block")
        name, _, pos = self.regex(pos, _ID)
        params = []
        try:  # ('(' params*=ParamDecl[','] ')')?
            _, after = self.token(pos, "(")
            params, after = self.separated(after, self.param_decl)
            _, pos = self.token(after, ")")
        except _Mismatch:
            params = []
        _, pos = self.token(pos, "{")
        elements, pos = self.many(pos, self.block_element)
        _, pos = self.token(pos, "}")
        return BlockDecl(start, pos, name=name, params=params, elements=elements), pos

    def param_decl(self, pos):
        try:  # (perCall?='input')? (PEG: once the word matched, a name must follow)
            start, pos = self.keyword(pos, "input")
            per_call = True
        except _Mismatch:
            start, per_call = None, False
        name, name_start, pos = self.regex(pos, _ID)
        start = name_start if start is None else start
        _, pos = self.token(pos, ":")
        type_name, _, pos = self.regex(pos, _ID)
        default = None
        try:  # ('=' default=Value)?
            _, after = self.token(pos, "=")
            default, pos = self.value(after)
        except _Mismatch:
            pass
        return ParamDecl(start, pos, perCall=per_call, name=name, type=type_name, default=default), pos

    def guard_decl(self, pos):
        start, pos = self.keyword(pos, "if")
        condition, pos = self.value(pos)
        _, pos = self.token(pos, "{")
        nodes, pos = self.many(pos, self.node_decl)
        _, pos = self.token(pos, "}")
        values = {}
        try:  # ('else' ('{' alternative*=NodeDecl (result=Ref '=' otherwise=Ref)? '}' | result=Ref '=' otherwise=Ref))?
            _, after = self.keyword(pos, "else")
            try:
                values, pos = self.else_branch(after)
            except _Mismatch:
                values, pos = self.result_line(after)
        except _Mismatch:
            pass
        return GuardDecl(start, pos, condition=condition, nodes=nodes, **values), pos

    def else_branch(self, pos):
        _, pos = self.token(pos, "{")
        alternative, pos = self.many(pos, self.node_decl)
        values = {"alternative": alternative}
        try:
            found, pos = self.result_line(pos)
            values.update(found)
        except _Mismatch:
            pass
        _, pos = self.token(pos, "}")
        return values, pos

    def result_line(self, pos):
        """``result=Ref '=' otherwise=Ref``."""
        result, pos = self.ref(pos)
        _, pos = self.token(pos, "=")
        otherwise, pos = self.ref(pos)
        return {"result": result, "otherwise": otherwise}, pos

    def loop_decl(self, pos):
        # 'for' index=ID 'in' 'range' '(' count=Value ')' '{' nodes*=NodeDecl initial=Ref '=' result=Ref '}'
        start, pos = self.keyword(pos, "for")
        index, _, pos = self.regex(pos, _ID)
        _, pos = self.keyword(pos, "in")
        _, pos = self.keyword(pos, "range")
        _, pos = self.token(pos, "(")
        count, pos = self.value(pos)
        _, pos = self.token(pos, ")")
        _, pos = self.token(pos, "{")
        nodes, pos = self.many(pos, self.node_decl)
        carried, pos = self.result_line(pos)
        _, pos = self.token(pos, "}")
        return LoopDecl(start, pos, index=index, count=count, nodes=nodes, initial=carried["result"],
                        result=carried["otherwise"]), pos

    def block_element(self, pos):
        return self.first_of(pos, *self.keyword_rules(pos, KEYWORD_BLOCK_ELEMENTS), self.node_decl)

    def block_input_decl(self, pos):
        return self.first_of(pos, self.packed_input_decl, self.input_decl)

    def packed_input_decl(self, pos):
        start, pos = self.keyword(pos, "input")
        name, _, pos = self.regex(pos, _ID)
        _, pos = self.token(pos, "=")
        _, pos = self.token(pos, "(")
        items, pos = self.separated(pos, self.identifier, at_least_one=True)
        _, pos = self.token(pos, ")")
        return PackedInputDecl(start, pos, name=name, items=items), pos

    def identifier(self, pos):
        name, _, end = self.regex(pos, _ID)
        return name, end

    def input_decl(self, pos):
        start, pos = self.keyword(pos, "input")
        name, _, pos = self.regex(pos, _ID)
        values = {"name": name}
        try:  # (':' dtype=ID '[' dims*=Dim[','] ']')?
            _, after = self.token(pos, ":")
            dtype, _, after = self.regex(after, _ID)
            _, after = self.token(after, "[")
            dims, after = self.separated(after, self.dim)
            _, after = self.token(after, "]")
            values.update(dtype=dtype, dims=dims)
            pos = after
        except _Mismatch:
            pass
        return InputDecl(start, pos, **values), pos

    def dim(self, pos):
        try:
            size, start, end = self.regex(pos, _INT)
            return Dim(start, end, size=int(size)), end
        except _Mismatch:
            start, end = self.token(pos, "?")
            return Dim(start, end, unknown=True), end

    def output_decl(self, pos):
        start, pos = self.keyword(pos, "output")
        refs, pos = self.separated(pos, self.ref, at_least_one=True)
        return OutputDecl(start, pos, refs=refs), pos

    def node_decl(self, pos):
        name, start, pos = self.regex(pos, _ID)
        _, pos = self.token(pos, "=")
        try:
            selection, after = self.selection(pos)
            return NodeDecl(start, after, name=name, selection=selection), after
        except _Mismatch:
            call, after = self.call(pos)
            return NodeDecl(start, after, name=name, call=call), after

    def selection(self, pos):
        source, pos = self.ref(pos)
        _, pos = self.token(pos, "[")
        index, _, pos = self.regex(pos, _INT)
        _, pos = self.token(pos, "]")
        return Selection(source._tx_position, pos, source=source, index=int(index)), pos

    def call(self, pos):
        op, start, pos = self.regex(pos, _ID)
        _, pos = self.token(pos, "(")
        args, pos = self.separated(pos, self.arg)
        _, pos = self.token(pos, ")")
        return Call(start, pos, op=op, args=args), pos

    def arg(self, pos):
        try:  # (key=ID '=')?
            key, start, after = self.regex(pos, _ID)
            _, after = self.token(after, "=")
            value, end = self.value(after)
            return Arg(start, end, key=key, value=value), end
        except _Mismatch:
            value, end = self.value(pos)
            return Arg(value._tx_position, end, value=value), end

    def value(self, pos):
        # Value: ListValue | Chain | Scalar. A plain scalar is read once: it is a Chain only when an operator
        # and another term follow it.
        start = self.skip(pos)
        first = self.text[start:start + 1]
        if first == "[":
            return self.list_value(pos)
        if first == "(" or self.prefix_op(start) is not None:
            return self.chain(pos)
        scalar, end = self.scalar(pos)
        chain = self.chain_rest([scalar], end, at_least_one=True)
        return chain if chain is not None else (scalar, end)

    def chain(self, pos):
        # Chain: terms=PrefixedTerm (ops=BinOp terms=Term)* | terms=Group (...)* | terms=Scalar (...)+
        start = self.skip(pos)
        if self.prefix_op(start) is not None:
            first, end = self.prefixed_term(pos)
        elif self.text.startswith("(", start):
            first, end = self.group(pos)
        else:
            first, end = self.scalar(pos)
            chain = self.chain_rest([first], end, at_least_one=True)
            if chain is None:
                raise self.mismatch(end)
            return chain
        return self.chain_rest([first], end, at_least_one=False)

    def chain_rest(self, terms, pos, at_least_one: bool):
        """The (ops=BinOp terms=Term)* part after ``terms[0]``; None when ``at_least_one`` finds none."""
        ops = []
        while True:
            try:
                op, after = self.binary_operator(pos)
                term, after = self.term(after)
            except _Mismatch:
                break
            ops.append(op)
            terms.append(term)
            pos = after
        if at_least_one and not ops:
            return None
        return Chain(terms[0]._tx_position, pos, terms=terms, ops=ops), pos

    def binary_operator(self, pos):
        start = self.skip(pos)
        for op, word in _BINARY_OPERATORS:
            if word is not None:
                match = word.match(self.text, start)
                if match is not None:
                    return op, match.end()
            elif self.text.startswith(op, start):
                return op, start + len(op)
        raise self.mismatch(start)

    def prefix_op(self, start: int) -> str | None:
        if _KEYWORDS["not"].match(self.text, start):
            return "not"
        return "-" if _NEGATION.match(self.text, start) else None

    def prefixed_term(self, pos):
        # PrefixedTerm: prefixes+=PrefixOp atom=Atom
        prefixes, start = [], self.skip(pos)
        pos = start
        while (op := self.prefix_op(self.skip(pos))) is not None:
            prefixes.append(op)
            pos = self.skip(pos) + len(op)
        if not prefixes:
            raise self.mismatch(start)
        atom, end = self.atom(pos)
        return PrefixedTerm(start, end, prefixes=prefixes, atom=atom), end

    def term(self, pos):
        # Term: PrefixedTerm | Group | Scalar (each starts with another token)
        start = self.skip(pos)
        if self.prefix_op(start) is not None:
            return self.prefixed_term(pos)
        return self.atom(pos)

    def atom(self, pos):
        start = self.skip(pos)
        return self.group(pos) if self.text.startswith("(", start) else self.scalar(pos)

    def group(self, pos):
        # Group: '(' inner=Value ('if' condition=Value 'else' otherwise=Value)? ')'
        start, after = self.token(pos, "(")
        inner, after = self.value(after)
        values = {}
        try:
            _, rest = self.keyword(after, "if")
            condition, rest = self.value(rest)
            _, rest = self.keyword(rest, "else")
            otherwise, rest = self.value(rest)
            values, after = {"condition": condition, "otherwise": otherwise}, rest
        except _Mismatch:
            pass
        _, end = self.token(after, ")")
        return Group(start, end, inner=inner, **values), end

    def list_value(self, pos):
        start, pos = self.token(pos, "[")
        items, pos = self.separated(pos, self.value)
        _, pos = self.token(pos, "]")
        return ListValue(start, pos, items=items), pos

    def scalar(self, pos):
        # Scalar: BoolValue | FloatValue | IntValue | StringValue | NameValue. The first character rules
        # out all but a few (a number starts with a sign, a digit or a dot; a string with a quote; a word
        # with a letter), so only those are tried, in grammar order.
        start = self.skip(pos)
        first = self.text[start:start + 1]
        if first == '"':
            alternatives = ((StringValue, _TEXT, str),)
        elif first in _NUMBER_STARTS:
            alternatives = ((FloatValue, _STRICTFLOAT, float), (FloatValue, _SPECIAL_FLOAT, str),
                            (IntValue, _INT, int))
        else:
            word = self.word(start)
            if word in ("true", "false"):
                end = start + len(word)
                return BoolValue(start, end, value=word), end
            if word in ("nan", "inf"):
                end = start + len(word)
                return FloatValue(start, end, value=word), end  # as written, like textX's SpecialFloat match
            alternatives = ((NameValue, _ID, str),)
        for cls, pattern, convert in alternatives:
            match = pattern.match(self.text, start)
            if match is not None:
                return cls(start, match.end(), value=convert(match.group())), match.end()
        raise self.mismatch(start)

    def ref(self, pos):
        name, start, end = self.regex(pos, _ID)
        return Ref(start, end, name=name), end

    def training_decl(self, pos):
        start, pos = self.keyword(pos, "training")
        _, pos = self.token(pos, "{")
        settings, pos = self.many(pos, self.setting)
        _, pos = self.token(pos, "}")
        return TrainingDecl(start, pos, settings=settings), pos

    def setting(self, pos):
        key, start, pos = self.regex(pos, _ID)
        try:
            call, after = self.call(pos)
            return Setting(start, after, key=key, call=call), after
        except _Mismatch:
            values, after = self.separated(pos, self.value, at_least_one=True)
            return Setting(start, after, key=key, values=values), after


_NUMBER_STARTS = frozenset("+-.0123456789")
KEYWORD_ELEMENTS = {"input": "input_decl", "output": "output_decl", "block": "block_decl",
                    "training": "training_decl"}
KEYWORD_BLOCK_ELEMENTS = {"input": "block_input_decl", "output": "output_decl", "if": "guard_decl",
                          "for": "loop_decl"}


class LineColumns:
    """Arpeggio's ``pos_to_linecol`` for a text: 1-based (line, column) of a position."""

    def __init__(self, text: str):
        self.text = text
        self.line_ends = [m.start() for m in re.finditer("\n", text)]

    def __call__(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_left(self.line_ends, pos)
        col = pos
        if line > 0:
            col -= self.line_ends[line - 1]
            if self.text[self.line_ends[line - 1]] in "\n\r":
                col -= 1
        return line + 1, col + 1


def read(text: str) -> File | None:
    """The textX-shaped tree of a ``.nn`` text, or None when the text leaves the grammar (ask textX why)."""
    return read_or_mismatch(text)[0]


def read_or_mismatch(text: str) -> tuple[File | None, int]:
    """``(tree, len(text))``, or ``(None, position)`` with the furthest position where no rule matched."""
    reader = Reader(text)
    try:
        return reader.file(), len(text)
    except _Mismatch:
        return None, reader.furthest


__all__ = ["LineColumns", "read", "read_or_mismatch"]
