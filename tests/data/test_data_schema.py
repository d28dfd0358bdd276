"""infer_schema: types, nullability, ranges, categories, determinism."""

from __future__ import annotations

import pandas as pd
import pytest

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.data import infer_schema
from closedloop.errors import InvalidArgumentError


@pytest.fixture
def crafted() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": pd.Series([3, -1, 7, 2], dtype="int64"),
            "i_nullable": pd.Series([1, None, 5, 2], dtype="Int64"),
            "f": [0.5, float("nan"), 2.25, -4.0],
            "b": [True, False, True, False],
            "d": pd.to_datetime(["2024-01-01", "2024-02-01", None, "2024-03-01"]),
            "cat": ["b", "a", None, "b"],
            "cat_dtype": pd.Categorical(["x", "y", "x", "x"], categories=["z", "y", "x"]),
            "obj": pd.Series(["p", 1, "q", 2.0], dtype=object),
            "many": [f"v{i}" for i in range(4)],
        }
    )


def test_types(crafted: pd.DataFrame) -> None:
    schema = infer_schema(crafted, max_categories=3)
    types = {c.name: c.type for c in schema}
    assert types == {
        "i": LogicalType.INTEGER,
        "i_nullable": LogicalType.INTEGER,
        "f": LogicalType.FLOAT,
        "b": LogicalType.BOOLEAN,
        "d": LogicalType.DATETIME,
        "cat": LogicalType.CATEGORY,
        "cat_dtype": LogicalType.CATEGORY,
        "obj": LogicalType.STRING,  # 4 distinct > 3
        "many": LogicalType.STRING,
    }
    assert schema.names == list(crafted.columns)


def test_nullable(crafted: pd.DataFrame) -> None:
    schema = infer_schema(crafted)
    nullable = {c.name for c in schema if c.nullable}
    assert nullable == {"i_nullable", "f", "d", "cat"}


def test_numeric_ranges_are_python_floats(crafted: pd.DataFrame) -> None:
    schema = infer_schema(crafted)
    i, i_nullable, f = schema.column("i"), schema.column("i_nullable"), schema.column("f")
    assert (i.minimum, i.maximum) == (-1.0, 7.0)
    assert (i_nullable.minimum, i_nullable.maximum) == (1.0, 5.0)
    assert (f.minimum, f.maximum) == (-4.0, 2.25)
    for value in (i.minimum, i.maximum, f.minimum, f.maximum):
        assert type(value) is float
    assert schema.column("cat").minimum is None
    assert schema.column("b").maximum is None


def test_categories_sorted_as_text(crafted: pd.DataFrame) -> None:
    schema = infer_schema(crafted)
    assert schema.column("cat").categories == ("a", "b")
    assert schema.column("cat_dtype").categories == ("x", "y")  # observed values only
    assert schema.column("obj").categories == ("1", "2", "p", "q")  # 2.0 written as "2"
    assert schema.column("i").categories is None


def test_max_categories_boundary() -> None:
    df = pd.DataFrame({"c": ["a", "b", "c", "a"]})
    assert infer_schema(df, max_categories=3).column("c").type is LogicalType.CATEGORY
    assert infer_schema(df, max_categories=2).column("c").type is LogicalType.STRING
    assert infer_schema(df, max_categories=2).column("c").categories is None


def test_all_null_and_empty_columns() -> None:
    df = pd.DataFrame({"f": [float("nan")] * 3, "s": pd.Series([None] * 3, dtype=object)})
    schema = infer_schema(df)
    assert schema.column("f") == ColumnSchema("f", LogicalType.FLOAT, True, None, None)
    assert schema.column("s") == ColumnSchema("s", LogicalType.CATEGORY, True, categories=())
    assert len(infer_schema(pd.DataFrame({"x": pd.Series([], dtype="int64")}))) == 1


def test_deterministic_and_round_trips(crafted: pd.DataFrame) -> None:
    first = infer_schema(crafted)
    shuffled = crafted.sample(frac=1.0, random_state=3)
    assert infer_schema(shuffled) == first  # row order does not matter
    assert TableSchema.from_dict(first.to_dict()) == first


def test_infinite_values_do_not_set_the_range() -> None:
    df = pd.DataFrame({"f": [1.0, float("inf"), -2.0, float("-inf")]})
    column = infer_schema(df).column("f")
    assert (column.minimum, column.maximum) == (-2.0, 1.0)


def test_refuses_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match="max_categories"):
        infer_schema(pd.DataFrame({"a": [1]}), max_categories=0)
    with pytest.raises(InvalidArgumentError, match="not a string"):
        infer_schema(pd.DataFrame([[1, 2]]))
    with pytest.raises(InvalidArgumentError, match="duplicate"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["a", "a"]))
