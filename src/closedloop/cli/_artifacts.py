"""``closedloop artifacts …``: list and fetch run artifacts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from closedloop.cli._format import fmt_bytes
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import console, state

__all__ = ["app"]

app = typer.Typer(help="List and fetch run artifacts.", no_args_is_help=True)


@app.command("list")
def list_artifacts(
    ctx: typer.Context, run_id: Annotated[str, typer.Argument(help="Run id or prefix.")]
) -> None:
    """List a run's artifacts."""
    client = state(ctx).client()
    refs = client.runs.artifacts(client.runs.resolve_id(run_id))
    table = SafeTable(header_style="bold")
    for col in ("path", "size", "digest"):
        table.add_column(col)
    for a in refs:
        table.add_row(a.path, fmt_bytes(a.size), a.digest)
    console.print(table)


@app.command("get")
def get(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id or prefix.")],
    path: Annotated[str, typer.Argument(help="The artifact's path in the run.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="File or folder to write; '-' for standard output."),
    ] = None,
) -> None:
    """Fetch an artifact, verified against its digest before it is written."""
    client = state(ctx).client()
    full_id = client.runs.resolve_id(run_id)
    if output == "-":
        sys.stdout.buffer.write(client.runs.read_artifact(full_id, path))
        sys.stdout.buffer.flush()
        return
    target = client.runs.download_artifact(full_id, path, Path(output) if output else None)
    console.print(line("wrote ", target, f" ({fmt_bytes(target.stat().st_size)})"))
