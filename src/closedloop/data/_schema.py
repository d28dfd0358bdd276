"""Infer a :class:`~closedloop.core.TableSchema` from a DataFrame.

The result depends on the data only (never on row order for the facts it records), so the
same table always gives the same schema.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import numpy as np
import pandas as pd

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError

__all__ = ["column_name", "infer_schema", "logical_type", "text_values"]


def column_name(name: Hashable) -> str:
    """A DataFrame column label as a schema column name.

    Raises:
        InvalidArgumentError: The label is not a string (e.g. the integer labels of a
            file read with ``header=None``); schemas and Parquet need names.
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(
            f"column label {name!r} is not a string",
            hint="name the columns, e.g. options={'names': [...]} or df.columns = [...]",
        )
    return name


def logical_type(series: pd.Series, *, max_categories: int = 100) -> LogicalType:
    """The logical type of one column, judged by its dtype (and cardinality for text).

    Args:
        series: The column.
        max_categories: Text columns with at most this many distinct non-null values are
            ``CATEGORY``; more make them ``STRING``.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return LogicalType.BOOLEAN
    if pd.api.types.is_integer_dtype(dtype):
        return LogicalType.INTEGER
    if pd.api.types.is_float_dtype(dtype):
        return LogicalType.FLOAT
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return LogicalType.DATETIME
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        distinct = text_values(series.dropna()).nunique()
        return LogicalType.CATEGORY if distinct <= max_categories else LogicalType.STRING
    return LogicalType.STRING  # timedelta, complex, period, interval …: kept as text


def text_values(series: pd.Series) -> pd.Series:
    """Non-null values as text, the way category values are compared.

    Floats that hold whole numbers are written without ``.0`` so that ``3.0`` (from a
    column with gaps, or a mixed object column) matches the category ``"3"``.

    Args:
        series: A column without nulls.

    Returns:
        An object Series of ``str`` with the same index.
    """
    dtype = series.dtype
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return series.astype(object)
    if pd.api.types.is_float_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return series.astype(object).map(_value_text).astype(object)
    return series.astype(str).astype(object)


def _value_text(value: object) -> str:
    if isinstance(value, float | np.floating) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _numeric_range(series: pd.Series) -> tuple[float | None, float | None]:
    values = pd.to_numeric(series.dropna(), errors="coerce").to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None
    return float(values.min()), float(values.max())


def _infer_column(name: str, series: pd.Series, max_categories: int) -> ColumnSchema:
    kind = logical_type(series, max_categories=max_categories)
    nullable = bool(series.isna().any())
    if kind.is_numeric:
        minimum, maximum = _numeric_range(series)
        return ColumnSchema(name, kind, nullable, minimum=minimum, maximum=maximum)
    if kind is LogicalType.CATEGORY:
        categories = tuple(sorted(text_values(series.dropna()).unique()))
        return ColumnSchema(name, kind, nullable, categories=categories)
    return ColumnSchema(name, kind, nullable)


def infer_schema(df: pd.DataFrame, *, max_categories: int = 100) -> TableSchema:
    """Describe a DataFrame's columns.

    Rules, by dtype: integers → ``INTEGER``; floats → ``FLOAT``; booleans → ``BOOLEAN``;
    datetimes → ``DATETIME``; object, string and category columns → ``CATEGORY`` when they
    have at most ``max_categories`` distinct non-null values, else ``STRING``; anything else
    → ``STRING``. A column is ``nullable`` when it holds a null. Numeric columns get the
    smallest and largest finite value as ``minimum``/``maximum``; category columns get their
    sorted distinct values (as text) as ``categories``.

    Args:
        df: The table.
        max_categories: Cardinality limit of a category column (at least 1).

    Returns:
        The schema, columns in the frame's order.

    Raises:
        InvalidArgumentError: ``max_categories`` is below 1, a column label is not a string,
            or two columns share a name.

    Example:
        >>> infer_schema(pd.DataFrame({"age": [31, 45], "sex": ["F", "M"]})).names
        ['age', 'sex']
    """
    if max_categories < 1:
        raise InvalidArgumentError(f"max_categories must be at least 1, got {max_categories}")
    columns = [
        _infer_column(column_name(label), df.iloc[:, i], max_categories)
        for i, label in enumerate(df.columns)
    ]
    return TableSchema(tuple(columns))
