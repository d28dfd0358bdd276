"""``Database``: the engine, URI and transaction helpers shared by the SQL stores."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.dialects import postgresql, sqlite

from closedloop.core import Audit, AuditEvent, commit_audit
from closedloop.metadata._sql import _engine
from closedloop.metadata._sql.tables import audit_events

__all__ = ["Database", "dumps"]


def dumps(value: Any) -> str:
    """JSON text for a stored document (sorted keys, so equal documents compare equal)."""
    return json.dumps(value, sort_keys=True, default=str, allow_nan=True)


class Database:
    """One database: its engine, its masked URI, and scoped transactions.

    Args:
        engine: The engine (owned by the caller, who disposes of it).
        uri: The URI it was made from, used (masked) in error messages.
    """

    def __init__(self, engine: Engine, uri: str) -> None:
        self.engine = engine
        self.uri = uri
        self.dialect = engine.dialect.name

    def write(self) -> AbstractContextManager[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); errors become closedloop's."""
        return _engine.write_scope(self.engine, self.uri)

    def read(self) -> AbstractContextManager[Connection]:
        """A read transaction; errors become closedloop's."""
        return _engine.read_scope(self.engine, self.uri)

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT (with ``on_conflict_*`` support) for ``table``."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @staticmethod
    def audit(conn: Connection, audit: Audit | None, **facts: Any) -> None:
        """Append the write's audit event (if any) inside the caller's transaction.

        A pending event (the gate's action) is built now, from its final detail plus
        ``facts`` (what the write assigned), so it commits with the data it describes.
        """
        event = commit_audit(audit, **facts)
        if event is not None:
            conn.execute(insert(audit_events), [audit_row(event)])


def audit_row(e: AuditEvent) -> dict[str, Any]:
    """The ``audit_events`` row of an event."""
    return {
        "time": e.time,
        "actor": e.actor,
        "action": e.action,
        "resource": e.resource[:512],
        "outcome": e.outcome[:64],
        "detail": dumps(dict(e.detail)),
    }
