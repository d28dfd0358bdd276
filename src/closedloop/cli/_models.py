"""``closedloop models …``: registered versions, aliases, loop decisions, logged predictions."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from closedloop._client import PredictionsClient
from closedloop.cli._format import fmt_number, fmt_time
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import console, state

__all__ = ["app"]

app = typer.Typer(
    help="Registered models, aliases, loop decisions and predictions.", no_args_is_help=True
)


@app.command("list")
def list_versions(
    ctx: typer.Context, name: Annotated[str | None, typer.Argument(help="Model name.")] = None
) -> None:
    """List registered model versions with their aliases and key metrics."""
    models = state(ctx).client().models
    table = SafeTable(header_style="bold")
    for col in ("version", "aliases", "created", "run", "dataset", "roc_auc", "accuracy"):
        table.add_column(col, no_wrap=True)
    for v in models.list(name):
        table.add_row(
            v.id,
            ", ".join(v.aliases) or "-",
            fmt_time(v.created_at),
            (v.run_id or "-")[:12],
            v.dataset_version_id or "-",
            fmt_number(v.metrics.get("roc_auc")),
            fmt_number(v.metrics.get("accuracy")),
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="name@alias, name@latest or name/<version>.")],
) -> None:
    """Show a model version: lineage, signature and metrics."""
    v = state(ctx).client().models.get(ref)
    head = SafeTable.grid(padding=(0, 2))
    for label, value in (
        ("version", v.id),
        ("aliases", ", ".join(v.aliases) or "-"),
        ("target", v.target),
        ("classes", ", ".join(v.classes) or "-"),
        ("run", v.run_id or "-"),
        ("dataset", v.dataset_version_id or "-"),
        ("digest", v.artifact_digest),
        ("created", fmt_time(v.created_at)),
    ):
        head.add_row(Text(label, style="bold"), value)
    console.print(head)
    sig = SafeTable(title="signature", header_style="bold")
    for col in ("column", "type", "nullable"):
        sig.add_column(col)
    for c in v.signature:
        sig.add_row(c.name, c.type.value, "yes" if c.nullable else "no")
    console.print(sig)
    if v.metrics:
        met = SafeTable(title="metrics", header_style="bold")
        met.add_column("metric")
        met.add_column("value", justify="right")
        for k in sorted(v.metrics):
            met.add_row(k, fmt_number(v.metrics[k]))
        console.print(met)


@app.command("alias")
def alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion.")],
    version: Annotated[int, typer.Argument(help="Version number to point at.")],
) -> None:
    """Point an alias at a version (e.g. promote or roll back the champion)."""
    v = state(ctx).client().models.set_alias(name, alias_name, version)
    console.print(line(name, "@", alias_name, " → ", v.id))


@app.command("decisions")
def decisions(
    ctx: typer.Context, name: Annotated[str | None, typer.Argument(help="Model name.")] = None
) -> None:
    """Champion/challenger decisions of the loop, newest first, with their reasons."""
    found = state(ctx).client().decisions.list(name)
    for d in found:
        colour = "green" if d.decision == "promote" else "yellow"
        console.print(
            line(
                (fmt_time(d.time), "bold"),
                " ",
                d.model,
                ": challenger ",
                d.challenger_version_id,
                " vs champion ",
                d.champion_version_id,
                " → ",
                (d.decision, colour),
            )
        )
        for reason in d.reasons:
            console.print(line("    - ", reason))
        trigger = d.detail.get("trigger")
        if trigger:
            console.print(line("    trigger: ", ", ".join(str(t) for t in trigger)))
    if not found:
        console.print(line("no decisions recorded"))


@app.command("predictions")
def predictions(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Model version (name@alias or name/<n>).")],
    limit: Annotated[int, typer.Option("--max", "-n", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show the prediction log of a model version (oldest first) and its size."""
    client = state(ctx).client()
    version = client.models.get(ref)
    with client.workspace.read_batch() as view:  # both reads audited in one write
        log = PredictionsClient(view)
        total = log.count(version)
        items = log.list(version, limit=limit)
    if as_json:
        for p in items:
            print(
                json.dumps(
                    {
                        "request_id": p.request_id,
                        "row": p.row,
                        "time": p.time,
                        "inputs": p.inputs,
                        "output": p.output,
                        "latency_ms": p.latency_ms,
                    }
                )
            )
        return
    console.print(line(f"{total} prediction(s) logged for ", version.id))
    table = SafeTable(header_style="bold")
    for col in ("time", "request", "row", "output", "latency ms"):
        table.add_column(col)
    for p in items:
        label = p.output.get("label") if isinstance(p.output, dict) else p.output
        table.add_row(
            fmt_time(p.time), p.request_id[:12], str(p.row), str(label), f"{p.latency_ms:.2f}"
        )
    console.print(table)
