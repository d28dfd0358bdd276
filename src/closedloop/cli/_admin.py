"""Workspace commands: init, doctor, gc, db upgrade, experiments, audit."""

from __future__ import annotations

import os
import platform
import shlex
import stat
import sys
from datetime import timedelta
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Annotated

import typer

from closedloop.cli._format import fmt_bytes, fmt_time
from closedloop.cli._safe import SafeTable, line, printer, user_text
from closedloop.cli._state import console, err_console, state
from closedloop.crypto import Keyring
from closedloop.errors import ClosedLoopError
from closedloop.metadata import get_metadata_store, mask_uri, schema_head, strip_password
from closedloop.workspace import (
    LoosePath,
    Workspace,
    current_actor,
    loose_permissions,
    resolve_location,
)

__all__ = [
    "audit",
    "db_app",
    "demo",
    "doctor",
    "experiments",
    "gc",
    "init",
    "quickstart",
]

db_app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


def init(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder to hold .closedloop/.")] = Path("."),
    metadata_uri: Annotated[
        str | None, typer.Option(help="Team database, e.g. postgresql+psycopg://user@host/db.")
    ] = None,
    artifact_uri: Annotated[
        str | None, typer.Option(help="Artifact location (any fsspec URL).")
    ] = None,
) -> None:
    """Create a workspace: database, encrypted artifact store and key file."""
    settings = state(ctx).settings(
        workspace=str(path.expanduser().resolve()),
        metadata_uri=metadata_uri,
        artifact_uri=artifact_uri,
    )
    report = Workspace.init(settings=settings)
    loc = report.location
    console.print(line(("workspace ready", "bold green"), " at ", loc.root))
    grid = SafeTable.grid(padding=(0, 2))
    grid.add_row(
        "metadata",
        mask_uri(loc.metadata_uri),
        "created" if report.created_schema else "existing",
    )
    grid.add_row("artifacts", loc.artifact_uri, "")
    grid.add_row(
        "key file", str(loc.key_file), "created (owner-only)" if report.created_key else "existing"
    )
    console.print(grid)
    if (metadata_uri or artifact_uri) and report.created_config:
        console.print(line("the chosen backends are recorded in .closedloop/closedloop.yaml"))
    elif metadata_uri or artifact_uri:
        console.print(
            line(
                ("note:", "yellow"),
                " .closedloop/closedloop.yaml already existed: set metadata_uri/"
                "artifact_uri there so later commands find them",
            )
        )
    if metadata_uri and strip_password(metadata_uri) != metadata_uri:
        console.print(
            line(
                ("note:", "yellow"),
                " the database password is not written to files: give it to later "
                "commands with PGPASSWORD or ~/.pgpass",
            )
        )


def demo(
    path: Annotated[Path, typer.Argument(help="Workspace folder for the demo.")] = Path(
        "demo-workspace"
    ),
    sample: Annotated[
        int | None, typer.Option(min=500, help="Use this many Adult training rows (quick run).")
    ] = None,
    cv: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
) -> None:
    """Run the whole lifecycle on Adult, from ingestion to one turn of the loop."""
    from closedloop.cli._progress import progress_bars
    from closedloop.demo import run_lifecycle

    with progress_bars(err_console) as progress:
        result = run_lifecycle(path, sample=sample, cv=cv, say=printer(console), progress=progress)
    console.print()
    console.print(line(("where to look:", "bold")))
    for command in (
        "runs list",
        "data list",
        "models list adult",
        "models decisions adult",
        f"models predictions {result.champion.id}",
    ):
        console.print(line("  closedloop -w ", path, " ", command))
    for report in result.reports:
        console.print(line("  ", report))


def quickstart(
    path: Annotated[Path, typer.Argument(help="Workspace folder.")] = Path("quickstart-workspace"),
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs per candidate.")] = 30,
) -> None:
    """Track two candidate models on the breast-cancer data (a minute of run tracking)."""
    from closedloop.demo import run_quickstart

    result = run_quickstart(path, epochs=epochs, say=printer(console))
    console.print()
    console.print(line("look at it: closedloop -w ", path, f" runs show {result.best_run_id[:12]}"))


