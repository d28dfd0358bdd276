"""Endpoints in the server: canary weights, shadows, named versions, alias moves followed live."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
from serving_support import SIGNATURE, Served, TestClient, make_frame, records, train

from closedloop.predictions import count_predictions, list_predictions
from closedloop.registry import create_endpoint, register_model, set_alias, update_endpoint
from closedloop.serving import BackgroundServer, create_app


def _second_version(served: Served, seed: int = 5) -> str:
    pipe = train(make_frame(300, seed=seed))
    version = register_model(
        served.ws, "m", pipe, signature=SIGNATURE, target="y", classes=list(pipe.classes_)
    )
    return version.id


def test_canary_weights_split_distinct_requests(served: Served) -> None:
    _second_version(served)
    create_endpoint(served.ws, "web", {"m/1": 80, "m/2": 20})
    recs = records(served.test.iloc[:1])
    with TestClient(create_app(served.ws, endpoints=["web"], reload_interval=0)) as client:
        seen = Counter(
            client.post(
                "/v1/models/web/predict", json={"records": recs}, headers={"X-Request-ID": f"r{i}"}
            ).json()["model_version"]
            for i in range(600)
        )
        again = client.post(
            "/v1/models/web/predict", json={"records": recs}, headers={"X-Request-ID": "r0x"}
        )
    assert set(seen) == {"m/1", "m/2"}
    assert 0.72 < seen["m/1"] / 600 < 0.88, seen
    assert again.status_code == 200
    seen[again.json()["model_version"]] += 1
    assert count_predictions(served.ws, "m/1") == seen["m/1"]
    assert count_predictions(served.ws, "m/2") == seen["m/2"]


def test_shadows_score_every_request_and_never_answer(served: Served) -> None:
    shadow = _second_version(served)
    create_endpoint(served.ws, "web", {"m@champion": 1}, shadows=[shadow])
    recs = records(served.test.iloc[:3])
    app = create_app(served.ws, endpoints=["web"], reload_interval=0)
    with TestClient(app) as client:
        answers = [
            client.post(
                "/v1/models/web/predict", json={"records": recs}, headers={"X-Request-ID": f"s{i}"}
            ).json()
            for i in range(20)
        ]
    # Leaving the client shuts the app down: the shadow jobs and the log are flushed.
    assert {a["model_version"] for a in answers} == {"m/1"}
    shadow_rows = list_predictions(served.ws, shadow)
    assert {p.role for p in shadow_rows} == {"shadow"}
    assert len(shadow_rows) == 20 * 3
    assert {p.request_id for p in shadow_rows} == {f"s{i}" for i in range(20)}
    assert count_predictions(served.ws, "m/1", role="primary") == 60
    events = served.ws.metadata.list_audit_events(action="model.predict")
    assert all(e.detail["shadows"] == [shadow] for e in events)


def test_a_version_named_in_the_url_is_served_if_the_endpoint_has_it(served: Served) -> None:
    _second_version(served)
    create_endpoint(served.ws, "web", {"m/1": 1}, shadows=["m/2"])
    body = {
        "inputs": [
            {"name": "age", "shape": [1], "datatype": "INT64", "data": [40]},
            {"name": "hours", "shape": [1], "datatype": "FP64", "data": [38.5]},
            {"name": "sex", "shape": [1], "datatype": "BYTES", "data": ["F"]},
        ]
    }
    with TestClient(create_app(served.ws, endpoints=["web"], reload_interval=0)) as client:
        two = client.post("/v2/models/web/versions/2/infer", json=body)
        missing = client.post("/v2/models/web/versions/9/infer", json=body)
        unknown = client.post("/v2/models/nope/infer", json=body)
    assert two.status_code == 200, two.text
    assert two.json()["model_version"] == "2"
    assert missing.status_code == 404
    assert "does not serve version '9'" in missing.json()["error"]
    assert unknown.status_code == 404
    assert set(unknown.json()) == {"error"}


def test_the_server_follows_an_alias_move_without_failing_a_request(served: Served) -> None:
    new = _second_version(served)
    recs = records(served.test.iloc[:2])
    failures: list[str] = []
    versions: list[str] = []
    per_thread: dict[int, list[str]] = {}
    stop = threading.Event()
    with BackgroundServer(served.ws, "m@champion", reload_interval=0.1) as server:

        def load() -> None:
            mine = per_thread.setdefault(threading.get_ident(), [])
            with httpx.Client(base_url=server.url, timeout=10) as http:
                while not stop.is_set():
                    r = http.post("/v1/models/m/predict", json={"records": recs})
                    if r.status_code != 200:
                        failures.append(r.text)
                    else:
                        versions.append(r.json()["model_version"])
                        mine.append(versions[-1])

        threads = [threading.Thread(target=load) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        set_alias(served.ws, "m", "champion", 2, reason="test: move under load")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not versions or versions[-1] != new):
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        metadata = httpx.get(f"{server.url}/metadata").json()
        metrics = httpx.get(f"{server.url}/metrics").text
    assert failures == []
    assert versions[0] == "m/1"
    assert versions[-1] == new
    # Once moved, it stays moved: no client saw the old version after the new one (across
    # threads, a request that took the old table may still finish after another's new one).
    for seen in per_thread.values():
        if new in seen:
            assert set(seen[seen.index(new) :]) == {new}
    assert metadata["id"] == new
    assert "closedloop_model_swaps_total 1.0" in metrics


def test_an_endpoint_update_is_followed(served: Served) -> None:
    _second_version(served)
    create_endpoint(served.ws, "web", {"m/1": 1})
    app = create_app(served.ws, endpoints=["web"], reload_interval=0)
    assert [t.version.id for t in app.router.get("web").routes] == ["m/1"]
    update_endpoint(served.ws, "web", routes={"m/2": 1})
    assert app.router.refresh() == 1
    assert [t.version.id for t in app.router.get("web").routes] == ["m/2"]
    assert app.router.refresh() == 0


def test_several_models_in_one_server(served: Served) -> None:
    pipe = train(make_frame(200, seed=9))
    register_model(served.ws, "other", pipe, signature=SIGNATURE, target="y", aliases=["prod"])
    recs = records(served.test.iloc[:2])
    with TestClient(create_app(served.ws, ["m@champion", "other@prod"])) as client:
        a = client.post("/v1/models/m/predict", json={"records": recs}).json()
        b = client.post("/v1/models/other/predict", json={"records": recs}).json()
        default = client.post("/predict", json={"records": recs}).json()
        listing = client.get("/v1/models").json()
    assert (a["model_version"], b["model_version"], default["model_version"]) == (
        "m/1",
        "other/1",
        "m/1",
    )
    assert [m["name"] for m in listing["models"]] == ["m", "other"]
