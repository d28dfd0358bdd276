"""Streaming the prediction log: pages of logged rows as columns, in bounded memory.

:func:`iter_log` reads a model version's requests in logging order from a log position on,
a page at a time, opens and decodes each payload into plain numpy columns (no DataFrame per
request), and yields :class:`LogChunk` objects of about ``page_rows`` rows. A reader that
stops remembers the last position it consumed and resumes after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from closedloop.core import LoggedRequest
from closedloop.errors import StorageError
from closedloop.predictions._codec import (
    FORMAT_COLUMNS,
    LOG_PURPOSE,
    associated_data,
    decode_rows,
)
from closedloop.workspace import Actions, Workspace

__all__ = ["LogChunk", "concat_chunks", "iter_log"]

_DECODER = msgspec.msgpack.Decoder()
#: One payload decoded: columns, labels, probabilities, classes.
_Decoded = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None, tuple[str, ...]]
#: Requests fetched per database round trip.
PAGE_REQUESTS = 2_000


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Consecutive logged rows of one model version, column by column.

    Attributes:
        positions: Per row, its request's log position (non-decreasing).
        request_ids: Per row, its request id.
        rows: Per row, its index within its request.
        times: Per row, its request's time (epoch ms).
        columns: Input column → values (numeric columns as numbers, others as objects).
        labels: The answered label per row (object array).
        probabilities: ``n x len(classes)`` or ``None``.
        classes: The probability columns' classes.
    """

    positions: np.ndarray
    request_ids: np.ndarray
    rows: np.ndarray
    times: np.ndarray
    columns: dict[str, np.ndarray]
    labels: np.ndarray
    probabilities: np.ndarray | None
    classes: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        """Rows in the chunk."""
        return len(self.positions)

    def take(self, start: int, stop: int) -> LogChunk:
        """Rows ``start:stop`` as a chunk (views, no copy)."""
        return LogChunk(
            self.positions[start:stop],
            self.request_ids[start:stop],
            self.rows[start:stop],
            self.times[start:stop],
            {k: v[start:stop] for k, v in self.columns.items()},
            self.labels[start:stop],
            None if self.probabilities is None else self.probabilities[start:stop],
            self.classes,
        )


def _values(kind: str, data: object, n: int) -> np.ndarray:
    if kind == "list":
        out = np.empty(n, dtype=object)
        if n:
            out[:] = data
        return out
    assert isinstance(data, bytes | bytearray | memoryview)
    return np.frombuffer(data, dtype=np.dtype(kind), count=n)


