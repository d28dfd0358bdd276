"""What ingest refuses or warns about before a table becomes a dataset version.

A dataset version is the ground truth later stages train on, so data that pandas would
otherwise change or store without a word is stopped here. Each rule refuses the table
(:class:`~closedloop.errors.InvalidArgumentError`, naming the column, the data row and the
value, with a hint naming the fix) or lets it through with an :class:`IngestWarning` that
the SDK returns and the CLI prints:

- duplicate column names: refused (a file's header is checked as written, before pandas
  renames the second ``a`` to ``a.1``; see :mod:`closedloop.data._read`).
- no rows (e.g. a header-only file): refused, as column types cannot be inferred from no
  rows.
- no data (every value of every row is empty): refused.
- a non-finite number (``inf``, ``-inf``) in a numeric column: refused, so that the range
  recorded in the schema always holds every value of the column.
- an integer too large for 64 bits (``99999999999999999999999999``): refused; declaring the
  column's type (float or text) in the reader options is the user's choice to make.
- a NUL byte in a value or a column name: refused (it usually means a binary or UTF-16
  file, or a corrupt one).
- a header row with no names at all (e.g. a file of only delimiters): refused.
- a column whose header cell is empty (pandas names it ``Unnamed: <i>``): a warning.
- a column with no value at all: a warning (its type is a guess).

Data rows are counted from 1, the header not counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from closedloop.errors import InvalidArgumentError

__all__ = ["IngestWarning", "check_frame", "check_header"]

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 64) - 1  # uint64 still fits a Parquet column
_SHOWN = 60


@dataclass(frozen=True, slots=True)
class IngestWarning:
    """Something ingest accepted but the user should know about.

    Attributes:
        rule: ``encoding``, ``delimiter``, ``unnamed_column`` or ``empty_column``.
        message: One line for people.
        column: The column concerned, if one is.
    """

    rule: str
    message: str
    column: str | None = None

    def __str__(self) -> str:
        return self.message


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _where(what: str) -> str:
    return f" in {what}" if what else ""


def _of(what: str) -> str:
    return f" of {what}" if what else ""


def check_header(names: list[str], *, what: str = "") -> list[IngestWarning]:
    """Refuse a header row with repeated names or no names at all; warn of empty cells.

    Args:
        names: The header cells as written in the file (empty cells as ``""``).
        what: The file, for messages (e.g. ``"'a.csv'"``).

    Returns:
        One ``unnamed_column`` warning per empty header cell (pandas names that column
        ``Unnamed: <i>``).

    Raises:
        InvalidArgumentError: Two columns share a name, or every header cell is empty.
    """
    if names and not any(n.strip() for n in names):
        raise InvalidArgumentError(
            f"the header row{_where(what)} has no column names ({len(names)} empty cells)",
            hint="add a header row with a name for each column, or pass "
            "-o header=null -o names='[\"a\", \"b\"]' (options={'header': None, 'names': [...]})",
        )
    repeated = sorted({n for n in names if n.strip() and names.count(n) > 1})
    if repeated:
        listed = ", ".join(repr(n) for n in repeated)
        raise InvalidArgumentError(
            f"duplicate column name(s){_where(what)}: {listed}",
            hint="give each column its own name in the header row",
        )
    return [
        IngestWarning(
            "unnamed_column",
            f"column {i + 1} has no name in the header; stored as 'Unnamed: {i}'",
            f"Unnamed: {i}",
        )
        for i, n in enumerate(names)
        if not n
    ]


def _label(label: Hashable) -> str:
    return label if isinstance(label, str) else str(label)


def _first(mask: pd.Series) -> int:
    """The 0-based position of the first True in ``mask``."""
    return int(np.flatnonzero(mask.to_numpy(dtype=bool))[0])


def _check_names(df: pd.DataFrame, what: str) -> None:
    names = [_label(c) for c in df.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidArgumentError(
            f"duplicate column name(s){_where(what)}: {', '.join(repr(n) for n in repeated)}",
            hint="give each column its own name",
        )
    for name in names:
        if "\x00" in name:
            raise InvalidArgumentError(
                f"column name {_short(name)}{_where(what)} contains a NUL byte",
                hint="check the file's encoding (UTF-16 has NUL bytes: -o encoding=utf-16) "
                "or remove the NUL bytes",
            )


def _check_nul(name: str, series: pd.Series, what: str) -> None:
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
        series.dtype
    ):
        has_nul = series.str.contains("\x00", regex=False).fillna(False).astype(bool)
    elif isinstance(series.dtype, pd.CategoricalDtype):
        bad = [c for c in series.cat.categories if isinstance(c, str) and "\x00" in c]
        has_nul = series.isin(bad).astype(bool)
    elif pd.api.types.is_object_dtype(series.dtype):
        has_nul = series.map(lambda v: isinstance(v, str) and "\x00" in v).astype(bool)
    else:
        return
    if has_nul.any():
        row = _first(has_nul)
        raise InvalidArgumentError(
            f"column {name!r}{_of(what)} has a NUL byte in data row {row + 1} "
            f"({int(has_nul.sum())} value(s) in all): {_short(series.iloc[row])}",
            hint="check the file's encoding (UTF-16 has NUL bytes: -o encoding=utf-16) "
            "or remove the NUL bytes from the values",
        )


def _check_numbers(name: str, series: pd.Series, what: str) -> None:
    dtype = series.dtype
    if pd.api.types.is_float_dtype(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        bad = pd.Series(np.isinf(values), index=series.index)
        if bad.any():
            row = _first(bad)
            raise InvalidArgumentError(
                f"column {name!r}{_of(what)} has a non-finite value in data row {row + 1} "
                f"({int(bad.sum())} in all): {values[row]}",
                hint="a numeric column's range must hold every value: leave the cell empty "
                "for a missing value, or read them as missing: "
                "-o na_values='[\"inf\", \"-inf\"]' (options={'na_values': [...]})",
            )
    elif pd.api.types.is_object_dtype(dtype):
        _check_objects(name, series, what)


def _huge(value: object) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and not _INT_MIN <= value <= _INT_MAX
    )


def _non_finite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value) and value == value  # NaN: missing


def _check_objects(name: str, series: pd.Series, what: str) -> None:
    """Python numbers in a mixed column: too large for Parquet, or not finite."""
    huge = series.map(_huge).astype(bool)
    if huge.any():
        row = _first(huge)
        declared = json.dumps({name: "float64"})
        raise InvalidArgumentError(
            f"column {name!r}{_of(what)} has an integer too large for 64 bits "
            f"in data row {row + 1}: {_short(series.iloc[row])}",
            hint=f"declare the column's type: -o dtype='{declared}' reads it as float "
            '(rounded), "str" instead of "float64" keeps the digits as text '
            "(options={'dtype': {...}} in Python)",
        )
    non_finite = series.map(_non_finite).astype(bool)
    if non_finite.any():
        row = _first(non_finite)
        raise InvalidArgumentError(
            f"column {name!r}{_of(what)} has a non-finite value in data row {row + 1}: "
            f"{series.iloc[row]}",
            hint="a numeric column's range must hold every value: use None or NaN for a "
            "missing value",
        )


def check_frame(df: pd.DataFrame, *, what: str = "") -> list[IngestWarning]:
    """Refuse what must not become a dataset version; return what to warn about.

    The rules are listed in this module's docstring.

    Args:
        df: The table about to be stored.
        what: The file it was read from, for messages (e.g. ``"'a.csv'"``).

    Returns:
        The warnings, in column order.

    Raises:
        InvalidArgumentError: The table breaks a refusing rule; the message names the
            column, the data row (from 1) and the value.
    """
    _check_names(df, what)
    warnings: list[IngestWarning] = []
    if len(df) == 0:
        raise InvalidArgumentError(
            f"no data rows{_where(what)} (only {len(df.columns)} column name(s)): column "
            "types cannot be inferred from no rows",
            hint="ingest a table with at least one data row",
        )
    empty = df.isna().all()
    if bool(empty.all()):
        raise InvalidArgumentError(
            f"no data{_where(what)}: every value of the {len(df)} row(s) is empty",
            hint="check the file and the reader options (e.g. -o sep=';')",
        )
    for i, label in enumerate(df.columns):
        name = _label(label)
        series = df.iloc[:, i]
        _check_nul(name, series, what)
        _check_numbers(name, series, what)
        if bool(empty.iloc[i]):
            warnings.append(
                IngestWarning(
                    "empty_column",
                    f"column {name!r}{_of(what)} has no values: "
                    f"its type ({series.dtype}) is a guess",
                    name,
                )
            )
    return warnings
