"""``inventory.where``: a small, safe attribute filter (parsed here, never ``eval``-ed).

Grammar (keywords are case-insensitive)::

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := column op value
                | column ["not"] "in" "(" value ("," value)* ")"
                | column "is" ["not"] "null"
    op         := "==" | "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    column     := a bare name (letters, digits, "_", ".") or a name in `backquotes`
                  or "double quotes"
    value      := 'a string' | a number

Rules: a number compares numerically (the column's text is read as a number; values that
are not numbers never match); a string compares as text, exactly (case-sensitive), except
on date columns, where it is read as a date; text that is not a number compared with a
number is false. A missing value (empty cell) makes a comparison unknown, and ``and``,
``or``, ``not`` follow SQL's three-valued logic: unknown rows are not kept, so neither
``!=`` nor ``not`` keeps a missing value; only ``is null`` finds them. Examples::

    landslide_category == 'landslide' and location_accuracy in ('exact', '1km', '5km')
    fatality_count >= 1 or landslide_trigger != 'unknown'
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lsgh_ee.errors import LsghError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z_])
      | '(?P<str>(?:[^']|'')*)'
      | `(?P<bq>[^`]+)`
      | "(?P<dq>[^"]+)"
      | (?P<op>==|!=|<>|<=|>=|=|<|>|\(|\)|,)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "is", "null"}
_OPS: dict[str, Callable] = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class _Tok:
    kind: str  # num, str, col, op, kw
    text: str
    value: object = None


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read {text[pos:].strip()[:20]!r}")
        pos = m.end()
        if m.group("num") is not None:
            out.append(_Tok("num", m.group("num"), float(m.group("num"))))
        elif m.group("str") is not None:
            out.append(_Tok("str", m.group(0).strip(), m.group("str").replace("''", "'")))
        elif m.group("bq") is not None or m.group("dq") is not None:
            out.append(_Tok("col", m.group("bq") or m.group("dq")))
        elif m.group("op") is not None:
            out.append(_Tok("op", m.group("op")))
        else:
            name = m.group("name")
            kind = "kw" if name.lower() in _KEYWORDS else "col"
            out.append(_Tok(kind, name.lower() if kind == "kw" else name))
    return out


# A parsed expression is a nested tuple: ("or"|"and", a, b), ("not", a),
# ("cmp", column, op, value), ("in", column, values, negated), ("null", column, negated).
Node = tuple


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or tok.kind != kind or (text is not None and tok.text != text):
            want = text or {"col": "a column name", "num": "a number"}.get(kind, kind)
            got = "the end" if tok is None else repr(tok.text)
            raise ValueError(f"expected {want} but found {got}")
        self.i += 1
        return tok

    def at(self, kind: str, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and tok.text == text

    def expr(self) -> Node:
        node = self.term()
        while self.at("kw", "or"):
            self.i += 1
            node = ("or", node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.at("kw", "and"):
            self.i += 1
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Node:
        if self.at("kw", "not"):
            self.i += 1
            return ("not", self.factor())
        if self.at("op", "("):
            self.i += 1
            node = self.expr()
            self.take("op", ")")
            return node
        column = self.take("col").text
        if self.at("kw", "is"):
            self.i += 1
            negated = self.at("kw", "not")
            self.i += negated
            self.take("kw", "null")
            return ("null", column, negated)
        negated = self.at("kw", "not")
        self.i += negated
        if self.at("kw", "in"):
            self.i += 1
            self.take("op", "(")
            values = [self.value()]
            while self.at("op", ","):
                self.i += 1
                values.append(self.value())
            self.take("op", ")")
            return ("in", column, tuple(values), negated)
        if negated:
            raise ValueError("expected 'in' after 'not'")
        tok = self.peek()
        if tok is None or tok.kind != "op" or tok.text not in _OPS:
            found = "the end" if tok is None else repr(tok.text)
            raise ValueError(f"expected an operator (== != < <= > >= in) but found {found}")
        self.i += 1
        return ("cmp", column, tok.text, self.value())

    def value(self) -> object:
        tok = self.peek()
        if tok is None or tok.kind not in ("num", "str"):
            found = "the end" if tok is None else repr(tok.text)
            raise ValueError(f"expected a number or a 'quoted string' but found {found}")
        self.i += 1
        return tok.value


def parse_where(text: str) -> Node:
    """Parse an ``inventory.where`` expression (see the module docstring for the grammar).

    Raises:
        LsghError: the expression does not follow the grammar (one line, with the fix).
    """
    try:
        parser = _Parser(_tokens(text))
        if parser.peek() is None:
            raise ValueError("it is empty")
        node = parser.expr()
        if parser.peek() is not None:
            raise ValueError(f"unexpected {parser.peek().text!r}")  # type: ignore[union-attr]
    except ValueError as exc:
        raise LsghError(
            f"inventory.where {text!r} cannot be read: {exc}; write e.g. "
            "\"landslide_category == 'landslide' and location_accuracy in ('exact', '1km')\" "
            "(quote text values with ' ')"
        ) from exc
    return node


def where_columns(node: Node) -> list[str]:
    """The column names an expression uses, in order of appearance."""
    if node[0] in ("and", "or"):
        return where_columns(node[1]) + where_columns(node[2])
    if node[0] == "not":
        return where_columns(node[1])
    return [node[1]]


def apply_where(frame: pd.DataFrame, text: str, what: str) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` that ``text`` keeps.

    Raises:
        LsghError: a syntax error, or a column the frame does not have (the message lists
            the columns it has).
    """
    node = parse_where(text)
    known = [str(c) for c in frame.columns if c != "geometry"]
    for column in where_columns(node):
        if column not in frame.columns:
            raise LsghError(
                f"inventory.where names column '{column}', which {what} does not have; "
                f"its columns are: {', '.join(known) or 'none'}"
            )
    value, known = _evaluate(node, frame)
    return (value & known).to_numpy(dtype=bool)


