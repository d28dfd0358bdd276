"""Feedback: true outcomes attached to logged rows, late and in any order.

A label names a logged request and a row within it. Labels for requests the log does not
hold are not stored but reported (they often arrive before the log writer committed the
request, or name another system's ids); a row outside the request's rows is reported too.
A later label for a row replaces the earlier one. Each call is one transaction with its
audit event (``prediction.label``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from closedloop.core import Label, now_ms
from closedloop.errors import InvalidArgumentError
from closedloop.workspace import Actions, Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_LISTED",
    "BadRow",
    "FeedbackReport",
    "attach_labels",
    "import_labels",
    "list_labels",
]

#: How many unknown request ids and bad rows a report lists (it counts them all).
MAX_LISTED = 100
MAX_REQUEST_ID = 64  # characters, as the log stores them

LabelValue = str | int | float | bool


@dataclass(frozen=True, slots=True)
class BadRow:
    """A label whose row is not one of its logged request's rows.

    Attributes:
        request_id: The logged request.
        row: The row the label named (``None``: none, for a request of several rows).
        n_rows: How many rows the request has.
    """

    request_id: str
    row: int | None
    n_rows: int


@dataclass(frozen=True, slots=True)
class FeedbackReport:
    """What :func:`attach_labels` did.

    Attributes:
        attached: Rows labelled by this call (a row named twice counts once; the last wins).
        replaced: Of those, rows that had a label before.
        unknown_request_ids: Request ids the log does not hold, sorted, at most
            :data:`MAX_LISTED` (their labels were not stored).
        n_unknown: How many distinct unknown request ids there were.
        bad_rows: Labels whose row is outside their request's rows (not stored), at most
            :data:`MAX_LISTED`.
        n_bad_rows: How many there were.
    """

    attached: int
    replaced: int
    unknown_request_ids: list[str]
    n_unknown: int
    bad_rows: list[BadRow]
    n_bad_rows: int


def _label_value(value: Any, where: str) -> LabelValue:
    """``value`` as a JSON-compatible scalar, or an error naming ``where``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        shown = "missing (NaN)" if math.isnan(value) else f"{value!r}, which is not a value"
        raise InvalidArgumentError(
            f"the label of {where} is {shown}",
            hint="give a number, a string or a boolean; leave out rows without a label",
        )
    shown = "missing" if value is None or _is_na(value) else f"a {type(value).__name__}"
    raise InvalidArgumentError(
        f"the label of {where} is {shown}",
        hint="give a number, a string or a boolean; leave out rows without a label",
    )


def _is_na(value: Any) -> bool:
    """Whether ``value`` is pandas' missing marker (only asked of uncommon values)."""
    import pandas as pd

    return value is pd.NA


