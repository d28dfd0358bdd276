"""Served rows against what the model saw in training: numeric ranges and categories.

A request's rows can be valid (right types, required fields present) and still lie off the
training data: ``age=500`` where the signature's range is ``[17, 90]``, or ``sex="X"``
where training saw only ``F`` and ``M``. The model still answers (the encoder ignores an
unseen category; a linear model extrapolates), so the server either serves them with a
warning in the response, counted in the audit detail of the ``model.predict`` action
(policy ``"warn"``), or refuses the request with a 422 naming the field, the value and
what training saw (policy ``"refuse"``).

This is the hot path of every request: each check works on one column of the request's
batch at a time (a ``Batch``'s arrays, or a DataFrame's columns) with vectorised numpy
operations; category columns are checked with one set lookup per value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np

from closedloop.core import LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError
from closedloop.serving._schema_model import frame_from_rows

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "POLICIES",
    "OutOfRange",
    "Policy",
    "UnseenCategories",
    "check_policy",
    "find_out_of_range",
    "find_unseen_categories",
    "unseen_categories",
]

#: A request's columns by name: a ``Batch``'s arrays or a DataFrame.
Columns: TypeAlias = "Mapping[str, Any] | pd.DataFrame"

#: What the server does with rows off the training data.
Policy = Literal["warn", "refuse"]
POLICIES: tuple[Policy, ...] = ("warn", "refuse")

_SHOWN_VALUES = 10  # distinct values listed in one warning
_SHOWN_CHARS = 40  # characters of the repr of one value in a warning or an error


def check_policy(name: str, value: str) -> Policy:
    """``value`` as a :data:`Policy`.

    Raises:
        InvalidArgumentError: It is neither ``"warn"`` nor ``"refuse"``.
    """
    if value not in POLICIES:
        raise InvalidArgumentError(
            f"{name} must be 'warn' or 'refuse', got {value!r}",
            hint=f"use {name}='warn' to serve such rows with a warning, 'refuse' to answer 422",
        )
    return value


def _num(value: float) -> str:
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:g}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """The rows of one numeric column outside the range seen in training.

    Attributes:
        column: Column name.
        minimum: Smallest value seen in training (``None``: no lower bound).
        maximum: Largest value seen in training (``None``: no upper bound).
        rows: How many rows are outside.
        lowest: The smallest value outside.
        highest: The largest value outside.
        first_row: Index of the first row outside.
        first_value: Its value.
    """

    column: str
    minimum: float | None
    maximum: float | None
    rows: int
    lowest: float
    highest: float
    first_row: int
    first_value: float

    @property
    def range_text(self) -> str:
        """The training range as ``[min, max]`` (an open end as ``-inf``/``inf``)."""
        low = "-inf" if self.minimum is None else _num(self.minimum)
        high = "inf" if self.maximum is None else _num(self.maximum)
        return f"[{low}, {high}]"

    def warning(self) -> str:
        """The line for the response's ``warnings``."""
        return (
            f"{self.column}: {self.rows} row(s) outside the range seen in training "
            f"{self.range_text}: lowest {_num(self.lowest)}, highest {_num(self.highest)}"
        )

    def refusal(self) -> str:
        """The part of a 422 message about this column."""
        return (
            f"records.{self.first_row}.{self.column}: {_num(self.first_value)} is outside "
            f"the range seen in training {self.range_text} ({self.rows} row(s) in "
            f"{self.column!r})"
        )


@dataclass(frozen=True, slots=True)
class UnseenCategories:
    """The rows of one category column holding a value not seen in training.

    Attributes:
        column: Column name.
        counts: Unseen value → rows with it, in the order first met.
        known: The categories seen in training.
        first_row: Index of the first such row.
    """

    column: str
    counts: dict[str, int]
    known: tuple[str, ...]
    first_row: int

    @property
    def rows(self) -> int:
        """How many rows hold an unseen value."""
        return sum(self.counts.values())

    def warning(self) -> str:
        """The line for the response's ``warnings``."""
        shown = list(self.counts.items())[:_SHOWN_VALUES]
        return (
            f"{self.column}: {self.rows} row(s) with a category not seen in training: "
            + ", ".join(f"{_show(value)} ({n})" for value, n in shown)
        )

    def refusal(self) -> str:
        """The part of a 422 message about this column."""
        first = next(iter(self.counts))
        known = ", ".join(_show(c) for c in self.known[:_SHOWN_VALUES])
        if len(self.known) > _SHOWN_VALUES:
            known += ", …"
        return (
            f"records.{self.first_row}.{self.column}: {_show(first)} is not a category seen "
            f"in training ({known}; {self.rows} row(s) in {self.column!r})"
        )


@dataclass(frozen=True, slots=True)
class _RangePlan:
    """The numeric columns of a signature that have a recorded range, as arrays."""

    names: tuple[str, ...]
    positions: np.ndarray  # their positions among the signature's columns
    minimum: np.ndarray  # -inf where none
    maximum: np.ndarray  # +inf where none
    all_columns: bool  # every signature column is in the plan, in order


