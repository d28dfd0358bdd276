"""Serving benchmark (issue 8): ``closedloop serve`` against MLServer 1.7.1 on this machine.

Usage::

    .venv/bin/python benchmarks/bench_serving.py --peer mlserver [--quick] [--duration S]
                                                 [--repeat N] [--output FILE.md]

One scikit-learn ``LogisticRegression`` (breast-cancer data, 30 float features) is served by
both. The same ``wrk`` client posts the same rows as Open Inference Protocol v2 JSON to
both (closedloop falls back to ``POST /predict`` records when it has no OIP route, and says
so). Scenarios:

1. throughput: one row at concurrency 1 (rps, p50) and 16 (rps, p99), one 10,000-row
   request at concurrency 1 (rows/s), and closedloop's native ``/v1`` route at 16; each a
   median of interleaved repetitions (closedloop, MLServer, closedloop, MLServer, ...),
   each repetition with freshly started servers;
2. start to first prediction (spawn → first 200) and idle memory (process tree RSS after
   start and one request, 2 s later), once per repetition;
3. memory after many one-row requests and after 20 large batches, against idle;
4. 60 s at concurrency 64: errors, and closedloop's prediction log against rows answered;
5. SIGTERM of the server under load, and SIGKILL of one worker under ``--workers 2``:
   every request answered 200 must be in the prediction log.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import command_line, environment, load_average, log, machine_info
from _serving_load import Acknowledged, WrkResult, acknowledged_load, run_wrk, wrk_version
from _serving_report import Line, print_lines, section, write_section
from _serving_results import (
    BATCH_ROWS,
    CL,
    ML,
    Config,
    Kill,
    Memory,
    Results,
    Soak,
    build_lines,
    notes,
)
from _serving_servers import (
    BENCH_DIR,
    REPO,
    ServerProcess,
    closedloop_candidates,
    closedloop_has_flag,
    closedloop_server,
    cmdline,
    compile_sources,
    descendants,
    ensure_mlserver_venv,
    fit_model,
    free_port,
    mlserver_endpoint,
    mlserver_server,
    mlserver_versions,
    native_candidates,
    prepare_mlserver_folder,
    prepare_workspace,
    rows_of,
    tree_rss_mib,
)


class Bench:
    """The model, the servers' folders and how to start each server fresh."""

    def __init__(self, cfg: Config, tmp: Path) -> None:
        self.cfg, self.tmp = cfg, tmp
        self.model, self.x = fit_model()
        self.one = rows_of(self.x, 1)
        self.batch = rows_of(self.x, BATCH_ROWS)
        self.has_workers = closedloop_has_flag("--workers")
        compile_sources()
        self.mlserver_exe: Path | None = None
        self.mlserver_dir: Path | None = None
        if cfg.peer:
            self.mlserver_exe = ensure_mlserver_venv(cfg.venv)
            self.mlserver_dir = prepare_mlserver_folder(tmp / "mlserver", self.model)
        self.results = Results()
        self._n = 0

    def _fresh(self, prefix: str) -> Path:
        self._n += 1
        path = self.tmp / f"{prefix}-{self._n}"
        path.mkdir()
        return path

    def closedloop(self, *, workers: int | None = None) -> tuple[ServerProcess, Path, str]:
        """A fresh workspace with the model, and a started ``closedloop serve`` on it."""
        ws = self._fresh("ws")
        version = prepare_workspace(ws, self.model, self.x)
        extra = ["--workers", str(workers)] if workers else []
        server = closedloop_server(ws, free_port(), self.tmp / f"closedloop-{self._n}.log", extra)
        server.start(closedloop_candidates(), self.one)
        self._endpoint(CL, server)
        return server, ws, version

    def mlserver(self) -> ServerProcess:
        assert self.mlserver_exe is not None
        assert self.mlserver_dir is not None
        log_path = self.tmp / f"mlserver-{self._fresh('m').name}.log"
        server = mlserver_server(self.mlserver_exe, self.mlserver_dir, free_port(), log_path)
        server.start([mlserver_endpoint()], self.one, timeout=120.0)
        self._endpoint(ML, server)
        return server

    def _endpoint(self, name: str, server: ServerProcess) -> None:
        assert server.endpoint is not None
        self.results.endpoints.setdefault(name, server.endpoint.describe())
        for n in server.probe_notes:
            if n not in self.results.probe_notes:
                self.results.probe_notes.append(n)

    def servers(self) -> list[str]:
        return [CL, ML] if self.cfg.peer else [CL]

    def start(self, name: str) -> ServerProcess:
        return self.closedloop()[0] if name == CL else self.mlserver()

    def wrk(self, server: ServerProcess, rows: str, connections: int, **kw: Any) -> WrkResult:
        assert server.endpoint is not None
        body = server.endpoint.encode(self.one if rows == "one" else self.batch)
        return run_wrk(
            server.url + server.endpoint.path,
            body,
            connections=connections,
            duration=kw.pop("duration", self.cfg.duration),
            workdir=self.tmp / "wrk",
            **kw,
        )


