"""The serving benchmark's table and its section of RESULTS.md (between markers)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "END",
    "START",
    "Line",
    "fmt_range",
    "markdown_table",
    "print_lines",
    "ratio",
    "write_section",
]

START = "<!-- bench_serving:start -->"
END = "<!-- bench_serving:end -->"
HEADERS = [
    "Scenario",
    "closedloop",
    "MLServer 1.7.1",
    "closedloop ÷ MLServer",
    "Target",
    "Result",
    "Load before (1 min)",
]


@dataclass(frozen=True, slots=True)
class Line:
    """One row of the table, already formatted."""

    label: str
    ours: str
    peer: str
    ratio: str
    target: str
    result: str  # met, missed, info, not run
    load: str = "—"


def fmt_range(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """``median (min-max)``, or the one value."""
    if not values:
        return "—"
    median = fmt(statistics.median(values))
    if len(values) == 1:
        return median
    return f"{median} ({fmt(min(values))}-{fmt(max(values))})"


def ratio(ours: Sequence[float], peer: Sequence[float]) -> float | None:
    """Median of ours ÷ median of the peer's."""
    if not ours or not peer:
        return None
    b = statistics.median(peer)
    return statistics.median(ours) / b if b else None


def markdown_table(lines: Sequence[Line]) -> str:
    out = [
        "| " + " | ".join(HEADERS) + " |",
        "|---|---:|---:|---:|---|:---:|---:|",
    ]
    for line in lines:
        cells = [line.label, line.ours, line.peer, line.ratio, line.target, line.result, line.load]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out)


def print_lines(lines: Sequence[Line], title: str) -> None:
    """The table on stdout (rich when installed)."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print(markdown_table(lines))
        return
    table = Table(title=title)
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="right" if i in (1, 2, 3, 6) else "left")
    styles = {"met": "green", "missed": "bold red"}
    for line in lines:
        result = line.result
        if result in styles:
            result = f"[{styles[result]}]{result}[/{styles[result]}]"
        table.add_row(line.label, line.ours, line.peer, line.ratio, line.target, result, line.load)
    Console(width=220).print(table)


def section(
    command: str,
    lines: Sequence[Line],
    notes: Sequence[str],
    info: Mapping[str, str],
) -> str:
    facts = "\n".join(f"- **{k}**: {v}" for k, v in info.items())
    bullets = "\n".join(f"- {n}" for n in notes)
    return f"""{START}
## Serving: closedloop vs MLServer

`benchmarks/bench_serving.py` (issue 8) serves one scikit-learn model with `closedloop serve`
and with MLServer 1.7.1 side by side on this machine and loads both with the same `wrk`
client and payload rows.

```bash
.venv/bin/python benchmarks/bench_serving.py --peer mlserver --output benchmarks/RESULTS.md
.venv/bin/python benchmarks/bench_serving.py --peer mlserver --quick   # ~3 minute smoke run
make bench-serving
```

Options: `--duration S` (seconds per throughput run, default 10), `--repeat N` (default 3),
`--soak S` (the concurrency-64 run, default 60), `--soak-requests N` (default 100,000),
`--quick` (1 repetition, short runs), `--output FILE.md` (replaces this section between its
markers). MLServer is installed on first use into `benchmarks/.venv-mlserver`.

### Results, {info.get("date", "")}

Command:

```
{command}
```

{markdown_table(lines)}

{bullets}

Machine:

{facts}
{END}
"""


def write_section(path: Path, text: str) -> None:
    """Replace the text between the markers in ``path`` (or append it)."""
    old = path.read_text() if path.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        tail = rest.split(END, 1)[1]
        new = head + text.rstrip("\n") + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text if old else text
    path.write_text(new if new.endswith("\n") else new + "\n")
