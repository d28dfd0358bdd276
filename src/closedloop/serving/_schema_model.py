"""Request models derived from a model signature: one pydantic model per input row."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from closedloop.core import ColumnSchema, LogicalType, TableSchema

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_STRING_LENGTH",
    "frame_from_rows",
    "request_row_model",
]

#: Bounds of an integer column (the model sees ``int64``).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Default bound on the characters of one text (category or string) value.
MAX_STRING_LENGTH = 1000


def _refuse_bool(value: Any) -> Any:
    # Lax mode turns true/false into 1/0; a boolean sent for a number is a client mistake.
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return value


def _refuse_non_finite(value: Any) -> Any:
    # Text columns coerce numbers to text: NaN would become the category "nan".
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN or infinity is not a text value; send null for a missing value")
    return value


def _nan_is_missing(value: Any) -> Any:
    # JSON as Python reads it allows NaN; where a value may be missing, NaN means missing.
    return None if isinstance(value, float) and math.isnan(value) else value


_NOT_BOOL = BeforeValidator(_refuse_bool)
_FINITE_TEXT = BeforeValidator(_refuse_non_finite)


def _type(logical: LogicalType, max_string_length: int) -> Any:
    if logical is LogicalType.INTEGER:
        return Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX), _NOT_BOOL]
    if logical is LogicalType.FLOAT:
        return Annotated[float, Field(allow_inf_nan=False), _NOT_BOOL]
    if logical is LogicalType.BOOLEAN:
        return bool
    if logical is LogicalType.DATETIME:
        return datetime
    # Categories and strings. Codes are often sent as JSON numbers (zip codes, levels):
    # accept them as text.
    return Annotated[
        str, Field(coerce_numbers_to_str=True, max_length=max_string_length), _FINITE_TEXT
    ]


def _field(column: ColumnSchema, max_string_length: int) -> tuple[Any, Any]:
    annotation = _type(column.type, max_string_length)
    description = f"{column.type.value} column {column.name!r}"
    if column.categories:
        description += f"; seen in training: {', '.join(column.categories)}"
    if column.nullable:
        return (
            Annotated[annotation | None, BeforeValidator(_nan_is_missing)],
            Field(default=None, alias=column.name, description=description),
        )
    return annotation, Field(alias=column.name, description=description)


def request_row_model(
    signature: TableSchema, *, name: str = "Record", max_string_length: int = MAX_STRING_LENGTH
) -> type[BaseModel]:
    """Build the pydantic model one request row must fit.

    Each column of the signature becomes a field: integers, floats, booleans, text
    (categories and strings) and datetimes. Non-nullable columns are required; nullable
    ones default to ``None``. Unknown fields are refused, naming the field. Pydantic's lax
    mode stays on, so ``"39"`` is read as ``39`` but ``"abc"`` is refused for an integer;
    booleans are refused for numbers. Python's JSON reader accepts ``NaN``, ``Infinity``
    and ``-Infinity``: in a nullable column ``NaN`` means missing (like ``null``); anywhere
    else a non-finite number is refused. Integers outside ``int64`` are refused. A float
    column takes any finite float, so ``10**30`` is read as ``1e30`` (the range check of
    the server then flags it); a number beyond the float range is refused. Text longer
    than ``max_string_length`` characters is refused. Categories and ranges are not
    enforced here (see :mod:`closedloop.serving._checks`).

    Fields are named ``c0``, ``c1``… internally and carry the column name as their alias,
    so any column name works (also ``"my col"``, ``"json"`` or ``"_id"``). Validate and dump
    with aliases: ``model.model_dump(by_alias=True)``.

    Args:
        signature: The model's input schema.
        name: The model's class name (shown in the OpenAPI schema).
        max_string_length: Most characters of one category or string value.

    Returns:
        A pydantic model class.
    """
    fields: dict[str, Any] = {
        f"c{i}": _field(column, max_string_length) for i, column in enumerate(signature.columns)
    }
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(extra="forbid", validate_by_alias=True, validate_by_name=False),
        **fields,
    )
    return model


def frame_from_rows(signature: TableSchema, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with the signature's columns in order.

    Missing values become NaN in numeric columns and missing in the others; integer
    columns stay integers unless a value is missing. Datetimes with a time zone are
    converted to UTC and given to the model without one (as naive ones are), so a request
    may mix both.

    Args:
        signature: The model's input schema.
        rows: Validated rows keyed by column name (missing keys count as missing values).

    Returns:
        One row per input row.
    """
    import pandas as pd

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
            data[column.name] = pd.to_datetime(pd.Series(_naive_utc(values), dtype="object"))
        else:
            data[column.name] = pd.Series(values)
    return pd.DataFrame(data, columns=signature.names)


def _naive_utc(values: Sequence[Any]) -> list[Any]:
    return [
        v.astimezone(UTC).replace(tzinfo=None)
        if isinstance(v, datetime) and v.tzinfo is not None
        else v
        for v in values
    ]
