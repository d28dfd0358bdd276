"""``closedloop verify``: read and authenticate every blob the workspace references."""

from __future__ import annotations

import typer
from rich.text import Text

from closedloop.cli import _state
from closedloop.cli._format import fmt_bytes
from closedloop.cli._progress import progress_bars
from closedloop.cli._safe import SafeTable, line, user_text
from closedloop.errors import ArtifactIntegrityError

__all__ = ["verify"]

_HINT = (
    "repair each as its row says: storing the same content again (re-ingest the file, "
    "re-log the artifact, re-register the model) replaces the broken blob; or restore the "
    "artifact folder from a backup, then run `closedloop verify` again"
)


def verify(ctx: typer.Context) -> None:
    """Read every blob a dataset, model or run artifact references, and authenticate it.

    Each blob is read in full: decrypted (or its signature checked) and matched against its
    digest. Broken blobs are listed with what references them and how to repair them; the
    command then exits with the integrity error's code. ``closedloop doctor`` checks the
    configuration only and points here for the contents.
    """
    client = _state.state(ctx).client()
    with progress_bars(_state.err_console) as progress:
        report = client.workspace.verify(progress=progress)
    if report.ok:
        _state.console.print(
            line(
                ("ok", "bold green"),
                f": {report.blobs_checked} blob(s) ({fmt_bytes(report.bytes_checked)}) "
                f"referenced by {report.references} record(s), all present, intact and "
                "authenticated",
            )
        )
        return
    table = SafeTable(header_style="bold")
    for column in ("blob", "problem", "referenced by", "repair"):
        table.add_column(column)
    for problem in report.problems:
        table.add_row(
            problem.digest,
            user_text(problem.problem, style="red"),
            Text("\n").join(user_text(f"{r.kind} {r.name}") for r in problem.referenced_by),
            problem.repair,
        )
    _state.console.print(table)
    raise ArtifactIntegrityError(
        f"{len(report.problems)} of {report.blobs_checked} referenced blob(s) are broken",
        hint=_HINT,
    )
