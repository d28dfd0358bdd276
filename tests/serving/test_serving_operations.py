"""Operations: Prometheus metrics (checked with prometheus_client's parser), health, readiness,
the group-commit log writer and its back pressure."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_support import Served, TestClient, records

from closedloop.predictions import count_predictions
from closedloop.serving import LogBehindError, LogWriter, create_app
from closedloop.serving._logwriter import LogItem


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_rows_and_log_commits(served: Served, client: TestClient) -> None:
    recs = records(served.test.iloc[:4])
    for _ in range(3):
        assert client.post("/v1/models/m/predict", json={"records": recs}).status_code == 200
    assert client.post("/v1/models/m/predict", json={"records": [{"age": "x"}]}).status_code == 422
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    ok = ("endpoint", "m"), ("protocol", "native"), ("version", "m/1")
    assert samples[("closedloop_requests_total", tuple(sorted((*ok, ("code", "200")))))] == 3
    bad = ("code", "422"), ("endpoint", "m"), ("protocol", "native"), ("version", "-")
    assert samples[("closedloop_requests_total", tuple(sorted(bad)))] == 1
    assert samples[("closedloop_request_duration_seconds_count", tuple(sorted(ok)))] == 3
    rows = (("endpoint", "m"), ("role", "primary"), ("version", "m/1"))
    assert samples[("closedloop_rows_total", rows)] == 12
    assert samples[("closedloop_rows_logged_total", ())] == 12
    assert 1 <= samples[("closedloop_log_commits_total", ())] <= 3
    assert samples[("closedloop_requests_in_flight", ())] == 0
    assert samples[("closedloop_log_queue_depth", ())] == 0


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "endpoints": ["m"]}
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/ping").status_code == 200


def _item(i: int, started: float = 0.0) -> LogItem:
    return LogItem(
        request_id=f"w{i}",
        model_version_id="m/1",
        endpoint="m",
        role="primary",
        columns={
            "age": np.array([30 + i]),
            "hours": np.array([40.0]),
            "sex": np.array(["F"], dtype=object),
        },
        labels=np.array(["no"], dtype=object),
        probabilities=np.array([[0.6, 0.4]]),
        classes=["no", "yes"],
        started=started,
    )


def test_the_writer_commits_concurrent_requests_in_groups(served: Served) -> None:
    commits: list[int] = []
    writer = LogWriter(served.ws, on_commit=lambda n, rows: commits.append(n)).start()

    async def main() -> list[float]:
        return await asyncio.gather(*(writer.submit(_item(i)) for i in range(200)))

    latencies = asyncio.run(main())
    writer.close()
    assert len(latencies) == 200
    assert count_predictions(served.ws, "m/1") == 200
    assert sum(commits) == 200
    assert len(commits) < 200  # grouped: fewer transactions than requests


def test_a_reused_request_id_fails_alone(served: Served) -> None:
    writer = LogWriter(served.ws).start()

    async def main() -> list[object]:
        await writer.submit(_item(1))
        return await asyncio.gather(
            writer.submit(_item(1)), writer.submit(_item(2)), return_exceptions=True
        )

    dup, ok = asyncio.run(main())
    writer.close()
    assert type(dup).__name__ == "AlreadyExistsError"
    assert isinstance(ok, float)
    assert count_predictions(served.ws, "m/1") == 2


def test_a_full_queue_refuses_with_back_pressure(served: Served) -> None:
    writer = LogWriter(served.ws, max_queue=0)  # never started: nothing drains it
    with pytest.raises(LogBehindError, match="behind"):
        asyncio.run(writer.submit(_item(1)))
    assert writer.submit_nowait(_item(2)) is False


def test_the_server_answers_503_when_the_log_is_behind(served: Served) -> None:
    app = create_app(served.ws, "m@champion")
    app.writer.max_queue = 0
    with TestClient(app) as client:
        response = client.post("/predict", json={"records": records(served.test.iloc[:1])})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "LOG_BEHIND"
    assert count_predictions(served.ws) == 0


def test_close_commits_everything_queued(served: Served) -> None:
    writer = LogWriter(served.ws).start()
    for i in range(50):
        assert writer.submit_nowait(_item(i))
    writer.close()
    assert count_predictions(served.ws, "m/1") == 50
