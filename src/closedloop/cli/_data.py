"""``closedloop data …``: ingest, list, show and validate dataset versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from closedloop.cli._format import fmt_time
from closedloop.cli._progress import progress_bars
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import console, err_console, state
from closedloop.core import ColumnSchema, DatasetVersion
from closedloop.errors import DataValidationError, InvalidArgumentError

__all__ = ["app"]

app = typer.Typer(help="Ingest, inspect and validate datasets.", no_args_is_help=True)

_SHOWN_CATEGORIES = 8
#: ``closedloop.data.FORMATS``, spelled out: importing ``closedloop.data`` imports pandas and
#: pyarrow, which ``closedloop --help`` and every other command must not pay for (a test
#: checks the two agree).
_FORMATS = ("csv", "tsv", "parquet", "json", "jsonl")

FormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", help=f"One of {', '.join(_FORMATS)} (default: suffix)."),
]
ReaderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        help="Reader option key=value, repeatable; values are read as JSON when they parse "
        '(--option sep=";" --option header=null --option na_values=\'["?"]\').',
    ),
]


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["sep=;", "header=0"]`` → ``{"sep": ";", "header": 0}`` (JSON values, else text).

    Raises:
        InvalidArgumentError: An item has no ``=`` or an empty key.
    """
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidArgumentError(
                f"reader option {pair!r} is not key=value", hint="e.g. --option sep=';'"
            )
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        options[key.strip()] = value
    return options


def _source_text(source: str) -> str:
    """A version's source for people: ``path (format, options)`` or the text as recorded."""
    try:
        described = json.loads(source)
    except ValueError:
        return source
    if not isinstance(described, dict) or "path" not in described:
        return source
    extra = described.get("format", "?")
    if described.get("options"):
        extra += ", " + json.dumps(described["options"], sort_keys=True)
    return f"{described['path']} ({extra})"


def _version_json(v: DatasetVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "dataset": v.dataset,
        "version": v.version,
        "digest": v.digest,
        "n_rows": v.n_rows,
        "n_columns": v.n_columns,
        "source": v.source,
        "source_digest": v.source_digest,
        "parents": list(v.parents),
        "created_at": v.created_at,
        "schema": v.schema.to_dict(),
    }


def _domain(column: ColumnSchema) -> str:
    """The range of a numeric column, or the (truncated) categories of a category column."""
    if column.categories is not None:
        shown = ", ".join(column.categories[:_SHOWN_CATEGORIES])
        more = len(column.categories) - _SHOWN_CATEGORIES
        return f"{shown}, … (+{more} more)" if more > 0 else shown
    if column.minimum is not None or column.maximum is not None:
        low = "-" if column.minimum is None else f"{column.minimum:.6g}"
        high = "-" if column.maximum is None else f"{column.maximum:.6g}"
        return f"[{low}, {high}]"
    return ""


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="CSV, TSV, Parquet, JSON or JSON Lines file.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")],
    format: FormatOption = None,
    option: ReaderOption = None,
) -> None:
    """Store a data file as a version of a dataset (the same content gives the same version).

    The delimiter of a CSV file is detected (an explicit -o sep=... wins) and a file that is
    not UTF-8 is read as cp1252 or latin-1 (an explicit -o encoding=... wins); both are
    reported as warnings, like an unnamed or an empty column. Duplicate column names, a
    header without names, no rows, no data, inf, integers beyond 64 bits and NUL bytes are
    refused. A progress bar is drawn on stderr when it is a terminal.
    """
    from closedloop import data

    ws = state(ctx).client().workspace
    options = parse_options(option)
    with progress_bars(err_console) as progress:
        result = data.ingest(ws, source, name, format=format, options=options, progress=progress)
    v = result.version
    status = "created" if result.created else "existing (same content)"
    console.print(
        line(v.id, f"  version {v.version}  {v.n_rows} rows  {v.n_columns} columns  {status}")
    )
    for warning in result.warnings:
        console.print(line(("warning:", "bold yellow"), " ", warning.message))


@app.command("list")
def list_versions(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List dataset versions, by dataset then version number."""
    from closedloop import data

    ws = state(ctx).client().workspace
    versions = data.list_versions(ws, name)
    if as_json:
        print(json.dumps([_version_json(v) for v in versions], indent=2))
        return
    table = SafeTable(title=f"{len(versions)} dataset version(s)", header_style="bold")
    for col in ("id", "dataset", "version", "rows", "columns", "created", "parents", "source"):
        numeric = col in ("version", "rows", "columns")
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col != "source")
    for v in versions:
        table.add_row(
            v.id,
            v.dataset,
            str(v.version),
            str(v.n_rows),
            str(v.n_columns),
            fmt_time(v.created_at),
            ", ".join(v.parents) or "-",
            _source_text(v.source),
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="name@latest, name/<number> or name@<digest>.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one dataset version: counts, source, lineage and schema."""
    from closedloop import data

    ws = state(ctx).client().workspace
    v = data.get_version(ws, ref)
    if as_json:
        print(json.dumps(_version_json(v), indent=2))
        return
    head = SafeTable.grid(padding=(0, 2))
    for label, value in (
        ("id", v.id),
        ("dataset", v.dataset),
        ("version", str(v.version)),
        ("digest", v.digest),
        ("rows", str(v.n_rows)),
        ("columns", str(v.n_columns)),
        ("created", fmt_time(v.created_at)),
        ("source", _source_text(v.source)),
        ("source digest", v.source_digest or "-"),
        ("parents", ", ".join(v.parents) or "-"),
    ):
        head.add_row(line((label, "bold")), value)
    console.print(head)
    table = SafeTable(title="schema", header_style="bold")
    for col in ("column", "type", "nullable", "range / categories"):
        table.add_column(col)
    for c in v.schema:
        table.add_row(c.name, c.type.value, "yes" if c.nullable else "no", _domain(c))
    console.print(table)


@app.command("validate")
def validate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version whose schema the batch must fit.")],
    source: Annotated[Path, typer.Argument(help="The batch: a data file.")],
    format: FormatOption = None,
    option: ReaderOption = None,
) -> None:
    """Check a batch against a version's schema; exits 2 when the batch has errors."""
    from closedloop import data

    ws = state(ctx).client().workspace
    try:
        report = data.validate_batch(ws, ref, source, format=format, options=parse_options(option))
    except DataValidationError as e:
        if isinstance(e.report, data.ValidationReport):
            console.print(e.report.render())
        raise
    if report.issues:
        console.print(report.render())
    console.print(
        line(
            f"ok: {report.n_rows} rows, {report.n_columns} columns fit the schema of ",
            ref,
            f" ({len(report.warnings)} warning(s))",
        )
    )
