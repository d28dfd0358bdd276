"""The native protocol's decoder and encoder, called directly (no server)."""

from __future__ import annotations

import json
from datetime import datetime

import msgspec
import numpy as np
import pytest

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving._batch import Scored
from closedloop.serving._protocols import Limits, ProtocolError, decode_native, encode_native

SIGNATURE = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False),
        ColumnSchema("hours", LogicalType.FLOAT),
        ColumnSchema("sex", LogicalType.CATEGORY, categories=("F", "M")),
    )
)
ALL = TableSchema(
    (
        ColumnSchema("i", LogicalType.INTEGER, nullable=False),
        ColumnSchema("f", LogicalType.FLOAT, nullable=False),
        ColumnSchema("b", LogicalType.BOOLEAN, nullable=False),
        ColumnSchema("c", LogicalType.CATEGORY, nullable=False),
        ColumnSchema("s", LogicalType.STRING, nullable=False),
        ColumnSchema("d", LogicalType.DATETIME, nullable=False),
    )
)
GOOD = '{"age": 40, "hours": 38.5, "sex": "F"}'
LIMITS = Limits()


def _refused(text: str | bytes, signature: TableSchema = SIGNATURE, **limits: int) -> ProtocolError:
    body = text.encode() if isinstance(text, str) else text
    with pytest.raises(ProtocolError) as info:
        decode_native(body, signature, Limits(**limits))
    return info.value


def test_records_and_columns_give_the_same_typed_batch() -> None:
    records = decode_native(
        b'{"records": [{"age": 30, "hours": 40.5, "sex": "F"}, {"age": 31}]}', SIGNATURE, LIMITS
    )
    columns = decode_native(
        b'{"columns": {"age": [30, 31], "hours": [40.5, null], "sex": ["F", null]}}',
        SIGNATURE,
        LIMITS,
    )
    for request in (records, columns):
        batch = request.batch
        assert batch.n_rows == 2
        assert list(batch.columns) == ["age", "hours", "sex"]
        assert batch.columns["age"].dtype == np.int64
        assert batch.columns["age"].tolist() == [30, 31]
        assert batch.columns["hours"].dtype == np.float64
        assert batch.columns["hours"][0] == 40.5
        assert np.isnan(batch.columns["hours"][1])
        assert batch.columns["sex"].dtype == object
        assert batch.columns["sex"].tolist() == ["F", None]
        assert request.explain is False


def test_explain_is_read() -> None:
    assert decode_native(
        f'{{"records": [{GOOD}], "explain": true}}'.encode(), SIGNATURE, LIMITS
    ).explain
    error = _refused(f'{{"records": [{GOOD}], "explain": "yes"}}')
    assert [e["loc"] for e in error.detail] == [["body", "explain"]]


