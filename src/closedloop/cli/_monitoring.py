"""``closedloop monitor run|profile|windows|report|alerts``: continuous monitoring.

Registered on the ``monitor`` group of :mod:`closedloop.cli._monitor` (whose ``drift``
command is the one-off check). pandas, scipy and plotly load inside the commands only.
"""

from __future__ import annotations

import json
import math
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from closedloop.cli._format import fmt_time
from closedloop.cli._monitor import app, parse_time
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import console, err_console, state

if TYPE_CHECKING:
    from closedloop.monitoring._run import MonitorRound, WindowResult

__all__ = ["alerts", "profile", "report", "run", "windows"]

ModelArg = Annotated[
    str, typer.Argument(help="Model version: name/<number>, name@alias or name@latest.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _num(value: Any, spec: str = ".4g") -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return format(value, spec)


def _print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, allow_nan=False, default=str))


@app.command("profile")
def profile(
    ctx: typer.Context,
    model_ref: ModelArg,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            "-r",
            help="Reference: a dataset version, or window:ID (a stored window's logged "
            "inputs, see monitor windows); default: the training data.",
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Name of the profile.")] = "default",
    as_json: JsonOption = False,
) -> None:
    """Build (or rebuild) and store a model version's reference profile.

    Monitoring compares live traffic with this profile and never reads the reference rows
    again. It is built from the training data on first use; build it here to name another
    reference (a holdout set gives a better calibration of estimated performance).
    """
    from closedloop.monitoring import build_profile

    ws = state(ctx).client().workspace
    built = build_profile(ws, model_ref, reference, name=name)
    if as_json:
        _print_json(
            {
                "model_version": built.model_version_id,
                "name": name,
                "source": built.source,
                "rows": built.n_rows,
                "columns": {c: built.kind(c) for c in built.columns},
                "performance": built.performance,
                "calibrated": built.calibrator is not None,
            }
        )
        return
    console.print(
        line(
            "profile ",
            name,
            " of ",
            built.model_version_id,
            f": {built.n_rows} rows from ",
            built.source,
            f", {len(built.columns)} columns",
        )
    )
    if built.performance:
        console.print(
            line(
                "on the reference: ",
                ", ".join(f"{k} {_num(v)}" for k, v in sorted(built.performance.items())),
            )
        )


def _round_table(result: MonitorRound) -> SafeTable:
    return _windows_table(
        f"{result.model_version_id}: {len(result.windows)} window(s) written, "
        f"{len(result.refreshed)} refreshed, {result.rows_read} rows read",
        [*result.windows, *result.refreshed],
    )


def _round_doc(result: MonitorRound) -> dict[str, Any]:
    from closedloop.monitoring._timeline import timeline_doc

    doc = timeline_doc(result.model_version_id, [*result.windows, *result.refreshed])
    doc.update(
        profile=result.profile,
        rows_read=result.rows_read,
        refreshed=[r.window.id for r in result.refreshed],
        alerts=_alerts_doc(result.alerts),
    )
    return doc


def _alerts_doc(outcome: Any) -> dict[str, list[int]] | None:
    if outcome is None:
        return None
    return {
        kind: [a.id for a in getattr(outcome, kind, ())]
        for kind in ("fired", "repeated", "resolved")
    }


