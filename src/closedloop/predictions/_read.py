"""Reading the prediction log: counts, decoded rows and columnar frames, oldest first.

Serving logs one sealed :class:`~closedloop.core.LoggedRequest` per answered request and
model version. These verbs go through the gate (``prediction.read``, recorded under the
default read-audit policy), open the payloads with the workspace's log sealer and decode
them: :func:`list_predictions` into :class:`~closedloop.core.Prediction` rows (the CLI,
small listings), :func:`read_predictions` into one frame built by concatenating the decoded
payloads (monitoring, evaluation on labelled traffic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from closedloop.core import LoggedRequest, ModelVersion, Prediction
from closedloop.predictions._codec import LOG_PURPOSE, DecodedRows
from closedloop.predictions._records import open_request
from closedloop.workspace import Actions, Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LOG_COLUMNS",
    "count_predictions",
    "list_predictions",
    "read_predictions",
    "version_id",
]

#: The columns :func:`read_predictions` adds after the inputs (an input of the same name
#: keeps its name; the log column is then given with a leading underscore).
LOG_COLUMNS = (
    "request_id",
    "row",
    "time",
    "model_version_id",
    "endpoint",
    "role",
    "latency_ms",
    "prediction",
)
PROBA_PREFIX = "proba_"


def version_id(model_version: str | ModelVersion | None) -> str | None:
    """The id of ``model_version`` (a version or its id), or ``None``."""
    return model_version.id if isinstance(model_version, ModelVersion) else model_version


def _resource(version: str | None, endpoint: str | None) -> str:
    return f"model:{version or '*'}" + (f" endpoint:{endpoint}" if endpoint else "")


def count_predictions(
    ws: Workspace,
    model_version: str | ModelVersion | None = None,
    *,
    endpoint: str | None = None,
    role: str | None = None,
    since: int | None = None,
    until: int | None = None,
) -> int:
    """How many rows are logged for a model version (or for all versions).

    Args:
        ws: The workspace.
        model_version: A :class:`~closedloop.core.ModelVersion` or its id (``name/3``);
            ``None`` counts every version's rows.
        endpoint: Only requests that came through this endpoint.
        role: Only ``primary`` (answered) or ``shadow`` (scored, not sent) requests.
        since: Only requests answered at or after this time (epoch milliseconds).
        until: Only requests answered before this time (epoch milliseconds).

    Returns:
        The number of logged rows (the requests' row counts summed).
    """
    vid = version_id(model_version)
    with ws.action(Actions.PREDICTION_READ, _resource(vid, endpoint)):
        return ws.metadata.predictions.count(
            vid, endpoint=endpoint, role=role, since=since, until=until
        )


def _requests(
    ws: Workspace,
    vid: str | None,
    rows: int | None,
    **filters: Any,
) -> list[LoggedRequest]:
    """Logged requests in logging order, enough of them to hold ``rows`` rows (or all)."""
    log = ws.metadata.predictions
    if rows is None:
        return log.list_requests(vid, **filters)
    wanted = max(rows, 1)
    while True:
        requests = log.list_requests(vid, limit=wanted, **filters)
        if len(requests) < wanted or sum(r.n_rows for r in requests) >= rows:
            return requests
        wanted *= 2  # requests without rows: look further


def _opened(ws: Workspace, requests: Sequence[LoggedRequest]) -> list[DecodedRows]:
    sealer = ws.record_sealer(LOG_PURPOSE)
    return [open_request(sealer, r) for r in requests]


def _native(value: Any) -> Any:
    """A decoded cell as a plain Python value (missing → ``None``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str | int | float):  # the common cells: no pandas lookup per cell
        return value
    import pandas as pd

    return None if value is pd.NaT else value


def _rows(request: LoggedRequest, decoded: DecodedRows) -> list[Prediction]:
    records = decoded.inputs.to_dict(orient="records")
    out: list[Prediction] = []
    for i, label in enumerate(decoded.labels):
        probabilities = (
            None
            if decoded.probabilities is None
            else {
                c: float(p) for c, p in zip(decoded.classes, decoded.probabilities[i], strict=True)
            }
        )
        inputs = {str(k): _native(v) for k, v in records[i].items()} if records else {}
        out.append(
            Prediction(
                request_id=request.request_id,
                row=i,
                time=request.time,
                model_version_id=request.model_version_id,
                inputs=inputs,
                output={"label": _native(label), "probabilities": probabilities},
                latency_ms=request.latency_ms,
                endpoint=request.endpoint,
                role=request.role,
            )
        )
    return out


def list_predictions(
    ws: Workspace,
    model_version: str | ModelVersion | None = None,
    *,
    endpoint: str | None = None,
    role: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int | None = None,
) -> list[Prediction]:
    """Logged rows of a model version (or of all versions), decoded, oldest first.

    Args:
        ws: The workspace.
        model_version: A :class:`~closedloop.core.ModelVersion` or its id (``name/3``);
            ``None`` lists the rows of every version.
        endpoint: Only requests that came through this endpoint.
        role: Only ``primary`` or ``shadow`` requests.
        since: Only requests answered at or after this time (epoch milliseconds).
        until: Only requests answered before this time (epoch milliseconds).
        limit: At most this many rows (the oldest first); ``None`` lists all.

    Returns:
        One :class:`~closedloop.core.Prediction` per logged row: its request id, row,
        inputs (plain Python values, missing ones ``None``), ``output``
        (``{"label": ..., "probabilities": {class: p} or None}``) and latency.

    Raises:
        CryptoError: A payload was altered or moved to another request.
        ConfigurationError: The log is sealed and the workspace was opened without keys.
    """
    vid = version_id(model_version)
    with ws.action(Actions.PREDICTION_READ, _resource(vid, endpoint)) as act:
        requests = _requests(ws, vid, limit, endpoint=endpoint, role=role, since=since, until=until)
        rows: list[Prediction] = []
        for request, decoded in zip(requests, _opened(ws, requests), strict=True):
            rows.extend(_rows(request, decoded))
        rows = rows[:limit] if limit is not None else rows
        act.update(rows=len(rows))
    return rows


def _frame(request: LoggedRequest, decoded: DecodedRows) -> pd.DataFrame:
    import pandas as pd

    inputs = decoded.inputs.reset_index(drop=True)
    n = len(decoded.labels)
    if len(inputs.columns) == 0:
        inputs = pd.DataFrame(index=pd.RangeIndex(n))
    log: dict[str, Any] = {
        "request_id": np.full(n, request.request_id, dtype=object),
        "row": np.arange(n, dtype=np.int64),
        "time": np.full(n, request.time, dtype=np.int64),
        "model_version_id": np.full(n, request.model_version_id, dtype=object),
        "endpoint": np.full(n, request.endpoint, dtype=object),
        "role": np.full(n, request.role, dtype=object),
        "latency_ms": np.full(n, request.latency_ms, dtype=np.float64),
        "prediction": pd.Series(decoded.labels, dtype=object).to_numpy(),
    }
    if decoded.probabilities is not None:
        for j, c in enumerate(decoded.classes):
            log[f"{PROBA_PREFIX}{c}"] = decoded.probabilities[:, j]
    taken = set(inputs.columns)
    log = {(f"_{k}" if k in taken else k): v for k, v in log.items()}
    return pd.concat([inputs, pd.DataFrame(log, index=inputs.index)], axis=1)


def _empty_frame(with_labels: bool) -> pd.DataFrame:
    import pandas as pd

    columns = [*LOG_COLUMNS, *(["label"] if with_labels else [])]
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def read_predictions(
    ws: Workspace,
    model_version: str | ModelVersion | None = None,
    *,
    endpoint: str | None = None,
    role: str | None = "primary",
    since: int | None = None,
    until: int | None = None,
    with_labels: bool = False,
) -> pd.DataFrame:
    """The logged rows as one frame (one row per logged row, oldest first).

    Columns: the input columns as logged (the union over versions, missing → NaN/None),
    then ``request_id``, ``row``, ``time`` (epoch ms), ``model_version_id``, ``endpoint``,
    ``role``, ``latency_ms``, ``prediction`` (the answered label) and one
    ``proba_<class>`` column per class (when the model gave probabilities); with
    ``with_labels``, ``label``: the attached true value, ``None`` where none is. A log
    column whose name an input column has is given as ``_<name>``.

    Args:
        ws: The workspace.
        model_version: A :class:`~closedloop.core.ModelVersion` or its id; ``None``: every
            version.
        endpoint: Only requests that came through this endpoint.
        role: ``primary`` (default: what callers were answered), ``shadow``, or ``None``
            for both.
        since: Only requests answered at or after this time (epoch milliseconds).
        until: Only requests answered before this time (epoch milliseconds).
        with_labels: Join the labels attached by feedback (by request id and row).

    Returns:
        The frame, with a ``RangeIndex``.

    Raises:
        CryptoError: A payload was altered or moved to another request.
        ConfigurationError: The log is sealed and the workspace was opened without keys.
    """
    import pandas as pd

    vid = version_id(model_version)
    with ws.action(Actions.PREDICTION_READ, _resource(vid, endpoint)) as act:
        requests = _requests(ws, vid, None, endpoint=endpoint, role=role, since=since, until=until)
        frames = [_frame(r, d) for r, d in zip(requests, _opened(ws, requests), strict=True)]
        if not frames:
            act.update(rows=0)
            return _empty_frame(with_labels)
        frame = pd.concat(frames, ignore_index=True, sort=False)
        if with_labels:
            labels = ws.metadata.predictions.list_labels(
                list(dict.fromkeys(r.request_id for r in requests))
            )
            known = {(lb.request_id, lb.row): lb.label for lb in labels}
            rid = "_request_id" if "_request_id" in frame.columns else "request_id"
            row = "_row" if "_row" in frame.columns else "row"
            keys = zip(frame[rid].tolist(), frame[row].tolist(), strict=True)
            name = "_label" if "label" in frame.columns else "label"
            frame[name] = pd.Series([known.get(k) for k in keys], dtype=object)
        act.update(rows=len(frame))
    return frame
