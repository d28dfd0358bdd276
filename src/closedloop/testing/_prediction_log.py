"""Filling a workspace's prediction log in tests, the way serving writes it.

Each request goes through :func:`closedloop.predictions.logged_request` (sealed with the
workspace's log sealer when it has keys) and ``PredictionLog.append_requests``, so tests of
the readers, monitoring and the CLI read exactly what a server would have logged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from closedloop.core import LoggedRequest
from closedloop.predictions import LOG_PURPOSE, logged_request
from closedloop.workspace import Workspace

__all__ = ["log_frame", "log_request"]


def log_request(
    ws: Workspace,
    model_version_id: str,
    inputs: pd.DataFrame,
    labels: Sequence[object],
    *,
    request_id: str,
    time: int,
    probabilities: np.ndarray | Sequence[Sequence[float]] | None = None,
    classes: Sequence[str] = (),
    endpoint: str | None = None,
    role: str = "primary",
    latency_ms: float = 1.0,
) -> LoggedRequest:
    """Log one request (its rows ``inputs``, answered ``labels``) and return its record.

    Args:
        ws: The workspace.
        model_version_id: The version that scored it (``name/N``).
        inputs: The request's rows (columns in signature order).
        labels: One answered label per row.
        request_id: Its id.
        time: When it was answered (epoch ms).
        probabilities: ``n_rows x len(classes)``, or ``None``.
        classes: The probability columns' classes.
        endpoint: The endpoint it came through.
        role: ``primary`` or ``shadow``.
        latency_ms: Its latency.
    """
    record = _record(
        ws,
        model_version_id,
        inputs,
        labels,
        request_id=request_id,
        time=time,
        probabilities=probabilities,
        classes=classes,
        endpoint=endpoint,
        role=role,
        latency_ms=latency_ms,
    )
    ws.metadata.predictions.append_requests([record])
    return record


def _record(
    ws: Workspace,
    model_version_id: str,
    inputs: pd.DataFrame,
    labels: Sequence[object],
    *,
    request_id: str,
    time: int,
    probabilities: np.ndarray | Sequence[Sequence[float]] | None,
    classes: Sequence[str],
    endpoint: str | None,
    role: str,
    latency_ms: float,
) -> LoggedRequest:
    return logged_request(
        ws.record_sealer(LOG_PURPOSE),
        request_id=request_id,
        time=time,
        model_version_id=model_version_id,
        endpoint=endpoint,
        role=role,
        columns={str(c): inputs[c].to_numpy() for c in inputs.columns},
        labels=np.asarray(list(labels), dtype=object),
        probabilities=None if probabilities is None else np.asarray(probabilities, dtype=float),
        classes=classes,
        latency_ms=latency_ms,
    )


def log_frame(
    ws: Workspace,
    model_version_id: str,
    frame: pd.DataFrame,
    labels: Sequence[object] | object,
    *,
    t0: int,
    rows_per_request: int = 10,
    prefix: str = "req",
    endpoint: str | None = None,
    role: str = "primary",
) -> list[LoggedRequest]:
    """Log ``frame`` as requests of ``rows_per_request`` rows, in one group commit.

    Request ``k`` is ``<prefix>-<t0>-<k>``, answered at ``t0 + k``. ``labels`` is one label
    per row of ``frame``, or one value every row answered.
    """
    n = len(frame)
    if isinstance(labels, str) or not isinstance(labels, Sequence | np.ndarray):
        answered: list[object] = [labels] * n
    else:
        answered = list(labels)
    records = [
        _record(
            ws,
            model_version_id,
            frame.iloc[start : start + rows_per_request].reset_index(drop=True),
            answered[start : start + rows_per_request],
            request_id=f"{prefix}-{t0}-{k}",
            time=t0 + k,
            probabilities=None,
            classes=(),
            endpoint=endpoint,
            role=role,
            latency_ms=1.0,
        )
        for k, start in enumerate(range(0, n, rows_per_request))
    ]
    ws.metadata.predictions.append_requests(records)
    return records
