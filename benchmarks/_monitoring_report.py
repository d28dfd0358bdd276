"""The monitoring benchmark's table, its score checks and its section of RESULTS.md."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from _common import DURATION, Stats
from _monitoring_checks import CL, EV, FL, NAMES, select
from _monitoring_data import CATEGORICAL, NUMERIC, SHIFTED
from _monitoring_run import Run

__all__ = [
    "END",
    "START",
    "Config",
    "build_lines",
    "markdown_table",
    "notes",
    "section",
    "write_section",
]

START = "<!-- bench_monitoring:start -->"
END = "<!-- bench_monitoring:end -->"
HEADERS = [
    "Workload",
    "closedloop",
    "Evidently 0.7.23",
    "numpy floor",
    "Evidently ÷ closedloop",
    "closedloop ÷ floor",
    "Target",
    "Result",
    "Load before (1 min)",
]
GB_MIB = 1e9 / 2**20  # 1 GB in MiB


@dataclass(frozen=True, slots=True)
class Config:
    rows: tuple[int, ...]
    repeat: int
    stream_rows: int
    window_rows: int
    systems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    cells: tuple[str, str, str]  # closedloop, Evidently, floor
    ratios: tuple[str, str]  # Evidently ÷ closedloop, closedloop ÷ floor
    target: str
    result: str
    load: str


def _values(runs: Sequence[Run], what: str) -> list[float]:
    out = []
    for r in runs:
        if r.ok:
            value = getattr(r, what)
            if value is not None:
                out.append(float(value))
    return out


def _median(runs: Sequence[Run], what: str) -> float | None:
    values = _values(runs, what)
    return statistics.median(values) if values else None


def _cell(runs: Sequence[Run], what: str) -> str:
    if not runs:
        return "not run"
    if any(r.not_available for r in runs):
        return "not available"  # the reason is in the notes
    errors = [r.error for r in runs if r.error]
    if errors:
        return f"error: {errors[0][:80]}"
    values = _values(runs, what)
    if not values:
        return "—"
    if what == "peak_mib":
        median = f"{statistics.median(values):,.0f} MiB"
        return median if len(values) == 1 else f"{median} ({min(values):,.0f}-{max(values):,.0f})"
    return DURATION.format_stats(Stats.of(values))


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _ratio(a: float | None, b: float | None) -> str:
    r = _div(a, b)
    return "—" if r is None else f"{r:,.{2 if r < 100 else 0}f}x"


def _at_least(value: float | None, bar: float) -> bool | None:
    return None if value is None else value >= bar


def _at_most(value: float | None, bar: float) -> bool | None:
    return None if value is None else value <= bar


def _load(runs: Sequence[Run]) -> str:
    loads = [r.load_before for r in runs if r.wall_seconds > 0]  # runs that ran
    if not loads:
        return "—"
    return f"{min(loads):.2f}-{max(loads):.2f}" if len(loads) > 1 else f"{loads[0]:.2f}"


def _verdict(checks: Sequence[bool | None]) -> str:
    if any(c is None for c in checks):
        return "not available"
    return "met" if all(checks) else "missed"


def build_lines(runs: Sequence[Run], cfg: Config) -> list[Line]:
    lines: list[Line] = []
    for n in cfg.rows:
        e2e = {s: select(runs, s, "e2e", n) for s in (CL, EV, FL)}
        prof = {s: select(runs, s, "profile", n) for s in (CL, FL)}
        t = {s: _median(rs, "seconds") for s, rs in e2e.items()}
        m = {s: _median(rs, "peak_mib") for s, rs in e2e.items()}
        everything = [r for rs in e2e.values() for r in rs]
        speedup, floor_ratio = _ratio(t[EV], t[CL]), _ratio(t[CL], t[FL])
        met = [_at_least(_div(t[EV], t[CL]), 30), _at_most(_div(t[CL], t[FL]), 1.2)]
        lines.append(
            Line(
                f"end to end, {n:,} rows x 20 columns (read both Parquet files, fit, score)",
                (_cell(e2e[CL], "seconds"), _cell(e2e[EV], "seconds"), _cell(e2e[FL], "seconds")),
                (speedup, floor_ratio),
                "≥ 30x Evidently, ≤ 1.2x floor",
                _verdict(met),
                _load(everything),
            )
        )
        lines.append(
            Line(
                "of which reading the two Parquet files (pandas.read_parquet)",
                tuple(_cell(e2e[s], "read_seconds") for s in (CL, EV, FL)),  # type: ignore[arg-type]
                ("—", "—"),
                "—",
                "info",
                "—",
            )
        )
        lines.append(
            Line(
                f"peak RSS of the process, end to end, {n:,} rows",
                (
                    _cell(e2e[CL], "peak_mib"),
                    _cell(e2e[EV], "peak_mib"),
                    _cell(e2e[FL], "peak_mib"),
                ),
                (_ratio(m[EV], m[CL]), _ratio(m[CL], m[FL])),
                "below Evidently's",
                _verdict([None if (r := _div(m[EV], m[CL])) is None else r > 1]),
                "—",
            )
        )
        tp = {s: _median(rs, "seconds") for s, rs in prof.items()}
        ev_t = t[EV]
        ev_note = "—" if ev_t is None else f"no stored profile: end to end {DURATION.format(ev_t)}"
        lines.append(
            Line(
                f"score a window of {n:,} rows against a stored reference profile "
                "(read the current file, score)",
                (_cell(prof[CL], "seconds"), ev_note, _cell(prof[FL], "seconds")),
                (_ratio(t[EV], tp[CL]), _ratio(tp[CL], tp[FL])),
                "≥ 100x Evidently",
                _verdict([_at_least(_div(t[EV], tp[CL]), 100)]),
                _load([r for rs in prof.values() for r in rs]),
            )
        )
        lines.append(
            Line(
                f"peak RSS of the process, scoring against a profile, {n:,} rows",
                (_cell(prof[CL], "peak_mib"), "—", _cell(prof[FL], "peak_mib")),
                ("—", _ratio(_median(prof[CL], "peak_mib"), _median(prof[FL], "peak_mib"))),
                "—",
                "info",
                "—",
            )
        )
        lines.append(
            Line(
                f"process wall time, end to end, {n:,} rows (start, imports, warm-up, run, exit)",
                tuple(  # type: ignore[arg-type]
                    _cell(e2e[s], "wall_seconds") for s in (CL, EV, FL)
                ),
                ("—", "—"),
                "—",
                "info",
                "—",
            )
        )
    stream = [r for r in runs if r.mode == "stream"]
    peak = _median(stream, "peak_mib")
    windows = next((r.windows for r in stream if r.windows), None)
    label = f"{cfg.stream_rows:,} rows streamed in windows of {cfg.window_rows:,} rows"
    cell = _cell(stream, "seconds")
    if peak is not None:
        cell += f"; peak {peak:,.0f} MiB; {windows} windows"
    lines.append(
        Line(
            label + " against a stored profile",
            (cell, "—", "—"),
            ("—", "—"),
            "peak RSS < 1 GB",
            _verdict([None if peak is None else peak < GB_MIB]),
            _load(stream),
        )
    )
    return lines


def markdown_table(lines: Sequence[Line]) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|---|---:|---:|---:|---:|---:|---|:---:|---:|"]
    for line in lines:
        cells = [line.label, *line.cells, *line.ratios, line.target, line.result, line.load]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)


# the section -----------------------------------------------------------------------------------
def notes(cfg: Config, extra: Sequence[str]) -> list[str]:
    order = ", ".join(NAMES[s] for s in cfg.systems)
    return [
        f"Each cell: median of {cfg.repeat} repetition(s) (min-max in brackets). Every run is "
        f"a fresh process, interleaved per repetition ({order}, then the profile runs), so "
        "load from other processes hits all alike; the last column is the 1-minute load "
        "average before each run.",
        "Timed from the start of reading the two Parquet files (`pandas.read_parquet`; the "
        "profile rows: the current file and the profile) to having every column's score; "
        "the system's imports and one warm-up call of the same function on 5,000-row files "
        "happen before the timer in the same process (the wall-time row includes them).",
        "Peak RSS: `ru_maxrss` of the worker process from `os.wait4` (interpreter, imports, "
        "both frames and the computation). Ratios of medians; for memory, Evidently ÷ "
        "closedloop above 1 means closedloop used less.",
        f"Data: reference and current of the same size, {len(NUMERIC)} numeric and "
        f"{len(CATEGORICAL)} categorical (string) columns, seeded; "
        f"{len(SHIFTED)} columns shifted in the current data (table below). Each size is "
        "written once to Parquet (snappy, row groups of up to 1M rows) and every system "
        "reads the same files.",
        "Evidently: `Report([DataDriftPreset()]).run(current, reference)` on `Dataset."
        "from_pandas` with a `DataDefinition(numerical_columns=…, categorical_columns=…)`, "
        "methods left to its default choice (normed Wasserstein for numeric, Jensen-Shannon "
        "for categorical columns, threshold 0.1); scores read from `snapshot.dict()` "
        "(`ValueDrift` metrics). It runs in its own venv (`benchmarks/.venv-evidently`, "
        "pandas < 3, which it needs), with `DO_NOT_TRACK=1`. It has no stored reference "
        "profile, so its cost for scoring a window is its end-to-end run.",
        "numpy floor (`benchmarks/_monitoring_floor.py`): the same statistics as Evidently's "
        "preset in one pass over the columns, single-threaded: per numeric column two sorts "
        "and a merge of the two quantile functions' step points by integer arithmetic "
        "(exact for any two sizes, no equal-size shortcut), per categorical column one "
        "`value_counts` per side. Its profile stores the sorted reference values and "
        "counts in an `.npz`.",
        "closedloop: `benchmarks/_monitoring_closedloop.py`, the calls `closedloop monitor` "
        "makes. End to end: `DriftDetector(columns=…).fit(reference).compare(current)` with "
        "the automatic rule (above 1,000 values: normed Wasserstein and Jensen-Shannon, "
        "Evidently's methods and threshold, each also above its noise floor), columns on "
        "threads (one per CPU). Profile: the model version's stored `ReferenceProfile` "
        "(MessagePack bytes; per numeric column a sorted sketch of at most 20,000 values, "
        "its count, mean, std and 100 percentile bins; per categorical column its counts), "
        "read back by `DriftDetector.from_profile` in a fresh process; its Wasserstein "
        "is computed on the sketch, hence the small difference from the end-to-end value "
        "below. Stream: the Parquet file read in record batches of 50,000 rows, cut into "
        "count windows by the monitor's own window assembly (`_count_windows`), each "
        "window scored against the stored profile and summarised into its mergeable "
        "sketch, the sketches merged into one.",
        *extra,
    ]


def section(
    command: str,
    lines: Sequence[Line],
    notes_: Sequence[str],
    table: str,
    info: Mapping[str, str],
) -> str:
    facts = "\n".join(f"- **{k}**: {v}" for k, v in info.items())
    bullets = "\n".join(f"- {n}" for n in notes_)
    return f"""{START}