@app.command("run")
def run(
    ctx: typer.Context,
    model_ref: ModelArg,
    window: Annotated[
        list[str] | None,
        typer.Option(
            "--window",
            "-w",
            help="Window spec, repeatable: count:1000, count:5000/1000, time:1h, time:1d/6h "
            "(default: closedloop.yaml's monitoring.windows, else count:1000).",
        ),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule", help="Drift rule for a column, repeatable: COLUMN=METHOD[:THRESHOLD]."
        ),
    ] = None,
    sensitive: Annotated[
        list[str] | None,
        typer.Option("--sensitive", help="Input column to compute fairness by, repeatable."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep monitoring, a round per interval.")
    ] = False,
    interval: Annotated[
        str | None, typer.Option("--interval", help="Time between rounds, e.g. 30s or 5m.")
    ] = None,
    rounds: Annotated[
        int | None, typer.Option("--rounds", min=1, help="With --follow: stop after N rounds.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Monitor a served model version: drift, quality, performance, alerts.

    Windows of its traffic are summarised: input and prediction drift, data quality,
    performance (realised on labels, estimated before them).
    Each round reads the prediction log from where the last complete window started,
    stores every window it completes or extends, recomputes the performance of windows
    whose predictions got labels, and evaluates the alert rules. Ctrl-C stops --follow
    after the current round.
    """
    from closedloop.cli._progress import progress_bars
    from closedloop.monitoring import MonitorConfig, monitor_run
    from closedloop.monitoring import follow as follow_rounds
    from closedloop.monitoring._rules import parse_rule

    ws = state(ctx).client().workspace
    config = MonitorConfig.from_settings(ws.settings.monitoring).with_options(
        windows=window or None,
        rules=dict(parse_rule(r) for r in rule) if rule else None,
        sensitive=sensitive or None,
        interval=interval,
    )

    def show(result: MonitorRound) -> None:
        if as_json:
            print(json.dumps(_round_doc(result), allow_nan=False, default=str), flush=True)
        else:
            console.print(_round_table(result))
            alerts = _alerts_doc(result.alerts)
            if alerts:
                console.print(
                    line(
                        f"alerts: {len(alerts['fired'])} fired, {len(alerts['repeated'])} "
                        f"repeated (within cool-down), {len(alerts['resolved'])} resolved"
                    )
                )

    if not follow:
        with progress_bars(err_console) as progress:
            result = monitor_run(ws, model_ref, config=config, progress=progress)
        show(result)
        return
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        follow_rounds(
            ws,
            model_ref,
            config=config,
            rounds=rounds,
            stop=stop,
            on_round=show,
            on_error=lambda e: err_console.print(
                line("monitor round failed (tried again next interval): ", str(e))
            ),
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def _windows_table(title: str, results: list[WindowResult]) -> SafeTable:
    table = SafeTable(title=title, header_style="bold")
    for col in ("id", "window", "start (UTC)", "end (UTC)", "rows", "state", "drift share"):
        table.add_column(col)
    table.add_column("drifted")
    for col in ("accuracy", "estimated", "coverage", "missing", "refused"):
        table.add_column(col, justify="right")
    for r in results:
        w, v = r.window, r.summary.values
        drifted = [f["name"] for f in r.summary.drift.get("features", []) if f.get("drifted")]
        table.add_row(
            str(w.id),
            w.monitor,
            fmt_time(w.start),
            fmt_time(w.end),
            str(w.n_rows),
            "complete" if w.complete else "filling",
            _num(v.get("drift.share"), ".0%"),
            ", ".join(drifted),
            _num(v.get("performance.accuracy")),
            _num(v.get("estimated.accuracy")),
            _num(v.get("performance.label_coverage"), ".0%"),
            _num(v.get("quality.missing_rate"), ".1%"),
            _num(v.get("quality.refused_rate"), ".1%"),
        )
    return table


@app.command("windows")
def windows(
    ctx: typer.Context,
    model_ref: ModelArg,
    monitor: Annotated[
        str | None, typer.Option("--window", "-w", help="Only windows of this spec.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Windows starting at or after (ISO/ms).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Windows starting before (ISO/ms).")] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Add the windows up and score the merged sketch.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the stored windows of a model version (or merge them with --merge)."""
    from closedloop.monitoring import list_windows, merge_windows

    ws = state(ctx).client().workspace
    span: dict[str, Any] = {
        "since": parse_time(since, "--since"),
        "until": parse_time(until, "--until"),
    }
    if merge:
        if monitor is None:
            raise typer.BadParameter("--merge needs --window SPEC", param_hint="--window")
        merged = merge_windows(ws, model_ref, monitor, **span)
        doc = {
            "model_version": merged.model_version_id,
            "window": merged.monitor,
            "start": fmt_time(merged.start),
            "end": fmt_time(merged.end),
            "windows": merged.n_windows,
            "rows": merged.n_rows,
            "columns": merged.columns,
        }
        if as_json:
            _print_json(doc)
            return
        table = SafeTable(
            title=f"{merged.n_windows} {merged.monitor} window(s) of {merged.model_version_id} "
            f"merged: {merged.n_rows} rows, {doc['start']} to {doc['end']}",
            header_style="bold",
        )
        for header in ("column", "method", "statistic", "missing"):
            table.add_column(header)
        for name, col in merged.columns.items():
            table.add_row(
                name, col["method"], _num(col["statistic"]), _num(col["missing_share"], ".1%")
            )
        console.print(table)
        return
    results = list_windows(ws, model_ref, monitor, **span)
    if as_json:
        from closedloop.monitoring._timeline import timeline_doc

        _print_json(timeline_doc(model_ref, results))
        return
    if not results:
        console.print(
            line("no windows yet for ", model_ref, ": run closedloop monitor run ", model_ref)
        )
        return
    console.print(_windows_table(f"monitoring windows of {model_ref}", results))


@app.command("report")
def report(
    ctx: typer.Context,
    model_ref: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the HTML page here.")],
    monitor: Annotated[
        str | None, typer.Option("--window", "-w", help="Only windows of this spec.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Windows starting at or after (ISO/ms).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Windows starting before (ISO/ms).")] = None,
    window_id: Annotated[
        int | None,
        typer.Option("--window-id", help="Write the page of this one window (its id)."),
    ] = None,
    position: Annotated[
        int | None,
        typer.Option(
            "--position",
            min=0,
            help="Write the page of the window holding this log position (sliding windows: "
            "the one starting latest).",
        ),
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="Write the page of the latest window.")
    ] = False,
) -> None:
    """Write the HTML page of a model version's monitoring (offline, plotly).

    By default the page follows the windows over time. With --window-id, --position or
    --last it shows one window: its drift per column with the reference and window
    distributions, prediction drift, quality, performance and its alerts.
    """
    from closedloop.monitoring import list_windows

    ws = state(ctx).client().workspace
    if window_id is not None or position is not None or last:
        if since is not None or until is not None:
            raise typer.BadParameter(
                "--since/--until select the windows of the timeline; one window is picked "
                "by --window-id, --position or --last",
                param_hint="--since/--until",
            )
        from closedloop.monitoring import find_window, window_html

        one = find_window(
            ws, model_ref, window_id=window_id, position=position, last=last, monitor=monitor
        )
        _write(output, window_html(ws, one))
        return
    from closedloop.monitoring._timeline import timeline_html

    results = list_windows(
        ws,
        model_ref,
        monitor,
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
    )
    if not results:
        console.print(
            line("no windows yet for ", model_ref, ": run closedloop monitor run ", model_ref)
        )
        raise typer.Exit(1)
    version = results[0].window.model_version_id
    _write(
        output,
        timeline_html(version, results, f"Monitoring of {version}: {len(results)} window(s)"),
    )


def _write(output: Path, page: str) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    console.print(line("report: ", str(output)))


@app.command("alerts")
def alerts(
    ctx: typer.Context,
    model_ref: Annotated[
        str | None, typer.Argument(help="Only alerts of this model version.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Only alerts in this state: firing, acknowledged, resolved.")
    ] = None,
    alert_id: Annotated[
        int | None, typer.Option("--id", help="Show one alert with its evidence.")
    ] = None,
    ack: Annotated[int | None, typer.Option("--ack", help="Acknowledge alert N.")] = None,
    resolve: Annotated[int | None, typer.Option("--resolve", help="Resolve alert N.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most alerts listed.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List alerts, show one with its evidence, or acknowledge / resolve one."""
    from closedloop.monitoring import (
        acknowledge_alert,
        alert_evidence,
        get_alert,
        list_alerts,
        resolve_alert,
    )

    ws = state(ctx).client().workspace
    if ack is not None or resolve is not None:
        if ack is not None:
            changed = acknowledge_alert(ws, ack)
        else:
            assert resolve is not None
            changed = resolve_alert(ws, resolve)
        console.print(line(f"alert {changed.id}: {changed.status}"))
        return
    if alert_id is not None:
        one = get_alert(ws, alert_id)
        doc = _alert_doc(one) | {"evidence": alert_evidence(ws, one)}
        if as_json:
            _print_json(doc)
            return
        for key, value in doc.items():
            console.print(
                line(
                    f"{key}: ",
                    json.dumps(value, default=str)
                    if isinstance(value, dict | list)
                    else str(value),
                )
            )
        return
    found = list_alerts(ws, model_ref, status=status, limit=limit)
    if as_json:
        _print_json([_alert_doc(a) for a in found])
        return
    if not found:
        console.print("no alerts")
        return
    table = SafeTable(title="alerts, newest first", header_style="bold")
    for col in ("id", "time (UTC)", "model version", "rule", "subject", "severity", "status"):
        table.add_column(col)
    for col in ("value", "threshold", "count", "window"):
        table.add_column(col, justify="right")
    table.add_column("deliveries")
    for a in found:
        table.add_row(
            str(a.id),
            fmt_time(a.time),
            a.model_version_id,
            a.rule,
            a.subject,
            a.severity,
            a.status,
            _num(a.value),
            _num(a.threshold),
            str(a.count),
            "-" if a.window_id is None else str(a.window_id),
            ", ".join(f"{k}: {v}" for k, v in sorted(a.deliveries.items())),
        )
    console.print(table)


def _alert_doc(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "time": fmt_time(a.time),
        "model_version": a.model_version_id,
        "rule": a.rule,
        "subject": a.subject,
        "severity": a.severity,
        "status": a.status,
        "value": a.value if math.isfinite(a.value) else None,
        "threshold": a.threshold,
        "count": a.count,
        "last_seen": fmt_time(a.last_seen),
        "window": a.window_id,
        "message": a.message,
        "deliveries": a.deliveries,
    }
