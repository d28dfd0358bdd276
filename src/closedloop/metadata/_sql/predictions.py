"""``SqlPredictionLog``: the durable log of served predictions, one row per input row."""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Sequence

from sqlalchemy import func, insert, select

from closedloop.core import Audit, Prediction
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql.tables import predictions

__all__ = ["SqlPredictionLog"]


class SqlPredictionLog:
    """The durable prediction log: one row per predicted input row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, items: Sequence[Prediction], *, audit: Audit | None = None) -> None:
        """Append predictions (and the request's audit event) in one transaction."""
        if not items:
            return
        rows = [
            {
                "request_id": p.request_id,
                "row": p.row,
                "time": p.time,
                "model_version_id": p.model_version_id,
                "inputs": dumps(dict(p.inputs)),
                "output": dumps(p.output),
                "latency_ms": p.latency_ms,
            }
            for p in items
        ]
        with self._db.write() as conn:
            conn.execute(insert(predictions), rows)
            self._db.audit(conn, audit)

    def count(self, model_version_id: str | None = None) -> int:
        """How many predictions are logged (for one model version)."""
        q = select(func.count()).select_from(predictions)
        if model_version_id is not None:
            q = q.where(predictions.c.model_version_id == model_version_id)
        with self._db.read() as conn:
            return int(conn.execute(q).scalar_one())

    def list(
        self,
        model_version_id: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[Prediction]:
        """Predictions in logging order, optionally for one version and a time window."""
        q = select(predictions).order_by(predictions.c.id)
        if model_version_id is not None:
            q = q.where(predictions.c.model_version_id == model_version_id)
        if since is not None:
            q = q.where(predictions.c.time >= since)
        if until is not None:
            q = q.where(predictions.c.time < until)
        if limit is not None:
            q = q.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        return [
            Prediction(
                request_id=r.request_id,
                row=r.row,
                time=r.time,
                model_version_id=r.model_version_id,
                inputs=json.loads(r.inputs),
                output=json.loads(r.output),
                latency_ms=r.latency_ms,
            )
            for r in rows
        ]

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """Nothing: the prediction log references no blob."""
        return set()

    def blob_references(self) -> builtins.list[BlobReference]:
        """Nothing: the prediction log references no blob."""
        return []
