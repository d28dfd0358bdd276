from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pandas as pd
import pytest
from pydantic import ValidationError

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving import frame_from_rows, request_row_model, unseen_categories

ALL_TYPES = TableSchema(
    (
        ColumnSchema("i", LogicalType.INTEGER, nullable=False),
        ColumnSchema("f", LogicalType.FLOAT, nullable=False),
        ColumnSchema("b", LogicalType.BOOLEAN, nullable=False),
        ColumnSchema("c", LogicalType.CATEGORY, nullable=False, categories=("a", "b")),
        ColumnSchema("s", LogicalType.STRING, nullable=False),
        ColumnSchema("d", LogicalType.DATETIME, nullable=False),
    )
)
GOOD = {"i": 1, "f": 2.5, "b": True, "c": "a", "s": "text", "d": "2024-05-01T12:00:00Z"}


def _errors(model: type, data: dict[str, object]) -> list[tuple[tuple[object, ...], str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)  # type: ignore[attr-defined]
    return [(e["loc"], e["type"]) for e in info.value.errors()]


def test_each_logical_type_maps_to_a_python_type() -> None:
    row = request_row_model(ALL_TYPES).model_validate(GOOD).model_dump(by_alias=True)
    assert row == {
        "i": 1,
        "f": 2.5,
        "b": True,
        "c": "a",
        "s": "text",
        "d": datetime(2024, 5, 1, 12, tzinfo=UTC),
    }


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("i", "abc", "int_parsing"),
        ("i", 1.5, "int_from_float"),
        ("i", False, "value_error"),
        ("f", "x", "float_parsing"),
        ("f", float("nan"), "finite_number"),
        ("f", True, "value_error"),
        ("b", "maybe", "bool_parsing"),
        ("c", ["a"], "string_type"),
        ("d", "not a date", "datetime_from_date_parsing"),
        ("i", None, "int_type"),
    ],
)
def test_wrong_values_are_refused_naming_the_column(column: str, value: object, kind: str) -> None:
    model = request_row_model(ALL_TYPES)
    assert _errors(model, {**GOOD, column: value}) == [((column,), kind)]


def test_lax_conversions_are_kept() -> None:
    row = request_row_model(ALL_TYPES).model_validate(
        {**GOOD, "i": "39", "f": 3, "b": "false", "c": 7, "s": 1.5}
    )
    assert row.model_dump(by_alias=True)["i"] == 39
    assert row.model_dump(by_alias=True)["f"] == 3.0
    assert row.model_dump(by_alias=True)["b"] is False
    assert row.model_dump(by_alias=True)["c"] == "7"
    assert row.model_dump(by_alias=True)["s"] == "1.5"


def test_required_nullable_and_unknown_fields() -> None:
    signature = TableSchema(
        (
            ColumnSchema("age", LogicalType.INTEGER, nullable=False),
            ColumnSchema("hours", LogicalType.FLOAT),
        )
    )
    model = request_row_model(signature)
    assert _errors(model, {}) == [(("age",), "missing")]
    assert _errors(model, {"age": 1, "colour": "red"}) == [(("colour",), "extra_forbidden")]
    assert _errors(model, {"age": 1, "c0": 2}) == [(("c0",), "extra_forbidden")]
    row = model.model_validate({"age": 1})
    assert row.model_dump(by_alias=True) == {"age": 1, "hours": None}
    assert row.model_dump(by_alias=True, exclude_unset=True) == {"age": 1}


def test_any_column_name_works_without_warnings() -> None:
    names = ["my col", "json", "model_config", "_id", "class", "c1", "é"]
    signature = TableSchema(tuple(ColumnSchema(n, LogicalType.INTEGER) for n in names))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = request_row_model(signature)
    data = {n: i for i, n in enumerate(names)}
    assert model.model_validate(data).model_dump(by_alias=True) == data
    schema = model.model_json_schema(by_alias=True)
    assert list(schema["properties"]) == names


def test_unseen_categories_are_listed_per_column() -> None:
    signature = TableSchema(
        (
            ColumnSchema("sex", LogicalType.CATEGORY, categories=("F", "M")),
            ColumnSchema("free", LogicalType.CATEGORY),
            ColumnSchema("s", LogicalType.STRING),
        )
    )
    rows = [{"sex": "X", "free": "q", "s": "z"}, {"sex": None}, {"sex": "Y"}, {"sex": "X"}]
    assert unseen_categories(signature, rows) == {"sex": {"X": 2, "Y": 1}}
    assert unseen_categories(signature, [{"sex": "F"}]) == {}


