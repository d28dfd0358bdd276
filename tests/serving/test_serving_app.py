from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_support import Served, TestClient, records
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import NotFoundError
from closedloop.predictions import list_predictions
from closedloop.registry import register_model
from closedloop.serving import create_app


def _predict(client: TestClient, recs: list[dict[str, Any]], **headers: str) -> Any:
    return client.post("/predict", json={"records": recs}, headers=headers)


def test_predictions_match_the_pipeline_and_probabilities_sum_to_one(
    served: Served, client: TestClient
) -> None:
    frame = served.test
    response = _predict(client, records(frame))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "m/1"
    assert body["predictions"] == served.pipe.predict(frame[["age", "hours", "sex"]]).tolist()
    expected = served.pipe.predict_proba(frame[["age", "hours", "sex"]])
    assert len(body["probabilities"]) == len(frame)
    for got, want in zip(body["probabilities"], expected, strict=True):
        assert set(got) == {"no", "yes"}
        assert math.isclose(sum(got.values()), 1.0, abs_tol=1e-9)
        assert np.allclose([got["no"], got["yes"]], want)
    assert body["latency_ms"] > 0
    assert body["warnings"] == []
    assert response.headers["X-Request-ID"] == body["request_id"]


def test_every_row_is_logged_with_request_id_inputs_and_output(
    served: Served, client: TestClient
) -> None:
    recs = records(served.test)
    sizes = [1, 7, 12]
    ids = []
    start = 0
    for n in sizes:
        response = _predict(client, recs[start : start + n])
        assert response.status_code == 200
        ids.append(response.json()["request_id"])
        start += n
    log = served.ws.metadata.predictions
    assert log.count() == sum(sizes)
    assert log.count("m/1") == sum(sizes)
    logged = list_predictions(served.ws, "m/1")
    assert [p.request_id for p in logged] == [
        i for i, n in zip(ids, sizes, strict=True) for _ in range(n)
    ]
    assert [p.row for p in logged] == [r for n in sizes for r in range(n)]
    assert [dict(p.inputs) for p in logged] == recs[: sum(sizes)]
    labels = served.pipe.predict(served.test[["age", "hours", "sex"]].iloc[: sum(sizes)])
    assert [p.output["label"] for p in logged] == labels.tolist()
    assert all(set(p.output["probabilities"]) == {"no", "yes"} for p in logged)
    assert all(p.latency_ms > 0 and p.time > 0 for p in logged)
    events = served.ws.metadata.list_audit_events(action="model.predict")
    assert sorted(e.detail["request_id"] for e in events) == sorted(ids)
    assert {e.outcome for e in events} == {"ok"}
    assert {e.resource for e in events} == {"model:m/1"}
    assert sorted(e.detail["rows"] for e in events) == sizes


