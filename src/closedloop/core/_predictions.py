"""The prediction log's records (no I/O): requests as stored, rows as read, labels.

Serving logs one :class:`LoggedRequest` per answered request and model version: its ids,
time, version, endpoint, role, row count and latency in the clear, and the rows' inputs and
outputs in ``payload`` (sealed with a workspace data key). Reading the log decodes payloads
into :class:`Prediction` rows or frames. :class:`Label` is ground truth that arrives later
and joins a logged row by request id and row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROLES", "Label", "LoggedRequest", "Prediction"]

#: A request's role for a model version: it answered (``primary``) or only saw it.
ROLES = ("primary", "shadow")


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One answered request as one model version scored it, as the log stores it.

    Attributes:
        request_id: The serving request (with ``model_version_id``, the log's key).
        time: Epoch milliseconds when it was answered.
        model_version_id: ``<model>/<version>`` that scored it.
        endpoint: The endpoint it came through (``None``: served without one).
        role: ``primary`` (its answer was sent) or ``shadow`` (scored, never sent).
        n_rows: How many rows the request had.
        latency_ms: From the first byte of the request to its answer being committed.
        format: How ``payload`` is encoded: ``columns/1`` or ``json-rows/1`` (moved from the
            per-row log of schema 0003).
        key_id: The workspace key whose derived key sealed ``payload``; ``None``: plain.
        payload: The rows' inputs and outputs.
        position: Its place in the log (increasing in logging order; ``None`` until it is
            stored). Readers resume after a position; equality ignores it.
    """

    request_id: str
    time: int
    model_version_id: str
    endpoint: str | None
    role: str
    n_rows: int
    latency_ms: float
    format: str
    key_id: str | None
    payload: bytes
    position: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Prediction:
    """One logged prediction (one input row), decoded.

    Attributes:
        request_id: The serving request it belongs to (with ``row``, the log's key).
        row: Position of the row in the request.
        time: Epoch milliseconds.
        model_version_id: The model version that served it (``<model>/<version>``).
        inputs: The row's features as received.
        output: What the model answered (label, probabilities, ...).
        latency_ms: Time spent answering the request.
        endpoint: The endpoint it came through, if any.
        role: ``primary`` or ``shadow``.
    """

    request_id: str
    row: int
    time: int
    model_version_id: str
    inputs: Mapping[str, Any]
    output: Any
    latency_ms: float
    endpoint: str | None = None
    role: str = "primary"


@dataclass(frozen=True, slots=True)
class Label:
    """The true outcome of a logged row, attached later (feedback).

    Attributes:
        request_id: The logged request.
        row: The row within it.
        label: The true value (JSON-compatible).
        time: Epoch milliseconds when it was attached (a later label replaces it).
        actor: Who attached it.
    """

    request_id: str
    row: int
    label: Any
    time: int
    actor: str
