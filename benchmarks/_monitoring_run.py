"""Running one measurement: a fresh worker process, its result and its own peak RSS.

The peak comes from ``os.wait4`` on the worker's pid, which returns that child's own
``rusage`` (``ru_maxrss`` of ``RUSAGE_CHILDREN`` would be the largest of all children waited
for so far, so a small run after Evidently's would inherit Evidently's peak).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from _common import log
from _monitoring_data import Score, scores_from_json

__all__ = ["BENCH_DIR", "Run", "Runner"]

BENCH_DIR = Path(__file__).resolve().parent
WORKER = BENCH_DIR / "_monitoring_worker.py"


@dataclass(slots=True)
class Run:
    """What one worker process measured."""

    system: str
    mode: str
    rows: int
    seconds: float | None = None  # reading the Parquet files → per-column results
    read_seconds: float | None = None
    wall_seconds: float = 0.0  # process start → exit (interpreter, imports, warm-up)
    peak_mib: float = 0.0
    load_before: float = 0.0  # 1-minute load average when the process was started
    scores: dict[str, Score] = field(default_factory=dict)
    windows: int | None = None
    not_available: str = ""
    error: str = ""
    modules: dict[str, str] = field(default_factory=dict)  # package → the file imported

    @property
    def ok(self) -> bool:
        return self.seconds is not None and not self.error and not self.not_available


class Runner:
    """Starts workers with each system's interpreter and keeps their logs in ``tmp``."""

    def __init__(
        self,
        tmp: Path,
        pythons: dict[str, Path],
        warm: dict[str, Path],
        extra_paths: dict[str, Path] | None = None,
    ) -> None:
        self.tmp, self.pythons, self.warm = tmp, pythons, warm
        self.extra_paths = extra_paths or {}

    def env(self, system: str) -> dict[str, str]:
        env = dict(os.environ)
        # the workers' helper modules (and, with --closedloop-src, that package first)
        paths = [self.extra_paths[system]] if system in self.extra_paths else []
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in [*paths, BENCH_DIR])
        if system == "evidently":
            env["DO_NOT_TRACK"] = "1"  # Evidently's usage telemetry
        else:
            env.pop("DO_NOT_TRACK", None)
        return env

    def run(self, system: str, mode: str, rows: int, **paths: Path | int | None) -> Run:
        tag = f"{system}-{mode}-{rows}-{uuid.uuid4().hex[:6]}"
        out, err = self.tmp / f"{tag}.json", self.tmp / f"{tag}.log"
        cmd = [str(self.pythons[system]), str(WORKER), system, mode, "--out", str(out)]
        for key, value in paths.items():
            if value is not None:
                cmd += [f"--{key.replace('_', '-')}", str(value)]
        if mode in ("e2e", "profile"):
            cmd += [
                "--warm-ref",
                str(self.warm["reference"]),
                "--warm-cur",
                str(self.warm["current"]),
            ]
        load = os.getloadavg()[0]
        started = time.perf_counter()
        with err.open("wb") as stderr:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=self.env(system), cwd=self.tmp
            )
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        run = Run(system, mode, rows, wall_seconds=wall, load_before=load)
        run.peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
        try:
            data = json.loads(out.read_text())
        except (OSError, json.JSONDecodeError):
            tail = err.read_text(errors="replace").strip().splitlines()[-8:] or ["no output"]
            log("\n".join(f"    | {line}" for line in tail))
            run.error = f"worker exited {proc.returncode}: {tail[-1][:200]}"
            return run
        run.not_available = data.get("not_available", "")
        run.error = data.get("error", "")
        run.seconds = data.get("seconds")
        run.read_seconds = data.get("read_seconds")
        run.windows = data.get("windows")
        run.scores = scores_from_json(data.get("scores", {}))
        run.modules = data.get("modules", {})
        if run.error:
            tail = err.read_text(errors="replace").strip().splitlines()[-8:]
            log("\n".join(f"    | {line}" for line in tail))
        return run