#: Seconds from the first prediction to the idle-memory sample: a server has finished
#: starting (closedloop builds its control plane, FastAPI, 1 s after start).
SETTLE_SECONDS = 2.0


# 1-2: throughput, start, idle memory -----------------------------------------------------------
SCENARIOS = (("c1", "one", 1), ("c16", "one", 16), ("batch", "batch", 1))


def warm(bench: Bench, server: ServerProcess) -> None:
    """A few requests of each size, so lazy imports and caches are not measured."""
    bench.wrk(server, "one", 4, duration=1)
    bench.wrk(server, "batch", 1, duration=1, limit=2)


def throughput(bench: Bench) -> None:
    res = bench.results
    for rep in range(bench.cfg.repeat):
        log(f"repetition {rep + 1}/{bench.cfg.repeat} (load {load_average()})")
        running: dict[str, ServerProcess] = {}
        try:
            for name in bench.servers():
                server = bench.start(name)
                running[name] = server
                time.sleep(SETTLE_SECONDS)
                res.start.setdefault(name, []).append(server.start_seconds)
                res.idle.setdefault(name, []).append(server.rss_mib())
                log(
                    f"  {name}: first prediction after {server.start_seconds:.2f} s, "
                    f"idle {res.idle[name][-1]:.0f} MiB"
                )
            for server in running.values():
                warm(bench, server)
            for scenario, rows, conns in SCENARIOS:
                for name, server in running.items():
                    r = bench.wrk(server, rows, conns)
                    if r.requests == 0:  # slower than one request per run: time one
                        r = bench.wrk(server, rows, conns, limit=1, duration=120)
                    res.add_run(name, scenario, r)
                    log(
                        f"  {name} {scenario}: {r.rps:,.1f} rps, p50 {r.p50 * 1e3:.2f} ms, "
                        f"p99 {r.p99 * 1e3:.2f} ms, errors {r.errors}"
                    )
            native(bench, running[CL])
        finally:
            for server in running.values():
                server.stop()


def native(bench: Bench, server: ServerProcess) -> None:
    endpoint = server.probe(native_candidates(), bench.one)
    if endpoint is None:
        return
    bench.results.endpoints.setdefault("native", endpoint.describe())
    r = run_wrk(
        server.url + endpoint.path,
        endpoint.encode(bench.one),
        connections=16,
        duration=bench.cfg.duration,
        workdir=bench.tmp / "wrk",
    )
    bench.results.add_run(CL, "native16", r)
    log(f"  closedloop native c16: {r.rps:,.1f} rps, p99 {r.p99 * 1e3:.2f} ms")


# 3: memory -------------------------------------------------------------------------------------
def memory(bench: Bench) -> None:
    cap = max(3 * bench.cfg.duration, 60.0 if not bench.cfg.quick else 10.0)
    for name in bench.servers():
        server = bench.start(name)
        try:
            time.sleep(SETTLE_SECONDS)
            idle = server.rss_mib()
            small = bench.wrk(server, "one", 16, limit=bench.cfg.soak_requests, duration=cap)
            time.sleep(1.0)
            after_small = server.rss_mib()
            big = bench.wrk(server, "batch", 1, limit=bench.cfg.batches, duration=cap)
            time.sleep(1.0)
            after_big = server.rss_mib()
        finally:
            server.stop()
        bench.results.memory[name] = Memory(
            idle, after_small, small.requests, after_big, big.requests
        )
        log(
            f"  {name} memory: idle {idle:.0f} MiB, after {small.requests:,} one-row "
            f"{after_small:.0f} MiB, after {big.requests} batches {after_big:.0f} MiB"
        )


