"""Non-finite and huge numbers, and the JSON 500 of last resort (issue 6, item 2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from serving_support import Served, TestClient, records
from sklearn.pipeline import Pipeline

from closedloop.predictions import list_predictions
from closedloop.serving import REQUEST_ID_HEADER

GOOD = '{"age": 40, "hours": 38.5, "sex": "F"}'


def _raw(client: TestClient, text: str, **headers: str) -> Any:
    """POST ``text`` as it is: json.dumps would never send NaN, Infinity or 10**30 as such."""
    return client.post(
        "/predict",
        content=text.encode(),
        headers={"content-type": "application/json", **headers},
    )


def _still_serving(served: Served, client: TestClient) -> None:
    response = client.post("/predict", json={"records": records(served.test.iloc[:2])})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("field", "literal"),
    [
        ("age", "NaN"),
        ("age", "Infinity"),
        ("age", "-Infinity"),
        ("age", "1e400"),  # read as infinity by Python's JSON parser
        ("hours", "Infinity"),
        ("hours", "-Infinity"),
        ("hours", "1e400"),
        # (hours, NaN) is a missing value: hours is nullable (see below)
    ],
)
def test_non_finite_numbers_are_422_naming_the_field(
    served: Served, client: TestClient, field: str, literal: str
) -> None:
    fields = {"age": "30", "hours": "40.0", "sex": '"M"', field: literal}
    record = "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"
    response = _raw(client, f'{{"records": [{GOOD}, {record}]}}', **{REQUEST_ID_HEADER: "nf-1"})
    assert response.status_code == 422, response.text
    assert response.headers[REQUEST_ID_HEADER] == "nf-1"
    body = response.json()
    assert body["error"]["code"] == "INVALID_ARGUMENT"
    assert f"records.1.{field}" in body["error"]["message"]
    assert [e["loc"] for e in body["detail"]] == [["body", "records", 1, field]]
    assert served.ws.metadata.predictions.count() == 0
    _still_serving(served, client)


def test_nan_in_a_nullable_column_means_missing(served: Served, client: TestClient) -> None:
    response = _raw(
        client, '{"records": [{"age": 30, "hours": NaN, "sex": NaN}, {"age": 50, "hours": null}]}'
    )
    assert response.status_code == 200, response.text
    frame = served.test.iloc[:2][["age", "hours", "sex"]].copy()
    frame["age"] = [30, 50]
    frame["hours"] = np.nan
    frame["sex"] = None
    assert response.json()["predictions"] == served.pipe.predict(frame).tolist()
    logged = list_predictions(served.ws)
    assert [dict(p.inputs) for p in logged] == [
        {"age": 30, "hours": None, "sex": None},
        {"age": 50, "hours": None, "sex": None},
    ]


def test_an_integer_beyond_int64_is_422_naming_the_field(
    served: Served, client: TestClient
) -> None:
    for value in (str(10**30), str(-(10**30)), "1e30", f'"{10**30}"'):
        response = _raw(client, f'{{"records": [{GOOD}, {{"age": {value}}}]}}')
        assert response.status_code == 422, (value, response.text)
        body = response.json()
        assert "records.1.age" in body["error"]["message"]
        assert [e["loc"] for e in body["detail"]] == [["body", "records", 1, "age"]]
    _still_serving(served, client)


def test_a_huge_number_in_a_float_column_is_read_as_a_float(
    served: Served, client: TestClient
) -> None:
    response = _raw(client, f'{{"records": [{{"age": 30, "hours": {10**30}}}]}}')
    assert response.status_code == 200, response.text
    [logged] = list_predictions(served.ws)
    assert logged.inputs["hours"] == 1e30
    # Beyond the float range it is refused, not turned into infinity.
    too_big = _raw(client, f'{{"records": [{{"age": 30, "hours": {10**400}}}]}}')
    assert too_big.status_code == 422
    assert [e["loc"] for e in too_big.json()["detail"]] == [["body", "records", 0, "hours"]]


def test_an_unexpected_error_is_a_json_500_with_the_request_id(
    served: Served, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Pipeline, frame: object) -> None:
        raise RuntimeError("secret internals of the model")

    monkeypatch.setattr(Pipeline, "predict_proba", broken)
    # The default test client re-raises what escapes the app: nothing may escape.
    response = client.post(
        "/predict", json={"records": records(served.test.iloc[:2])}, headers={"X-Request-ID": "b1"}
    )
    assert response.status_code == 500
    assert response.headers[REQUEST_ID_HEADER] == "b1"
    assert response.json() == {
        "error": {
            "code": "INTERNAL",
            "message": "internal server error",
            "hint": "see the server log",
        }
    }
    assert "secret" not in response.text
    unnamed = client.post("/predict", json={"records": records(served.test.iloc[:1])})
    assert unnamed.status_code == 500
    assert len(unnamed.headers[REQUEST_ID_HEADER]) == 32
    events = served.ws.metadata.list_audit_events(action="model.predict")
    assert {e.outcome for e in events} == {"error:RuntimeError"}
    monkeypatch.undo()
    _still_serving(served, client)


def test_validation_errors_never_break_on_their_own_input(client: TestClient) -> None:
    # Each error echoes a short repr of its input: NaN, infinity and huge values included.
    text = '{"records": [{"age": NaN, "hours": Infinity, "sex": -Infinity, "x": NaN}]}'
    response = _raw(client, text)
    assert response.status_code == 422, response.text
    body = response.json()
    assert sorted(e["loc"][-1] for e in body["detail"]) == ["age", "hours", "sex", "x"]
    assert {e["input"] for e in body["detail"]} <= {"nan", "inf", "-inf"}
    assert all(isinstance(e["msg"], str) and e["type"] for e in body["detail"])