def test_lax_values_are_taken_as_the_row_model_takes_them() -> None:
    request = decode_native(
        b'{"records": [{"i": "39", "f": 3, "b": "false", "c": 7, "s": 1.5,'
        b' "d": "2024-01-01T12:00:00+02:00"}, {"i": 1.0, "f": 1e30, "b": true, "c": "a",'
        b' "s": "t", "d": "2024-01-01T10:00:00"}]}',
        ALL,
        LIMITS,
    )
    columns = request.batch.columns
    assert columns["i"].tolist() == [39, 1]
    assert columns["f"].tolist() == [3.0, 1e30]
    assert columns["b"].tolist() == [False, True]
    assert columns["c"].tolist() == ["7", "a"]
    assert columns["s"].tolist() == ["1.5", "t"]
    assert columns["d"].dtype == "datetime64[ns]"
    assert list(columns["d"]) == [np.datetime64(datetime(2024, 1, 1, 10), "ns")] * 2


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("age", "NaN"),
        ("age", "Infinity"),
        ("age", "-Infinity"),
        ("age", "1e400"),
        ("hours", "Infinity"),
        ("hours", "-Infinity"),
        ("hours", "1e400"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(field: str, literal: str) -> None:
    fields = {"age": "30", "hours": "40.0", "sex": '"M"', field: literal}
    record = "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"
    error = _refused(f'{{"records": [{GOOD}, {record}]}}')
    assert error.status == 422
    assert error.code == "INVALID_ARGUMENT"
    assert error.message.startswith(f"invalid request: records.1.{field}: ")
    assert [e["loc"] for e in error.detail] == [["body", "records", 1, field]]


def test_nan_in_a_nullable_column_means_missing() -> None:
    batch = decode_native(
        b'{"records": [{"age": 30, "hours": NaN, "sex": NaN}, {"age": 50, "hours": null}]}',
        SIGNATURE,
        LIMITS,
    ).batch
    assert batch.columns["age"].tolist() == [30, 50]
    assert np.isnan(batch.columns["hours"]).all()
    assert batch.columns["sex"].tolist() == [None, None]


@pytest.mark.parametrize("value", [str(10**30), str(-(10**30)), "1e30", f'"{10**30}"'])
def test_an_integer_beyond_int64_is_refused(value: str) -> None:
    error = _refused(f'{{"records": [{GOOD}, {{"age": {value}}}]}}')
    assert "records.1.age" in error.message
    assert [e["loc"] for e in error.detail] == [["body", "records", 1, "age"]]


def test_huge_numbers_in_a_float_column() -> None:
    batch = decode_native(
        f'{{"records": [{{"age": 30, "hours": {10**30}}}]}}'.encode(), SIGNATURE, LIMITS
    ).batch
    assert batch.columns["hours"].tolist() == [1e30]
    error = _refused(f'{{"records": [{{"age": 30, "hours": {10**400}}}]}}')
    assert [e["loc"] for e in error.detail] == [["body", "records", 0, "hours"]]


@pytest.mark.parametrize(
    ("column", "value", "kind"),
    [
        ("i", '"abc"', "int_parsing"),
        ("i", "1.5", "int_from_float"),
        ("i", "false", "value_error"),
        ("f", '"x"', "float_parsing"),
        ("f", "true", "value_error"),
        ("b", '"maybe"', "bool_parsing"),
        ("c", '["a"]', "string_type"),
        ("d", '"not a date"', "datetime_from_date_parsing"),
        ("i", "null", "int_type"),
        ("c", "NaN", "value_error"),
        ("s", '"' + "x" * 1001 + '"', "string_too_long"),
    ],
)
def test_wrong_values_are_refused_with_the_row_models_types(
    column: str, value: str, kind: str
) -> None:
    good = {
        "i": "1",
        "f": "2.5",
        "b": "true",
        "c": '"a"',
        "s": '"t"',
        "d": '"2024-05-01T12:00:00Z"',
    }
    fields = {**good, column: value}
    record = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
    error = _refused(f'{{"records": [{record}]}}', ALL)
    assert [(e["loc"], e["type"]) for e in error.detail] == [(["body", "records", 0, column], kind)]
    assert len(error.detail[0]["input"]) <= 80


def test_missing_and_unknown_fields() -> None:
    error = _refused('{"records": [{"hours": 1}, {"age": 1, "colour": "red"}]}')
    assert [(e["loc"], e["type"]) for e in error.detail] == [
        (["body", "records", 0, "age"], "missing"),
        (["body", "records", 1, "colour"], "extra_forbidden"),
    ]
    columns = _refused('{"columns": {"hours": [1.0], "colour": ["red"]}}')
    assert sorted((tuple(e["loc"]), e["type"]) for e in columns.detail) == [
        (("body", "columns", "age"), "missing"),
        (("body", "columns", "colour"), "extra_forbidden"),
    ]


def test_a_long_string_names_the_setting_in_the_hint() -> None:
    long = "x" * 1001
    error = _refused(json.dumps({"records": [{"age": 30, "sex": long}]}))
    assert [(e["loc"], e["type"]) for e in error.detail] == [
        (["body", "records", 0, "sex"], "string_too_long")
    ]
    assert "serving_max_string_length" in (error.hint or "")
    ok = decode_native(
        json.dumps({"records": [{"age": 30, "sex": long[:-1]}]}).encode(), SIGNATURE, LIMITS
    )
    assert ok.batch.columns["sex"][0] == long[:-1]
    assert (
        _refused('{"records": [{"age": 30, "sex": 12345}]}', max_string_length=4).detail[0]["type"]
        == "string_too_long"
    )


def test_too_many_records_and_too_many_errors() -> None:
    many = json.dumps({"records": [{"age": 30, "sex": "F"}] * 11})
    [entry] = _refused(many, max_records=10).detail
    assert (entry["loc"], entry["type"]) == (["body", "records"], "too_long")
    assert len(entry["input"]) <= 80
    bad = _refused(json.dumps({"records": [{"age": "y" * 500, "sex": "F"}] * 1000}))
    assert len(bad.detail) == 20
    assert bad.omitted == 980
    assert "(and 995 more)" in bad.message
    assert [e["loc"] for e in bad.detail] == [["body", "records", i, "age"] for i in range(20)]
    long_name = _refused(json.dumps({"records": [{"age": 30, "k" * 100_000: 1}]}))
    assert len(json.dumps(long_name.detail)) < 2000


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"[1]", 400),
        (b"{", 400),
        (b"{}", 400),
        (b'{"records": [{"age": 1}], "columns": {"age": [1]}}', 400),
        (b'{"records": []}', 422),
        (b'{"records": [{"age": 1}], "extra": 1}', 422),
        (b'{"columns": {"age": [1, 2], "hours": [1.0]}}', 422),
        (b'{"columns": {"age": []}}', 422),
        (b"\xff\xfe", 400),
    ],
)
def test_other_shapes_are_refused(body: bytes, status: int) -> None:
    assert _refused(body).status == status


def test_any_column_name_works() -> None:
    names = ["my col", "json", "_id", "class", "c1", "é", "records"]
    signature = TableSchema(tuple(ColumnSchema(n, LogicalType.INTEGER) for n in names))
    data = {n: i for i, n in enumerate(names)}
    batch = decode_native(json.dumps({"records": [data]}).encode(), signature, LIMITS).batch
    assert {k: v.tolist() for k, v in batch.columns.items()} == {k: [v] for k, v in data.items()}
    assert _refused(json.dumps({"records": [{"c0": 1}]}), signature).detail[0]["type"] == (
        "extra_forbidden"
    )


def test_encode_native_has_the_predict_response_shape() -> None:
    scored = Scored(
        np.array(["no", "yes"], dtype=object),
        np.array([[0.9, 0.1], [0.2, 0.8]]),
        ["no", "yes"],
        "m/1",
    )
    body = msgspec.json.decode(
        encode_native(scored, request_id="r1", latency_ms=1.5, warnings=["w"])
    )
    assert body == {
        "request_id": "r1",
        "model_version": "m/1",
        "predictions": ["no", "yes"],
        "probabilities": [{"no": 0.9, "yes": 0.1}, {"no": 0.2, "yes": 0.8}],
        "latency_ms": 1.5,
        "warnings": ["w"],
    }
    regression = Scored(np.array([1.5, 2.0]), None, [], "r/2")
    plain = msgspec.json.decode(
        encode_native(
            regression, request_id="r", latency_ms=0.1, warnings=[], explanations=[{}, {}]
        )
    )
    assert "probabilities" not in plain
    assert plain["predictions"] == [1.5, 2.0]
    assert plain["explanations"] == [{}, {}]