_PLANS: dict[int, tuple[TableSchema, _RangePlan]] = {}


def _range_plan(signature: TableSchema) -> _RangePlan:
    cached = _PLANS.get(id(signature))
    if cached is not None and cached[0] is signature:
        return cached[1]
    chosen = [
        (i, c)
        for i, c in enumerate(signature.columns)
        if c.type in (LogicalType.INTEGER, LogicalType.FLOAT)
        and (c.minimum is not None or c.maximum is not None)
    ]
    plan = _RangePlan(
        names=tuple(c.name for _, c in chosen),
        positions=np.array([i for i, _ in chosen], dtype=np.intp),
        minimum=np.array([-np.inf if c.minimum is None else c.minimum for _, c in chosen]),
        maximum=np.array([np.inf if c.maximum is None else c.maximum for _, c in chosen]),
        all_columns=len(chosen) == len(signature.columns),
    )
    _PLANS[id(signature)] = (signature, plan)
    return plan


def find_out_of_range(
    signature: TableSchema, frame: Columns, matrix: np.ndarray | None = None
) -> list[OutOfRange]:
    """Numeric columns of ``frame`` with values outside the signature's ``[minimum, maximum]``.

    Missing values are not out of range. Columns without a recorded range are skipped.
    Every column is compared in one vectorised step (a row-by-column comparison against
    the bounds); details are worked out only for columns that have a value outside.

    Args:
        signature: The model's input schema.
        frame: The request's columns by name (a ``Batch``'s ``columns`` or a DataFrame).
        matrix: The rows as ``n_rows x n_columns`` floats in signature order, when the
            caller has them (every column numeric); saves stacking the columns again.

    Returns:
        One finding per column with any value outside, in signature order.
    """
    plan = _range_plan(signature)
    if not plan.names:
        return []
    if matrix is not None:
        values = matrix if plan.all_columns else matrix[:, plan.positions]
    else:
        values = np.column_stack([np.asarray(frame[n], dtype=np.float64) for n in plan.names])
    outside = (values < plan.minimum) | (values > plan.maximum)
    if not outside.any():
        return []
    out: list[OutOfRange] = []
    for j in np.flatnonzero(outside.any(axis=0)):
        where = np.flatnonzero(outside[:, j])
        bad = values[where, j]
        low, high = plan.minimum[j], plan.maximum[j]
        out.append(
            OutOfRange(
                column=plan.names[j],
                minimum=None if np.isinf(low) else float(low),
                maximum=None if np.isinf(high) else float(high),
                rows=int(where.size),
                lowest=float(bad.min()),
                highest=float(bad.max()),
                first_row=int(where[0]),
                first_value=float(bad[0]),
            )
        )
    return out


def find_unseen_categories(signature: TableSchema, frame: Columns) -> list[UnseenCategories]:
    """Category columns of ``frame`` with values the signature does not list.

    Missing values are not unseen. Columns without listed categories are skipped.

    Args:
        signature: The model's input schema.
        frame: The request's columns by name (a ``Batch``'s ``columns`` or a DataFrame).

    Returns:
        One finding per column with any unseen value, in signature order.
    """
    out: list[UnseenCategories] = []
    for column in signature.columns:
        if column.type is not LogicalType.CATEGORY or not column.categories:
            continue
        known = _known(column.categories)
        counts: dict[str, int] = {}
        first_row = -1
        for i, value in enumerate(np.asarray(frame[column.name], dtype=object).tolist()):
            if value is None or (isinstance(value, float) and value != value):
                continue
            text = value if isinstance(value, str) else str(value)
            if text in known:
                continue
            if first_row < 0:
                first_row = i
            counts[text] = counts.get(text, 0) + 1
        if counts:
            out.append(
                UnseenCategories(
                    column=column.name,
                    counts=counts,
                    known=column.categories,
                    first_row=first_row,
                )
            )
    return out


_KNOWN: dict[tuple[str, ...], frozenset[str]] = {}


def _known(categories: tuple[str, ...]) -> frozenset[str]:
    found = _KNOWN.get(categories)
    if found is None:
        found = _KNOWN[categories] = frozenset(categories)
    return found


def unseen_categories(
    signature: TableSchema, rows: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, int]]:
    """Values of category columns that the signature does not list, with their row counts.

    The pipeline's encoder ignores unseen categories, so such rows are served; counting
    them tells the client (and the audit log) that the rows are off the training data.

    Args:
        signature: The model's input schema.
        rows: Validated rows keyed by column name.

    Returns:
        Column name → {unseen value → rows with it}, values in the order first met; only
        columns with any unseen value (and listed categories) appear.
    """
    found = find_unseen_categories(signature, frame_from_rows(signature, rows))
    return {f.column: f.counts for f in found}