def _row_value(value: Any, where: str) -> int | None:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if value is None or _is_na(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(
            f"the row of {where} is {value!r}, not a row index",
            hint="rows are counted from 0 within their request",
        )
    return value


def _request_id(value: Any, where: str) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > MAX_REQUEST_ID:
        raise InvalidArgumentError(
            f"the request id of {where} is {value!r}, not a request id",
            hint=f"give the request id serving answered with (1 to {MAX_REQUEST_ID} characters)",
        )
    return value


def _entries(
    labels: Iterable[tuple[str, int | None, Any]] | pd.DataFrame,
) -> list[tuple[str, int | None, LabelValue]]:
    import pandas as pd

    if isinstance(labels, pd.DataFrame):
        return _frame_entries(labels, "request_id", "row", "label", "the frame")
    out: list[tuple[str, int | None, LabelValue]] = []
    for i, item in enumerate(labels):
        where = f"label {i}"
        if not isinstance(item, tuple | list) or len(item) != 3:
            raise InvalidArgumentError(
                f"{where} is not a (request_id, row, label) triple: {item!r}"[:200],
                hint="pass (request_id, row, label) tuples or a DataFrame",
            )
        rid, row, value = item
        out.append((_request_id(rid, where), _row_value(row, where), _label_value(value, where)))
    return out


def _frame_entries(
    frame: pd.DataFrame,
    rid_col: str,
    row_col: str,
    label_col: str,
    what: str,
    *,
    lines: bool = False,
) -> list[tuple[str, int | None, LabelValue]]:
    """Entries from a frame's columns (no row column: ``None`` rows).

    ``lines``: name an entry by its line in a text file with a header (row 0 is line 2).
    """
    present = [str(c) for c in frame.columns]
    for col in (rid_col, label_col):
        if col not in frame.columns:
            raise InvalidArgumentError(
                f"{what} has no column {col!r}; its columns are {present}"[:400],
                hint="name the columns with request_id_column= / label_column= "
                "(--request-id-column / --label-column)",
            )
    rows = frame[row_col].tolist() if row_col in frame.columns else [None] * len(frame)
    out = []
    for i, (rid, row, value) in enumerate(
        zip(frame[rid_col].tolist(), rows, frame[label_col].tolist(), strict=True)
    ):
        where = f"line {i + 2} of {what}" if lines else f"row {i} of {what}"
        out.append((_request_id(rid, where), _row_value(row, where), _label_value(value, where)))
    return out


def attach_labels(
    ws: Workspace,
    labels: Iterable[tuple[str, int | None, Any]] | pd.DataFrame,
) -> FeedbackReport:
    """Attach true outcomes to logged rows, in one transaction.

    Args:
        ws: The workspace (its principal is recorded as the labels' actor).
        labels: ``(request_id, row, label)`` triples, or a frame with columns
            ``request_id``, ``label`` and optionally ``row``. A row of ``None`` (or no
            ``row`` column) means the request's only row; for a request of several rows
            it is reported as a bad row. Labels are numbers, strings or booleans.

    Returns:
        What was attached and replaced, and what was not (unknown request ids, bad rows).

    Raises:
        InvalidArgumentError: An entry is malformed (its label missing, NaN or not a
            scalar, its row negative, its request id empty); nothing is stored then.
    """
    entries = _entries(labels)
    ids = list(dict.fromkeys(rid for rid, _, _ in entries))
    with ws.action(Actions.PREDICTION_LABEL, "predictions:labels", labels=len(entries)) as act:
        log = ws.metadata.predictions
        n_rows: dict[str, int] = {}
        for request in log.list_requests(request_ids=ids):
            n_rows[request.request_id] = max(n_rows.get(request.request_id, 0), request.n_rows)
        unknown = sorted(set(ids) - set(n_rows))
        bad: list[BadRow] = []
        chosen: dict[tuple[str, int], LabelValue] = {}
        for rid, row, value in entries:
            if rid not in n_rows:
                continue
            size = n_rows[rid]
            target = (0 if size == 1 else None) if row is None else row
            if target is None or target >= size:
                bad.append(BadRow(rid, row, size))
                continue
            chosen.pop((rid, target), None)  # the last one wins, in its own place
            chosen[(rid, target)] = value
        had = {(lb.request_id, lb.row) for lb in log.list_labels(list(n_rows))} if chosen else set()
        replaced = sum(1 for key in chosen if key in had)
        now, actor = now_ms(), ws.actor
        act.update(attached=len(chosen), replaced=replaced, unknown=len(unknown), bad_rows=len(bad))
        log.put_labels(
            [Label(rid, row, value, now, actor) for (rid, row), value in chosen.items()],
            audit=act,
        )
    return FeedbackReport(
        attached=len(chosen),
        replaced=replaced,
        unknown_request_ids=unknown[:MAX_LISTED],
        n_unknown=len(unknown),
        bad_rows=bad[:MAX_LISTED],
        n_bad_rows=len(bad),
    )


def import_labels(
    ws: Workspace,
    path: str | Path,
    *,
    request_id_column: str = "request_id",
    row_column: str = "row",
    label_column: str = "label",
) -> FeedbackReport:
    """Attach the labels of a CSV or Parquet file (see :func:`attach_labels`).

    Args:
        ws: The workspace.
        path: The file (CSV, TSV, Parquet, JSON or JSON Lines, by its suffix).
        request_id_column: The column of request ids (read as text).
        row_column: The column of row indexes; without it, each label applies to its
            request's only row (a request of several rows is reported as a bad row).
        label_column: The column of true values.

    Returns:
        The report of :func:`attach_labels`.

    Raises:
        NotFoundError: The file does not exist.
        InvalidArgumentError: The file cannot be read, lacks a column (the message names it
            and the columns present), or a value is malformed (the message names its row).
    """
    from closedloop.data import read_source, resolve_format  # pandas: only for imports

    fmt = resolve_format(path)
    options: dict[str, Any] = {}
    if fmt in ("csv", "tsv"):
        options["dtype"] = {request_id_column: str}  # ids like 007 stay text
    frame = read_source(path, format=fmt, options=options)
    entries = _frame_entries(
        frame,
        request_id_column,
        row_column,
        label_column,
        f"{Path(path).name!r}",
        lines=fmt in ("csv", "tsv"),
    )
    return attach_labels(ws, entries)


def list_labels(
    ws: Workspace,
    request_ids: Sequence[str] | None = None,
    *,
    since: int | None = None,
    until: int | None = None,
) -> list[Label]:
    """Attached labels, by request id then row.

    Args:
        ws: The workspace.
        request_ids: Only the labels of these requests; ``None``: all.
        since: Only labels attached at or after this time (epoch milliseconds).
        until: Only labels attached before this time (epoch milliseconds).
    """
    with ws.action(Actions.PREDICTION_READ, "predictions:labels") as act:
        labels = ws.metadata.predictions.list_labels(request_ids, since=since, until=until)
        act.update(labels=len(labels))
    return labels
