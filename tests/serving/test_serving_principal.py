"""A prediction is audited with the caller's address as the principal's source."""

from __future__ import annotations

from serving_support import Served, TestClient, records

from closedloop.workspace import current_actor


def test_a_prediction_is_audited_with_the_callers_address(
    served: Served, client: TestClient
) -> None:
    response = client.post("/predict", json={"records": records(served.test.iloc[:2])})
    assert response.status_code == 200
    [event] = served.ws.metadata.list_audit_events(action="model.predict")
    assert event.actor == current_actor()  # no tokens yet: the server's user
    assert event.detail["principal"] == {"kind": "os", "roles": [], "source": "testclient"}
    assert served.ws.principal.source is None  # the server's workspace is not changed


def test_a_failed_prediction_names_the_caller_too(served: Served, client: TestClient) -> None:
    body = {"records": records(served.test.iloc[:1])}
    headers = {"X-Request-ID": "req-1"}
    assert client.post("/predict", json=body, headers=headers).status_code == 200
    assert client.post("/predict", json=body, headers=headers).status_code == 409  # logged once
    events = served.ws.metadata.list_audit_events(action="model.predict")
    assert [e.outcome for e in events] == ["error:ALREADY_EXISTS", "ok"]
    assert {e.detail["principal"]["source"] for e in events} == {"testclient"}
