"""``serve --monitor``: monitoring rounds in a background thread of the server.

In-process through :class:`~closedloop.serving.BackgroundServer` (the same
:class:`~closedloop.serving._monitor.ServingMonitor` ``serve`` runs), and as a
``closedloop serve --workers 2 --monitor`` process (one monitor, in the supervisor).
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import SIGNATURE, Served, make_frame, records, train

from closedloop import data
from closedloop.cli._app import main
from closedloop.core import ModelVersion
from closedloop.errors import ConfigurationError, InvalidArgumentError
from closedloop.registry import create_endpoint, register_model, set_alias
from closedloop.serving import BackgroundServer
from closedloop.serving._monitor import ServingMonitor
from closedloop.workspace import Workspace

MONITORING = "\nmonitoring:\n  windows: [count:50]\n  interval: 1h\n"


def _init(root: Path, extra: str = MONITORING) -> None:
    Workspace.init(root)
    config = root / ".closedloop" / "closedloop.yaml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def _register(ws: Workspace, seed: int = 0, aliases: tuple[str, ...] = ("champion",)) -> Any:
    frame = make_frame(300, seed=seed)
    dataset = data.ingest_frame(ws, frame, f"train{seed}", source="test").version
    pipe = train(frame)
    return register_model(
        ws,
        "m",
        pipe,
        signature=SIGNATURE,
        target="y",
        classes=list(pipe.classes_),
        dataset_version_id=dataset.id,
        aliases=list(aliases),
    )


@pytest.fixture
def monitored(tmp_path: Path) -> Iterator[tuple[Workspace, ModelVersion]]:
    root = tmp_path / "ws-monitored"
    _init(root)
    with Workspace.open(root) as ws:
        yield ws, _register(ws)


def _traffic(url: str, n_requests: int, name: str = "m") -> None:
    rows = records(make_frame(10 * n_requests, seed=5))
    with httpx.Client(base_url=url, timeout=10) as client:
        for k in range(n_requests):
            sent = client.post(
                f"/v1/models/{name}/predict", json={"records": rows[k * 10 : k * 10 + 10]}
            )
            assert sent.status_code == 200, sent.text


def _eventually(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("not within the time allowed")


def test_the_server_completes_windows_in_the_background_and_stops_cleanly(
    monitored: tuple[Workspace, ModelVersion],
) -> None:
    ws, version = monitored
    server = BackgroundServer(ws, "m@champion", monitor=True, monitor_interval=0.5)
    assert server.monitor is not None
    assert server.monitor.interval == 0.5
    with server:
        assert server.monitor.running
        _traffic(server.url, 12)  # 120 rows: two complete windows of 50
        windows = _eventually(
            lambda: (
                len(ws.metadata.monitoring.list_windows(version.id, "count:50", complete=True)) >= 2
                and ws.metadata.monitoring.list_windows(version.id, "count:50", complete=True)
            )
        )
        assert [w.n_rows for w in windows[:2]] == [50, 50]
        thread = server.monitor._thread
        assert thread is not None
        assert thread.daemon
    assert not server.monitor.running
    assert not thread.is_alive()
    passes = server.monitor.passes
    time.sleep(0.7)
    assert server.monitor.passes == passes  # no round after the stop


def test_the_interval_defaults_to_the_monitoring_setting(
    monitored: tuple[Workspace, ModelVersion],
) -> None:
    ws, _ = monitored
    assert ServingMonitor.for_served(ws, ["m@champion"]).interval == 3600.0


def test_a_failing_round_is_logged_once_and_retried_without_stopping_the_server(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    # the conftest model has no training data lineage: monitoring has no reference
    caplog.set_level(logging.INFO, logger="closedloop.serving.monitor")
    with BackgroundServer(served.ws, "m@champion", monitor=True, monitor_interval=0.1) as server:
        assert server.monitor is not None
        monitor = server.monitor
        _eventually(lambda: monitor.passes >= 3)
        assert monitor.running
        _traffic(server.url, 1)
    failed = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 1, [r.getMessage() for r in failed]
    message = failed[0].getMessage()
    assert served.version.id in message
    assert "tried again" in message
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("monitor round")]
    assert len(lines) >= 3
    assert "0 window(s) completed, 0 alert(s) fired" in lines[0]
    assert f"1 failed: {served.version.id}" in lines[0]


def test_an_unexpected_error_in_a_round_does_not_kill_the_thread(
    monitored: tuple[Workspace, ModelVersion], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = monitored
    calls: list[int] = []

    def boom(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("closedloop.monitoring.monitor_run", boom)
    monitor = ServingMonitor.for_served(ws, ["m@champion"], interval=0.05).start()
    try:
        _eventually(lambda: len(calls) >= 3)
        assert monitor.running
    finally:
        assert monitor.stop(5.0)
    assert monitor.failures >= 3


def test_every_served_version_is_monitored_following_aliases_and_endpoints(
    monitored: tuple[Workspace, ModelVersion],
) -> None:
    ws, first = monitored
    second = _register(ws, seed=1, aliases=("challenger",))
    third = _register(ws, seed=2, aliases=())
    create_endpoint(ws, "web", {"m@champion": 9, "m@challenger": 1}, shadows=[third.id])
    monitor = ServingMonitor.for_served(ws, ["m@champion"], ["web"], interval=60)
    versions, failed = monitor.versions()
    assert [v.id for v in versions] == [first.id, second.id, third.id]
    assert failed == {}
    set_alias(ws, "m", "champion", second.version)
    versions, _ = monitor.versions()
    assert [v.id for v in versions] == [second.id, third.id]  # deduplicated, alias followed
    passed = monitor.run_once()
    assert {r.model_version_id for r in passed.rounds} == {second.id, third.id}
    assert passed.completed == 0
    assert passed.fired == 0


def test_bad_monitor_settings_are_refused_before_serving(
    tmp_path: Path, monitored: tuple[Workspace, ModelVersion]
) -> None:
    ws, _ = monitored
    with pytest.raises(InvalidArgumentError, match="positive number of seconds") as e:
        ServingMonitor.for_served(ws, ["m@champion"], interval=0)
    assert e.value.hint
    root = tmp_path / "ws-bad"
    _init(root, "\nmonitoring:\n  windoes: [count:50]\n")
    with Workspace.open(root) as bad:
        _register(bad)
        with pytest.raises(ConfigurationError, match="windoes") as e:
            BackgroundServer(bad, "m@champion", monitor=True)
        assert "windows" in (e.value.hint or "")


def test_the_cli_refuses_an_interval_without_monitor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws-cli"
    Workspace.init(root)
    code = main(["--workspace", str(root), "serve", "m@champion", "--monitor-interval", "5"])
    captured = capsys.readouterr()
    assert code == 2, captured
    text = captured.out + captured.err
    assert "--monitor-interval needs --monitor" in text
    assert "add --monitor" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_serve_with_workers_monitors_in_one_process(tmp_path: Path) -> None:
    root = tmp_path / "ws-workers"
    _init(root)
    with Workspace.open(root) as ws:
        version = _register(ws)
    command = [str(Path(sys.executable).parent / "closedloop"), "--workspace", str(root)]
    command += ["serve", "m@champion", "--port", "0", "--workers", "2", "--log-level", "info"]
    command += ["--monitor", "--monitor-interval", "0.5"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    output: list[str] = []
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output.append(line)
            match = re.search(r"at (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url is not None, "".join(output)
        stream = proc.stdout
        drain = threading.Thread(target=lambda: output.extend(stream), daemon=True)
        drain.start()
        _eventually(lambda: _ready(url), 60)
        _traffic(url, 6)
        with Workspace.open(root) as ws:
            _eventually(
                lambda: ws.metadata.monitoring.list_windows(version.id, "count:50", complete=True)
            )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        drain.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    text = "".join(output)
    assert text.count("monitoring m every 0.5s") == 1, text
    assert "monitor round: 1 version(s)" in text
    assert "Traceback" not in text


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
