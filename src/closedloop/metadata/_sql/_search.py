"""Compile the search AST (``closedloop.core._query``) into SQLAlchemy expressions."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, not_, or_, select, true
from sqlalchemy.sql import operators

from closedloop.core import (
    And,
    Comparison,
    Field,
    FilterExpr,
    Not,
    Or,
    OrderBy,
    RunStatus,
)
from closedloop.errors import FilterSyntaxError, InvalidArgumentError
from closedloop.metadata._sql.tables import latest_metrics, params, runs, tags

__all__ = ["compile_filter", "decode_page_token", "encode_page_token", "order_clauses"]

_KEYED = {"metric": latest_metrics, "param": params, "tag": tags}
_OPS: dict[str, Any] = {
    "=": operators.eq,
    "!=": operators.ne,
    "<": operators.lt,
    "<=": operators.le,
    ">": operators.gt,
    ">=": operators.ge,
}


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op in _OPS:
        return _OPS[op](column, value)  # type: ignore[no-any-return]
    if op == "in":
        return column.in_(value)  # type: ignore[no-any-return]
    if op == "not in":
        return column.not_in(value)  # type: ignore[no-any-return]
    if op == "like":
        return column.like(value)  # type: ignore[no-any-return]
    if op == "not like":
        return column.not_like(value)  # type: ignore[no-any-return]
    if op == "ilike":
        return column.ilike(value)  # type: ignore[no-any-return]
    if op == "not ilike":
        return column.not_ilike(value)  # type: ignore[no-any-return]
    raise FilterSyntaxError(f"unsupported operator {op!r}")


def _attribute(c: Comparison) -> ColumnElement[bool]:
    column = runs.c[c.field.key]
    if c.field.key == "status":
        values = c.value if isinstance(c.value, tuple) else (c.value,)
        valid = {s.value for s in RunStatus}
        for v in values:
            if isinstance(v, str) and v.upper() not in valid and "%" not in v:
                raise FilterSyntaxError(
                    f"unknown run status {v!r}", hint=f"use one of {', '.join(sorted(valid))}"
                )
        if isinstance(c.value, str) and c.op in ("=", "!="):
            return _apply(column, c.op, c.value.upper())
        if isinstance(c.value, tuple):
            return _apply(column, c.op, tuple(str(v).upper() for v in c.value))
    if c.op == "is null":
        return column.is_(None)
    if c.op == "is not null":
        return column.is_not(None)
    value = (
        int(c.value) if isinstance(c.value, float) and c.field.key != "experiment_id" else c.value
    )
    if isinstance(c.value, tuple) and c.field.key in ("start_time", "end_time", "experiment_id"):
        value = tuple(int(v) for v in c.value if isinstance(v, float))
    return _apply(column, c.op, value)


def _keyed(c: Comparison) -> ColumnElement[bool]:
    table = _KEYED[c.field.kind]
    has_key = select(table.c.run_id).where(table.c.key == c.field.key)
    if c.op == "is null":
        return runs.c.id.not_in(has_key)
    if c.op == "is not null":
        return runs.c.id.in_(has_key)
    return runs.c.id.in_(has_key.where(_apply(table.c.value, c.op, c.value)))


def compile_filter(expr: FilterExpr | None) -> ColumnElement[bool]:
    """Translate a parsed filter into a WHERE clause over ``runs``."""
    if expr is None:
        return true()
    if isinstance(expr, And):
        return and_(*(compile_filter(e) for e in expr.items))
    if isinstance(expr, Or):
        return or_(false(), *(compile_filter(e) for e in expr.items))
    if isinstance(expr, Not):
        return not_(compile_filter(expr.item))
    if expr.field.kind == "attribute":
        return _attribute(expr)
    return _keyed(expr)


def order_clauses(stmt: Select[Any], order: Sequence[OrderBy]) -> Select[Any]:
    """Add ORDER BY (joining each sorted-on metric/param/tag) with a stable tiebreak.

    Runs lacking a sorted-on key come last whatever the direction.
    """
    clauses: list[Any] = []
    for i, ob in enumerate(order):
        column = _order_column(ob.field, i, stmt)
        if ob.field.kind != "attribute":
            stmt, column = column
        clauses.append(column.is_(None))  # missing values last
        clauses.append(column.asc() if ob.ascending else column.desc())
    if not any(ob.field == Field("attribute", "start_time") for ob in order):
        clauses.append(runs.c.start_time.desc())
    clauses.append(runs.c.id.asc())
    return stmt.order_by(*clauses)


def _order_column(field: Field, i: int, stmt: Select[Any]) -> Any:
    if field.kind == "attribute":
        return runs.c[field.key]
    table = _KEYED[field.kind].alias(f"ord{i}")
    stmt = stmt.outerjoin(table, and_(table.c.run_id == runs.c.id, table.c.key == field.key))
    return stmt, table.c.value


def encode_page_token(offset: int) -> str:
    """An opaque token for the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a page token stands for; ``None`` is the first page."""
    if not token:
        return 0
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidArgumentError(
            f"invalid page token {token!r}",
            hint="pass the next_page_token returned by the previous search",
        ) from e
    if offset < 0:
        raise InvalidArgumentError(f"invalid page token {token!r}")
    return offset
