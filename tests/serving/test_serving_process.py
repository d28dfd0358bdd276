"""`closedloop serve` as a process: SIGTERM under load, a worker SIGKILLed under load.

The durability rule: a response is sent only after its rows are committed. So every
request the client saw answered 200 must be in the prediction log, whatever happens to
the server process afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from serving_support import Served, records

from closedloop.workspace import Workspace

pytestmark = pytest.mark.slow


def _start(root: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    command = [str(Path(sys.executable).parent / "closedloop"), "--workspace", str(root), "serve"]
    command += ["m@champion", "--port", "0", "--log-level", "warning", *extra]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+)", line)
        if match:
            url = match.group(1)
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
            _wait_ready(url)
            return proc, url
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the server did not start")


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server is not ready")


class _Load:
    """Threads posting one-row requests with their own ids; remember every 200."""

    def __init__(self, url: str, body: dict[str, object], threads: int = 4) -> None:
        self.url, self.body = url, body
        self.answered: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, n: int) -> None:
        i = 0
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while not self.stop.is_set():
                rid = f"t{n}-{i}"
                i += 1
                try:
                    r = http.post("/predict", json=self.body, headers={"X-Request-ID": rid})
                except httpx.TransportError:
                    time.sleep(0.01)
                    continue
                if r.status_code == 200:
                    with self._lock:
                        self.answered.append(rid)

    def __enter__(self) -> _Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join()


def _wait_for(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    if proc.stdout is not None:
        proc.stdout.close()
    return code


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _workers(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        try:
            if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text():
                found.append(child)
        except OSError:  # it just exited
            pass
    return found


def _logged(root: Path, ids: list[str]) -> set[str]:
    with Workspace.open(root) as ws:
        return ws.metadata.predictions.known_request_ids(ids)


@pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc")
def test_sigterm_under_load_loses_no_answered_row(served: Served, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    proc, url = _start(root)
    with _Load(url, {"records": records(served.test.iloc[:1])}) as load:
        time.sleep(1.5)
        assert _stop(proc) == 0
        time.sleep(0.2)
    assert len(load.answered) > 20
    assert _logged(root, load.answered) == set(load.answered)


@pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc")
def test_a_worker_killed_under_load_loses_no_answered_row(served: Served, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    proc, url = _start(root, "--workers", "2")
    workers = _workers(proc.pid)
    assert len(workers) == 2, workers
    with _Load(url, {"records": records(served.test.iloc[:1])}) as load:
        _wait_for(lambda: len(load.answered) >= 20)
        os.kill(workers[0], signal.SIGKILL)
        before = len(load.answered)
        _wait_for(lambda: len(load.answered) >= before + 20)  # still answering after it

        def replaced() -> bool:
            now = _workers(proc.pid)
            return len(now) == 2 and workers[0] not in now

        _wait_for(replaced)  # the supervisor started a new worker in its place
        assert _stop(proc) == 0
    assert len(load.answered) > 20
    assert _logged(root, load.answered) == set(load.answered)
