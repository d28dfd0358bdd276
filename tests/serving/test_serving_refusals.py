"""Requests refused for bad input are counted (``prediction_refusals``) on every protocol.

The server records one :class:`~closedloop.core.Refusal` per refused scoring request
through the log writer's queue; monitoring's ``quality.refused_rate`` reads them.
"""

from __future__ import annotations

from typing import Any

import pytest
from serving_support import SIGNATURE, Served, TestClient, make_frame, records, train

from closedloop import data
from closedloop.core import Refusal
from closedloop.errors import StorageError
from closedloop.monitoring import MonitorConfig, monitor_run
from closedloop.registry import register_model
from closedloop.serving import create_app
from closedloop.workspace import Workspace

GOOD = {"records": [{"age": 30, "hours": 40.0, "sex": "F"}]}
MISSING = {"records": [{"hours": 40.0, "sex": "F"}]}  # no "age" (not nullable): 422
V2_BAD = {"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": ["x"]}]}


def _rows(ws: Workspace) -> list[Refusal]:
    """Every stored refusal, oldest first (read back by the store's own table)."""
    from sqlalchemy import select

    from closedloop.metadata._sql.tables import prediction_refusals

    with ws.metadata.predictions._db.read() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(prediction_refusals).order_by(prediction_refusals.c.id))
        return [
            Refusal(r.time, r.endpoint, r.model_version_id, r.protocol, r.status, r.reason)
            for r in rows
        ]


def _post(c: TestClient, path: str, **kwargs: Any) -> int:
    return c.post(path, **kwargs).status_code


def test_bad_bodies_on_each_protocol_are_counted_with_their_version(served: Served) -> None:
    vid = served.version.id
    with TestClient(create_app(served.ws, "m@champion")) as c:
        assert _post(c, "/v1/models/m/predict", json=GOOD) == 200
        assert _post(c, "/v1/models/m/predict", content=b"{not json") == 422
        assert _post(c, "/predict", json=MISSING) == 422
        assert (
            _post(c, "/invocations", content=b"{", headers={"content-type": "application/json"})
            == 400
        )
        assert _post(c, "/invocations", json={"dataframe_records": [{"age": "old"}]}) == 422
        assert _post(c, "/v2/models/m/infer", content=b"[") == 400
        assert _post(c, "/v2/models/m/infer", json=V2_BAD) == 400
        assert _post(c, "/v2/models/m/versions/1/infer", json=V2_BAD) == 400
        # not refusals: an endpoint or version this server does not serve, a good request
        assert _post(c, "/v1/models/nope/predict", content=b"{") == 404
        assert _post(c, "/v2/models/nope/infer", json=V2_BAD) == 404
        assert _post(c, "/invocations", json={"dataframe_records": records(served.test)}) == 200
    rows = _rows(served.ws)
    got = [(r.endpoint, r.model_version_id, r.protocol, r.status, r.reason) for r in rows]
    assert got == [
        ("m", vid, "native", 422, "invalid_argument"),
        ("m", vid, "native", 422, "invalid_argument"),
        ("m", vid, "mlflow", 400, "invalid_argument"),
        ("m", vid, "mlflow", 422, "invalid_argument"),
        ("m", vid, "v2", 400, "invalid_argument"),
        ("m", vid, "v2", 400, "invalid_argument"),
        ("m", vid, "v2", 400, "invalid_argument"),
    ]
    assert all(r.time > 0 for r in rows)
    assert served.ws.metadata.predictions.count_refusals(model_version_id=vid) == 7


def test_a_body_naming_a_version_not_served_is_counted_without_one(served: Served) -> None:
    with TestClient(create_app(served.ws, "m@champion")) as c:
        assert _post(c, "/v2/models/m/versions/9/infer", content=b"[") == 400
    (row,) = _rows(served.ws)
    assert (row.endpoint, row.model_version_id, row.status) == ("m", None, 400)