## Monitoring: closedloop vs Evidently

`benchmarks/bench_monitoring.py` (issue 9) measures column drift of a current frame against
a reference frame: closedloop, Evidently 0.7.23's `DataDriftPreset`, and a fused numpy
floor computing Evidently's statistics, each in a fresh process on the same Parquet files.

```bash
.venv/bin/python benchmarks/bench_monitoring.py --write   # 100k and 1M rows, 3 repetitions
.venv/bin/python benchmarks/bench_monitoring.py --quick   # 100k rows, 1 repetition
make bench-monitoring
```

Options: `--rows 100000,1000000`, `--repeat N` (default 3), `--quick` (100k rows, 1
repetition), `--systems closedloop,evidently,floor`, `--stream-rows N` and `--window-rows N`
(the streaming row), `--closedloop-src DIR` (measure the closedloop package under `DIR`
instead of the installed one), `--data-dir DIR` (keep and reuse the generated Parquet
files), `--write [FILE]` (replace this section of `benchmarks/RESULTS.md`, between its
markers). Evidently is installed on first use into `benchmarks/.venv-evidently`.

### Results, {info.get("date", "")}

Command:

```
{command}
```

{markdown_table(lines)}

{bullets}

{table}

Machine:

{facts}
{END}
"""


def write_section(path: Path, text: str) -> None:
    """Replace the text between the markers in ``path`` (or append it at the end)."""
    old = path.read_text() if path.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        new = head + text.rstrip("\n") + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text if old else text
    path.write_text(new if new.endswith("\n") else new + "\n")
