from __future__ import annotations

import re

import pytest

from closedloop.core import (
    And,
    Comparison,
    Field,
    Not,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)
from closedloop.errors import FilterSyntaxError, InvalidArgumentError

AUC = Field("metric", "auc")
MODEL = Field("param", "model")


def test_blank_is_no_filter() -> None:
    assert parse_filter(None) is None
    assert parse_filter("   ") is None


def test_and_of_metric_and_param() -> None:
    assert parse_filter("metrics.auc > 0.8 and params.model = 'rf'") == And(
        (Comparison(AUC, ">", 0.8), Comparison(MODEL, "=", "rf"))
    )


def test_precedence_and_binds_tighter_than_or() -> None:
    expr = parse_filter("metrics.auc > 1 or metrics.auc < 0 and params.model = 'x'")
    assert isinstance(expr, Or)
    assert isinstance(expr.items[1], And)


def test_parentheses_not_in_like_null() -> None:
    expr = parse_filter(
        "(metrics.`val loss` <= 0.3 OR tags.owner ILIKE 'A%') "
        "AND NOT status IN ('FAILED', \"KILLED\") and metrics.f1 is not null"
    )
    assert expr == And(
        (
            Or(
                (
                    Comparison(Field("metric", "val loss"), "<=", 0.3),
                    Comparison(Field("tag", "owner"), "ilike", "A%"),
                )
            ),
            Not(Comparison(Field("attribute", "status"), "in", ("FAILED", "KILLED"))),
            Comparison(Field("metric", "f1"), "is not null", None),
        )
    )


@pytest.mark.parametrize(
    ("text", "value"), [("1e-3", 0.001), ("-2", -2.0), (".5", 0.5), ("3.", 3.0)]
)
def test_numbers(text: str, value: float) -> None:
    assert parse_filter(f"metrics.m = {text}") == Comparison(Field("metric", "m"), "=", value)


def test_operators_are_normalised_and_dotted_keys_kept() -> None:
    assert parse_filter("metrics.val.auc == 1") == Comparison(Field("metric", "val.auc"), "=", 1.0)
    assert parse_filter("params.a <> 'b'") == Comparison(Field("param", "a"), "!=", "b")
    assert parse_filter("run_id = 'abc'") == Comparison(Field("attribute", "id"), "=", "abc")
    assert parse_filter("attributes.user = 'me'") == Comparison(
        Field("attribute", "user"), "=", "me"
    )


def test_escaped_quotes_in_strings() -> None:
    assert parse_filter(r"params.q = 'it\'s'") == Comparison(
        MODEL.__class__("param", "q"), "=", "it's"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metrics.auc > 'high'", "numeric"),
        ("params.model = 3", "quote"),
        ("params.model > 'a'", "not supported"),
        ("metrics.auc like 'a%'", "numeric"),
        ("colour = 'red'", "unknown run attribute"),
        ("metrics.auc >", "expected a number"),
        ("metrics.auc > 0.8 and", "expected a key"),
        ("metrics.auc > 0.8 params.x = 'y'", "expected 'and'"),
        ("(metrics.auc > 1", "expected ')'"),
        ("metrics.auc ~ 1", "unexpected character"),
        ("params.m not = 'x'", "after 'not'"),
        ("params.m in 'x'", "'('"),
        ("metrics.m is 1", "'null'"),
    ],
)
def test_errors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(FilterSyntaxError, match=re.escape(fragment)) as info:
        parse_filter(text)
    assert isinstance(info.value, InvalidArgumentError)
    assert isinstance(info.value, ValueError)
    assert info.value.hint


def test_order_by() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by("metrics.auc DESC, start_time") == [
        OrderBy(AUC, ascending=False),
        OrderBy(Field("attribute", "start_time"), ascending=True),
    ]
    assert parse_order_by(["params.model asc"]) == [OrderBy(MODEL, ascending=True)]


@pytest.mark.parametrize("clause", ["metrics.auc sideways", "nope DESC"])
def test_order_by_errors(clause: str) -> None:
    with pytest.raises(FilterSyntaxError):
        parse_order_by([clause])
