"""Shared helpers for the closedloop benchmarks: statistics, timing, machine facts, tables.

Nothing here imports closedloop or a peer library, so the helpers never distort what they
measure.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "DURATION",
    "RATE_METRICS",
    "RATE_RUNS",
    "Row",
    "Stats",
    "Stopwatch",
    "Target",
    "Unit",
    "command_line",
    "environment",
    "load_average",
    "log",
    "machine_info",
    "markdown_info",
    "markdown_table",
    "measure",
    "print_table",
    "time_import",
    "verdict",
]


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the result table."""
    print(message, file=sys.stderr, flush=True)


# statistics ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Stats:
    """Repeated measurements of one quantity (a rate per second or a duration in seconds)."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Stats:
        samples = tuple(values)
        if not samples:
            raise ValueError("no samples")
        return cls(samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)


def measure(label: str, once: Callable[[], float], repeat: int, *, warmup: int = 1) -> Stats:
    """Call ``once`` ``warmup`` times (discarded: lazy imports, caches) then ``repeat`` times.

    Each call sets up its own fresh state and returns one value.
    """
    for _ in range(warmup):
        once()
    values: list[float] = []
    for i in range(repeat):
        gc.collect()
        values.append(once())
        log(f"  {label}: repeat {i + 1}/{repeat}: {values[-1]:,.4g}")
    return Stats.of(values)


def time_import(statement: str, samples: int, *, cwd: Path | None = None) -> Stats:
    """Seconds ``statement`` (e.g. ``import closedloop``) takes in fresh interpreters.

    Each sample is a new ``python`` process that times only the statement with
    ``perf_counter``, so interpreter start-up is excluded and the cost is the import alone.
    """
    code = (
        "import time\n"
        "t0 = time.perf_counter()\n"
        f"{statement}\n"
        "print(repr(time.perf_counter() - t0))\n"
    )
    values: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for _ in range(samples):
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=cwd or tmp,
                capture_output=True,
                text=True,
                check=True,
            )
            values.append(float(out.stdout.strip().splitlines()[-1]))
    return Stats.of(values)


# rows, targets and verdicts --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Unit:
    """How a row's values read: a rate (higher is better) or a duration (lower is better)."""

    name: str
    higher_is_better: bool

    def format(self, value: float) -> str:
        """One value with its unit: ``31,200 metrics/s``, ``9.4 ms``, ``1.10 s``."""
        return self.format_stats(Stats((value,)))

    def format_stats(self, stats: Stats) -> str:
        """``median unit (min-max)``, the range in the median's unit."""
        if self.higher_is_better:
            scale, suffix, digits = 1.0, f" {self.name}", 0
        elif stats.median < 1.0:
            scale, suffix, digits = 1000.0, " ms", 1
        else:
            scale, suffix, digits = 1.0, " s", 2
        median, low, high = (
            f"{v * scale:,.{digits}f}" for v in (stats.median, stats.min, stats.max)
        )
        if len(stats.samples) == 1:
            return median + suffix
        return f"{median}{suffix} ({low}-{high})"


RATE_METRICS = Unit("metrics/s", higher_is_better=True)
RATE_RUNS = Unit("runs/s", higher_is_better=True)
DURATION = Unit("s", higher_is_better=False)


@dataclass(frozen=True, slots=True)
class Target:
    """A pass mark.

    Attributes:
        threshold: The value to reach, in the row's unit (a floor for rates, a ceiling for
            durations).
        text: How the table shows it.
        multiple: Also require this speed-up over the peer measured in the same run.
    """

    threshold: float
    text: str
    multiple: float | None = None


@dataclass(slots=True)
class Row:
    """One line of the result table."""

    label: str
    unit: Unit
    ours: Stats | None
    peer: Stats | None = None
    target: Target | None = None
    note: str = ""
    peer_note: str = ""
    error: str = ""

    @property
    def speedup(self) -> float | None:
        """How many times faster closedloop is than the peer (above 1 = faster)."""
        if self.ours is None or self.peer is None:
            return None
        a, b = self.ours.median, self.peer.median
        if self.unit.higher_is_better:
            return a / b if b else None
        return b / a if a else None


