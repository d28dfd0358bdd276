"""Sealed log records: build a :class:`LoggedRequest` from scored rows, and open one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from closedloop.core import LoggedRequest
from closedloop.crypto import RecordSealer
from closedloop.errors import ConfigurationError
from closedloop.predictions._codec import (
    FORMAT_COLUMNS,
    FORMAT_JSON_ROWS,
    DecodedRows,
    associated_data,
    decode_rows,
    encode_rows,
)

__all__ = ["logged_request", "open_request"]


def logged_request(
    sealer: RecordSealer | None,
    *,
    request_id: str,
    time: int,
    model_version_id: str,
    endpoint: str | None,
    role: str,
    columns: Mapping[str, np.ndarray],
    labels: np.ndarray,
    probabilities: np.ndarray | None,
    classes: Sequence[str],
    latency_ms: float,
    matrix: np.ndarray | None = None,
) -> LoggedRequest:
    """The log record of one request as one version scored it, its payload sealed.

    Args:
        sealer: The workspace's sealer for the log (``None``: no keys, stored plain).
        request_id: The request.
        time: When it was answered (epoch ms).
        model_version_id: The version that scored it.
        endpoint: The endpoint it came through.
        role: ``primary`` or ``shadow``.
        columns: The validated input columns.
        labels: One label per row.
        probabilities: ``n_rows x len(classes)`` or ``None``.
        classes: The probability columns' classes.
        latency_ms: The request's latency.
        matrix: The inputs as one float64 matrix, when every column is numeric.
    """
    n_rows = len(labels)
    plain = encode_rows(columns, labels, probabilities, classes, matrix)
    key_id: str | None = None
    payload = plain
    if sealer is not None:
        key_id, payload = sealer.seal(
            plain, associated_data(request_id, model_version_id, role, n_rows)
        )
    return LoggedRequest(
        request_id=request_id,
        time=time,
        model_version_id=model_version_id,
        endpoint=endpoint,
        role=role,
        n_rows=n_rows,
        latency_ms=latency_ms,
        format=FORMAT_COLUMNS,
        key_id=key_id,
        payload=payload,
    )


def open_request(sealer: RecordSealer | None, request: LoggedRequest) -> DecodedRows:
    """The rows of a logged request, its payload authenticated and decrypted.

    Raises:
        ConfigurationError: The payload is sealed but the workspace has no keys.
        CryptoError: The payload was altered or moved from another row.
        StorageError: The payload's format is unknown.
    """
    data = request.payload
    if request.key_id is not None:
        if sealer is None:
            raise ConfigurationError(
                f"prediction log request {request.request_id} is sealed, and this workspace "
                "was opened without keys",
                hint="open the workspace with its key file (closedloop.Workspace.open)",
            )
        data = sealer.open(
            request.key_id,
            data,
            associated_data(
                request.request_id, request.model_version_id, request.role, request.n_rows
            ),
        )
    return decode_rows(data, request.format if request.format else FORMAT_JSON_ROWS)
