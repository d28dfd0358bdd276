"""``closedloop feedback …``: attach true outcomes to logged predictions, and list them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from closedloop.cli import _state
from closedloop.cli._format import fmt_time
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import state

if TYPE_CHECKING:
    from closedloop.predictions import FeedbackReport

__all__ = ["app", "parse_label"]

app = typer.Typer(
    help="Feedback: true outcomes of served requests, joined to the prediction log.",
    no_args_is_help=True,
)

#: Unknown request ids and bad rows printed (the report counts them all).
SHOWN = 5


def parse_label(text: str) -> str | int | float | bool:
    """A label typed on the command line: an integer, a number, true/false, else the text."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if kind is float and text.strip().lower() in ("nan", "inf", "-inf", "infinity"):
            break  # not a value: kept as text, like any other word
        return value
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def _report(report: FeedbackReport) -> int:
    """Print the report; exit code 1 when nothing was attached."""
    console = _state.console
    console.print(
        line(
            f"attached {report.attached} label(s) ({report.replaced} replaced an earlier one)",
        )
    )
    if report.n_unknown:
        shown = ", ".join(report.unknown_request_ids[:SHOWN])
        more = f" and {report.n_unknown - SHOWN} more" if report.n_unknown > SHOWN else ""
        console.print(line(f"{report.n_unknown} unknown request id(s), not stored: ", shown, more))
    if report.n_bad_rows:
        parts = [
            f"{b.request_id} row {'(none)' if b.row is None else b.row} of {b.n_rows}"
            for b in report.bad_rows[:SHOWN]
        ]
        more = f" and {report.n_bad_rows - SHOWN} more" if report.n_bad_rows > SHOWN else ""
        console.print(
            line(
                f"{report.n_bad_rows} label(s) name a row the request does not have: ",
                "; ".join(parts),
                more,
            )
        )
    return 0 if report.attached else 1


@app.command("import")
def import_file(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file of labels.")],
    request_id_column: Annotated[
        str, typer.Option("--request-id-column", help="Column of request ids.")
    ] = "request_id",
    row_column: Annotated[
        str,
        typer.Option(
            "--row-column",
            help="Column of row indexes; without it each label is its request's only row.",
        ),
    ] = "row",
    label_column: Annotated[
        str, typer.Option("--label-column", help="Column of true values.")
    ] = "label",
) -> None:
    """Attach the labels of a file; exits 1 when none could be attached.

    Labels of request ids the log does not hold are reported, not stored; a later label
    for a row replaces the earlier one.
    """
    report = (
        state(ctx)
        .client()
        .predictions.import_labels(
            path,
            request_id_column=request_id_column,
            row_column=row_column,
            label_column=label_column,
        )
    )
    raise typer.Exit(_report(report))


@app.command("add")
def add(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="The request id serving answered with.")],
    label: Annotated[str, typer.Argument(help="The true value (number, true/false or text).")],
    row: Annotated[int, typer.Option("--row", min=0, help="The row within the request.")] = 0,
    as_text: Annotated[
        bool, typer.Option("--text", help="Keep LABEL as text (do not read 1 as a number).")
    ] = False,
) -> None:
    """Attach one label; exits 1 when the request is not logged or has no such row."""
    value = label if as_text else parse_label(label)
    report = state(ctx).client().predictions.attach_labels([(request_id, row, value)])
    raise typer.Exit(_report(report))


@app.command("list")
def list_labels(
    ctx: typer.Context,
    request_id: Annotated[
        list[str] | None, typer.Option("--request-id", help="Only these requests (repeat).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List attached labels by request id, then row."""
    labels = state(ctx).client().predictions.list_labels(request_id or None)
    if as_json:
        for lb in labels:
            doc = {
                "request_id": lb.request_id,
                "row": lb.row,
                "label": lb.label,
                "time": lb.time,
                "actor": lb.actor,
            }
            print(json.dumps(doc))
        return
    table = SafeTable(header_style="bold")
    for col in ("request", "row", "label", "attached", "by"):
        table.add_column(col)
    for lb in labels:
        table.add_row(lb.request_id, str(lb.row), str(lb.label), fmt_time(lb.time), lb.actor)
    _state.console.print(line(f"{len(labels)} label(s)"))
    _state.console.print(table)
