"""``SqlAuditLog``: the append-only audit log (``audit_events``).

A write's own event is appended inside that write's transaction by ``Database.audit``; this
store appends events that stand alone (a batch of audited reads) and lists them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import insert, select

from closedloop.core import AuditEvent
from closedloop.metadata._sql._db import Database, audit_row
from closedloop.metadata._sql.tables import audit_events

__all__ = ["SqlAuditLog"]


class SqlAuditLog:
    """Audit events, appended and listed.

    Args:
        db: The database shared with the other stores.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, events: Iterable[AuditEvent]) -> None:
        """Append events in one transaction (nothing is written for none)."""
        rows = [audit_row(e) for e in events]
        if rows:
            with self._db.write() as conn:
                conn.execute(insert(audit_events), rows)

    def list(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Most recent first, optionally filtered by actor, action and time."""
        q = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
        if actor is not None:
            q = q.where(audit_events.c.actor == actor)
        if action is not None:
            q = q.where(audit_events.c.action == action)
        if since is not None:
            q = q.where(audit_events.c.time >= since)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        return [
            AuditEvent(
                time=r.time,
                actor=r.actor,
                action=r.action,
                resource=r.resource,
                outcome=r.outcome,
                detail=json.loads(r.detail),
                id=r.id,
            )
            for r in rows
        ]
