"""The run search language: a filter expression and order-by clauses, parsed to a small AST.

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := field op value
                | field ["not"] "in" "(" value ("," value)* ")"
                | field "is" ["not"] "null"
    field      := ("metrics" | "params" | "tags") "." key | ["attributes" "."] attribute
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | ["not"] ("like" | "ilike")
    value      := number | 'string' | "string"

A key with spaces or operators in it is written in backticks: ``metrics.`val loss` < 0.3``.
Backends compile the AST; they never see the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from closedloop.errors import FilterSyntaxError

__all__ = [
    "ATTRIBUTES",
    "And",
    "Comparison",
    "Field",
    "FilterExpr",
    "Not",
    "Or",
    "OrderBy",
    "parse_filter",
    "parse_order_by",
]

FieldKind = Literal["metric", "param", "tag", "attribute"]

#: Run attributes that can be filtered and sorted on, with their value type.
ATTRIBUTES: dict[str, Literal["str", "num"]] = {
    "id": "str",
    "run_id": "str",
    "name": "str",
    "status": "str",
    "user": "str",
    "start_time": "num",
    "end_time": "num",
    "experiment_id": "num",
}
_PREFIXES: dict[str, FieldKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_COMPARATORS = {"=", "==", "!=", "<>", "<", "<=", ">", ">="}
_STRING_OPS = {"=", "!=", "like", "ilike", "not like", "not ilike", "in", "not in"}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<bq>`[^`]+`)
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<punct>[(),.])
      | (?P<word>[A-Za-z_][\w\-:/]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Field:
    """What a comparison looks at: ``metric``/``param``/``tag`` with a key, or an attribute."""

    kind: FieldKind
    key: str

    def __str__(self) -> str:
        prefix = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": ""}[self.kind]
        return f"{prefix}.{self.key}" if prefix else self.key


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; ``value`` is a tuple for ``in``/``not in`` and None for null tests."""

    field: Field
    op: str
    value: str | float | tuple[str | float, ...] | None


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` hold."""

    items: tuple[FilterExpr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items`` holds."""

    items: tuple[FilterExpr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``item`` does not hold."""

    item: FilterExpr


FilterExpr = Comparison | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One sort key."""

    field: Field
    ascending: bool


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterSyntaxError(
                f"unexpected character {text[pos:].lstrip()[:1]!r} at position {pos} in {text!r}",
                hint="quote string values ('rf') and backtick keys with spaces (`my key`)",
            )
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def error(self, what: str) -> FilterSyntaxError:
        got = self.tokens[self.i][1] if self.i < len(self.tokens) else "end of input"
        return FilterSyntaxError(
            f"{what}, got {got!r} in filter {self.text!r}",
            hint="example: metrics.auc > 0.8 and params.model = 'rf'",
        )

    def peek_word(self, offset: int = 0) -> str | None:
        j = self.i + offset
        if j < len(self.tokens) and self.tokens[j][0] == "word":
            return self.tokens[j][1].lower()
        return None

    def take(self, kind: str, value: str | None = None) -> str | None:
        if self.i < len(self.tokens):
            k, v = self.tokens[self.i]
            if k == kind and (value is None or v.lower() == value):
                self.i += 1
                return v
        return None

    def parse(self) -> FilterExpr:
        expr = self.expr()
        if self.i != len(self.tokens):
            raise self.error("expected 'and', 'or' or the end")
        return expr

    def expr(self) -> FilterExpr:
        items = [self.and_expr()]
        while self.take("word", "or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> FilterExpr:
        items = [self.unary()]
        while self.take("word", "and"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> FilterExpr:
        if self.take("word", "not"):
            return Not(self.unary())
        if self.take("punct", "("):
            inner = self.expr()
            if not self.take("punct", ")"):
                raise self.error("expected ')'")
            return inner
        return self.comparison()

    def key(self) -> str:
        bq = self.take("bq")
        if bq is not None:
            return bq[1:-1]
        s = self.take("str")
        if s is not None:
            return _unquote(s)
        w = self.take("word")
        if w is None:
            raise self.error("expected a key")
        parts = [w]
        while self.take("punct", "."):  # dotted keys such as metrics.val.auc
            nxt = self.take("word") or self.take("num")
            if nxt is None:
                raise self.error("expected a key after '.'")
            parts.append(nxt)
        return ".".join(parts)

    def field(self) -> Field:
        word = self.peek_word()
        if (
            word in _PREFIXES
            and self.i + 1 < len(self.tokens)
            and self.tokens[self.i + 1]
            == (
                "punct",
                ".",
            )
        ):
            self.i += 2
            kind = _PREFIXES[word]
            key = self.key()
        else:
            kind, key = "attribute", self.key()
        if kind == "attribute":
            key = key.lower()
            if key not in ATTRIBUTES:
                raise FilterSyntaxError(
                    f"unknown run attribute {key!r} in {self.text!r}",
                    hint="use metrics.<key>, params.<key>, tags.<key> or one of "
                    + ", ".join(sorted(ATTRIBUTES)),
                )
            if key == "run_id":
                key = "id"
        return Field(kind, key)

    def value(self) -> str | float:
        s = self.take("str")
        if s is not None:
            return _unquote(s)
        n = self.take("num")
        if n is not None:
            return float(n)
        raise self.error("expected a number or a quoted string")

    def comparison(self) -> Comparison:
        fld = self.field()
        if self.take("word", "is"):
            negated = bool(self.take("word", "not"))
            if not self.take("word", "null"):
                raise self.error("expected 'null'")
            return _checked(Comparison(fld, "is not null" if negated else "is null", None), self)
        negated = bool(self.take("word", "not"))
        word = self.peek_word()
        if word in ("in", "like", "ilike"):
            self.i += 1
            op = f"not {word}" if negated else word
            if word == "in":
                if not self.take("punct", "("):
                    raise self.error("expected '(' after 'in'")
                values = [self.value()]
                while self.take("punct", ","):
                    values.append(self.value())
                if not self.take("punct", ")"):
                    raise self.error("expected ')' to close the 'in' list")
                return _checked(Comparison(fld, op, tuple(values)), self)
            return _checked(Comparison(fld, op, self.value()), self)
        if negated:
            raise self.error("expected 'in', 'like' or 'ilike' after 'not'")
        op_tok = self.take("op")
        if op_tok is None:
            raise self.error(f"expected an operator after {fld}")
        op = {"==": "=", "<>": "!="}.get(op_tok, op_tok)
        return _checked(Comparison(fld, op, self.value()), self)


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s[1:-1])


def _checked(c: Comparison, p: _Parser) -> Comparison:
    numeric = c.field.kind == "metric" or (
        c.field.kind == "attribute" and ATTRIBUTES[c.field.key] == "num"
    )
    if c.op in ("is null", "is not null"):
        return c
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if numeric:
        if c.op in ("like", "ilike", "not like", "not ilike"):
            raise FilterSyntaxError(
                f"{c.field} is numeric; {c.op!r} applies to strings", hint="use < <= = != >= >"
            )
        if not all(isinstance(v, float) for v in values):
            raise FilterSyntaxError(
                f"{c.field} is numeric but was compared with a string in {p.text!r}",
                hint=f"write a number: {c.field} {c.op} 0.8",
            )
    else:
        if c.op not in _STRING_OPS:
            raise FilterSyntaxError(
                f"{c.field} is a string; {c.op!r} is not supported on strings",
                hint="strings support =, !=, like, ilike, in, not in",
            )
        if not all(isinstance(v, str) for v in values):
            raise FilterSyntaxError(
                f"{c.field} holds strings; quote the value in {p.text!r}",
                hint=f"{c.field} {c.op} '{values[0]:g}'" if isinstance(values[0], float) else None,
            )
    return c


def parse_filter(text: str | None) -> FilterExpr | None:
    """Parse a filter expression; blank text means no filter.

    Raises:
        FilterSyntaxError: The text does not follow the grammar, names an unknown attribute,
            or compares a numeric field with a string (or the reverse).
    """
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def parse_order_by(clauses: str | Sequence[str] | None) -> list[OrderBy]:
    """Parse order-by clauses such as ``["metrics.auc DESC", "start_time"]``.

    A single string may hold several clauses separated by commas.

    Raises:
        FilterSyntaxError: A clause names an unknown field or direction.
    """
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [c for c in clauses.split(",") if c.strip()]
    result: list[OrderBy] = []
    for clause in clauses:
        p = _Parser(clause)
        fld = p.field()
        ascending = True
        if p.take("word", "desc"):
            ascending = False
        else:
            p.take("word", "asc")
        if p.i != len(p.tokens):
            raise FilterSyntaxError(
                f"cannot parse order-by clause {clause!r}",
                hint="write '<field> [ASC|DESC]', e.g. 'metrics.auc DESC'",
            )
        result.append(OrderBy(fld, ascending))
    return result
