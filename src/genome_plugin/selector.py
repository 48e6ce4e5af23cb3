"""The track filter language (``--tracks``): parsed by hand over a closed grammar, never evaluated as code.

A filter compares columns of a track table with quoted strings or numbers::

    biosample_name == "liver"
    strand != "-" and assay_title in ["DNase-seq", "ATAC-seq"]
    name contains "CTCF" or (ontology_curie matches "^UBERON:" and not strand == "-")

Grammar (keywords are lower case; ``not in`` is one operator)::

    filter     := or ;  or := and ("or" and)* ;  and := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | comparison
    comparison := COLUMN ("==" | "!=") literal | COLUMN ("in" | "not in") list
                | COLUMN "contains" STRING | COLUMN "matches" STRING
    list       := "[" literal ("," literal)* [","] "]"  (or the same in parentheses)
    literal    := STRING | NUMBER ;  STRING := "..." or '...' (backslash escapes a quote or a backslash)

``contains`` is a case-sensitive substring test; ``matches`` is a Python regular expression searched
anywhere in the value (anchor it with ``^`` and ``$``; a repeated group may not hold a repeat or a ``|``,
as ``(a+)+`` backtracks exponentially). A string literal is compared with the value's
text, a number with the value as a number. A missing value equals nothing. Column names are read as
the track table spells them (snake case: ``Assay title`` is ``assay_title``).

Nothing here reaches ``eval``, ``DataFrame.query`` or any name lookup: a column name only indexes the
table's columns, so text such as ``@pd.io.common.os.system(...)`` is a syntax error.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from genome_plugin.errors import InputError

__all__ = ["Selector", "SelectorSyntaxError", "UnknownColumnError", "parse_selector", "snake_case"]

#: Longest filter and longest regular expression accepted: track tables are small, filters short,
#: and a cap keeps a pathological pattern from running for long.
MAX_FILTER_LENGTH = 2000
MAX_REGEX_LENGTH = 200
#: Deepest nesting of parentheses and ``not`` (the parser recurses once per level).
MAX_DEPTH = 50

_KEYWORDS = ("and", "or", "not", "in", "contains", "matches")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SYMBOLS = ("==", "!=", "(", ")", "[", "]", ",")
#: What a pandas query user typed instead, and what the grammar has for it.
_HINTS = {
    "&": "unexpected '&' (use and)", "|": "unexpected '|' (use or)", "~": "unexpected '~' (use not)",
    "=": "unexpected '=' (use ==)", ".": 'unexpected \'.\' (no methods: use column contains "text")',
    "@": "unexpected '@' (a filter reads only the track table's columns)",
}


def snake_case(column: str) -> str:
    """A column name as track tables spell it: ``"Assay title"`` -> ``"assay_title"``."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", column.strip()).strip("_").lower()


class SelectorSyntaxError(InputError):
    """A track filter that is not in the grammar; the message gives the position (1-based)."""


class UnknownColumnError(InputError):
    """A track filter names a column the track table lacks; the message lists the columns."""


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # "name", "keyword", "string", "number", a symbol, or "end"
    text: str
    value: str | float | None
    pos: int


@dataclasses.dataclass(frozen=True)
class _Compare:
    column: str
    op: str  # "==", "!=", "in", "not in", "contains", "matches"
    values: tuple[str | float, ...]
    pattern: re.Pattern[str] | None = None


@dataclasses.dataclass(frozen=True)
class _Bool:
    op: str  # "and", "or", "not"
    parts: tuple[_Node, ...]


_Node = _Compare | _Bool


