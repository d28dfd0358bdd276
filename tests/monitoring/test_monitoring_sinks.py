"""Alert sinks: the log sink, the signed webhook (a real local HTTP server), configuration."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from monitoring_support import register

from closedloop.core import Alert, ModelVersion
from closedloop.errors import ConfigurationError
from closedloop.monitoring._alert_rules import AlertRule
from closedloop.monitoring._alerts import evaluate_rules, get_alert
from closedloop.monitoring._sinks import (
    LogSink,
    Notice,
    WebhookSink,
    record_deliveries,
    sinks_from_config,
)
from closedloop.monitoring._webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from closedloop.workspace import Workspace

SECRET = b"s3cret-shared-with-the-receiver"
T0 = 1_700_000_000_000
DRIFT = AlertRule("drift", "drift.share", ">=", 0.5, "critical")


@dataclass
class Receiver:
    """What the test server answers (in order; the last one repeats) and what it received."""

    url: str
    answers: list[int] = field(default_factory=lambda: [200])
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    hold: threading.Event | None = None  # requests wait for it
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            state.arrived.set()
            if state.hold is not None:
                state.hold.wait(10)
            index = min(len(state.received), len(state.answers)) - 1
            self.send_response(state.answers[index])
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
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def version(workspace: Workspace) -> ModelVersion:
    return register(workspace)


def fire(ws: Workspace, version: ModelVersion, sink: object) -> Alert:
    (alert,) = evaluate_rules(
        ws,
        version.id,
        {"drift.share": 0.8},
        window_id=4,
        window_end=T0,
        rules=[DRIFT],
        sinks=[sink],  # type: ignore[list-item]
    ).fired
    return alert


def an_alert(alert_id: int) -> Alert:
    return Alert(
        alert_id, T0, "m/1", "drift", "dataset", "k", "warning", 0.8, 0.5, None, "firing", 1,
        T0, "drift: drift.share is 0.8 (>= 0.5)", {}, None, b"",
    )  # fmt: skip


def notice_into(states: dict[int, str], alert_id: int) -> Notice:
    """A notice for a made-up alert whose delivery state lands in ``states``."""

    def record(_: str, state: str) -> None:
        states[alert_id] = state

    return Notice(an_alert(alert_id), "fired", record)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# webhook -------------------------------------------------------------------------------------
def test_webhook_posts_a_signed_body(
    workspace: Workspace, version: ModelVersion, receiver: Receiver
) -> None:
    sink = WebhookSink(receiver.url, SECRET.decode(), timeout=5, retries=0)
    alert = fire(workspace, version, sink)
    assert alert.deliveries == {"webhook": "pending"}
    assert sink.close(10)
    ((headers, body),) = receiver.received
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], expected)
    document = json.loads(body)
    assert document["timestamp"] == int(headers[TIMESTAMP_HEADER])
    assert abs(time.time() - document["timestamp"]) < 60
    assert document["id"] == alert.id
    assert document["event"] == "fired"
    assert document["model_version"] == "m/1"
    assert (document["rule"], document["subject"], document["severity"]) == (
        "drift",
        "dataset",
        "critical",
    )
    assert (document["value"], document["threshold"], document["window_id"]) == (0.8, 0.5, 4)
    assert document["time"] == "2023-11-14T22:13:20Z"
    assert document["reference"] == f"closedloop monitor alerts --id {alert.id}"
    assert get_alert(workspace, alert.id).deliveries == {"webhook": "sent"}
    # a different secret does not verify
    forged = "sha256=" + hmac.new(b"other", body, hashlib.sha256).hexdigest()
    assert not hmac.compare_digest(headers[SIGNATURE_HEADER], forged)


def test_webhook_retries_server_errors_then_succeeds(
    workspace: Workspace, version: ModelVersion, receiver: Receiver
) -> None:
    receiver.answers = [500, 500, 200]
    sink = WebhookSink(receiver.url, SECRET, timeout=5, retries=3, backoff=0.01)
    alert = fire(workspace, version, sink)
    assert sink.close(10)
    assert len(receiver.received) == 3
    assert len({h["X-Closedloop-Delivery"] for h, _ in receiver.received}) == 1
    assert get_alert(workspace, alert.id).deliveries == {"webhook": "sent"}


def test_webhook_does_not_retry_a_client_error(
    workspace: Workspace, version: ModelVersion, receiver: Receiver
) -> None:
    receiver.answers = [400]
    sink = WebhookSink(receiver.url, SECRET, timeout=5, retries=3, backoff=0.01)
    alert = fire(workspace, version, sink)
    assert sink.close(10)
    assert len(receiver.received) == 1
    assert get_alert(workspace, alert.id).deliveries == {"webhook": "failed: HTTP 400"}


def test_webhook_gives_up_after_its_retries(
    workspace: Workspace, version: ModelVersion, receiver: Receiver
) -> None:
    receiver.answers = [503]
    sink = WebhookSink(receiver.url, SECRET, timeout=5, retries=2, backoff=0.01)
    alert = fire(workspace, version, sink)
    assert sink.close(10)
    assert len(receiver.received) == 3
    state = get_alert(workspace, alert.id).deliveries["webhook"]
    assert state == "failed: HTTP 503 after 3 attempts"


def test_a_dead_url_never_blocks_deliver(workspace: Workspace, version: ModelVersion) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    sink = WebhookSink(url, SECRET, timeout=2, retries=3, backoff=0.05)
    (alert,) = evaluate_rules(
        workspace, version.id, {"drift.share": 0.8}, window_id=4, window_end=T0, rules=[DRIFT],
        sinks=[],
    ).fired  # fmt: skip
    store = workspace.metadata.monitoring

    def record(name: str, state: str) -> None:
        record_deliveries(store, alert.id, {name: state})

    started = time.monotonic()
    sink.deliver(Notice(alert, "fired", record))
    assert time.monotonic() - started < 0.5  # behaviour (non-blocking), not performance
    assert sink.close(20)
    state = get_alert(workspace, alert.id).deliveries["webhook"]
    assert state.startswith("failed: ConnectError")
    assert state.endswith("after 4 attempts")


def test_a_full_queue_drops_and_records(receiver: Receiver) -> None:
    receiver.hold = threading.Event()
    states: dict[int, str] = {}
    sink = WebhookSink(receiver.url, SECRET, timeout=10, retries=0, queue_size=1)

    sink.deliver(notice_into(states, 1))
    assert receiver.arrived.wait(5)  # the first is in flight
    sink.deliver(notice_into(states, 2))  # queued
    started = time.monotonic()
    sink.deliver(notice_into(states, 3))  # no room
    assert time.monotonic() - started < 0.5
    assert states == {3: "failed: queue full"}
    receiver.hold.set()
    assert sink.close(10)
    assert states == {1: "sent", 2: "sent", 3: "failed: queue full"}
    sink.deliver(notice_into(states, 4))
    assert states[4] == "failed: sink closed"


def test_close_gives_up_on_waiting_notices(receiver: Receiver) -> None:
    receiver.answers = [503]
    states: dict[int, str] = {}
    sink = WebhookSink(receiver.url, SECRET, timeout=5, retries=5, backoff=30)
    for i in (1, 2):
        sink.deliver(notice_into(states, i))
    started = time.monotonic()
    assert not sink.close(0.3)
    assert time.monotonic() - started < 5
    assert states[1].startswith("failed: sink closed after 1 attempts")
    assert states[2] == "failed: sink closed before delivery"


def test_an_idle_thread_ends_and_the_next_notice_starts_one(receiver: Receiver) -> None:
    states: dict[int, str] = {}
    sink = WebhookSink(receiver.url, SECRET, retries=0, idle=0.05)
    sink.deliver(notice_into(states, 1))
    assert sink.flush(10)
    deadline = time.monotonic() + 5
    while sink._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink._thread is None
    sink.deliver(notice_into(states, 2))
    assert sink.close(10)
    assert states == {1: "sent", 2: "sent"}


def test_queued_notices_are_sent_at_interpreter_exit(receiver: Receiver) -> None:
    script = textwrap.dedent(
        f"""
        from closedloop.core import Alert
        from closedloop.monitoring._sinks import Notice, WebhookSink
        alert = Alert(1, {T0}, "m/1", "drift", "dataset", "k", "warning", 0.8, 0.5, None,
                      "firing", 1, {T0}, "drift", {{}}, None, b"")
        WebhookSink({receiver.url!r}, "x", retries=2, backoff=0.05).deliver(Notice(alert, "fired"))
        """
    )
    receiver.answers = [500, 200]
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert len(receiver.received) == 2


# the log sink --------------------------------------------------------------------------------
def test_log_sink_logs_at_the_severity(
    workspace: Workspace, version: ModelVersion, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="closedloop.monitoring.alerts"):
        alert = fire(workspace, version, LogSink())
    (record,) = caplog.records
    assert record.levelno == logging.CRITICAL
    assert f"alert {alert.id} fired" in record.getMessage()
    assert f"closedloop monitor alerts --id {alert.id}" in record.getMessage()
    assert alert.deliveries == {"log": "sent"}


# configuration -------------------------------------------------------------------------------
def test_sinks_from_config() -> None:
    (default,) = sinks_from_config(None)
    assert isinstance(default, LogSink)
    assert sinks_from_config([]) == []
    env = {"HOOK_SECRET": "abc"}
    log, hook = sinks_from_config(
        [
            {"type": "log", "min_severity": "warning"},
            {
                "type": "webhook",
                "name": "ops",
                "url": "https://hooks.example.com/x",
                "secret_env": "HOOK_SECRET",
                "timeout": "2s",
                "retries": 5,
                "backoff": "1m",
            },
        ],
        env,
    )
    assert isinstance(hook, WebhookSink)
    assert (log.min_severity, hook.name, hook.timeout, hook.retries, hook.backoff) == (
        "warning",
        "ops",
        2.0,
        5,
        60.0,
    )
    assert "abc" not in repr(hook)


@pytest.mark.parametrize(
    ("entry", "message", "hint"),
    [
        ({"type": "webhook", "url": "https://h/x"}, "no secret_env", "secret_env"),
        (
            {"type": "webhook", "url": "https://h/x", "secret_env": "UNSET_VAR"},
            "UNSET_VAR",
            "export UNSET_VAR",
        ),
        (
            {"type": "webhook", "url": "https://h/x", "secret": "x"},
            "must not be written",
            "secret_env",
        ),
        ({"type": "webhook", "url": "ftp://h/x", "secret_env": "S"}, "not an http(s)", "url"),
        ({"type": "webhook", "url": "https://h", "secret_env": "S", "retries": -1}, "retries", "3"),
        (
            {"type": "webhook", "url": "https://h", "secret_env": "S", "timeout": "x"},
            "'timeout': 'x' is not a duration",
            "90s",
        ),
        ({"type": "pager"}, "not log or webhook", "type"),
        ({"type": "log", "level": "x"}, "'level'", "takes"),
        ({"type": "log", "min_severity": "loud"}, "min_severity", "warning"),
    ],
)
def test_sink_config_errors(entry: dict[str, object], message: str, hint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        sinks_from_config([entry], {"S": "secret"})
    assert message in caught.value.message
    assert caught.value.hint is not None
    assert hint in caught.value.hint


def test_two_sinks_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="two sinks are named 'log'"):
        sinks_from_config([{"type": "log"}, {"type": "log"}])
