"""Check a batch of data against a :class:`~closedloop.core.TableSchema`.

Each broken rule is reported as one :class:`Issue` per column, with its row count:

- ``unknown_column`` (error): a column the schema does not have.
- ``missing_column`` (error): a schema column the batch lacks.
- ``duplicate_column`` (error): a column name that occurs more than once in the batch.
- ``type`` (error): values that cannot be read as the column's logical type (``"abc"`` or
  ``2.5`` in an integer column, ``"maybe"`` in a boolean one, an unparsable date).
- ``null`` (error): nulls in a column that is not nullable.
- ``range`` (warning): numbers outside the schema's ``[minimum, maximum]``.
- ``category`` (warning): values of a category column that the schema has not seen.

Values are judged by what they mean, not by their storage type: ``"42"`` read from a text
column fits an integer column, ``3.0`` fits it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from rich.table import Table
from rich.text import Text

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.data._schema import text_values
from closedloop.errors import DataValidationError

__all__ = ["Issue", "Severity", "ValidationReport", "check", "validate"]

Severity = Literal["error", "warning"]

_MAX_EXAMPLES = 3
_TRUE_FALSE = frozenset({"true", "false", "1", "0", "1.0", "0.0"})


@dataclass(frozen=True, slots=True)
class Issue:
    """One broken rule in one column.

    Attributes:
        column: The column concerned.
        rule: ``unknown_column``, ``missing_column``, ``type``, ``null``, ``range`` or
            ``category``.
        severity: ``error`` (the batch is refused) or ``warning`` (reported only).
        rows: How many rows break the rule.
        examples: Up to three offending values, as text.
        message: One line for people.
    """

    column: str
    rule: str
    severity: Severity
    rows: int
    examples: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The outcome of :func:`validate`.

    Attributes:
        issues: Every broken rule, in column order (unknown columns last).
        n_rows: Rows in the batch.
        n_columns: Columns in the batch.
    """

    issues: tuple[Issue, ...]
    n_rows: int
    n_columns: int

    @property
    def ok(self) -> bool:
        """True when no issue is an error (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Issue, ...]:
        """The issues that refuse the batch."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """The issues reported without refusing the batch."""
        return tuple(i for i in self.issues if i.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ok": self.ok,
            "n_rows": self.n_rows,
            "n_columns": self.n_columns,
            "issues": [{**asdict(i), "examples": list(i.examples)} for i in self.issues],
        }

    def render(self) -> Table:
        """The issues as a rich table (column, rule, severity, rows, examples).

        Column names and example values are data: they are put in the table as ``Text``,
        which rich never parses as markup (a value ``[/red]`` is shown as it is).
        """
        verdict = "ok" if self.ok else f"{len(self.errors)} error(s)"
        table = Table(
            title=f"{self.n_rows} rows, {self.n_columns} columns: {verdict}, "
            f"{len(self.warnings)} warning(s)",
            header_style="bold",
        )
        for name in ("column", "rule", "severity", "rows", "examples"):
            table.add_column(name, justify="right" if name == "rows" else "left")
        for i in self.issues:
            severity = "[red]error[/]" if i.severity == "error" else "[yellow]warning[/]"
            table.add_row(
                Text(i.column), i.rule, severity, str(i.rows), Text(", ".join(i.examples))
            )
        return table


def _examples(values: pd.Series) -> tuple[str, ...]:
    """Up to three distinct offending values, in order of first appearance."""
    seen: list[str] = []
    for value in values:
        text = str(value)
        if text not in seen:
            seen.append(text)
            if len(seen) == _MAX_EXAMPLES:
                break
    return tuple(seen)


def _issue(column: str, rule: str, severity: Severity, offending: pd.Series, message: str) -> Issue:
    n = len(offending)
    return Issue(column, rule, severity, n, _examples(offending), f"{n} {message}")


def _none(values: pd.Series) -> pd.Series:
    return pd.Series(False, index=values.index, dtype=bool)


def _as_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Non-null values as float64 (NaN where unreadable), and which ones were readable."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return pd.Series(np.nan, index=values.index, dtype="float64"), _none(values)
    if pd.api.types.is_numeric_dtype(dtype):
        return values.astype("float64"), ~_none(values)
    stripped = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    numbers = pd.to_numeric(stripped, errors="coerce").astype("float64")
    # A bool is an int to Python, but not a number in a data file.
    readable = numbers.notna() & ~values.map(lambda v: isinstance(v, bool | np.bool_))
    return numbers.where(readable), readable.astype(bool)


def _bad_integer(values: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(values.dtype):
        return _none(values)
    numbers, readable = _as_numbers(values)
    array = numbers.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(array) & (array == np.floor(array))
    return ~(readable & pd.Series(integral, index=values.index, dtype=bool))


def _bad_float(values: pd.Series) -> pd.Series:
    _, readable = _as_numbers(values)
    return ~readable


def _bad_boolean(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values.dtype):
        return _none(values)
    return ~text_values(values).str.strip().str.lower().isin(list(_TRUE_FALSE))


def _bad_datetime(values: pd.Series) -> pd.Series:
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _none(values)
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return ~_none(values)
    try:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    except (ValueError, TypeError, OverflowError):  # e.g. objects that are not text at all
        parsed = values.map(_one_datetime)
    return pd.Series(parsed.isna().to_numpy(), index=values.index, dtype=bool)


def _one_datetime(value: object) -> Any:
    try:
        return pd.to_datetime(str(value), format="mixed", utc=True)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


_TYPE_CHECKS: dict[LogicalType, Callable[[pd.Series], pd.Series]] = {
    LogicalType.INTEGER: _bad_integer,
    LogicalType.FLOAT: _bad_float,
    LogicalType.BOOLEAN: _bad_boolean,
    LogicalType.DATETIME: _bad_datetime,
}


def _range_text(spec: ColumnSchema) -> str:
    low = "-inf" if spec.minimum is None else f"{spec.minimum:g}"
    high = "inf" if spec.maximum is None else f"{spec.maximum:g}"
    return f"[{low}, {high}]"


def _check_column(spec: ColumnSchema, series: pd.Series) -> list[Issue]:
    issues: list[Issue] = []
    series = series.reset_index(drop=True)  # positions, whatever the frame's index
    nulls = series.isna()
    if nulls.any() and not spec.nullable:
        rows = pd.Series([f"row {i}" for i in series.index[nulls]], dtype=object)
        issues.append(_issue(spec.name, "null", "error", rows, "null value(s); none allowed"))
    values = series[~nulls]
    check_type = _TYPE_CHECKS.get(spec.type)
    if check_type is not None and len(values):
        bad = check_type(values)
        if bad.any():
            kind = spec.type.value
            issues.append(
                _issue(spec.name, "type", "error", values[bad], f"value(s) are not {kind}")
            )
            values = values[~bad]
    if spec.type.is_numeric and len(values):
        numbers, _ = _as_numbers(values)
        outside = _none(values)
        if spec.minimum is not None:
            outside |= numbers < spec.minimum
        if spec.maximum is not None:
            outside |= numbers > spec.maximum
        if outside.any():
            message = f"value(s) outside {_range_text(spec)}"
            issues.append(_issue(spec.name, "range", "warning", values[outside], message))
    if spec.type is LogicalType.CATEGORY and spec.categories is not None and len(values):
        unseen = ~text_values(values).isin(list(spec.categories))
        if unseen.any():
            message = "value(s) not among the schema's categories"
            issues.append(_issue(spec.name, "category", "warning", values[unseen], message))
    return issues


def validate(df: pd.DataFrame, schema: TableSchema) -> ValidationReport:
    """Check every rule of the schema on a batch; never raises for bad data.

    Besides the rules in the module docstring, a column name that occurs twice in the batch
    is an error (``duplicate_column``).

    Args:
        df: The batch.
        schema: What it must look like.

    Returns:
        The report; ``report.ok`` is False when any issue is an error.
    """
    present = [str(c) for c in df.columns]
    n = len(df)
    issues: list[Issue] = []
    for spec in schema:
        if spec.name not in present:
            message = "column missing from the batch"
            issues.append(Issue(spec.name, "missing_column", "error", n, (), message))
            continue
        issues.extend(_check_column(spec, df.iloc[:, present.index(spec.name)]))
    for name in sorted({c for c in present if present.count(c) > 1}):
        message = f"column occurs {present.count(name)} times"
        issues.append(Issue(name, "duplicate_column", "error", n, (), message))
    for name in present:
        if name not in schema:
            message = "column not in the schema"
            issues.append(Issue(name, "unknown_column", "error", n, (), message))
    return ValidationReport(tuple(issues), n_rows=n, n_columns=len(df.columns))


def check(df: pd.DataFrame, schema: TableSchema) -> ValidationReport:
    """Like :func:`validate`, but refuse a batch with any error.

    Returns:
        The report (it may hold warnings).

    Raises:
        DataValidationError: At least one error; ``e.report`` is the full report.
    """
    report = validate(df, schema)
    raise_for_report(report)
    return report


def raise_for_report(report: ValidationReport) -> None:
    """Raise :class:`~closedloop.errors.DataValidationError` if the report has errors."""
    if report.ok:
        return
    first = report.errors[0]
    raise DataValidationError(
        f"batch refused: {len(report.errors)} validation error(s); first: column "
        f"{first.column!r} breaks rule {first.rule!r} ({first.message})",
        hint="fix the data or the schema; the error's report lists every issue",
        report=report,
    )
