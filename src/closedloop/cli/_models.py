"""``closedloop models …``: versions, aliases and their history, descriptions, tags, logs.

Also the loop's decisions and the prediction log of a version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated

import typer
from rich.text import Text

from closedloop._client import PredictionsClient
from closedloop.cli._format import fmt_number, fmt_time
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import console, state
from closedloop.core import RegisteredModel
from closedloop.errors import InvalidArgumentError

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
    ref: Annotated[
        str,
        typer.Argument(help="A model name, or a version: name@alias, name@latest, name/<n>."),
    ],
) -> None:
    """Show a model (description, tags, aliases) or a version (lineage, signature, metrics)."""
    models = state(ctx).client().models
    if "@" not in ref and "/" not in ref:
        _show_model(models.get_model(ref))
        return
    v = models.get(ref)
    head = SafeTable.grid(padding=(0, 2))
    for label, value in (
        ("version", v.id),
        ("aliases", ", ".join(v.aliases) or "-"),
        ("description", v.description or "-"),
        ("target", v.target),
        ("classes", ", ".join(v.classes) or "-"),
        ("run", v.run_id or "-"),
        ("dataset", v.dataset_version_id or "-"),
        ("digest", v.artifact_digest),
        ("onnx", v.onnx_digest or "-"),
        ("created", fmt_time(v.created_at)),
    ):
        head.add_row(Text(label, style="bold"), value)
    console.print(head)
    _print_tags(v.tags)
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


def _show_model(m: RegisteredModel) -> None:
    head = SafeTable.grid(padding=(0, 2))
    aliases = ", ".join(f"{a} → {m.name}/{n}" for a, n in m.aliases.items())
    for label, value in (
        ("model", m.name),
        ("description", m.description or "-"),
        ("latest", f"{m.name}/{m.latest_version}"),
        ("aliases", aliases or "-"),
        ("created", fmt_time(m.created_at)),
    ):
        head.add_row(Text(label, style="bold"), value)
    console.print(head)
    _print_tags(m.tags)


def _print_tags(tags: Mapping[str, str]) -> None:
    if tags:
        table = SafeTable(title="tags", header_style="bold")
        table.add_column("key")
        table.add_column("value")
        for key, value in tags.items():
            table.add_row(key, value)
        console.print(table)


@app.command("alias")
def alias(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. champion.")],
    version: Annotated[int, typer.Argument(help="Version number to point at.")],
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why (kept in the alias's history).")
    ] = "",
) -> None:
    """Point an alias at a version (e.g. promote or roll back the champion)."""
    v = state(ctx).client().models.set_alias(name, alias_name, version, reason=reason)
    console.print(line(name, "@", alias_name, " → ", v.id))


@app.command("history")
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias_name: Annotated[
        str | None, typer.Option("--alias", "-a", help="Only this alias's moves.")
    ] = None,
) -> None:
    """Every move of a model's aliases, newest first: from → to, who and why."""
    changes = state(ctx).client().models.alias_history(name, alias_name)
    if not changes:
        console.print(line("no alias moves recorded for ", name))
        return
    table = SafeTable(header_style="bold")
    for col in ("time", "alias", "from → to", "who", "why"):
        table.add_column(col, no_wrap=col != "why")
    for c in changes:
        before = "new" if c.from_version is None else f"{name}/{c.from_version}"
        after = "deleted" if c.to_version is None else f"{name}/{c.to_version}"
        table.add_row(fmt_time(c.time), c.alias, f"{before} → {after}", c.actor, c.reason or "-")
    console.print(table)


@app.command("describe")
def describe(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A model name, or a version (name/3, name@alias).")],
    text: Annotated[str, typer.Argument(help="The description (empty: clear it).")],
) -> None:
    """Set the description of a model or of one of its versions."""
    state(ctx).client().models.set_description(ref, text)
    console.print(line("described ", ref) if text else line("cleared the description of ", ref))


@app.command("tag")
def tag(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A model name, or a version (name/3, name@alias).")],
    pair: Annotated[str, typer.Argument(metavar="KEY=VALUE", help="The tag, e.g. team=risk.")],
) -> None:
    """Set a tag of a model or of one of its versions."""
    key, sep, value = pair.partition("=")
    if not sep:
        raise InvalidArgumentError(
            f"{pair!r} is not KEY=VALUE", hint="write the tag as KEY=VALUE, e.g. team=risk"
        )
    state(ctx).client().models.set_tag(ref, key, value)
    console.print(line("tagged ", ref, " ", key, "=", value))


@app.command("untag")
def untag(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A model name, or a version (name/3, name@alias).")],
    key: Annotated[str, typer.Argument(help="The tag's key.")],
) -> None:
    """Remove a tag of a model or of one of its versions."""
    state(ctx).client().models.delete_tag(ref, key)
    console.print(line("removed tag ", key, " of ", ref))


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