def test_frame_has_the_signature_columns_in_order_with_sensible_dtypes() -> None:
    signature = TableSchema(
        (
            ColumnSchema("hours", LogicalType.FLOAT),
            ColumnSchema("age", LogicalType.INTEGER, nullable=False),
            ColumnSchema("kids", LogicalType.INTEGER),
            ColumnSchema("sex", LogicalType.CATEGORY),
            ColumnSchema("at", LogicalType.DATETIME),
        )
    )
    rows = [
        {"age": 30, "hours": 40.0, "kids": 1, "sex": "F", "at": datetime(2024, 1, 1, tzinfo=UTC)},
        {"age": 31, "kids": None, "sex": None, "at": None},
    ]
    frame = frame_from_rows(signature, rows)
    assert list(frame.columns) == ["hours", "age", "kids", "sex", "at"]
    assert frame["age"].dtype == "int64"
    assert frame["hours"].dtype == "float64"
    assert frame["kids"].dtype == "float64"
    assert pd.isna(frame.loc[1, "hours"])
    assert pd.isna(frame.loc[1, "kids"])
    assert pd.isna(frame.loc[1, "sex"])
    assert frame.loc[0, "sex"] == "F"
    assert pd.api.types.is_datetime64_any_dtype(frame["at"])


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("i", 2**63, "less_than_equal"),
        ("i", -(2**63) - 1, "greater_than_equal"),
        ("i", float("inf"), "finite_number"),
        ("c", float("nan"), "value_error"),
        ("s", float("-inf"), "value_error"),
        ("s", "x" * 1001, "string_too_long"),
        ("c", "x" * 1001, "string_too_long"),
    ],
)
def test_non_finite_huge_and_long_values_are_refused(column: str, value: object, kind: str) -> None:
    assert _errors(request_row_model(ALL_TYPES), {**GOOD, column: value}) == [((column,), kind)]


def test_int64_bounds_and_the_string_limit_are_inclusive() -> None:
    model = request_row_model(ALL_TYPES, max_string_length=4)
    row = model.model_validate({**GOOD, "i": 2**63 - 1, "s": "abcd", "c": 1234})
    assert row.model_dump(by_alias=True)["i"] == 2**63 - 1
    assert _errors(model, {**GOOD, "s": "abcde"}) == [(("s",), "string_too_long")]
    assert _errors(model, {**GOOD, "c": 12345}) == [(("c",), "string_too_long")]
    frame = frame_from_rows(ALL_TYPES, [row.model_dump(by_alias=True)])
    assert frame["i"].dtype == "int64"


def test_nan_is_missing_only_where_missing_is_allowed() -> None:
    signature = TableSchema(
        (
            ColumnSchema("i", LogicalType.INTEGER),
            ColumnSchema("f", LogicalType.FLOAT),
            ColumnSchema("c", LogicalType.CATEGORY),
            ColumnSchema("b", LogicalType.BOOLEAN),
            ColumnSchema("d", LogicalType.DATETIME),
            ColumnSchema("f2", LogicalType.FLOAT, nullable=False),
        )
    )
    model = request_row_model(signature)
    nan = float("nan")
    row = model.model_validate({"i": nan, "f": nan, "c": nan, "b": nan, "d": nan, "f2": 1.0})
    assert row.model_dump(by_alias=True) == {
        "i": None,
        "f": None,
        "c": None,
        "b": None,
        "d": None,
        "f2": 1.0,
    }
    assert _errors(model, {"f": float("inf"), "f2": 1.0}) == [(("f",), "finite_number")]
    assert _errors(model, {"f2": nan}) == [(("f2",), "finite_number")]


def test_a_request_may_mix_datetimes_with_and_without_a_time_zone() -> None:
    signature = TableSchema((ColumnSchema("at", LogicalType.DATETIME),))
    model = request_row_model(signature)
    rows = [
        model.model_validate({"at": text}).model_dump(by_alias=True)
        for text in ("2024-01-01T12:00:00+02:00", "2024-01-01T10:00:00", None)
    ]
    frame = frame_from_rows(signature, rows)
    assert frame["at"].dt.tz is None
    assert frame.loc[0, "at"] == frame.loc[1, "at"] == pd.Timestamp("2024-01-01T10:00:00")
    assert pd.isna(frame.loc[2, "at"])
