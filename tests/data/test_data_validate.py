"""validate/check: every rule with its row count, a clean batch, the report."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from rich.console import Console
from rich.table import Table

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.data import Issue, ValidationReport, check, infer_schema, validate
from closedloop.errors import DataValidationError

SCHEMA = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False, minimum=0, maximum=120),
        ColumnSchema("income", LogicalType.FLOAT, nullable=True, minimum=0.0, maximum=1e6),
        ColumnSchema("sex", LogicalType.CATEGORY, nullable=False, categories=("F", "M")),
        ColumnSchema("member", LogicalType.BOOLEAN, nullable=True),
        ColumnSchema("joined", LogicalType.DATETIME, nullable=True),
        ColumnSchema("note", LogicalType.STRING, nullable=True),
    )
)


def _clean() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 27],
            "income": [1200.5, None, 0.0],
            "sex": ["F", "M", "F"],
            "member": [True, False, None],
            "joined": pd.to_datetime(["2024-01-01", None, "2023-05-06"]),
            "note": ["a", None, "c"],
        }
    )


def _only(report: ValidationReport, column: str, rule: str) -> Issue:
    found = [i for i in report.issues if i.column == column and i.rule == rule]
    assert len(found) == 1, report.issues
    return found[0]


def test_clean_batch_passes() -> None:
    report = validate(_clean(), SCHEMA)
    assert report.ok
    assert report.issues == ()
    assert (report.n_rows, report.n_columns) == (3, 6)
    assert check(_clean(), SCHEMA) == report


def test_values_read_by_meaning_not_storage() -> None:
    text = pd.DataFrame(
        {
            "age": ["31", " 45", "27.0"],
            "income": ["1.5", "2e3", None],
            "sex": ["F", "M", "M"],
            "member": ["true", "False", "1"],
            "joined": ["2024-01-01", "2024-02-03T10:00:00", None],
            "note": [1, 2, 3],
        },
        dtype=object,
    )
    report = validate(text, SCHEMA)
    assert report.issues == ()


def test_unknown_and_missing_columns() -> None:
    df = _clean().drop(columns=["note"]).assign(extra=1, more="x")
    report = validate(df, SCHEMA)
    missing = _only(report, "note", "missing_column")
    assert (missing.severity, missing.rows) == ("error", 3)
    for name in ("extra", "more"):
        issue = _only(report, name, "unknown_column")
        assert (issue.severity, issue.rows) == ("error", 3)
    assert not report.ok
    assert len(report.errors) == 3


def test_type_errors_count_rows_with_examples() -> None:
    df = _clean()
    df["age"] = pd.Series(["abc", 12.5, 40], dtype=object)
    df["income"] = pd.Series(["lots", "1.0", "none at all"], dtype=object)
    df["member"] = pd.Series(["yes?", True, "maybe"], dtype=object)
    df["joined"] = pd.Series(["2024-01-01", "not a date", None], dtype=object)
    report = validate(df, SCHEMA)
    age = _only(report, "age", "type")
    assert (age.severity, age.rows, age.examples) == ("error", 2, ("abc", "12.5"))
    assert "2 value(s) are not integer" in age.message
    assert _only(report, "income", "type").rows == 2
    assert _only(report, "member", "type").examples == ("yes?", "maybe")
    assert _only(report, "joined", "type").rows == 1


def test_non_integral_floats_and_bools_are_not_integers() -> None:
    df = _clean()
    df["age"] = [1.0, 2.5, float("inf")]
    assert _only(validate(df, SCHEMA), "age", "type").rows == 2
    df["age"] = [True, False, True]
    assert _only(validate(df, SCHEMA), "age", "type").rows == 3


def test_nulls_in_non_nullable_column() -> None:
    df = _clean()
    df["age"] = pd.Series([None, 3, None], dtype="Int64")
    df["sex"] = ["F", None, "M"]
    report = validate(df, SCHEMA)
    age = _only(report, "age", "null")
    assert (age.severity, age.rows, age.examples) == ("error", 2, ("row 0", "row 2"))
    assert _only(report, "sex", "null").rows == 1
    assert not [i for i in report.issues if i.column == "income"]  # nullable


def test_out_of_range_is_a_warning() -> None:
    df = _clean()
    df["age"] = [-1, 130, 50]
    df["income"] = [2e6, None, -5.0]
    report = validate(df, SCHEMA)
    age = _only(report, "age", "range")
    assert (age.severity, age.rows, age.examples) == ("warning", 2, ("-1", "130"))
    assert "[0, 120]" in age.message
    assert _only(report, "income", "range").rows == 2
    assert report.ok
    assert len(report.warnings) == 2


def test_unseen_category_is_a_warning() -> None:
    df = _clean()
    df["sex"] = ["F", "X", "Y"]
    report = validate(df, SCHEMA)
    sex = _only(report, "sex", "category")
    assert (sex.severity, sex.rows, sex.examples) == ("warning", 2, ("X", "Y"))
    assert report.ok


def test_examples_capped_at_three_distinct() -> None:
    df = pd.concat([_clean()] * 4, ignore_index=True)
    df["sex"] = ["a", "b", "a", "c", "d", "e"] * 2
    sex = _only(validate(df, SCHEMA), "sex", "category")
    assert sex.rows == 12
    assert sex.examples == ("a", "b", "c")


def test_whole_numbers_in_float_column_match_categories() -> None:
    schema = TableSchema((ColumnSchema("code", LogicalType.CATEGORY, categories=("1", "2")),))
    report = validate(pd.DataFrame({"code": [1.0, None, 2.0, 3.0]}), schema)
    assert _only(report, "code", "category").examples == ("3.0",)


def test_inferred_schema_accepts_its_own_data(people: pd.DataFrame) -> None:
    assert validate(people, infer_schema(people)).issues == ()


def test_duplicate_batch_column_is_an_error() -> None:
    df = pd.concat([_clean(), _clean()[["age"]]], axis=1)
    assert _only(validate(df, SCHEMA), "age", "duplicate_column").severity == "error"


def test_non_range_index_is_handled() -> None:
    df = _clean()
    df.index = [10, 10, 5]
    df["age"] = pd.Series(["x", 3, None], dtype=object, index=df.index)
    report = validate(df, SCHEMA)
    assert _only(report, "age", "type").rows == 1
    assert _only(report, "age", "null").examples == ("row 2",)


def test_check_raises_with_the_report() -> None:
    df = _clean().assign(extra=1)
    df["age"] = pd.Series(["abc", 1, 2], dtype=object)
    with pytest.raises(DataValidationError) as info:
        check(df, SCHEMA)
    error = info.value
    assert isinstance(error.report, ValidationReport)
    assert len(error.report.errors) == 2
    assert "2 validation error(s)" in error.message
    assert "'age'" in error.message
    assert "'type'" in error.message
    assert error.hint


def test_report_to_dict_and_render() -> None:
    df = _clean()
    df["sex"] = ["F", "X", "M"]
    df["age"] = pd.Series(["abc", 1, 2], dtype=object)
    report = validate(df, SCHEMA)
    doc = report.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["ok"] is False
    assert doc["issues"][0] == {
        "column": "age",
        "rule": "type",
        "severity": "error",
        "rows": 1,
        "examples": ["abc"],
        "message": "1 value(s) are not integer",
    }
    table = report.render()
    assert isinstance(table, Table)
    assert [c.header for c in table.columns] == ["column", "rule", "severity", "rows", "examples"]
    console = Console(file=io.StringIO(), width=200, color_system=None, record=True)
    console.print(table)
    text = console.export_text()
    assert "abc" in text
    assert "category" in text