# 4: concurrency 64 and the prediction log ------------------------------------------------------
def logged_rows(ws: Path, version: str) -> int:
    from closedloop.serving import count_predictions
    from closedloop.workspace import Workspace

    with Workspace.open(ws) as w:
        return count_predictions(w, version)


def logged_ids(ws: Path, version: str) -> set[str]:
    from closedloop.serving import list_predictions
    from closedloop.workspace import Workspace

    with Workspace.open(ws) as w:
        return {p.request_id for p in list_predictions(w, version)}


def soak(bench: Bench) -> None:
    for name in bench.servers():
        if name == CL:
            server, ws, version = bench.closedloop()
            before = logged_rows(ws, version)
        else:
            server = bench.mlserver()
        try:
            r = bench.wrk(server, "one", 64, duration=bench.cfg.soak)
        finally:
            server.stop()  # graceful: requests in flight when wrk stopped are finished
        result = Soak(r)
        if name == CL:
            result.logged_rows = logged_rows(ws, version) - before
        bench.results.soak[name] = result
        log(
            f"  {name} c64: {r.requests:,} requests, {r.errors} errors, logged {result.logged_rows}"
        )


# 5: kills under load ---------------------------------------------------------------------------
def _load(bench: Bench, server: ServerProcess, tag: str, action: Any) -> Acknowledged:
    assert server.endpoint is not None
    return acknowledged_load(
        server.url + server.endpoint.path,
        server.endpoint.encode(bench.one),
        concurrency=16,
        seconds=bench.cfg.kill_seconds,
        tag=f"{tag}-{uuid.uuid4().hex[:8]}",
        at=bench.cfg.kill_seconds * 0.4,
        action=action,
    )


def sigterm(bench: Bench) -> None:
    for name in bench.servers():
        if name == CL:
            server, ws, version = bench.closedloop()
        else:
            server = bench.mlserver()
        exited: dict[str, float] = {}

        def term(server: ServerProcess = server, exited: dict[str, float] = exited) -> None:
            t0 = time.perf_counter()
            server.signal(signal.SIGTERM)

            def watch() -> None:
                assert server.proc is not None
                server.proc.wait()
                exited["s"] = time.perf_counter() - t0

            threading.Thread(target=watch, daemon=True).start()

        load = _load(bench, server, "term", term)
        note = ""
        if server.wait(30.0) is None:
            note = "did not exit within 30 s of the load's end; killed"
        server.stop()
        kill = Kill(load, exit_seconds=exited.get("s"), note=note)
        if name == CL:
            ids = logged_ids(ws, version)
            kill.logged = len(ids)
            kill.lost = sum(1 for rid in load.acked if rid not in ids)
        bench.results.sigterm[name] = kill
        log(
            f"  {name} SIGTERM: {len(load.acked):,} acknowledged, lost {kill.lost}, "
            f"exit {kill.exit_seconds}, statuses {dict(load.statuses)}"
        )


def sigkill(bench: Bench) -> None:
    if not bench.has_workers:
        bench.results.skipped.append(
            "SIGKILL of a worker: `closedloop serve --help` lists no `--workers`"
        )
        return
    server, ws, version = bench.closedloop(workers=bench.cfg.workers)
    victim: dict[str, str] = {}

    def kill_worker() -> None:
        children = [p for p in descendants(server.pid) if p != server.pid]
        if not children:
            victim["v"] = "no worker process found"
            return
        pid = max(children, key=tree_rss_mib)  # a worker holds the model: the largest child
        victim["v"] = f"pid {pid} ({cmdline(pid)[:80]}), of {len(children)} child processes"
        os.kill(pid, signal.SIGKILL)

    try:
        load = _load(bench, server, "kill", kill_worker)
    finally:
        server.stop()
    ids = logged_ids(ws, version)
    lost = sum(1 for rid in load.acked if rid not in ids)
    bench.results.sigkill = Kill(load, lost=lost, logged=len(ids), victim=victim.get("v", ""))
    log(
        f"  closedloop SIGKILL worker: {len(load.acked):,} acknowledged, lost {lost}, "
        f"{victim.get('v')}, statuses {dict(load.statuses)}"
    )