def _evaluate(node: Node, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(value, known) of a node: SQL's three-valued logic, so a comparison with a missing
    value is unknown, ``not`` of unknown is unknown, and unknown rows are not kept."""
    kind = node[0]
    if kind in ("and", "or"):
        (a, ka), (b, kb) = _evaluate(node[1], frame), _evaluate(node[2], frame)
        if kind == "and":
            value = a & b & ka & kb
            known = (ka & kb) | (ka & ~a) | (kb & ~b)
        else:
            value = (a & ka) | (b & kb)
            known = (ka & kb) | value
        return value, known
    if kind == "not":
        value, known = _evaluate(node[1], frame)
        return ~value & known, known
    column = frame[node[1]]
    missing = _missing(column)
    everywhere = pd.Series(True, index=frame.index)
    if kind == "null":
        return (~missing if node[2] else missing), everywhere
    if kind == "in":
        hits = pd.Series(False, index=frame.index)
        for value in node[2]:
            hits |= _compare(column, "==", value)
        return (~hits if node[3] else hits) & ~missing, ~missing
    return _compare(column, node[2], node[3]), ~missing


def _missing(column: pd.Series) -> pd.Series:
    missing = column.isna()
    if pd.api.types.is_string_dtype(column) or column.dtype == object:
        missing |= column.astype("string").str.strip().eq("").fillna(True)
    return missing


def _compare(column: pd.Series, op: str, value: object) -> pd.Series:
    """True where the comparison holds; False where it does not or the value is missing or
    not comparable (text that is not a number, compared with a number)."""
    missing = _missing(column)
    if isinstance(value, float):
        left = pd.to_numeric(column, errors="coerce")
        result = _OPS[op](left, value) & left.notna()
    elif pd.api.types.is_datetime64_any_dtype(column):
        try:
            stamp = pd.Timestamp(str(value))
        except ValueError as exc:
            raise LsghError(
                f"inventory.where compares the date column '{column.name}' with {value!r}, "
                "which is not a date; write dates as 'YYYY-MM-DD'"
            ) from exc
        if column.dt.tz is not None and stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        result = _OPS[op](column, stamp)
    else:
        result = _OPS[op](column.astype(str), str(value))
    return pd.Series(np.asarray(result, dtype=bool), index=column.index) & ~missing
