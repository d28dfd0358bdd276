from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
import typer
from serving_support import Served, TestClient, records
from typer.testing import CliRunner

import closedloop.serving
from closedloop.cli import _serve
from closedloop.cli._state import CliState
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.serving import BackgroundServer, create_app, serve
from closedloop.serving import _server as server_module


def test_background_server_answers_predictions_over_http(served: Served) -> None:
    recs = records(served.test)
    with BackgroundServer(served.ws, "m@champion") as server:
        assert server.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = http.post(
                "/predict", json={"records": recs[:5]}, headers={"X-Request-ID": "http-1"}
            )
            bad = http.post("/predict", json={"records": [{"age": "old"}]})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "http-1"
    frame = served.test[["age", "hours", "sex"]].iloc[:5]
    assert response.json()["predictions"] == served.pipe.predict(frame).tolist()
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "records", 0, "age"]
    assert served.ws.metadata.predictions.count() == 5
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=1)


def test_concurrent_requests_are_all_logged(served: Served) -> None:
    recs = records(served.test)
    failures: list[Any] = []

    def send(url: str, start: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for k in range(5):
                chunk = recs[(start + k) % 30 : (start + k) % 30 + 3]
                response = http.post("/predict", json={"records": chunk})
                if response.status_code != 200:
                    failures.append(response.text)

    with BackgroundServer(create_app(served.ws, "m/1")) as server:
        threads = [threading.Thread(target=send, args=(server.url, i * 5)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []
    assert served.ws.metadata.predictions.count() == 4 * 5 * 3
    assert len(served.ws.metadata.list_audit_events(action="model.predict", limit=100)) == 20


def test_background_server_arguments_are_checked(served: Served) -> None:
    with pytest.raises(InvalidArgumentError):
        BackgroundServer(served.ws)
    with pytest.raises(InvalidArgumentError):
        BackgroundServer(create_app(served.ws, "m/1"), "m/1")
    with pytest.raises(NotFoundError):
        BackgroundServer(served.ws, "missing/1")


def test_serve_runs_uvicorn_with_the_app(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(self: server_module._Server, sockets: object = None) -> None:
        seen.update(
            host=self.config.host, port=self.config.port, app=self.config.app, ready=self.on_ready
        )

    monkeypatch.setattr(server_module._Server, "run", fake_run)
    serve(served.ws, "m@champion", host="0.0.0.0", port=9999, on_ready=print)
    assert (seen["host"], seen["port"], seen["ready"]) == ("0.0.0.0", 9999, print)
    assert seen["app"].state.model_version.id == "m/1"


def test_cli_serve_opens_the_workspace_and_prints_the_url(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_serve(ws: Any, model_ref: str, **kwargs: Any) -> None:
        calls.append({"ws": ws, "ref": model_ref, **kwargs})
        kwargs["on_ready"](f"http://{kwargs['host']}:{kwargs['port']}")

    monkeypatch.setattr(closedloop.serving, "serve", fake_serve)
    app = typer.Typer()
    root = served.ws.location.root if served.ws.location else None

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = CliState(workspace=str(root))
        ctx.call_on_close(ctx.obj.close)

    app.command("serve")(_serve.serve)
    result = CliRunner().invoke(app, ["serve", "m@champion", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert "m@champion" in result.output
    assert "http://127.0.0.1:8123" in result.output
    [call] = calls
    assert call["ref"] == ["m@champion"]
    assert call["endpoints"] == []
    assert (call["host"], call["port"], call["log_predictions"]) == ("127.0.0.1", 8123, True)
    assert call["ws"].location.root == root


def test_cli_serve_passes_limits_and_policies(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(closedloop.serving, "serve", lambda ws, ref, **kw: calls.append(kw))
    app = typer.Typer()
    root = served.ws.location.root if served.ws.location else None

    @app.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = CliState(workspace=str(root))
        ctx.call_on_close(ctx.obj.close)

    app.command("serve")(_serve.serve)
    runner = CliRunner()
    options = ["--max-body-bytes", "2048", "--max-string-length", "50"]
    options += ["--out-of-range", "refuse", "--unseen-categories", "warn"]
    assert runner.invoke(app, ["serve", "m/1", *options]).exit_code == 0
    assert runner.invoke(app, ["serve", "m/1"]).exit_code == 0
    given, unset = calls
    assert {k: given[k] for k in ("max_body_bytes", "max_string_length")} == {
        "max_body_bytes": 2048,
        "max_string_length": 50,
    }
    assert (given["out_of_range"], given["unseen_categories"]) == ("refuse", "warn")
    assert type(given["out_of_range"]) is str
    # Unset: the workspace's settings decide (create_app reads them).
    assert all(
        unset[k] is None
        for k in ("max_body_bytes", "max_string_length", "out_of_range", "unseen_categories")
    )
    assert runner.invoke(app, ["serve", "m/1", "--out-of-range", "maybe"]).exit_code == 2
    assert runner.invoke(app, ["serve", "m/1", "--max-body-bytes", "0"]).exit_code == 2
    assert len(calls) == 2


def test_serve_hands_the_options_to_the_app(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        server_module._Server, "run", lambda self, sockets=None: seen.update(app=self.config.app)
    )
    serve(served.ws, "m@champion", max_body_bytes=10, out_of_range="refuse")
    with TestClient(seen["app"]) as client:
        assert client.post("/predict", json={"records": [{"age": 30}]}).status_code == 413