# entry point -----------------------------------------------------------------------------------
def source_fingerprint() -> str:
    """A digest of the closedloop sources the servers run (PYTHONPATH may point elsewhere)."""
    import closedloop

    package = Path(closedloop.__file__).resolve().parent
    files = sorted(package.rglob("*.py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    where = package.relative_to(REPO) if package.is_relative_to(REPO) else package
    return f"sha256 {digest.hexdigest()[:16]} over {len(files)} files in {where}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--peer", choices=["mlserver"], help="also serve the model with MLServer")
    p.add_argument("--quick", action="store_true", help="1 repetition, short runs")
    p.add_argument("--duration", type=float, help="seconds per throughput run (10; quick 3)")
    p.add_argument("--repeat", type=int, help="interleaved repetitions (3; quick 1)")
    p.add_argument("--soak", type=float, help="seconds of the concurrency-64 run (60; quick 10)")
    p.add_argument("--soak-requests", type=int, help="one-row requests before the memory check")
    p.add_argument("--workers", type=int, default=2, help="closedloop workers in the kill test")
    p.add_argument("--mlserver-venv", type=Path, default=BENCH_DIR / ".venv-mlserver")
    p.add_argument("--output", type=Path, help="write the section into this Markdown file")
    args = p.parse_args(argv)
    for name in ("duration", "repeat", "soak", "soak_requests"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    return args


def config(args: argparse.Namespace) -> Config:
    q = args.quick
    return Config(
        duration=args.duration or (3.0 if q else 10.0),
        repeat=args.repeat or (1 if q else 3),
        soak=args.soak or (10.0 if q else 60.0),
        soak_requests=args.soak_requests or (5_000 if q else 100_000),
        batches=5 if q else 20,
        kill_seconds=5.0 if q else 8.0,
        workers=args.workers,
        peer=args.peer == "mlserver",
        venv=args.mlserver_venv.resolve(),
        quick=q,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config(args)
    started, load_at_start, source_at_start = (
        time.perf_counter(),
        load_average(),
        source_fingerprint(),
    )
    env_at_start = environment(("CLOSEDLOOP_", "MLSERVER_", "PYTHONPATH"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        bench = Bench(cfg, tmp)
        for phase in (throughput, memory, soak, sigterm, sigkill):
            log(f"{phase.__name__} (load {load_average()})")
            try:
                phase(bench)
            except Exception as e:  # one failing phase must not lose the others' results
                traceback.print_exc()
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                bench.results.errors[phase.__name__] = first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    log(f"done in {elapsed:.0f} s")
    source_after = source_fingerprint()

    res = bench.results
    lines: list[Line] = build_lines(res, cfg)
    info = machine_info(["closedloop", "scikit-learn", "numpy", "fastapi", "uvicorn"])
    if cfg.peer:
        for k, v in mlserver_versions(cfg.venv).items():
            info[f"{k} (MLServer's venv)"] = v
    info["wrk"] = wrk_version()
    info["closedloop source measured"] = (
        source_at_start
        if source_at_start == source_after
        else f"{source_at_start}; CHANGED during the run, to {source_after}"
    )
    info["closedloop serve --workers"] = "available" if bench.has_workers else "not available"
    info["environment at the start"] = env_at_start
    info["load average (1/5/15 min) at the start"] = load_at_start
    info["benchmark wall time"] = f"{elapsed:.0f} s"
    print_lines(lines, f"closedloop serve vs MLServer 1.7.1 ({info['date']})")
    notes_ = notes(res, cfg)
    for n in notes_:
        print(f"- {n}")
    if cfg.peer is False:
        log("no --peer mlserver: closedloop only, no ratios")
    if args.output:
        write_section(args.output, section(command_line(), lines, notes_, info))
        log(f"wrote {args.output}")
    return 0 if all(line.result != "missed" for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