@dataclasses.dataclass(frozen=True)
class Selector:
    """A parsed track filter: :meth:`mask` applies it to a track table's columns."""

    text: str
    _root: _Node

    @property
    def columns(self) -> frozenset[str]:
        """The columns the filter reads."""
        found: set[str] = set()
        stack: list[_Node] = [self._root]
        while stack:
            node = stack.pop()
            if isinstance(node, _Compare):
                found.add(node.column)
            else:
                stack.extend(node.parts)
        return frozenset(found)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` that match.

        Raises
        ------
        UnknownColumnError
            When the filter names a column ``frame`` lacks.
        """
        missing = sorted(self.columns - set(frame.columns))
        if missing:
            msg = (f"track filter {self.text!r}: no track column {missing[0]!r}; "
                   f"columns are {', '.join(map(str, frame.columns))}")
            raise UnknownColumnError(msg)
        return _evaluate(self._root, frame)


def parse_selector(text: str) -> Selector:
    """Parse a track filter (see the module docstring for the grammar).

    Raises
    ------
    SelectorSyntaxError
        For anything outside the grammar: one line naming the position and what was expected.
    """
    if len(text) > MAX_FILTER_LENGTH:
        msg = f"track filter is {len(text)} characters long; at most {MAX_FILTER_LENGTH} are accepted"
        raise SelectorSyntaxError(msg)
    parser = _Parser(text, _tokenize(text))
    if parser.peek().kind == "end":
        raise SelectorSyntaxError(f"track filter {text!r} is empty")
    root = parser.parse_or(0)
    parser.expect("end", "'and', 'or' or the end of the filter")
    return Selector(text, root)


def _error(text: str, pos: int, what: str) -> SelectorSyntaxError:
    shown = repr(text[pos:pos + 20]) if pos < len(text) else "the end"
    return SelectorSyntaxError(f"track filter {text!r}, position {pos + 1}: {what}, found {shown}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in " \t":
            pos += 1
        elif char in "\"'":
            value, end = _read_string(text, pos)
            tokens.append(_Token("string", text[pos:end], value, pos))
            pos = end
        elif symbol := next((s for s in _SYMBOLS if text.startswith(s, pos)), None):
            tokens.append(_Token(symbol, symbol, None, pos))
            pos += len(symbol)
        elif number := _NUMBER.match(text, pos):
            tokens.append(_Token("number", number.group(), float(number.group()), pos))
            pos = number.end()
        elif name := _NAME.match(text, pos):
            word = name.group()
            tokens.append(_Token("keyword" if word in _KEYWORDS else "name", word, word, pos))
            pos = name.end()
        else:
            raise _error(text, pos, _HINTS.get(char, "unexpected character (see the grammar in --help)"))
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The value of the string literal opening at ``start`` and the position after it."""
    quote = text[start]
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and text[pos + 1] in (quote, "\\"):
            out.append(text[pos + 1])
            pos += 2
        elif char == quote:
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise _error(text, start, f"string not closed (no matching {quote})")


class _Parser:
    def __init__(self, text: str, tokens: Sequence[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def at_keyword(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "keyword" and token.text == word

    def expect(self, kind: str, what: str) -> _Token:
        token = self.peek()
        if token.kind != kind:
            raise _error(self.text, token.pos, f"expected {what}")
        return self.take()

    def parse_or(self, depth: int) -> _Node:
        parts = [self.parse_and(depth)]
        while self.at_keyword("or"):
            self.take()
            parts.append(self.parse_and(depth))
        return parts[0] if len(parts) == 1 else _Bool("or", tuple(parts))

    def parse_and(self, depth: int) -> _Node:
        parts = [self.parse_unary(depth)]
        while self.at_keyword("and"):
            self.take()
            parts.append(self.parse_unary(depth))
        return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))

    def parse_unary(self, depth: int) -> _Node:
        token = self.peek()
        if (token.kind == "(" or self.at_keyword("not")) and depth >= MAX_DEPTH:
            raise _error(self.text, token.pos, f"nested deeper than {MAX_DEPTH} levels")
        if self.at_keyword("not"):
            self.take()
            return _Bool("not", (self.parse_unary(depth + 1),))
        if token.kind == "(":
            self.take()
            node = self.parse_or(depth + 1)
            self.expect(")", "')'")
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> _Compare:
        column = snake_case(self.expect("name", "a column name, 'not' or '('").text)
        token = self.take()
        if token.kind in ("==", "!="):
            return _Compare(column, token.kind, (self.literal(),))
        if token.kind == "keyword" and token.text == "not" and self.at_keyword("in"):
            self.take()
            return _Compare(column, "not in", self.literal_list())
        if token.kind == "keyword" and token.text == "in":
            return _Compare(column, "in", self.literal_list())
        if token.kind == "keyword" and token.text in ("contains", "matches"):
            string = self.expect("string", "a quoted string")
            pattern = self.regex(string) if token.text == "matches" else None
            return _Compare(column, token.text, (str(string.value),), pattern)
        raise _error(self.text, token.pos, "expected an operator (== != in 'not in' contains matches)")

    def literal(self) -> str | float:
        token = self.peek()
        if token.kind not in ("string", "number"):
            raise _error(self.text, token.pos, "expected a quoted string or a number")
        self.take()
        assert token.value is not None
        return token.value

    def literal_list(self) -> tuple[str | float, ...]:
        opening = self.peek()
        if opening.kind not in ("[", "("):
            raise _error(self.text, opening.pos, "expected a list in [ ] or ( )")
        self.take()
        closing = "]" if opening.kind == "[" else ")"
        values = [self.literal()]
        while self.peek().kind == ",":
            self.take()
            if self.peek().kind == closing:
                break
            values.append(self.literal())
        self.expect(closing, f"',' or '{closing}'")
        return tuple(values)

    def regex(self, token: _Token) -> re.Pattern[str]:
        pattern = str(token.value)
        if len(pattern) > MAX_REGEX_LENGTH:
            raise _error(self.text, token.pos, f"regular expression longer than {MAX_REGEX_LENGTH} characters")
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            raise _error(self.text, token.pos, f"bad regular expression ({err})") from None
        if _repeats_a_choice_or_repeat(pattern):
            raise _error(self.text, token.pos, "a repeated group holds a repeat or a choice, as in (a+)+ or (a|b)*, "
                                               "which can take exponential time; write it without one")
        return compiled


def _repeats_a_choice_or_repeat(pattern: str) -> bool:
    """Whether a quantified group contains a quantifier or ``|``: the patterns that backtrack exponentially.

    Python's ``re`` has no time limit, so ``(a+)+$`` over a long value could run for hours.
    """
    groups: list[bool] = []  # per open group: holds a quantifier or a choice
    closed = False  # the previous item was a group holding one
    pos = 0
    while pos < len(pattern):
        char = pattern[pos]
        if char == "\\":
            pos += 2
            closed = False
            continue
        if char == "[":  # a character class: skip to its closing bracket
            end = pos + 1 + (pattern[pos + 1:pos + 2] == "^")
            end += pattern[end:end + 1] == "]"
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            pos = end + 1
            closed = False
            continue
        quantifier = char in "*+?{"
        if quantifier and closed and char != "?":
            return True
        if quantifier and char == "?" and pos > 0 and pattern[pos - 1] == "(":
            quantifier = False  # (?:...), (?P<...>): group syntax, not a quantifier
        if char == "(":
            groups.append(False)
        elif char == ")" and groups:
            inner = groups.pop()
            closed = inner
            if inner and groups:
                groups[-1] = True
            pos += 1
            continue
        elif (quantifier or char == "|") and groups:
            groups[-1] = True
        closed = False
        pos += 1
    return False


def _evaluate(node: _Node, frame: pd.DataFrame) -> np.ndarray:
    if isinstance(node, _Bool):
        masks = [_evaluate(part, frame) for part in node.parts]
        if node.op == "not":
            return ~masks[0]
        return np.logical_and.reduce(masks) if node.op == "and" else np.logical_or.reduce(masks)
    column = frame[node.column]
    present = column.notna().to_numpy()
    if node.op in ("contains", "matches"):
        text = column.astype(str)
        if node.op == "contains":
            hits = [node.values[0] in value for value in text]
        else:
            assert node.pattern is not None
            hits = [node.pattern.search(value) is not None for value in text]
        return np.asarray(hits, dtype=bool) & present
    equal = np.zeros(len(frame), dtype=bool)
    numbers = None
    for value in node.values:
        if isinstance(value, float):
            if numbers is None:
                numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
            equal |= numbers == value
        else:
            equal |= (column.astype(str) == value).to_numpy() & present
    return ~equal if node.op in ("!=", "not in") else equal
