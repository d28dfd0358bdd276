"""Request models derived from a model signature: one pydantic model per input row."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from closedloop.core import ColumnSchema, LogicalType, TableSchema

__all__ = ["frame_from_rows", "request_row_model", "unseen_categories"]


def _refuse_bool(value: Any) -> Any:
    # Lax mode turns true/false into 1/0; a boolean sent for a number is a client mistake.
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


_NOT_BOOL = BeforeValidator(_refuse_bool)

_TYPES: dict[LogicalType, Any] = {
    LogicalType.INTEGER: Annotated[int, _NOT_BOOL],
    LogicalType.FLOAT: Annotated[float, Field(allow_inf_nan=False), _NOT_BOOL],
    LogicalType.BOOLEAN: bool,
    # Category codes are often sent as JSON numbers (zip codes, levels): accept them as text.
    LogicalType.CATEGORY: Annotated[str, Field(coerce_numbers_to_str=True)],
    LogicalType.STRING: Annotated[str, Field(coerce_numbers_to_str=True)],
    LogicalType.DATETIME: datetime,
}


def _field(column: ColumnSchema) -> tuple[Any, Any]:
    annotation = _TYPES[column.type]
    description = f"{column.type.value} column {column.name!r}"
    if column.categories:
        description += f"; seen in training: {', '.join(column.categories)}"
    if column.nullable:
        return (
            annotation | None,
            Field(default=None, alias=column.name, description=description),
        )
    return annotation, Field(alias=column.name, description=description)


def request_row_model(signature: TableSchema, *, name: str = "Record") -> type[BaseModel]:
    """Build the pydantic model one request row must fit.

    Each column of the signature becomes a field: integers, floats, booleans, text
    (categories and strings) and datetimes. Non-nullable columns are required; nullable
    ones default to ``None``. Unknown fields are refused, naming the field. Pydantic's lax
    mode stays on, so ``"39"`` is read as ``39`` but ``"abc"`` is refused for an integer;
    booleans are refused for numbers, and NaN or infinity for floats (send ``null``).
    Categories are not enforced here (see :func:`unseen_categories`).

    Fields are named ``c0``, ``c1``… internally and carry the column name as their alias,
    so any column name works (also ``"my col"``, ``"json"`` or ``"_id"``). Validate and dump
    with aliases: ``model.model_dump(by_alias=True)``.

    Args:
        signature: The model's input schema.
        name: The model's class name (shown in the OpenAPI schema).

    Returns:
        A pydantic model class.
    """
    fields: dict[str, Any] = {f"c{i}": _field(column) for i, column in enumerate(signature.columns)}
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=False),
        **fields,
    )
    return model


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
    out: dict[str, dict[str, int]] = {}
    for column in signature.columns:
        if column.type is not LogicalType.CATEGORY or not column.categories:
            continue
        known = set(column.categories)
        counts: dict[str, int] = {}
        for row in rows:
            value = row.get(column.name)
            if value is not None and str(value) not in known:
                counts[str(value)] = counts.get(str(value), 0) + 1
        if counts:
            out[column.name] = counts
    return out


def frame_from_rows(signature: TableSchema, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with the signature's columns in order.

    Missing values become NaN in numeric columns and missing in the others; integer
    columns stay integers unless a value is missing.

    Args:
        signature: The model's input schema.
        rows: Validated rows keyed by column name (missing keys count as missing values).

    Returns:
        One row per input row.
    """
    data: dict[str, Any] = {}
    for column in signature.columns:
        values = [row.get(column.name) for row in rows]
        has_missing = any(v is None for v in values)
        if column.type is LogicalType.FLOAT or (column.type is LogicalType.INTEGER and has_missing):
            data[column.name] = pd.Series(
                [math.nan if v is None else float(v) for v in values], dtype="float64"
            )
        elif column.type is LogicalType.INTEGER:
            data[column.name] = pd.Series(values, dtype="int64")
        elif column.type is LogicalType.DATETIME:
            data[column.name] = pd.to_datetime(pd.Series(values, dtype="object"))
        else:
            data[column.name] = pd.Series(values)
    return pd.DataFrame(data, columns=signature.names)