def test_too_large_bodies_are_counted_on_each_protocol(served: Served) -> None:
    big = {"records": [{"age": 30, "hours": 40.0, "sex": "F"}] * 50}
    with TestClient(create_app(served.ws, "m@champion", max_body_bytes=200)) as c:
        assert _post(c, "/v1/models/m/predict", json=big) == 413
        assert _post(c, "/invocations", json={"dataframe_records": big["records"]}) == 413
        assert _post(c, "/v2/models/m/infer", content=b" " * 500) == 413
        assert _post(c, "/v1/models/nope/predict", json=big) == 413  # not served: not counted
    got = [(r.protocol, r.status, r.reason, r.model_version_id) for r in _rows(served.ws)]
    vid = served.version.id
    assert got == [
        ("native", 413, "payload_too_large", vid),
        ("mlflow", 413, "payload_too_large", vid),
        ("v2", 413, "payload_too_large", vid),
    ]


def test_off_training_rows_under_refuse_and_a_bad_request_id_are_counted(served: Served) -> None:
    app = create_app(served.ws, "m@champion", out_of_range="refuse", unseen_categories="refuse")
    old = {"records": [{"age": 200, "hours": 40.0, "sex": "F"}]}
    other = {"dataframe_records": [{"age": 30, "hours": 40.0, "sex": "X"}]}
    with TestClient(app) as c:
        assert _post(c, "/v1/models/m/predict", json=old) == 422
        assert _post(c, "/invocations", json=other) == 400
        assert _post(c, "/predict", json=GOOD, headers={"x-request-id": "bad id!"}) == 422
        assert _post(c, "/predict", json=GOOD) == 200
    got = [(r.protocol, r.status, r.reason) for r in _rows(served.ws)]
    assert got == [
        ("native", 422, "invalid_argument"),
        ("mlflow", 400, "invalid_argument"),
        ("native", 422, "invalid_argument"),
    ]


def test_refusals_are_counted_without_logging_predictions(served: Served) -> None:
    with TestClient(create_app(served.ws, "m@champion", log_predictions=False)) as c:
        assert _post(c, "/predict", json=MISSING) == 422
        assert _post(c, "/predict", json=GOOD) == 200
    assert len(_rows(served.ws)) == 1
    assert served.ws.metadata.predictions.count() == 0


def test_a_failing_refusal_write_keeps_the_answer_and_is_counted(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(refusals: Any) -> None:
        raise StorageError("database is locked")

    monkeypatch.setattr(served.ws.metadata.predictions, "append_refusals", broken)
    app = create_app(served.ws, "m@champion")
    with TestClient(app) as c:
        assert _post(c, "/predict", json=MISSING) == 422
        assert _post(c, "/predict", json=GOOD) == 200  # the writer still commits predictions
        metrics = c.get("/metrics").text
    assert app.writer.refusals_lost == 1
    assert app.writer.refusals_recorded == 0
    assert served.ws.metadata.predictions.count() == 1
    assert "closedloop_refusals_lost_total" in metrics


def test_a_refusal_to_a_closed_writer_is_lost_quietly(served: Served) -> None:
    app = create_app(served.ws, "m@champion")
    app.writer.start().close()
    refusal = Refusal(1, "m", served.version.id, "native", 422, "invalid_argument")
    assert app.writer.refuse(refusal) is False
    assert app.writer.refusals_lost == 1


def test_monitor_run_reports_the_refused_rate_of_live_traffic(tmp_path: Any) -> None:
    root = tmp_path / "ws-refused"
    Workspace.init(root)
    with Workspace.open(root) as ws:
        frame = make_frame(300, seed=0)
        dataset = data.ingest_frame(ws, frame, "train", source="test").version
        pipe = train(frame)
        version = register_model(
            ws,
            "m",
            pipe,
            signature=SIGNATURE,
            target="y",
            classes=list(pipe.classes_),
            dataset_version_id=dataset.id,
            aliases=["champion"],
        )
        rows = records(make_frame(100, seed=2))
        with TestClient(create_app(ws, "m@champion")) as c:
            for k in range(10):
                part = {"records": rows[k * 10 : (k + 1) * 10]}
                assert _post(c, "/v1/models/m/predict", json=part) == 200
                if k < 4:  # refused requests between answered ones, in the first window
                    assert _post(c, "/v2/models/m/infer", json=V2_BAD) == 400
        config = MonitorConfig().with_options(windows=["count:50"])
        result = monitor_run(ws, "m@champion", config=config)
        first, second = result.completed
        assert first.summary.quality.refused == 4
        assert first.summary.values["quality.refused_rate"] == pytest.approx(4 / (5 + 4))
        assert second.summary.values["quality.refused_rate"] == 0.0
        assert ws.metadata.predictions.count_refusals(model_version_id=version.id) == 4
