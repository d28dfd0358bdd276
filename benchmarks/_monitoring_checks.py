"""The monitoring benchmark's score checks: do the systems agree, do they flag the shifts."""

from __future__ import annotations

from collections.abc import Sequence

from _monitoring_data import SHIFTED, Score, describe
from _monitoring_run import Run

__all__ = ["CL", "EV", "FL", "NAMES", "checks", "select", "unavailable"]

CL, EV, FL = "closedloop", "evidently", "floor"
NAMES = {CL: "closedloop", EV: "Evidently 0.7.23", FL: "numpy floor"}
Scores = dict[str, Score]


def select(runs: Sequence[Run], system: str, mode: str, rows: int) -> list[Run]:
    return [r for r in runs if r.system == system and r.mode == mode and r.rows == rows]


def unavailable(runs: Sequence[Run]) -> list[str]:
    """Why rows are "not available", once per system and workload."""
    modes = {"e2e": "end to end", "profile": "profile scoring", "stream": "streaming"}
    seen: dict[str, str] = {}
    for r in runs:
        if r.not_available:
            seen.setdefault(f"{NAMES[r.system]}, {modes.get(r.mode, r.mode)}", r.not_available)
    return [f"Not available: {what}: {why}." for what, why in seen.items()]


def _first_scores(runs: Sequence[Run], system: str, mode: str, rows: int) -> Scores | None:
    for r in select(runs, system, mode, rows):
        if r.ok and r.scores:
            return r.scores
    return None


def _max_diff(a: Scores, b: Scores) -> tuple[dict[str, tuple[float, int]], list[str]]:
    """Per method, the largest |a - b| over columns both score with it; mismatched methods."""
    out: dict[str, tuple[float, int]] = {}
    other: list[str] = []
    for col, sa in a.items():
        sb = b.get(col)
        if sb is None:
            continue
        if sa.method != sb.method:
            other.append(f"{col} ({sa.method} vs {sb.method})")
            continue
        worst, count = out.get(sa.method, (0.0, 0))
        out[sa.method] = (max(worst, abs(sa.value - sb.value)), count + 1)
    return out, other


def _diff_text(a: Scores, b: Scores) -> str:
    diffs, other = _max_diff(a, b)
    parts = [f"{m} {d:.2g} over {k} columns" for m, (d, k) in sorted(diffs.items())]
    if other:
        methods = sorted({o.split("(")[1].split(" vs ")[0] for o in other})
        parts.append(
            f"{len(other)} columns not compared (different statistics: {', '.join(methods)} "
            "vs Evidently's)"
        )
    return "; ".join(parts) or "nothing comparable"


def _verdicts(scores: Scores) -> str:
    flagged = {c for c, s in scores.items() if s.drifted}
    missed, extra = sorted(SHIFTED - flagged), sorted(flagged - SHIFTED)
    if not missed and not extra:
        return f"flags exactly the {len(SHIFTED)} shifted columns"
    return (
        f"flags {len(flagged)} columns; missed {missed or 'none'}; false alarms {extra or 'none'}"
    )


def checks(runs: Sequence[Run], rows: Sequence[int]) -> tuple[list[str], str]:
    """Notes comparing the systems' scores, and a per-column table of the largest size."""
    notes: list[str] = []
    table = ""
    for n in rows:
        ev = _first_scores(runs, EV, "e2e", n)
        fl = _first_scores(runs, FL, "e2e", n)
        cl = _first_scores(runs, CL, "e2e", n)
        parts = []
        if ev and fl:
            parts.append(f"floor vs Evidently, max |Δ|: {_diff_text(fl, ev)}")
        if ev and cl:
            parts.append(f"closedloop vs Evidently, max |Δ|: {_diff_text(cl, ev)}")
        for system, mode in ((FL, "profile"), (CL, "profile")):
            prof = _first_scores(runs, system, mode, n)
            base = fl if system == FL else cl
            if prof and base:
                parts.append(f"{system} profile vs its end to end: {_diff_text(prof, base)}")
        verdicts = [f"{NAMES[s]} {_verdicts(sc)}" for s, sc in ((EV, ev), (FL, fl), (CL, cl)) if sc]
        if verdicts:
            parts.append("drift verdicts: " + "; ".join(verdicts))
        if parts:
            notes.append(f"Scores at {n:,} rows: " + ". ".join(parts) + ".")
        if ev or fl or cl:
            table = _column_table(n, ev, fl, cl)
    return notes, table


def _fmt(score: Score | None) -> str:
    if score is None:
        return "—"
    return f"{score.method} {score.value:.4g}{' **drift**' if score.drifted else ''}"


def _column_table(n: int, ev: Scores | None, fl: Scores | None, cl: Scores | None) -> str:
    head = f"Per-column scores at {n:,} rows (**drift** = the system's own verdict):\n\n"
    out = [
        "| Column | Data | Shifted | Evidently 0.7.23 | numpy floor | closedloop |",
        "|---|---|:---:|---:|---:|---:|",
    ]
    for name, _kind, text in describe():
        cells = [_fmt((d or {}).get(name)) for d in (ev, fl, cl)]
        out.append(
            f"| `{name}` | {text} | {'yes' if name in SHIFTED else ''} | "
            + " | ".join(cells)
            + " |"
        )
    return head + "\n".join(out)
