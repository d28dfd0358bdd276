"""Bounded bodies, bounded text and small error bodies (issue 6, item 3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import Served, TestClient, records

from closedloop.errors import ConfigurationError, InvalidArgumentError
from closedloop.serving import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_STRING_LENGTH,
    REQUEST_ID_HEADER,
    BackgroundServer,
    create_app,
)
from closedloop.workspace import Workspace


def _good(served: Served, n: int = 2) -> dict[str, Any]:
    return {"records": records(served.test.iloc[:n])}


def _assert_too_large(response: Any, limit: str) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert limit in body["error"]["message"]
    assert "serving_max_body_bytes" in body["error"]["hint"]
    assert "--max-body-bytes" in body["error"]["hint"]
    assert REQUEST_ID_HEADER in response.headers


@pytest.fixture
def small(served: Served) -> Iterator[TestClient]:
    """A client of an app taking bodies of at most 1,000 bytes."""
    with TestClient(create_app(served.ws, "m@champion", max_body_bytes=1000)) as c:
        yield c


def test_the_defaults_are_sane(served: Served) -> None:
    assert served.ws.settings.serving_max_body_bytes == DEFAULT_MAX_BODY_BYTES == 16 * 2**20
    assert served.ws.settings.serving_max_string_length == MAX_STRING_LENGTH == 1000
    assert served.ws.settings.serving_out_of_range == "warn"
    assert served.ws.settings.serving_unseen_categories == "warn"


def test_a_body_over_the_limit_by_content_length_is_413(served: Served, small: TestClient) -> None:
    payload = json.dumps({"records": [{"age": 30, "sex": "F"}] * 60}).encode()
    assert len(payload) > 1000
    response = small.post(
        "/predict",
        content=payload,
        headers={"content-type": "application/json", REQUEST_ID_HEADER: "big-1"},
    )
    _assert_too_large(response, "1,000 bytes")
    assert response.headers[REQUEST_ID_HEADER] == "big-1"
    assert served.ws.metadata.predictions.count() == 0
    assert served.ws.metadata.list_audit_events(action="model.predict") == []
    assert small.post("/predict", json=_good(served)).status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_reading_the_body(
    served: Served,
) -> None:
    app = create_app(served.ws, "m@champion", max_body_bytes=1000)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"999999999")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413


def _chunks(payload: bytes, size: int = 100) -> Iterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def test_a_chunked_body_is_counted_as_it_streams(served: Served, small: TestClient) -> None:
    big = json.dumps({"records": [{"age": 30, "sex": "F"}] * 60}).encode()
    response = small.post(
        "/predict", content=_chunks(big), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    _assert_too_large(response, "1,000 bytes")
    assert served.ws.metadata.predictions.count() == 0
    # A chunked body under the limit is put back together and served.
    fine = json.dumps(_good(served)).encode()
    ok = small.post(
        "/predict", content=_chunks(fine, 7), headers={"content-type": "application/json"}
    )
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["predictions"]) == 2


def test_a_chunked_body_over_the_limit_is_413_over_real_http(served: Served) -> None:
    big = json.dumps({"records": [{"age": 30, "sex": "F"}] * 60}).encode()
    app = create_app(served.ws, "m@champion", max_body_bytes=1000)
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        response = http.post(
            "/predict", content=_chunks(big), headers={"content-type": "application/json"}
        )
        assert response.request.headers["transfer-encoding"] == "chunked"
        _assert_too_large(response, "1,000 bytes")
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.post("/predict", json=_good(served)).status_code == 200
    assert served.ws.metadata.predictions.count() == 2


def test_a_long_string_is_422_naming_the_field_and_not_echoed(
    served: Served, client: TestClient
) -> None:
    long = "x" * (MAX_STRING_LENGTH + 1)
    response = client.post("/predict", json={"records": [{"age": 30, "sex": long}]})
    assert response.status_code == 422, response.text[:300]
    body = response.json()
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [
        (["body", "records", 0, "sex"], "string_too_long")
    ]
    assert "records.0.sex" in body["error"]["message"]
    assert "serving_max_string_length" in body["error"]["hint"]
    assert len(response.content) < 2000
    assert served.ws.metadata.predictions.count() == 0
    at_limit = client.post("/predict", json={"records": [{"age": 30, "sex": long[:-1]}]})
    assert at_limit.status_code == 200


def test_the_string_limit_is_an_option(served: Served) -> None:
    with TestClient(create_app(served.ws, "m@champion", max_string_length=3)) as client:
        assert client.post("/predict", json={"records": [{"age": 30, "sex": "abc"}]}).is_success
        refused = client.post("/predict", json={"records": [{"age": 30, "sex": "abcd"}]})
        assert refused.status_code == 422
        # Category codes sent as numbers are text too.
        number = client.post("/predict", json={"records": [{"age": 30, "sex": 12345}]})
        assert number.status_code == 422


def test_too_many_records_get_a_small_error(client: TestClient) -> None:
    response = client.post("/predict", json={"records": [{"age": 30, "sex": "F"}] * 10_001})
    assert response.status_code == 422
    assert len(response.content) < 20_000
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "records"]
    assert entry["type"] == "too_long"
    assert len(entry["input"]) <= 80


def test_many_errors_are_listed_up_to_a_bound_and_counted(client: TestClient) -> None:
    bad = [{"age": "y" * 500, "sex": "F"}] * 1000
    response = client.post("/predict", json={"records": bad})
    assert response.status_code == 422
    assert len(response.content) < 20_000
    body = response.json()
    assert len(body["detail"]) == 20
    assert body["omitted_errors"] == 980
    assert "(and 995 more)" in body["error"]["message"]
    for i, entry in enumerate(body["detail"]):
        assert entry["loc"] == ["body", "records", i, "age"]
        assert set(entry) == {"loc", "msg", "type", "input"}
        assert len(entry["input"]) <= 80
    one = client.post("/predict", json={"records": [{"age": "old"}]}).json()
    assert one["omitted_errors"] == 0


def test_a_long_unknown_field_name_is_not_echoed_whole(client: TestClient) -> None:
    name = "k" * 100_000
    response = client.post("/predict", json={"records": [{"age": 30, name: 1}]})
    assert response.status_code == 422
    assert len(response.content) < 2000
    [entry] = response.json()["detail"]
    assert entry["type"] == "extra_forbidden"
    assert entry["loc"][-1].startswith("kkkk")


def test_limits_come_from_the_settings(served: Served, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    config = root / ".closedloop" / "closedloop.yaml"
    original = config.read_text()
    config.write_text(original + "\nserving_max_body_bytes: 300\nserving_max_string_length: 2\n")
    with Workspace.open(root) as ws, TestClient(create_app(ws, "m@champion")) as client:
        assert client.post("/predict", json={"records": [{"age": 30, "sex": "F"}]}).is_success
        long = client.post("/predict", json={"records": [{"age": 30, "sex": "FFF"}]})
        assert long.status_code == 422
        big = client.post("/predict", json={"records": [{"age": 30, "sex": "F"}] * 20})
        _assert_too_large(big, "300 bytes")
    # An explicit option wins over the setting.
    with (
        Workspace.open(root) as ws,
        TestClient(create_app(ws, "m@champion", max_string_length=5)) as client,
    ):
        assert client.post("/predict", json={"records": [{"age": 30, "sex": "FFF"}]}).is_success
    config.write_text(original + "\nserving_max_body_bytes: 0\n")
    with pytest.raises(ConfigurationError, match="serving_max_body_bytes"):
        Workspace.open(root)


@pytest.mark.parametrize(
    "options",
    [
        {"max_body_bytes": 0},
        {"max_string_length": 0},
        {"max_records": 0},
        {"out_of_range": "ignore"},
        {"unseen_categories": "maybe"},
    ],
)
def test_options_are_checked(served: Served, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError, match=next(iter(options))):
        create_app(served.ws, "m@champion", **options)
