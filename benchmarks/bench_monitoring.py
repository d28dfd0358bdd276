"""Monitoring benchmark (issue 9): column drift, closedloop vs Evidently 0.7.23 vs a numpy floor.

Usage::

    .venv/bin/python benchmarks/bench_monitoring.py [--rows 100000,1000000] [--repeat 3]
                                                    [--quick] [--write [FILE.md]]

Per size, a seeded reference and current frame (15 numeric and 5 categorical columns, 5
columns shifted) are written once to Parquet. Each measurement is then a fresh process
(``_monitoring_worker.py``) that reads the files and computes every column's drift score:

1. end to end (read both files, fit the reference, score the current): closedloop
   (``_monitoring_closedloop.py``, the adapter to the monitoring API), Evidently's
   ``DataDriftPreset`` (``_monitoring_evidently.py``, in its own venv) and the numpy floor
   (``_monitoring_floor.py``), interleaved per repetition;
2. scoring a window against a stored reference profile (closedloop and the floor;
   Evidently has none, so its end-to-end run is its cost);
3. a 10M-row file streamed through windows against a profile (closedloop's windows API).

Reported: medians, Evidently ÷ closedloop and closedloop ÷ floor, peak RSS, the load before
each run, whether the systems' scores agree (max |Δ| per statistic) and whether each flags
the shifted columns. The Markdown section goes to stdout; ``--write`` puts it into
benchmarks/RESULTS.md (between its markers, the other sections untouched).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import command_line, environment, load_average, log, machine_info
from _monitoring_checks import CL, EV, FL, checks, unavailable
from _monitoring_data import write_dataset
from _monitoring_evidently import ensure_evidently_venv, evidently_versions
from _monitoring_report import Config, build_lines, notes, section, write_section
from _monitoring_run import BENCH_DIR, Run, Runner

REPO = BENCH_DIR.parent
WARM_ROWS = 5_000
SYSTEMS = (CL, EV, FL)


def source_fingerprint(src: Path | None) -> str:
    """A digest of the closedloop sources the workers import."""
    if src is not None:
        package = src / "closedloop"
    else:
        spec = importlib.util.find_spec("closedloop")
        if spec is None or spec.origin is None:
            return "closedloop not importable"
        package = Path(spec.origin).parent
    files = sorted(package.rglob("*.py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    where = package.relative_to(REPO) if package.is_relative_to(REPO) else package
    return f"sha256 {digest.hexdigest()[:16]} over {len(files)} files in {where}"


def _describe(run: Run) -> str:
    head = f"  {run.system} {run.mode} {run.rows:,}:"
    if run.not_available:
        return f"{head} not available ({run.not_available})"
    if run.error:
        return f"{head} ERROR {run.error}"
    read = f" (read {run.read_seconds:.3f})" if run.read_seconds else ""
    return (
        f"{head} {run.seconds:.3f} s{read}, peak {run.peak_mib:,.0f} MiB, "
        f"wall {run.wall_seconds:.1f} s, load {run.load_before:.2f}"
    )


class Bench:
    def __init__(self, args: argparse.Namespace, cfg: Config, tmp: Path) -> None:
        self.args, self.cfg, self.tmp = args, cfg, tmp
        self.data = args.data_dir.resolve() if args.data_dir else tmp / "data"
        pythons = {CL: Path(sys.executable), FL: Path(sys.executable)}
        if EV in cfg.systems:
            pythons[EV] = ensure_evidently_venv(args.evidently_venv.resolve())
        self.pythons = pythons
        warm = write_dataset(self.data / f"warmup-{WARM_ROWS}", WARM_ROWS)
        extra = {CL: args.closedloop_src.resolve()} if args.closedloop_src else {}
        self.runner = Runner(tmp, pythons, warm, extra)
        self.runs: list[Run] = []
        self.builds: list[Run] = []
        self.files: dict[str, str] = {}
        self.profiles: dict[tuple[str, int], Path] = {}

    def run(self, system: str, mode: str, rows: int, **kw: Path | int | None) -> Run:
        run = self.runner.run(system, mode, rows, **kw)
        log(_describe(run))
        return run

    def dataset(
        self, rows: int, sides: tuple[str, ...] = ("reference", "current")
    ) -> dict[str, Path]:
        started = time.perf_counter()
        paths = write_dataset(self.data / f"rows-{rows}", rows, sides=sides)
        for side, path in paths.items():
            self.files[f"{side} {rows:,}"] = f"{path.stat().st_size / 2**20:,.1f} MiB"
        log(f"data {rows:,} rows ready in {time.perf_counter() - started:.1f} s ({self.data})")
        return paths

    def size(self, rows: int) -> None:
        paths = self.dataset(rows)
        for system in (CL, FL):
            if system not in self.cfg.systems:
                continue
            profile = self.tmp / f"{system}-{rows}.profile"
            build = self.run(system, "build", rows, ref=paths["reference"], profile=profile)
            self.builds.append(build)
            if build.ok:
                self.profiles[(system, rows)] = profile
        for rep in range(self.cfg.repeat):
            log(f"{rows:,} rows, repetition {rep + 1}/{self.cfg.repeat} (load {load_average()})")
            for system in self.cfg.systems:
                self.runs.append(
                    self.run(system, "e2e", rows, ref=paths["reference"], cur=paths["current"])
                )
            for system in (CL, FL):
                if system not in self.cfg.systems:
                    continue
                stored = self.profiles.get((system, rows))
                if stored is None:
                    self.runs.append(self._unavailable(system, "profile", rows))
                    continue
                self.runs.append(
                    self.run(system, "profile", rows, profile=stored, cur=paths["current"])
                )

    def _unavailable(self, system: str, mode: str, rows: int) -> Run:
        build = next(b for b in self.builds if b.system == system)
        reason = build.not_available or f"no profile: {build.error}"
        return Run(system, mode, rows, not_available=reason)

    def stream(self) -> None:
        cfg = self.cfg
        if CL not in cfg.systems:
            return
        largest = max(cfg.rows)
        profile = self.profiles.get((CL, largest))
        if profile is None:
            run = self._unavailable(CL, "stream", cfg.stream_rows)
            run.not_available = f"needs a stored profile first ({run.not_available})"
            self.runs.append(run)
            return
        small = self.data / f"rows-{min(cfg.rows)}" / "current.parquet"
        probe = self.run(
            CL, "stream", min(cfg.rows), profile=profile, cur=small, window_rows=cfg.window_rows
        )
        if not probe.ok:
            reason = probe.not_available or f"probe failed: {probe.error}"
            self.runs.append(Run(CL, "stream", cfg.stream_rows, not_available=reason))
            return
        path = self.dataset(cfg.stream_rows, sides=("stream",))["stream"]
        for _ in range(cfg.repeat):
            self.runs.append(
                self.run(
                    CL,
                    "stream",
                    cfg.stream_rows,
                    profile=profile,
                    cur=path,
                    window_rows=cfg.window_rows,
                )
            )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rows", help="comma-separated sizes (default 100000,1000000)")
    p.add_argument("--repeat", type=int, help="interleaved repetitions (default 3; quick 1)")
    p.add_argument("--quick", action="store_true", help="100,000 rows, 1 repetition")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="which systems to run")
    p.add_argument("--stream-rows", type=int, default=10_000_000)
    p.add_argument("--window-rows", type=int, default=100_000)
    p.add_argument("--closedloop-src", type=Path, help="a folder holding a closedloop package")
    p.add_argument("--data-dir", type=Path, help="keep the generated Parquet files here")
    p.add_argument("--evidently-venv", type=Path, default=BENCH_DIR / ".venv-evidently")
    p.add_argument(
        "--write",
        type=Path,
        nargs="?",
        const=BENCH_DIR / "RESULTS.md",
        metavar="FILE.md",
        help="replace the Monitoring section of this file (default benchmarks/RESULTS.md)",
    )
    args = p.parse_args(argv)
    systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    if not systems or set(systems) - set(SYSTEMS):
        p.error(f"--systems: choose from {', '.join(SYSTEMS)}")
    args.systems = tuple(s for s in SYSTEMS if s in systems)
    try:
        rows = [int(r.replace("_", "")) for r in args.rows.split(",")] if args.rows else []
    except ValueError:
        p.error("--rows: comma-separated integers")
    args.rows = tuple(rows or ([100_000] if args.quick else [100_000, 1_000_000]))
    if any(r <= 1_000 for r in args.rows):
        p.error("--rows: more than 1,000 rows (Evidently picks other tests below that)")
    if args.repeat is not None and args.repeat <= 0:
        p.error("--repeat must be positive")
    if args.closedloop_src and not (args.closedloop_src / "closedloop").is_dir():
        p.error("--closedloop-src: the folder must hold a closedloop package")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = Config(
        rows=args.rows,
        repeat=args.repeat or (1 if args.quick else 3),
        stream_rows=args.stream_rows,
        window_rows=args.window_rows,
        systems=args.systems,
    )
    started, load_at_start = time.perf_counter(), load_average()
    source_at_start = source_fingerprint(args.closedloop_src)
    env_at_start = environment(("CLOSEDLOOP_", "PYTHONPATH", "OMP_", "OPENBLAS_", "MKL_"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    try:
        bench = Bench(args, cfg, tmp)
        for rows in cfg.rows:
            bench.size(rows)
        bench.stream()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - started
    source_after = source_fingerprint(args.closedloop_src)
    log(f"done in {elapsed:.0f} s")

    runs = bench.runs
    lines = build_lines(runs, cfg)
    score_notes, table = checks(runs, cfg.rows)
    built = [f"{b.system} {b.rows:,} rows in {b.seconds:.2f} s" for b in bench.builds if b.ok]
    extra = [*score_notes, *unavailable(runs)]
    imported = sorted({r.modules.get("closedloop", "") for r in runs if r.system == CL} - {""})
    if built:
        extra.append(
            "Profiles built (read the reference, store the profile; not timed above): "
            + ", ".join(built)
            + "."
        )
    info = machine_info(["closedloop", "numpy", "pandas", "scipy", "pyarrow"])
    if EV in cfg.systems:
        for k, v in evidently_versions(bench.pythons[EV]).items():
            info[f"{k} (Evidently's venv)"] = v
    info["closedloop source measured"] = (
        source_at_start
        if source_at_start == source_after
        else f"{source_at_start}; CHANGED during the run, to {source_after}"
    )
    info["closedloop imported by the workers from"] = ", ".join(imported) or "—"
    info["Parquet files"] = ", ".join(f"{k}: {v}" for k, v in bench.files.items())
    info["environment at the start"] = env_at_start
    info["load average (1/5/15 min) at the start"] = load_at_start
    info["benchmark wall time"] = f"{elapsed:.0f} s"
    text = section(command_line(), lines, notes(cfg, extra), table, info)
    print(text)
    if args.write:
        write_section(args.write, text)
        log(f"wrote {args.write}")
    if any(r.error for r in runs):
        log("errors: " + json.dumps([r.error for r in runs if r.error]))
        return 1
    return 1 if any(line.result == "missed" for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