def test_request_id_header_is_echoed_and_logged(served: Served, client: TestClient) -> None:
    response = _predict(client, records(served.test.iloc[:2]), **{"X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-42"
    assert response.json()["request_id"] == "req-42"
    assert {p.request_id for p in list_predictions(served.ws)} == {"req-42"}


def test_a_reused_request_id_is_a_conflict_and_nothing_more_is_logged(
    served: Served, client: TestClient
) -> None:
    recs = records(served.test.iloc[:3])
    assert _predict(client, recs, **{"X-Request-ID": "once"}).status_code == 200
    again = _predict(client, recs, **{"X-Request-ID": "once"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ALREADY_EXISTS"
    assert served.ws.metadata.predictions.count() == 3


def test_an_invalid_request_id_header_is_refused(client: TestClient) -> None:
    response = _predict(client, [{"age": 30}], **{"X-Request-ID": "x" * 65})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "X-Request-ID"]


@pytest.mark.parametrize(
    ("record", "field", "kind"),
    [
        ({"age": "abc", "sex": "F"}, "age", "int_parsing"),
        ({"hours": 40.0, "sex": "F"}, "age", "missing"),
        ({"age": 30, "colour": "red"}, "colour", "extra_forbidden"),
        ({"age": True}, "age", "value_error"),
        ({"age": 30, "hours": "lots"}, "hours", "float_parsing"),
    ],
)
def test_invalid_records_are_422_naming_the_field(
    served: Served, client: TestClient, record: dict[str, Any], field: str, kind: str
) -> None:
    response = _predict(client, [{"age": 40, "sex": "M"}, record])
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "INVALID_ARGUMENT"
    assert f"records.1.{field}" in body["error"]["message"]
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [
        (["body", "records", 1, field], kind)
    ]
    assert served.ws.metadata.predictions.count() == 0


def test_empty_or_missing_records_are_422(client: TestClient) -> None:
    for payload in ({"records": []}, {}, {"records": [{"age": 30}], "extra": 1}):
        response = client.post("/predict", json=payload)
        assert response.status_code == 422, payload
        assert response.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_too_many_records_are_422(served: Served) -> None:
    with TestClient(create_app(served.ws, "m/1", max_records=2)) as client:
        assert _predict(client, [{"age": 30}] * 2).status_code == 200
        assert _predict(client, [{"age": 30}] * 3).status_code == 422


def test_nullable_fields_may_be_omitted_or_null(served: Served, client: TestClient) -> None:
    response = _predict(client, [{"age": 30}, {"age": 50, "hours": None, "sex": None}])
    assert response.status_code == 200, response.text
    frame = served.test.iloc[:2][["age", "hours", "sex"]].copy()
    frame["age"] = [30, 50]
    frame["hours"] = np.nan
    frame["sex"] = None
    assert response.json()["predictions"] == served.pipe.predict(frame).tolist()
    # The log keeps the validated columns: an omitted nullable field is logged missing.
    logged = list_predictions(served.ws)
    assert [dict(p.inputs) for p in logged] == [
        {"age": 30, "hours": None, "sex": None},
        {"age": 50, "hours": None, "sex": None},
    ]


def test_lax_numbers_are_read_and_unseen_categories_are_warned(
    served: Served, client: TestClient
) -> None:
    recs = [
        {"age": "39", "hours": 40, "sex": "X"},
        {"age": 20, "sex": "Z"},
        {"age": 21, "sex": "X"},
    ]
    response = _predict(client, recs)
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [
        "sex: 3 row(s) with a category not seen in training: 'X' (2), 'Z' (1)"
    ]
    [event] = served.ws.metadata.list_audit_events(action="model.predict")
    assert event.detail["unseen_categories"] == {"sex": 3}


def test_health_metadata_and_openapi(served: Served, client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "model_version": "m/1"}
    meta = client.get("/metadata").json()
    assert meta["signature"] == served.version.signature.to_dict()
    assert meta["name"] == "m"
    assert meta["version"] == 1
    assert meta["aliases"] == ["champion"]
    assert meta["target"] == "y"
    assert meta["classes"] == ["no", "yes"]
    assert meta["metrics"] == {"accuracy": 0.75}
    assert meta["ref"] == "m@champion"
    schema = client.get("/openapi.json").json()
    assert "/predict" in schema["paths"]
    assert set(schema["components"]["schemas"]["Record"]["properties"]) == {"age", "hours", "sex"}
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_unknown_model_ref_raises_not_found(served: Served) -> None:
    with pytest.raises(NotFoundError):
        create_app(served.ws, "nope@champion")
    with pytest.raises(NotFoundError):
        create_app(served.ws, "m/7")


def test_log_predictions_off_still_audits(served: Served) -> None:
    with TestClient(create_app(served.ws, "m@champion", log_predictions=False)) as client:
        assert _predict(client, records(served.test.iloc[:4])).status_code == 200
    assert served.ws.metadata.predictions.count() == 0
    events = served.ws.metadata.list_audit_events(action="model.predict")
    assert [(e.outcome, e.detail["rows"]) for e in events] == [("ok", 4)]


def test_regressor_has_no_probabilities_and_model_errors_are_422(served: Served) -> None:
    signature = TableSchema(
        (
            ColumnSchema("age", LogicalType.INTEGER, nullable=False),
            ColumnSchema("hours", LogicalType.FLOAT),
        )
    )
    frame = served.test[["age", "hours"]].dropna()
    model = make_pipeline(StandardScaler(), LinearRegression()).fit(frame, frame["age"] * 2.0)
    register_model(served.ws, "reg", model, signature=signature, target="y2")
    with TestClient(create_app(served.ws, "reg@latest")) as client:
        ok = _predict(client, [{"age": 30, "hours": 40.0}])
        assert ok.status_code == 200
        body = ok.json()
        assert "probabilities" not in body
        assert body["predictions"] == pytest.approx([60.0])
        # The signature allows a missing hours, but this model has no imputer.
        missing = _predict(client, [{"age": 30}])
        assert missing.status_code == 422
        assert missing.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert served.ws.metadata.predictions.count("reg/1") == 1


def test_a_missing_category_is_imputed_as_in_training(served: Served, client: TestClient) -> None:
    # One row whose only category is missing: the imputer must see NaN, not None.
    response = _predict(client, [{"age": 30, "hours": 40.0, "sex": None}])
    assert response.status_code == 200, response.text
    frame = pd.DataFrame({"age": [30], "hours": [40.0], "sex": pd.Series([np.nan], dtype=object)})
    proba = served.pipe.predict_proba(frame)[0]
    got = response.json()["probabilities"][0]
    assert got == pytest.approx(dict(zip(served.pipe.classes_, proba, strict=True)))


def test_an_all_float_pipeline_gets_its_frame(served: Served) -> None:
    # All-float records decode into one matrix; a pipeline that selects columns by name
    # must still get a DataFrame with the values, not the column names.
    frame = pd.DataFrame({"x": [float(i) for i in range(40)], "z": [1.0] * 40})
    y = ["a" if i < 20 else "b" for i in range(40)]
    pre = ColumnTransformer([("num", SimpleImputer(strategy="median"), ["x", "z"])])
    model = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(frame, y)
    signature = TableSchema(
        (ColumnSchema("x", LogicalType.FLOAT), ColumnSchema("z", LogicalType.FLOAT))
    )
    register_model(served.ws, "f", model, signature=signature, target="y", classes=["a", "b"])
    with TestClient(create_app(served.ws, "f@latest")) as client:
        response = client.post("/predict", json={"records": [{"x": 1.0, "z": 1.0}, {"x": 38.0}]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == ["a", "b"]
