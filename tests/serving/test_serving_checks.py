"""Rows off the training data: out-of-range numbers and unseen categories (issue 6, item 4)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from serving_support import Served, TestClient, records

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving import create_app
from closedloop.serving._checks import find_out_of_range, find_unseen_categories
from closedloop.workspace import Workspace

RANGE_WARNING = "age: 2 row(s) outside the range seen in training [18, 80]: lowest -5, highest 500"


def test_out_of_range_values_are_served_with_a_warning_and_counted(
    served: Served, client: TestClient
) -> None:
    recs = [{"age": 500, "sex": "F"}, {"age": 30, "sex": "M"}, {"age": -5, "sex": "F"}]
    response = client.post("/predict", json={"records": recs})
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [RANGE_WARNING]
    [event] = served.ws.metadata.list_audit_events(action="model.predict")
    assert event.outcome == "ok"
    assert event.detail["out_of_range"] == {"age": 2}
    assert "unseen_categories" not in event.detail
    assert served.ws.metadata.predictions.count() == 3
    # The bounds themselves are in range.
    edges = client.post("/predict", json={"records": [{"age": 18}, {"age": 80}]})
    assert edges.json()["warnings"] == []


def test_both_kinds_are_warned_together(served: Served, client: TestClient) -> None:
    recs = [{"age": 500, "sex": "X"}, {"age": -5, "sex": "X"}]
    response = client.post("/predict", json={"records": recs})
    assert response.json()["warnings"] == [
        "sex: 2 row(s) with a category not seen in training: 'X' (2)",
        RANGE_WARNING,
    ]
    [event] = served.ws.metadata.list_audit_events(action="model.predict")
    assert (event.detail["unseen_categories"], event.detail["out_of_range"]) == (
        {"sex": 2},
        {"age": 2},
    )


def test_refuse_mode_answers_422_naming_field_value_and_range(served: Served) -> None:
    with TestClient(create_app(served.ws, "m@champion", out_of_range="refuse")) as client:
        recs = [{"age": 30}, {"age": 500}, {"age": 90}, {"age": 40}]
        response = client.post("/predict", json={"records": recs})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID_ARGUMENT"
        assert (
            "records.1.age: 500 is outside the range seen in training [18, 80]"
            in (error["message"])
        )
        assert "2 row(s)" in error["message"]
        assert "serving_out_of_range" in error["hint"]
        assert served.ws.metadata.predictions.count() == 0
        # Unseen categories are still only warned.
        ok = client.post("/predict", json={"records": [{"age": 30, "sex": "X"}]})
        assert ok.status_code == 200
        assert len(ok.json()["warnings"]) == 1
    events = served.ws.metadata.list_audit_events(action="model.predict")
    refused = [e for e in events if e.outcome != "ok"]
    assert [(e.outcome, e.detail["out_of_range"]) for e in refused] == [
        ("error:INVALID_ARGUMENT", {"age": 2})
    ]


def test_unseen_categories_can_be_refused_too(served: Served) -> None:
    with TestClient(create_app(served.ws, "m@champion", unseen_categories="refuse")) as client:
        recs = [{"age": 30, "sex": "F"}, {"age": 31, "sex": "X" * 300}, {"age": 500}]
        response = client.post("/predict", json={"records": recs})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["message"].startswith("records off the training data: records.1.sex: 'XXX")
        assert (
            "is not a category seen in training ('F', 'M'; 1 row(s) in 'sex')" in (error["message"])
        )
        assert len(error["message"]) < 300
        assert "serving_unseen_categories" in error["hint"]
        assert "serving_out_of_range" not in error["hint"]
        # Out of range alone is still served.
        assert client.post("/predict", json={"records": [{"age": 500}]}).status_code == 200


def test_the_policies_come_from_the_settings(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = served.ws.location.root if served.ws.location else None
    assert root is not None
    monkeypatch.setenv("CLOSEDLOOP_SERVING_OUT_OF_RANGE", "refuse")
    monkeypatch.setenv("CLOSEDLOOP_SERVING_UNSEEN_CATEGORIES", "refuse")
    with Workspace.open(root) as ws, TestClient(create_app(ws, "m@champion")) as client:
        assert client.post("/predict", json={"records": [{"age": 500}]}).status_code == 422
        assert (
            client.post("/predict", json={"records": [{"age": 30, "sex": "Q"}]}).status_code == 422
        )
        good = client.post("/predict", json={"records": records(served.test.iloc[:3])})
        assert good.status_code == 200
    with Workspace.open(root) as ws:
        app = create_app(ws, "m@champion", out_of_range="warn")
        with TestClient(app) as client:
            assert client.post("/predict", json={"records": [{"age": 500}]}).status_code == 200


def test_range_check_per_column_kind() -> None:
    signature = TableSchema(
        (
            ColumnSchema("f", LogicalType.FLOAT, minimum=0.5, maximum=1.5),
            ColumnSchema("low", LogicalType.INTEGER, minimum=0),
            ColumnSchema("free", LogicalType.FLOAT),
            ColumnSchema("c", LogicalType.CATEGORY, categories=("a",)),
        )
    )
    frame = pd.DataFrame(
        {
            "f": [0.5, math.nan, 1.6, 0.1, 1e30],
            "low": pd.Series([1, -1, 2, -3, 0], dtype="int64"),
            "free": [1e300, -1e300, 0, 0, 0],
            "c": ["a", None, "b", "b", "z"],
        }
    )
    found = {f.column: f for f in find_out_of_range(signature, frame)}
    assert set(found) == {"f", "low"}
    assert (found["f"].rows, found["f"].first_row, found["f"].first_value) == (3, 2, 1.6)
    assert (found["f"].lowest, found["f"].highest) == (0.1, 1e30)
    assert found["f"].warning() == (
        "f: 3 row(s) outside the range seen in training [0.5, 1.5]: lowest 0.1, highest 1e+30"
    )
    assert found["low"].range_text == "[0, inf]"
    assert found["low"].refusal() == (
        "records.1.low: -1 is outside the range seen in training [0, inf] (2 row(s) in 'low')"
    )
    [unseen] = find_unseen_categories(signature, frame)
    assert (unseen.column, unseen.counts, unseen.first_row) == ("c", {"b": 2, "z": 1}, 2)


def test_checks_count_every_row_of_a_full_request() -> None:
    signature = TableSchema(
        (
            ColumnSchema("x", LogicalType.FLOAT, minimum=0, maximum=1),
            ColumnSchema("c", LogicalType.CATEGORY, categories=("a", "b")),
        )
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(0.5, 0.3, 10_000), "c": rng.choice(["a", "b", "q"], 10_000)}
    )
    [outside] = find_out_of_range(signature, frame)
    [unseen] = find_unseen_categories(signature, frame)
    assert outside.rows == int(((frame["x"] < 0) | (frame["x"] > 1)).sum())
    assert unseen.counts == {"q": int((frame["c"] == "q").sum())}