def _decode(
    request: LoggedRequest, plain: bytes
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """One payload as columns (the columnar format without pandas; others through it)."""
    if request.format != FORMAT_COLUMNS:
        old = decode_rows(plain, request.format)
        cols = {str(c): old.inputs[c].to_numpy() for c in old.inputs.columns}
        labels = np.empty(len(old.labels), dtype=object)
        labels[:] = old.labels
        return cols, labels, old.probabilities, tuple(old.classes)
    try:
        doc = _DECODER.decode(plain)
        n = int(doc["n"])
        if "matrix" in doc:
            names, kind, data = doc["matrix"]
            matrix = np.frombuffer(data, dtype=np.dtype(kind)).reshape(n, len(names))
            cols = {str(name): matrix[:, j] for j, name in enumerate(names)}
        else:
            cols = {str(c[0]): _values(c[1], c[2], n) for c in doc["inputs"]}
        kind, data = doc["label"]
        labels = _values(kind, data, n).astype(object)
        classes = tuple(str(c) for c in doc["classes"])
        proba = None
        if doc["proba"] is not None:
            proba = np.frombuffer(doc["proba"], dtype="<f8").reshape(n, len(classes))
    except (msgspec.DecodeError, KeyError, IndexError, TypeError, ValueError) as e:
        raise StorageError(
            f"a prediction log payload is damaged ({type(e).__name__}: {e})",
            hint="run `closedloop verify`; restore the database from a backup",
        ) from e
    return cols, labels, proba, classes


def concat_chunks(chunks: Sequence[LogChunk]) -> LogChunk | None:
    """One chunk of all ``chunks`` in order (``None`` for none).

    A column missing from some chunks is filled there with missing values.
    """
    if not chunks:
        return None
    if len(chunks) == 1:
        return chunks[0]
    names = list(dict.fromkeys(name for c in chunks for name in c.columns))
    columns: dict[str, np.ndarray] = {}
    for name in names:
        parts = [
            c.columns[name] if name in c.columns else np.full(c.n_rows, None, dtype=object)
            for c in chunks
        ]
        if all(p.dtype.kind in "fiub" for p in parts):
            columns[name] = np.concatenate(parts)
        else:
            columns[name] = np.concatenate([p.astype(object) for p in parts])
    classes = chunks[-1].classes
    same = all(c.probabilities is not None and c.classes == classes for c in chunks)
    return LogChunk(
        np.concatenate([c.positions for c in chunks]),
        np.concatenate([c.request_ids for c in chunks]),
        np.concatenate([c.rows for c in chunks]),
        np.concatenate([c.times for c in chunks]),
        columns,
        np.concatenate([c.labels for c in chunks]),
        np.concatenate([c.probabilities for c in chunks if c.probabilities is not None])
        if same
        else None,
        classes if same else (),
    )


def _chunk(
    requests: Sequence[LoggedRequest],
    decoded: list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None, tuple[str, ...]]],
) -> LogChunk:
    parts = []
    for r, (cols, labels, proba, classes) in zip(requests, decoded, strict=True):
        n = len(labels)
        parts.append(
            LogChunk(
                np.full(n, r.position if r.position is not None else -1, dtype=np.int64),
                np.full(n, r.request_id, dtype=object),
                np.arange(n, dtype=np.int64),
                np.full(n, r.time, dtype=np.int64),
                cols,
                labels,
                proba,
                classes,
            )
        )
    merged = concat_chunks(parts)
    assert merged is not None
    return merged


def iter_log(
    ws: Workspace,
    model_version_id: str,
    *,
    after_position: int | None = None,
    until: int | None = None,
    role: str | None = "primary",
    page_rows: int = 50_000,
) -> Iterator[LogChunk]:
    """The logged rows of a model version after a log position, in chunks.

    One ``prediction.read`` action covers the whole read (its detail counts the rows).

    Args:
        ws: The workspace.
        model_version_id: ``<model>/<version>``.
        after_position: Resume after this ``LoggedRequest.position`` (``None``: from the
            start).
        until: Only requests answered before this time (epoch ms).
        role: ``primary`` (default), ``shadow`` or ``None`` for both.
        page_rows: About how many rows a chunk holds (whole requests; at least one).

    Raises:
        CryptoError: A payload was altered or moved to another request.
        ConfigurationError: The log is sealed and the workspace was opened without keys.
        StorageError: A payload is damaged.
    """
    log = ws.metadata.predictions
    sealer = ws.record_sealer(LOG_PURPOSE)
    with ws.action(Actions.PREDICTION_READ, f"model:{model_version_id}", stream=True) as act:
        total = 0
        cursor = after_position
        pending: list[LoggedRequest] = []
        pending_rows = 0
        decoded: list[
            tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None, tuple[str, ...]]
        ] = []
        while True:
            page = log.list_requests(
                model_version_id, role=role, until=until, after_position=cursor, limit=PAGE_REQUESTS
            )
            for r in page:
                plain = r.payload
                if r.key_id is not None:
                    if sealer is None:
                        from closedloop.predictions._records import open_request

                        open_request(sealer, r)  # raises the explanatory error
                    assert sealer is not None
                    plain = sealer.open(
                        r.key_id,
                        r.payload,
                        associated_data(r.request_id, r.model_version_id, r.role, r.n_rows),
                    )
                pending.append(r)
                decoded.append(_decode(r, plain))
                pending_rows += r.n_rows
                if pending_rows >= page_rows:
                    total += pending_rows
                    yield _chunk(pending, decoded)
                    pending, decoded, pending_rows = [], [], 0
            if len(page) < PAGE_REQUESTS:
                break
            cursor = page[-1].position
        if pending:
            total += pending_rows
            yield _chunk(pending, decoded)
        act.update(rows=total)
