"""Load for the serving benchmark: ``wrk`` runs (parsed) and a client that counts every answer.

``wrk`` measures throughput and latency; it cannot say which requests were answered, so the
kill tests use :func:`acknowledged_load`, an asyncio client that sends a unique
``X-Request-ID`` with every request and keeps the id of each 200 it receives.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Acknowledged", "WrkResult", "acknowledged_load", "run_wrk", "wrk_version"]

WRK = shutil.which("wrk") or "/usr/bin/wrk"
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one ``wrk --latency`` run printed."""

    connections: int
    requests: int  # completed requests (any status)
    seconds: float
    rps: float
    p50: float  # seconds
    p99: float  # seconds
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: dict[str, int]
    load_before: float  # 1-minute load average just before the run

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    @property
    def ok_requests(self) -> int:
        return self.requests - self.non_2xx


def wrk_version() -> str:
    out = subprocess.run([WRK, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0] if out else "?"


def _seconds(number: str, unit: str) -> float:
    return float(number) * _UNITS[unit]


def parse_wrk(text: str, connections: int, load_before: float) -> WrkResult:
    """Parse ``wrk --latency`` output (raises ``ValueError`` naming what is missing)."""

    def find(pattern: str) -> re.Match[str]:
        m = re.search(pattern, text)
        if m is None:
            raise ValueError(f"wrk output has no {pattern!r}:\n{text}")
        return m

    done = find(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    p50 = find(r"\n\s*50%\s+([\d.]+)(us|ms|s|m|h)")
    p99 = find(r"\n\s*99%\s+([\d.]+)(us|ms|s|m|h)")
    rps = find(r"Requests/sec:\s+([\d.]+)")
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    socket_errors = (
        dict(zip(("connect", "read", "write", "timeout"), map(int, sock.groups()), strict=True))
        if sock
        else {}
    )
    return WrkResult(
        connections=connections,
        requests=int(done.group(1)),
        seconds=_seconds(done.group(2), done.group(3)),
        rps=float(rps.group(1)),
        p50=_seconds(*p50.groups()),
        p99=_seconds(*p99.groups()),
        non_2xx=int(non.group(1)) if non else 0,
        socket_errors={k: v for k, v in socket_errors.items() if v},
        load_before=load_before,
    )


def _lua(body: Path, limit: int | None, marker: Path) -> str:
    script = [
        'wrk.method = "POST"',
        f'local f = assert(io.open("{body}", "rb"))',
        "wrk.body = f:read('*a')",
        "f:close()",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if limit is not None:  # stop after `limit` answers: mark it, the runner sends SIGINT
        script += [
            "local seen = 0",
            "function response(status, headers, body)",
            "  seen = seen + 1",
            f"  if seen == {limit} then",
            f'    local m = io.open("{marker}", "w")',
            "    if m then m:close() end",
            "  end",
            "end",
        ]
    return "\n".join(script) + "\n"


def run_wrk(
    url: str,
    body: bytes,
    *,
    connections: int,
    duration: float,
    workdir: Path,
    limit: int | None = None,
    timeout: float = 30.0,
) -> WrkResult:
    """POST ``body`` to ``url`` for ``duration`` s (or until ``limit`` answers) with one thread.

    One wrk thread: on 2 cores the other one belongs to the server.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    body_path, lua_path = workdir / "body.json", workdir / "post.lua"
    marker = workdir / "limit-reached"
    marker.unlink(missing_ok=True)
    body_path.write_bytes(body)
    lua_path.write_text(_lua(body_path, limit, marker))
    argv = [
        WRK,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={timeout:g}s",
        "--latency",
        "-s",
        str(lua_path),
        url,
    ]
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if limit is not None:
        while proc.poll() is None:
            if marker.exists():
                proc.send_signal(signal.SIGINT)  # wrk stops and prints its summary
                break
            time.sleep(0.05)
    out, _ = proc.communicate(timeout=duration + timeout + 30)
    return parse_wrk(out, connections, load_before)


# a client that records every acknowledged request ------------------------------------------
@dataclass(slots=True)
class Acknowledged:
    """Request ids answered 200, and what else the client saw."""

    acked: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    mismatched_ids: int = 0  # 200 answers whose X-Request-ID echo differed from the id sent
    fired_at: float = float("nan")  # seconds into the load when the action ran
    acked_before_action: int = 0


async def _worker(
    url: str,
    body: bytes,
    prefix: str,
    stop_at: float,
    result: Acknowledged,
) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        seq = 0
        while time.monotonic() < stop_at:
            seq += 1
            rid = f"{prefix}-{seq}"
            result.sent += 1
            try:
                r = await client.post(
                    url,
                    content=body,
                    headers={"Content-Type": "application/json", "X-Request-ID": rid},
                )
            except httpx.HTTPError as e:
                result.statuses[type(e).__name__] += 1
                await asyncio.sleep(0.02)
                continue
            result.statuses[str(r.status_code)] += 1
            if r.status_code == 200:
                result.acked.append(rid)
                echoed = r.headers.get("x-request-id")
                if echoed is not None and echoed != rid:
                    result.mismatched_ids += 1


async def _run(
    url: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    tag: str,
    at: float,
    action: Callable[[], None],
    min_acked: int,
) -> Acknowledged:
    result = Acknowledged()
    t0 = time.monotonic()
    stop_at = t0 + seconds
    latest = t0 + seconds * 0.8

    async def fire() -> None:
        await asyncio.sleep(at)
        while len(result.acked) < min_acked and time.monotonic() < latest:
            await asyncio.sleep(0.05)
        result.fired_at = time.monotonic() - t0
        result.acked_before_action = len(result.acked)
        await asyncio.get_running_loop().run_in_executor(None, action)

    await asyncio.gather(
        fire(),
        *(_worker(url, body, f"{tag}-{w}", stop_at, result) for w in range(concurrency)),
    )
    return result


def acknowledged_load(
    url: str,
    body: bytes,
    *,
    concurrency: int,
    seconds: float,
    tag: str,
    at: float,
    action: Callable[[], None],
    min_acked: int = 20,
) -> Acknowledged:
    """Load ``url`` for ``seconds`` with unique request ids, calling ``action`` once mid-run.

    ``action`` runs ``at`` seconds in, or later once ``min_acked`` requests were answered
    200 (a kill before any answer proves nothing), but no later than 80 % of ``seconds``.
    """
    return asyncio.run(_run(url, body, concurrency, seconds, tag, at, action, min_acked))