def verdict(row: Row) -> str:
    """``PASS``, ``FAIL``, ``PASS*`` (absolute target met, live speed-up short), or info."""
    if row.error:
        return "ERROR"
    if row.target is None:
        return "info"
    if row.ours is None:
        return "not run"
    value = row.ours.median
    met = (
        value >= row.target.threshold
        if row.unit.higher_is_better
        else value <= row.target.threshold
    )
    if not met:
        return "FAIL"
    speedup = row.speedup
    if row.target.multiple is not None and speedup is not None and speedup < row.target.multiple:
        return "PASS*"
    return "PASS"


def _cell(unit: Unit, stats: Stats | None, missing: str) -> str:
    if stats is None:
        return missing or "—"
    return unit.format_stats(stats)


def _cells(row: Row) -> list[str]:
    speedup = row.speedup
    return [
        row.label,
        f"error: {row.error}" if row.error else _cell(row.unit, row.ours, row.note),
        _cell(row.unit, row.peer, row.peer_note),
        "—" if speedup is None else f"{speedup:,.{2 if speedup < 100 else 0}f}x",
        row.target.text if row.target else "—",
        verdict(row),
    ]


HEADERS = ["Workload", "closedloop", "MLflow", "Speed-up", "Target", "Result"]


def markdown_table(rows: Sequence[Row]) -> str:
    """The rows as a GitHub Markdown table."""
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join(["---"] + ["---:"] * 3 + ["---", ":---:"]) + "|",
    ]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in _cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(rows: Sequence[Row], title: str) -> None:
    """Print the rows to stdout (with rich when it is installed)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print(markdown_table(rows))
        return
    table = Table(title=title, show_lines=False)
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if 0 < i < 4 else "left")
    styles = {"PASS": "green", "PASS*": "yellow", "FAIL": "bold red", "ERROR": "bold red"}
    for row in rows:
        cells = _cells(row)
        style = styles.get(cells[-1])
        if style:
            cells[-1] = f"[{style}]{cells[-1]}[/{style}]"
        table.add_row(*cells)
    Console(width=200).print(table)


# environment -----------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def _filesystem(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (from /proc/mounts)."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best = ("", "unknown")
    for parts in mounts:
        if len(parts) < 3:
            continue
        point = parts[1]
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best[0]):
            best = (point, parts[2])
    return f"{best[1]} (mounted at {best[0]})" if best[0] else "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other processes skew the numbers)."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(prefixes: Sequence[str]) -> str:
    """The environment variables starting with one of ``prefixes``, as ``K=V, …``."""
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(tuple(prefixes))}
    return ", ".join(f"{k}={v}" for k, v in env.items()) or (
        f"no {'/'.join(p + '*' for p in prefixes)} variables set"
    )


def machine_info(packages: Sequence[str]) -> dict[str, str]:
    """Facts about the machine and software a result depends on."""
    cpus = os.cpu_count() or 0
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cpus
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average (1/5/15 min) at the end": load_average(),
        "cpus (nproc)": f"{usable} usable of {cpus}",
        "cpu model": _cpu_model(),
        "ram": _ram(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version,
        "temp dir": f"{tempfile.gettempdir()} on {_filesystem(Path(tempfile.gettempdir()))}",
    }
    for package in packages:
        info[package] = _version(package)
    return info


def markdown_info(info: Mapping[str, str]) -> str:
    """Machine facts as a Markdown list."""
    return "\n".join(f"- **{k}**: {v}" for k, v in info.items())


def command_line() -> str:
    """The command that is running, with the interpreter relative to the current folder."""
    exe = Path(sys.executable)
    try:
        shown = str(exe.relative_to(Path.cwd()))
    except ValueError:
        shown = str(exe)
    return shlex.join([shown, *sys.argv])


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
