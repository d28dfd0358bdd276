"""What the serving benchmark measured, and how it becomes table rows, verdicts and notes."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _serving_load import Acknowledged, WrkResult
from _serving_report import Line, fmt_range, ratio

__all__ = ["CL", "ML", "Config", "Kill", "Memory", "Results", "Soak", "build_lines", "notes"]

CL, ML = "closedloop", "MLServer"
BATCH_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class Config:
    duration: float
    repeat: int
    soak: float
    soak_requests: int
    batches: int
    kill_seconds: float
    workers: int
    peer: bool
    venv: Path
    quick: bool


@dataclass(slots=True)
class Memory:
    idle: float
    after_small: float
    small_requests: int
    after_batches: float
    batch_requests: int


@dataclass(slots=True)
class Soak:
    wrk: WrkResult
    logged_rows: int | None = None  # closedloop: rows the log gained during the run


@dataclass(slots=True)
class Kill:
    load: Acknowledged
    lost: int | None = None  # acknowledged ids missing from the log (closedloop)
    logged: int | None = None
    exit_seconds: float | None = None  # SIGTERM → exit
    victim: str = ""
    note: str = ""


@dataclass(slots=True)
class Results:
    """Everything measured, by server."""

    runs: dict[str, dict[str, list[WrkResult]]] = field(default_factory=dict)
    start: dict[str, list[float]] = field(default_factory=dict)
    idle: dict[str, list[float]] = field(default_factory=dict)
    memory: dict[str, Memory] = field(default_factory=dict)
    soak: dict[str, Soak] = field(default_factory=dict)
    sigterm: dict[str, Kill] = field(default_factory=dict)
    sigkill: Kill | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    probe_notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # phase → what failed

    def add_run(self, server: str, scenario: str, result: WrkResult) -> None:
        self.runs.setdefault(server, {}).setdefault(scenario, []).append(result)

    def of(self, server: str, scenario: str) -> list[WrkResult]:
        return self.runs.get(server, {}).get(scenario, [])


# formatting -------------------------------------------------------------------------------------
def _n(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def _ms(v: float) -> str:
    return f"{v * 1e3:,.2f} ms" if v < 1 else f"{v:,.2f} s"


def _x(r: float | None) -> str:
    return "—" if r is None else f"{r:,.2f}x"


def _loads(*groups: Sequence[WrkResult]) -> str:
    values = [r.load_before for g in groups for r in g]
    if not values:
        return "—"
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low}-{high}"


def _errors(runs: Sequence[WrkResult]) -> str:
    total = sum(r.errors for r in runs)
    return f"; {total:,} errors" if total else ""


def _rate_cell(runs: Sequence[WrkResult], latency: str, per: int = 1) -> str:
    if not runs:
        return "—"
    unit = "rows/s" if per > 1 else "rps"
    cell = fmt_range([r.requests * per / r.seconds for r in runs], _n) + f" {unit}"
    if latency:
        values = [getattr(r, latency) for r in runs]
        cell += f"; {latency} " + fmt_range(values, _ms)
    return cell + _errors(runs)


def _median(runs: Sequence[WrkResult], get: Callable[[WrkResult], float]) -> float:
    return statistics.median(get(r) for r in runs) if runs else math.nan


def _rates(runs: Sequence[WrkResult]) -> list[float]:
    return [r.requests / r.seconds for r in runs]


def _met(ok: bool | None) -> str:
    return "not run" if ok is None else "met" if ok else "missed"


# rows --------------------------------------------------------------------------------------------
def _throughput_lines(res: Results, cfg: Config) -> list[Line]:
    c1, m1 = res.of(CL, "c1"), res.of(ML, "c1")
    c16, m16 = res.of(CL, "c16"), res.of(ML, "c16")
    cb, mb = res.of(CL, "batch"), res.of(ML, "batch")
    lines: list[Line] = []

    p50 = ratio([r.p50 for r in c1], [r.p50 for r in m1])
    lines.append(
        Line(
            "one row, concurrency 1",
            _rate_cell(c1, "p50"),
            _rate_cell(m1, "p50"),
            f"rps {_x(ratio(_rates(c1), _rates(m1)))}, p50 {_x(p50)}",
            "p50 below MLServer's",
            _met(None if p50 is None else p50 < 1),
            _loads(c1, m1),
        )
    )
    rps16 = ratio(_rates(c16), _rates(m16))
    p99 = _median(c16, lambda r: r.p99)
    ok16 = None if rps16 is None or not c16 else rps16 >= 2 and p99 <= 0.010
    lines.append(
        Line(
            "one row, concurrency 16",
            _rate_cell(c16, "p99"),
            _rate_cell(m16, "p99"),
            f"rps {_x(rps16)}, p99 {_x(ratio([r.p99 for r in c16], [r.p99 for r in m16]))}",
            "≥ 2x MLServer's rps, p99 ≤ 10 ms",
            _met(ok16),
            _loads(c16, m16),
        )
    )
    rows = ratio([r * BATCH_ROWS for r in _rates(cb)], [r * BATCH_ROWS for r in _rates(mb)])
    lines.append(
        Line(
            f"{BATCH_ROWS:,}-row request, concurrency 1",
            _rate_cell(cb, "", BATCH_ROWS),
            _rate_cell(mb, "", BATCH_ROWS),
            _x(rows),
            "≥ 2x MLServer's rows/s",
            _met(None if rows is None else rows >= 2),
            _loads(cb, mb),
        )
    )
    native = res.of(CL, "native16")
    lines.append(
        Line(
            "one row, concurrency 16, closedloop's native `/v1` route",
            _rate_cell(native, "p99") if native else "no `/v1` route (current server)",
            "—",
            f"rps {_x(ratio(_rates(native), _rates(m16)))}" if native else "—",
            "—",
            "info",
            _loads(native),
        )
    )
    return lines


def _memory_lines(res: Results) -> list[Line]:
    def mib(v: float) -> str:
        return f"{v:,.0f} MiB"

    cs, ms = res.start.get(CL, []), res.start.get(ML, [])
    ci, mi = res.idle.get(CL, []), res.idle.get(ML, [])
    lines = [
        Line(
            "start to first prediction (spawn → first 200)",
            fmt_range(cs, lambda v: f"{v:.2f} s"),
            fmt_range(ms, lambda v: f"{v:.2f} s"),
            _x(ratio(cs, ms)),
            "≤ 1 s",
            _met(None if not cs else statistics.median(cs) <= 1.0),
        ),
        Line(
            "idle memory (process tree RSS 2 s after start + 1 request)",
            fmt_range(ci, mib),
            fmt_range(mi, mib),
            _x(ratio(ci, mi)),
            "≤ 150 MiB",
            _met(None if not ci else statistics.median(ci) <= 150),
        ),
    ]
    cm, mm = res.memory.get(CL), res.memory.get(ML)

    def cell(m: Memory | None, after: str) -> str:
        if m is None:
            return "—"
        value = getattr(m, after)
        return f"{value:,.0f} MiB ({(value / m.idle - 1) * 100:+.1f} % vs {m.idle:,.0f})"

    def flat(m: Memory | None, after: str) -> bool | None:
        return None if m is None else abs(getattr(m, after) / m.idle - 1) <= 0.05

    n_small = f"{cm.small_requests:,}" if cm else "?"
    n_small_ml = (
        f"; MLServer {mm.small_requests:,}"
        if mm and cm and mm.small_requests != cm.small_requests
        else ""
    )
    for after, label in (
        ("after_small", f"memory after {n_small} one-row requests{n_small_ml}, c16"),
        (
            "after_batches",
            f"memory after {cm.batch_requests if cm else '?'} {BATCH_ROWS:,}-row requests",
        ),
    ):
        lines.append(
            Line(
                label,
                cell(cm, after),
                cell(mm, after),
                "—",
                "within ±5 % of idle",
                _met(flat(cm, after)),
            )
        )
    return lines


def _soak_line(res: Results, cfg: Config) -> Line:
    cs, ms = res.soak.get(CL), res.soak.get(ML)

    def cell(s: Soak | None) -> str:
        if s is None:
            return "—"
        r = s.wrk
        errs = ", ".join(f"{k} {v}" for k, v in r.socket_errors.items())
        text = f"{r.requests:,} answered ({r.rps:,.0f} rps), p99 {_ms(r.p99)}, {r.non_2xx} non-2xx"
        text += f", socket errors: {errs or '0'}"
        if s.logged_rows is not None:
            text += f"; log +{s.logged_rows:,} rows (Δ {s.logged_rows - r.ok_requests:+,})"
        return text

    ok = None
    if cs is not None and cs.logged_rows is not None:
        extra = cs.logged_rows - cs.wrk.ok_requests
        ok = cs.wrk.errors == 0 and 0 <= extra <= cs.wrk.connections
    return Line(
        f"{cfg.soak:.0f} s at concurrency 64, one row",
        cell(cs),
        cell(ms),
        _x(ratio([cs.wrk.rps], [ms.wrk.rps]) if cs and ms else None),
        "0 errors; log rows = rows answered",
        _met(ok),
        _loads([cs.wrk] if cs else [], [ms.wrk] if ms else []),
    )


def _kill_cell(k: Kill | None, log: bool) -> str:
    if k is None:
        return "—"
    a = k.load
    others = ", ".join(f"{s} {n}" for s, n in sorted(a.statuses.items()) if s != "200")
    text = f"{len(a.acked):,} answered 200 of {a.sent:,} sent"
    if log:
        text += f"; {k.lost} missing from the log ({k.logged:,} logged)"
    if a.fired_at == a.fired_at:  # not NaN
        text += f"; signal at {a.fired_at:.1f} s, after {a.acked_before_action:,} answers"
    if k.exit_seconds is not None:
        text += f"; exit {k.exit_seconds:.2f} s after SIGTERM"
    if others:
        text += f"; other outcomes: {others}"
    if a.mismatched_ids:
        text += f"; {a.mismatched_ids} wrong X-Request-ID echoes"
    return text + (f"; {k.note}" if k.note else "")


def _no_loss(k: Kill | None) -> str:
    if k is None or k.lost is None:
        return "not run"
    if k.load.acked_before_action == 0:
        return "inconclusive"  # nothing was answered before the signal
    return "met" if k.lost == 0 else "missed"


def build_lines(res: Results, cfg: Config) -> list[Line]:
    lines = _throughput_lines(res, cfg) + _memory_lines(res) + [_soak_line(res, cfg)]
    term = res.sigterm.get(CL)
    lines.append(
        Line(
            "SIGTERM of the server under load (16 clients)",
            _kill_cell(term, log=True),
            _kill_cell(res.sigterm.get(ML), log=False),
            "—",
            "0 acknowledged rows lost",
            _no_loss(term),
        )
    )
    k = res.sigkill
    lines.append(
        Line(
            f"SIGKILL of one worker under load, `--workers {cfg.workers}`",
            _kill_cell(k, log=True)
            if k
            else f"error: {res.errors['sigkill']}"
            if "sigkill" in res.errors
            else "not run: no `--workers` option",
            "n/a (`parallel_workers: 0`)",
            "—",
            "0 acknowledged rows lost",
            "error" if "sigkill" in res.errors else _no_loss(k),
        )
    )
    return lines


def notes(res: Results, cfg: Config) -> list[str]:
    out = [
        f"Throughput rows: median of {cfg.repeat} interleaved repetition(s) (min-max in "
        f"brackets) of {cfg.duration:g} s `wrk` runs; each repetition starts both servers fresh "
        "(the start and idle-memory samples), warms each with 1 s of one-row and 2 large "
        "requests, then runs every scenario closedloop, MLServer, closedloop, … so load from "
        "other processes hits both alike. rps counts completed requests over the run's "
        "time; a run in which no request completed (a 10,000-row request slower than the "
        "run) is redone as one request, timed from wrk's start to its answer.",
        "Ratios are closedloop ÷ MLServer of the medians: above 1 is better for rps and rows/s, "
        "below 1 is better for latencies, seconds and MiB.",
        "Endpoints: closedloop "
        + res.endpoints.get(CL, "?")
        + "; MLServer "
        + res.endpoints.get(ML, "not run")
        + (
            f"; closedloop native row {res.endpoints['native']}"
            if "native" in res.endpoints
            else ""
        )
        + ". The same rows (the first rows of the breast-cancer data, 10,000 cycling through "
        "its 569) go to both. MLServer answers only its default `predict` output (labels); "
        "closedloop answers labels and probabilities and commits every row to its prediction "
        "log (SQLite) with an audit event before it answers.",
        "Client: `wrk` with one thread (`-t1`), `--timeout 30s`, a Lua script setting "
        "`wrk.method`, `wrk.body`, `wrk.headers`. Nothing is pinned to a CPU: on 2 cores wrk, "
        "the measured server and the idle other server share both. Both servers run with "
        "their default logging (access log lines to a file) and default extras (MLServer: "
        "`parallel_workers: 0`, its metrics server on, gRPC on).",
        "Memory: sum of VmRSS over the server's process tree (/proc; pages shared between "
        "processes count once per process), 1 s after the load; idle is sampled 2 s after "
        "the first prediction, once the server has finished starting (closedloop builds "
        "its FastAPI control plane 1 s after start, so an earlier sample would leave it "
        "out). The one-row load is a wrk "
        f"run stopped after {cfg.soak_requests:,} answers (or at its time cap, the count "
        "shown); the batches are 10,000-row requests at concurrency 1.",
        f"Concurrency 64: {cfg.soak:g} s of one-row requests. wrk counts requests that "
        "completed before it stopped; requests in flight at its stop (at most 64) are not "
        "counted but may still be answered and logged, as the server is stopped gracefully "
        "before the log is counted. So the target is: no error, and log rows - rows "
        "answered 2xx (Δ) between 0 and 64. Each run is on a fresh workspace; the log is "
        "counted before and after (`closedloop.serving.count_predictions`).",
        "Kill tests: an asyncio httpx client with 16 connections sends one-row requests with "
        f"a unique `X-Request-ID` for {cfg.kill_seconds:g} s and records the id of every 200; "
        f"the signal is sent {cfg.kill_seconds * 0.4:g} s in or, if later, once 20 requests "
        "were answered (by 80 % of the run at the latest; a row with no answer before the "
        "signal is inconclusive). Afterwards (server stopped) each "
        "recorded id is looked up in the prediction log (`closedloop.serving.list_predictions`). "
        "MLServer keeps no log, so its row shows what its clients saw and how long it took "
        "to exit.",
    ]
    if res.sigkill is not None:
        out.append(f"SIGKILL victim: {res.sigkill.victim} (the largest child of the server).")
    out.extend(res.skipped)
    out.extend(f"Phase `{p}` failed: {e}" for p, e in res.errors.items())
    out.extend(res.probe_notes)
    return out
