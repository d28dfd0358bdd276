"""``SqlPredictionLog``: the durable log of answered requests, one row per request and version.

The payload (inputs and outputs of every row) arrives sealed; this store never sees it in
the clear. Writes come in groups (the server's log writer commits many requests in one
transaction), so one insert statement carries them all.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, insert, select

from closedloop.core import Audit, Label, LoggedRequest, Refusal, commit_audit
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._appender import SqlRequestAppender
from closedloop.metadata._sql._db import Database, audit_row, dumps
from closedloop.metadata._sql.tables import (
    audit_events,
    prediction_labels,
    prediction_refusals,
    prediction_requests,
)

__all__ = ["SqlPredictionLog"]

_IN_CHUNK = 500  # ids per IN (...) list


class SqlPredictionLog:
    """The durable prediction log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append_requests(
        self, items: Sequence[LoggedRequest], *, audits: Sequence[Audit] = ()
    ) -> None:
        """Append requests and their audit events in one transaction (all or nothing)."""
        if not items and not audits:
            return
        rows = [
            {
                "request_id": r.request_id,
                "time": r.time,
                "model_version_id": r.model_version_id,
                "endpoint": r.endpoint,
                "role": r.role,
                "n_rows": r.n_rows,
                "latency_ms": r.latency_ms,
                "format": r.format,
                "key_id": r.key_id,
                "payload": r.payload,
            }
            for r in items
        ]
        with self._db.write() as conn:
            if rows:
                conn.execute(insert(prediction_requests), rows)
            # Pending events are built inside the transaction, so they commit with the rows.
            events = [e for e in (commit_audit(a) for a in audits) if e is not None]
            if events:
                conn.execute(insert(audit_events), [audit_row(e) for e in events])

    def appender(self) -> SqlRequestAppender:
        """A dedicated appender for one writer thread (see ``SqlRequestAppender``)."""
        return SqlRequestAppender(self._db.engine, self._db.uri)

    def _filtered(
        self,
        q: Any,
        model_version_id: str | None,
        endpoint: str | None,
        role: str | None,
        since: int | None,
        until: int | None,
    ) -> Any:
        t = prediction_requests.c
        if model_version_id is not None:
            q = q.where(t.model_version_id == model_version_id)
        if endpoint is not None:
            q = q.where(t.endpoint == endpoint)
        if role is not None:
            q = q.where(t.role == role)
        if since is not None:
            q = q.where(t.time >= since)
        if until is not None:
            q = q.where(t.time < until)
        return q

    def count(
        self,
        model_version_id: str | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> int:
        """Number of logged rows (the sum of the requests' ``n_rows``)."""
        q = select(func.coalesce(func.sum(prediction_requests.c.n_rows), 0))
        q = self._filtered(q, model_version_id, endpoint, role, since, until)
        with self._db.read() as conn:
            return int(conn.execute(q).scalar_one())

    def list_requests(
        self,
        model_version_id: str | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
        request_ids: Collection[str] | None = None,
        limit: int | None = None,
        after_position: int | None = None,
    ) -> builtins.list[LoggedRequest]:
        """Requests in logging order."""
        q = select(prediction_requests).order_by(prediction_requests.c.id)
        q = self._filtered(q, model_version_id, endpoint, role, since, until)
        if after_position is not None:
            q = q.where(prediction_requests.c.id > after_position)
        if request_ids is not None:
            ids = list(dict.fromkeys(request_ids))
            if not ids:
                return []
            out: builtins.list[LoggedRequest] = []
            with self._db.read() as conn:
                for i in range(0, len(ids), _IN_CHUNK):
                    part = q.where(prediction_requests.c.request_id.in_(ids[i : i + _IN_CHUNK]))
                    out.extend(_request(r) for r in conn.execute(part))
            out.sort(key=lambda r: (r.time, r.request_id))
            return out[:limit] if limit is not None else out
        if limit is not None:
            q = q.limit(limit)
        with self._db.read() as conn:
            return [_request(r) for r in conn.execute(q)]

    def known_request_ids(self, request_ids: Collection[str]) -> set[str]:
        """Those of ``request_ids`` that are logged (for any version)."""
        ids = list(dict.fromkeys(request_ids))
        found: set[str] = set()
        col = prediction_requests.c.request_id
        with self._db.read() as conn:
            for i in range(0, len(ids), _IN_CHUNK):
                q = select(col).where(col.in_(ids[i : i + _IN_CHUNK])).distinct()
                found.update(conn.execute(q).scalars())
        return found

    def put_labels(self, labels: Sequence[Label], *, audit: Audit | None = None) -> None:
        """Attach labels in one transaction; a later label for a row replaces the earlier."""
        with self._db.write() as conn:
            if labels:
                rows = [
                    {
                        "request_id": lb.request_id,
                        "row": lb.row,
                        "label": dumps(lb.label),
                        "time": lb.time,
                        "actor": lb.actor[:255],
                    }
                    for lb in labels
                ]
                stmt = self._db.insert(prediction_labels)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["request_id", "row"],
                    set_={
                        "label": stmt.excluded.label,
                        "time": stmt.excluded.time,
                        "actor": stmt.excluded.actor,
                    },
                )
                conn.execute(stmt, rows)
            self._db.audit(conn, audit, labels=len(labels))

    def list_labels(
        self,
        request_ids: Collection[str] | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
    ) -> builtins.list[Label]:
        """Labels, by request id then row."""
        t = prediction_labels.c
        q = select(prediction_labels).order_by(t.request_id, t.row)
        if since is not None:
            q = q.where(t.time >= since)
        if until is not None:
            q = q.where(t.time < until)
        with self._db.read() as conn:
            if request_ids is None:
                rows = builtins.list(conn.execute(q))
            else:
                ids = builtins.list(dict.fromkeys(request_ids))
                rows = []
                for i in range(0, len(ids), _IN_CHUNK):
                    rows.extend(conn.execute(q.where(t.request_id.in_(ids[i : i + _IN_CHUNK]))))
                rows.sort(key=lambda r: (r.request_id, r.row))
        return [Label(r.request_id, r.row, json.loads(r.label), r.time, r.actor) for r in rows]

    # refused requests --------------------------------------------------------------------
    def append_refusals(self, refusals: Sequence[Refusal]) -> None:
        """Count refused scoring requests (one row each)."""
        if not refusals:
            return
        with self._db.write() as conn:
            conn.execute(
                insert(prediction_refusals),
                [
                    {
                        "time": r.time,
                        "endpoint": r.endpoint,
                        "model_version_id": r.model_version_id,
                        "protocol": r.protocol,
                        "status": r.status,
                        "reason": r.reason,
                    }
                    for r in refusals
                ],
            )

    def count_refusals(
        self,
        *,
        endpoint: str | None = None,
        model_version_id: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> int:
        """Refused requests (``since`` inclusive, ``until`` exclusive, in ms)."""
        t = prediction_refusals.c
        q = select(func.count()).select_from(prediction_refusals)
        if endpoint is not None:
            q = q.where(t.endpoint == endpoint)
        if model_version_id is not None:
            q = q.where(t.model_version_id == model_version_id)
        if since is not None:
            q = q.where(t.time >= since)
        if until is not None:
            q = q.where(t.time < until)
        with self._db.read() as conn:
            return int(conn.execute(q).scalar_one())

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """Nothing: the prediction log references no blob."""
        return set()

    def blob_references(self) -> builtins.list[BlobReference]:
        """Nothing: the prediction log references no blob."""
        return []


def _request(r: Any) -> LoggedRequest:
    return LoggedRequest(
        request_id=r.request_id,
        time=r.time,
        model_version_id=r.model_version_id,
        endpoint=r.endpoint,
        role=r.role,
        n_rows=r.n_rows,
        latency_ms=r.latency_ms,
        format=r.format,
        key_id=r.key_id,
        payload=bytes(r.payload),
        position=int(r.id),
    )