def doctor(ctx: typer.Context) -> None:
    """Print the resolved workspace, its backends and checks, and library versions.

    Checks the configuration, the schema, the key file and the permissions of local
    workspace files (looser than owner-only: a warning with the chmod fix, not a failure).
    Blob contents are not read here: `closedloop verify` reads and authenticates every
    referenced blob.
    """
    st = state(ctx)
    settings = st.settings()
    problems = 0
    table = SafeTable(title="closedloop doctor", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    try:
        loc = resolve_location(settings)
    except ClosedLoopError as e:
        table.add_row("workspace", user_text(e.message, style="red"))
        console.print(table)
        raise
    table.add_row("workspace", str(loc.root or "(given by URI)"))
    config = loc.state_dir / "closedloop.yaml" if loc.state_dir else None
    table.add_row("config file", str(config) if config and config.exists() else "(none)")
    try:
        store = get_metadata_store(loc.metadata_uri, check_schema=False)
        head = schema_head()
        revision = store.schema_revision()
        ok = revision == head
        problems += not ok
        table.add_row("metadata", f"{store.uri}")
        schema = f"{revision} (code expects {head})"
        table.add_row(
            "schema", schema if ok else line(schema, (" run `closedloop db upgrade`", "red"))
        )
        store.close()
    except ClosedLoopError as e:
        problems += 1
        table.add_row("metadata", user_text(str(e), style="red"))
    table.add_row("artifacts", loc.artifact_uri)
    table.add_row(
        "encryption",
        "AES-256-GCM (on)"
        if settings.encrypt_artifacts
        else user_text("off (blobs signed with the workspace key)", style="yellow"),
    )
    try:
        keyring = Keyring.load(loc.key_file)
        mode = stat.S_IMODE(os.stat(loc.key_file).st_mode)
        keys = f"{len(keyring.key_ids)} key(s), active {keyring.active_key_id}"
        table.add_row("key file", f"{loc.key_file} (mode {mode:o}, {keys})")
    except ClosedLoopError as e:
        problems += 1
        table.add_row("key file", user_text(str(e), style="red"))
    loose = loose_permissions(loc)
    table.add_row(
        "permissions",
        "owner-only"
        if not loose
        else user_text(f"{len(loose)} path(s) accessible by other users", style="yellow"),
    )
    table.add_row("blobs", "contents not read here: `closedloop verify` authenticates them")
    buffered = f"{settings.metric_buffer_size} points / {settings.metric_flush_interval:g}s"
    table.add_row(
        "logging", "synchronous" if settings.synchronous_logging else f"buffered ({buffered})"
    )
    table.add_row("user", current_actor())
    table.add_row("python", f"{platform.python_version()} ({sys.executable})")
    import sqlite3

    table.add_row("sqlite", sqlite3.sqlite_version)
    for dist in (
        "closedloop",
        "sqlalchemy",
        "alembic",
        "fsspec",
        "cryptography",
        "pydantic",
        "typer",
        "psycopg",
    ):
        try:
            table.add_row(dist, importlib_metadata.version(dist))
        except importlib_metadata.PackageNotFoundError:
            table.add_row(dist, "(not installed)")
    console.print(table)
    _warn_loose(loose, loc.state_dir)
    if problems:
        console.print(line((f"{problems} problem(s) found", "red")))
        raise typer.Exit(1)
    console.print(line(("all checks passed", "green"), " (blob contents: run `closedloop verify`)"))


_SHOWN_LOOSE = 10


def _warn_loose(loose: list[LoosePath], state_dir: Path | None) -> None:
    """One warning line per loose path (the first few), each with its chmod fix."""
    for each in loose[:_SHOWN_LOOSE]:
        kind = "folder" if each.is_dir else "file"
        console.print(
            line(
                ("warning:", "yellow"),
                f" {kind} {each.path} is accessible by other users (mode {each.mode:o}); "
                f"fix: {each.fix}",
            )
        )
    if len(loose) > _SHOWN_LOOSE:
        console.print(line(("warning:", "yellow"), f" and {len(loose) - _SHOWN_LOOSE} more"))
    if len(loose) > 1 and state_dir is not None:
        fix_all = f"chmod -R go-rwx {shlex.quote(str(state_dir))}"
        console.print(line(("fix them all:", "yellow"), f" {fix_all}"))


def gc(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would go.")] = False,
    grace: Annotated[
        float | None,
        typer.Option(min=0, help="Keep unreferenced blobs younger than this many seconds."),
    ] = None,
) -> None:
    """Delete artifact blobs that no run, dataset or model references, and abandoned temp files."""
    client = state(ctx).client()
    report = client.gc(dry_run=dry_run, grace=None if grace is None else timedelta(seconds=grace))
    deleted, removed = ("would delete", "would remove") if dry_run else ("deleted", "removed")
    console.print(
        f"{deleted} {report.blobs_deleted} of {report.blobs_seen} blob(s), "
        f"{fmt_bytes(report.bytes_freed)}; kept {report.blobs_young} recent unreferenced; "
        f"{removed} {report.temp_files_removed} abandoned temp file(s)",
        markup=False,
        highlight=False,
    )


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the metadata database to this version's schema (back it up first)."""
    loc = resolve_location(state(ctx).settings())
    store = get_metadata_store(loc.metadata_uri, check_schema=False)
    try:
        before, after = store.upgrade()
    finally:
        store.close()
    if before == after:
        console.print(line("schema already at ", after))
    else:
        console.print(line("schema upgraded: ", before or "(empty)", " → ", after))


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the schema revision the database is at."""
    loc = resolve_location(state(ctx).settings())
    store = get_metadata_store(loc.metadata_uri, check_schema=False)
    try:
        console.print(line(store.schema_revision() or "(empty)"))
    finally:
        store.close()


def experiments(
    ctx: typer.Context, project: Annotated[str | None, typer.Option("--project", "-p")] = None
) -> None:
    """List projects and experiments."""
    client = state(ctx).client()
    table = SafeTable(header_style="bold")
    for col in ("id", "project", "experiment", "created"):
        table.add_column(col)
    for e in client.experiments.list(project):
        table.add_row(str(e.id), e.project, e.name, fmt_time(e.created_at or None))
    console.print(table)


def audit(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. run.delete.")] = None,
    limit: Annotated[int, typer.Option("--max", "-n", min=1)] = 50,
) -> None:
    """Show recent audit events (who did what, to what, with which outcome)."""
    events = state(ctx).client().audit.list(actor=actor, action=action, limit=limit)
    table = SafeTable(header_style="bold")
    for col in ("time", "actor", "action", "resource", "outcome"):
        table.add_column(col)
    for e in events:
        outcome = line((e.outcome, "" if e.outcome == "ok" else "red"))
        table.add_row(fmt_time(e.time), e.actor, e.action, e.resource, outcome)
    console.print(table)
