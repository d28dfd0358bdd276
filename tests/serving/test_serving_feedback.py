"""The feedback route alone, mounted on a tiny app with serving's error handlers."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from closedloop.predictions import list_labels
from closedloop.serving._feedback import MAX_LABELS, feedback_router
from closedloop.serving.errors import install_error_handlers
from closedloop.testing import log_request
from closedloop.workspace import Actions, Workspace


@pytest.fixture
def client(workspace: Workspace) -> TestClient:
    log_request(workspace, "m/1", pd.DataFrame({"x": [1, 2]}), [0, 1], request_id="r1", time=1)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(feedback_router(workspace))
    return TestClient(app)


def test_labels_are_attached_and_unknown_ids_reported(
    client: TestClient, workspace: Workspace
) -> None:
    body = {"labels": [{"request_id": "r1", "label": 1}, {"request_id": "nope", "label": 0}]}
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 200
    doc = r.json()
    assert (doc["attached"], doc["replaced"]) == (1, 0)
    assert doc["unknown_request_ids"] == ["nope"]
    assert doc["bad_rows"] == []
    again = client.post(
        "/v1/feedback", json={"labels": [{"request_id": "r1", "row": 0, "label": 0}]}
    )
    assert again.json()["replaced"] == 1
    assert [(lb.row, lb.label) for lb in list_labels(workspace)] == [(0, 0)]
    (event, _) = workspace.metadata.list_audit_events(action=Actions.PREDICTION_LABEL)
    assert event.detail["principal"]["source"] == "testclient"


def test_a_row_outside_the_request_is_reported(client: TestClient) -> None:
    r = client.post("/v1/feedback", json={"labels": [{"request_id": "r1", "row": 5, "label": 1}]})
    assert r.status_code == 200
    assert r.json()["bad_rows"] == [{"request_id": "r1", "row": 5, "n_rows": 2}]
    assert r.json()["attached"] == 0


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"request_id": "r1", "label": None}, ["body", "labels", 0, "label"]),
        ({"request_id": "r1", "label": [1]}, ["body", "labels", 0, "label"]),
        ({"request_id": "r1", "row": -1, "label": 1}, ["body", "labels", 0, "row"]),
        ({"request_id": "", "label": 1}, ["body", "labels", 0, "request_id"]),
        ({"label": 1}, ["body", "labels", 0, "request_id"]),
        ({"request_id": "r1", "label": 1, "extra": 2}, ["body", "labels", 0, "extra"]),
    ],
)
def test_bad_entries_are_422_with_their_location(
    client: TestClient, workspace: Workspace, entry: dict[str, object], where: list[object]
) -> None:
    r = client.post("/v1/feedback", json={"labels": [entry]})
    assert r.status_code == 422
    doc = r.json()
    assert doc["error"]["code"] == "INVALID_ARGUMENT"
    assert any(d["loc"][: len(where)] == where for d in doc["detail"]), doc["detail"]
    assert list_labels(workspace) == []


def test_nan_is_refused(client: TestClient) -> None:
    raw = '{"labels": [{"request_id": "r1", "label": NaN}]}'
    r = client.post("/v1/feedback", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_the_number_of_labels_is_bounded(client: TestClient) -> None:
    labels = [{"request_id": "r1", "label": 1}] * (MAX_LABELS + 1)
    r = client.post("/v1/feedback", json={"labels": labels})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "labels"]
    assert client.post("/v1/feedback", json={"labels": []}).status_code == 422
