"""Issue 9's "done when", end to end over real processes and real HTTP.

A model is served by ``closedloop serve``'s server; ``closedloop monitor run --follow`` runs
as its own process; traffic and labels arrive over HTTP. The follower must flag the shifted
feature and the performance drop (estimated first, realised once the labels come), and each
alert must reach a webhook receiver with a valid HMAC-SHA256 signature, while the calm
windows raise nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from monitoring_support import SIGNATURE
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from closedloop import data
from closedloop.monitoring import list_windows
from closedloop.registry import register_model
from closedloop.serving import BackgroundServer
from closedloop.workspace import Workspace

SECRET = "s3cret-for-the-test"
WINDOW = 400
ROWS_PER_REQUEST = 40


@dataclass
class Receiver:
    url: str = ""
    bodies: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                state.bodies.append((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _people(n: int, seed: int, *, age_sd: float = 12.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, age_sd, n).round().astype("int64"),
            "income": rng.lognormal(10, 0.5, n),
            "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def _truth(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logit = (frame["age"].to_numpy() - 40) / 4 + (frame["color"] == "red").to_numpy() - 0.5
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)


def _init(root: Path, hook: str) -> None:
    Workspace.init(root)
    config = root / ".closedloop" / "closedloop.yaml"
    section = f"""
monitoring:
  windows: [count:{WINDOW}]
  alerts:
    - defaults
    - name: column_drift
      metric: drift.column.*.drifted
      op: ">="
      threshold: 1
  sinks:
    - type: webhook
      url: {hook}
      secret_env: TEST_WEBHOOK_SECRET
      timeout: 2s
      retries: 1
      backoff: 0.1s
"""
    config.write_text(config.read_text(encoding="utf-8") + section, encoding="utf-8")


def _register(ws: Workspace) -> Any:
    train = _people(4_000, seed=1)
    train["y"] = _truth(train, 2)
    dataset = data.ingest_frame(ws, train, "people", source="test").version
    model = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(handle_unknown="ignore"), ["color"])], remainder="passthrough"
        ),
        LogisticRegression(max_iter=2000),
    ).fit(train[list(SIGNATURE.names)], train["y"])
    return register_model(
        ws,
        "people",
        model,
        signature=SIGNATURE,
        target="y",
        classes=["0", "1"],
        dataset_version_id=dataset.id,
        aliases=["champion"],
    )


def _send(client: httpx.Client, frame: pd.DataFrame, prefix: str) -> list[str]:
    ids = []
    for k, start in enumerate(range(0, len(frame), ROWS_PER_REQUEST)):
        part = frame.iloc[start : start + ROWS_PER_REQUEST]
        rid = f"{prefix}-{k}"
        got = client.post(
            "/v1/models/people/predict",
            json={"records": part.to_dict(orient="records")},
            headers={"X-Request-ID": rid},
        )
        assert got.status_code == 200, got.text
        ids.append(rid)
    return ids


def _eventually(check: Callable[[], Any], what: str, seconds: float = 60.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


def _fired(receiver: Receiver, rule: str) -> list[dict[str, Any]]:
    return [a for a in receiver.alerts() if a["rule"] == rule and a["event"] == "fired"]


@pytest.mark.slow
def test_monitor_follow_flags_drift_and_a_performance_drop_and_signs_its_webhooks(
    tmp_path: Path, receiver: Receiver
) -> None:
    root = tmp_path / "ws"
    _init(root, receiver.url)
    env = {**os.environ, "TEST_WEBHOOK_SECRET": SECRET}
    with Workspace.open(root) as ws:
        version = _register(ws)
        with BackgroundServer(ws, "people@champion") as server:
            follower = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "closedloop"),
                    "--workspace",
                    str(root),
                    "monitor",
                    "run",
                    "people@champion",
                    "--follow",
                    "--interval",
                    "0.5s",
                    "--json",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                with httpx.Client(base_url=server.url, timeout=10) as client:
                    # two calm windows: like the training data
                    _send(client, _people(2 * WINDOW, seed=3), "calm")
                    calm = _eventually(
                        lambda: len(_complete(ws, version.id)) >= 2 and _complete(ws, version.id),
                        "two calm windows",
                    )
                    # one shifted window: ages bunched at the decision boundary, where the
                    # model is unsure (its estimated accuracy falls) and often wrong
                    shifted = _people(WINDOW, seed=4, age_sd=2.0)
                    ids = _send(client, shifted, "shifted")
                    _eventually(lambda: _fired(receiver, "column_drift"), "the drift webhook")
                    _eventually(
                        lambda: _fired(receiver, "estimated_accuracy_drop"),
                        "the estimated-accuracy webhook",
                    )
                    assert not _fired(receiver, "accuracy_drop")  # no label yet
                    # the labels come back through the server
                    truth = _truth(shifted, 5)
                    labels = [
                        {"request_id": rid, "row": r, "label": str(truth[k * ROWS_PER_REQUEST + r])}
                        for k, rid in enumerate(ids)
                        for r in range(ROWS_PER_REQUEST)
                    ]
                    sent = client.post("/v1/feedback", json={"labels": labels})
                    assert sent.status_code == 200, sent.text
                    assert sent.json()["attached"] == WINDOW
                    _eventually(
                        lambda: _fired(receiver, "accuracy_drop"), "the realised-accuracy webhook"
                    )
            finally:
                follower.send_signal(signal.SIGINT)
                out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "Traceback" not in err

    # the calm windows flagged nothing; the shifted one flagged age only
    with Workspace.open(root) as ws:
        results = list_windows(ws, version.id, f"count:{WINDOW}")
    assert [r.summary.drift["drifted_features"] for r in results[:3]] == [[], [], ["age"]]
    alerts = receiver.alerts()
    assert {a["subject"] for a in alerts if a["rule"] == "column_drift"} == {"age"}
    windows = {a["window_id"] for a in alerts}
    assert len(windows) == 1  # every alert is about the shifted window
    assert not {w.id for w in calm[:2]} & windows
    # every delivery is signed over its exact body
    for headers, body in receiver.bodies:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Closedloop-Signature"] == f"sha256={expected}"
    # the follower printed a JSON document per round, the last ones with the realised drop
    rounds = [json.loads(text) for text in out.splitlines() if text.startswith("{")]
    assert len(rounds) >= 3
    realised = _fired(receiver, "accuracy_drop")[0]
    estimated = _fired(receiver, "estimated_accuracy_drop")[0]
    assert realised["value"] >= 0.05
    assert estimated["value"] >= 0.05


def _complete(ws: Workspace, version_id: str) -> list[Any]:
    return ws.metadata.monitoring.list_windows(version_id, f"count:{WINDOW}", complete=True)
