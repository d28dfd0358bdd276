"""``closedloop runs …``: list, show, compare and delete runs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from closedloop.cli._format import fmt_bytes, fmt_duration, fmt_number, fmt_time
from closedloop.cli._safe import SafeTable, line, user_text
from closedloop.cli._state import console, state
from closedloop.core import Run

__all__ = ["app"]

app = typer.Typer(help="List, inspect, compare and delete runs.", no_args_is_help=True)


def _run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "experiment_id": run.experiment_id,
        "status": run.status.value,
        "user": run.user,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "params": dict(run.params),
        "metrics": {
            k: {"value": m.value if math.isfinite(m.value) else None, "step": m.step}
            for k, m in run.metrics.items()
        },
        "tags": dict(run.tags),
        "inputs": [{"kind": i.kind, "ref": i.ref, "name": i.name} for i in run.inputs],
    }


@app.command("list")
def list_runs(
    ctx: typer.Context,
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.auc > 0.8 and params.model = 'rf'\""),
    ] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", "-e")] = None,
    project: Annotated[str | None, typer.Option("--project", "-p")] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. 'metrics.auc DESC'")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", min=1, max=10_000)] = 20,
    page_token: Annotated[str | None, typer.Option("--page-token")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List runs, newest first, optionally filtered and sorted."""
    client = state(ctx).client()
    page = client.runs.search(
        filter,
        project=project,
        experiment=experiment,
        order_by=order_by,
        max_results=max_results,
        page_token=page_token,
    )
    if as_json:
        print(
            json.dumps(
                {
                    "runs": [_run_json(r) for r in page.runs],
                    "next_page_token": page.next_page_token,
                },
                indent=2,
                allow_nan=False,
            )
        )
        return
    experiments = {e.id: f"{e.project}/{e.name}" for e in client.experiments.list()}
    metric_keys = sorted({k for r in page.runs for k in r.metrics})[:3]
    table = SafeTable(title=f"{len(page.runs)} run(s)", header_style="bold")
    for col in ("id", "name", "experiment", "status", "started", "duration", *metric_keys):
        table.add_column(col, no_wrap=True, min_width=8 if col == "status" else None)
    for r in page.runs:
        style = {"FAILED": "red", "KILLED": "yellow", "RUNNING": "cyan"}.get(r.status.value, "")
        table.add_row(
            r.id[:12],
            r.name,
            experiments.get(r.experiment_id, str(r.experiment_id)),
            Text(r.status.value, style=style),
            fmt_time(r.start_time),
            fmt_duration(r.duration_s),
            *(fmt_number(r.metrics[k].value) if k in r.metrics else "-" for k in metric_keys),
        )
    console.print(table)
    if page.next_page_token:
        console.print(line("more: --page-token ", page.next_page_token))


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix of it.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one run: attributes, params, metrics, tags, inputs and artifacts."""
    client = state(ctx).client()
    run = client.runs.get(client.runs.resolve_id(run_id))
    artifacts = client.runs.artifacts(run.id)
    if as_json:
        data = _run_json(run)
        data["artifacts"] = [
            {"path": a.path, "digest": a.digest, "size": a.size} for a in artifacts
        ]
        print(json.dumps(data, indent=2, allow_nan=False))
        return
    exp = client.experiments.get(run.experiment_id)
    head = SafeTable.grid(padding=(0, 2))
    for label, value in (
        ("run", run.id),
        ("name", run.name),
        ("experiment", f"{exp.project}/{exp.name}"),
        ("status", run.status.value),
        ("user", run.user),
        ("started", fmt_time(run.start_time)),
        ("ended", fmt_time(run.end_time)),
        ("duration", fmt_duration(run.duration_s)),
    ):
        head.add_row(Text(label, style="bold"), value)
    console.print(head)
    _pairs("params", run.params)
    if run.metrics:
        t = SafeTable(title="metrics (latest)", header_style="bold")
        t.add_column("key")
        t.add_column("value", justify="right")
        t.add_column("step", justify="right")
        for k in sorted(run.metrics):
            m = run.metrics[k]
            t.add_row(k, fmt_number(m.value), str(m.step))
        console.print(t)
    _pairs("tags", run.tags)
    if run.inputs:
        t = SafeTable(title="inputs", header_style="bold")
        for col in ("kind", "ref", "name"):
            t.add_column(col)
        for i in run.inputs:
            t.add_row(i.kind, i.ref, i.name)
        console.print(t)
    if artifacts:
        t = SafeTable(title="artifacts", header_style="bold")
        for col in ("path", "size", "digest"):
            t.add_column(col, justify="right" if col == "size" else "left")
        for a in artifacts:
            t.add_row(a.path, fmt_bytes(a.size), a.digest[:19] + "…")
        console.print(t)


def _pairs(title: str, pairs: Any) -> None:
    if not pairs:
        return
    t = SafeTable(title=title, header_style="bold")
    t.add_column("key")
    t.add_column("value")
    for k in sorted(pairs):
        t.add_row(k, pairs[k])
    console.print(t)


@app.command("compare")
def compare(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or prefixes).")],
    only_diff: Annotated[bool, typer.Option("--only-diff", help="Hide equal params.")] = False,
) -> None:
    """Put runs side by side: params (differences highlighted) and latest metrics."""
    client = state(ctx).client()
    ids = [client.runs.resolve_id(r) for r in run_ids]
    cmp = client.runs.compare(ids)
    table = SafeTable(header_style="bold")
    table.add_column("")
    for r in cmp.runs:
        table.add_column(line(r.name, "\n", r.id[:12], multiline=True), justify="right")
    for key, values in cmp.params.items():
        differs = key in cmp.differing_params
        if only_diff and not differs:
            continue
        label = user_text(f"params.{key}", style="yellow" if differs else "")
        table.add_row(label, *("-" if v is None else v for v in values))
    for key, mvalues in cmp.metrics.items():
        table.add_row(f"metrics.{key}", *("-" if v is None else fmt_number(v) for v in mvalues))
    console.print(table)


@app.command("delete")
def delete(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Run ids (or prefixes) to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete runs for good, and free the artifact blobs only they used."""
    client = state(ctx).client()
    ids = [client.runs.resolve_id(r) for r in run_ids]
    if not yes:
        typer.confirm(f"Delete {len(ids)} run(s) and their artifacts for good?", abort=True)
    for run_id in ids:
        report = client.runs.delete(run_id)
        console.print(
            line(
                f"deleted run {run_id}: freed {report.blobs_freed} blob(s), "
                f"{fmt_bytes(report.bytes_freed)}"
            )
        )


@app.command("plot")
def plot(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Run ids (or prefixes) to draw.")],
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="Metric to draw (repeatable).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "metrics.html"
    ),
) -> None:
    """Plot metric series by step into a self-contained HTML page (no network needed)."""
    client = state(ctx).client()
    ids = [client.runs.resolve_id(r) for r in run_ids]
    page = client.runs.plot(ids, metric)
    output.write_text(page, encoding="utf-8")
    console.print(
        line("wrote ", output, f" ({fmt_bytes(output.stat().st_size)}); open it in a browser")
    )
