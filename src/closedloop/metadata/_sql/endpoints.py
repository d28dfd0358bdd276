"""``SqlEndpointStore``: named endpoints (weighted routes and shadows) as JSON specs."""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from closedloop.core import Audit, AuditEvent, Endpoint, Route, commit_audit, now_ms
from closedloop.errors import NotFoundError
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql.tables import endpoints

__all__ = ["SqlEndpointStore"]

_LIST_HINT = "list them with `closedloop endpoints list`"


class SqlEndpointStore:
    """Endpoints on the ``endpoints`` table (spec: ``{"routes": [...], "shadows": [...]}``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        name: str,
        *,
        routes: Sequence[Route],
        shadows: Sequence[str] = (),
        description: str | None = None,
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> Endpoint:
        """Store a new endpoint; AlreadyExistsError if the name is taken."""
        now = now_ms()
        with self._db.write() as conn:
            event = commit_audit(audit)
            conn.execute(
                insert(endpoints).values(
                    name=name,
                    spec=_spec(routes, shadows),
                    description=description,
                    created_at=now,
                    updated_at=now,
                    updated_by=_who(actor, event),
                )
            )
            Database.audit(conn, event)
            return _get(conn, name)

    def update(
        self,
        name: str,
        *,
        routes: Sequence[Route],
        shadows: Sequence[str],
        description: str | None,
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> Endpoint:
        """Replace the routes, shadows and description of endpoint ``name``."""
        with self._db.write() as conn:
            event = commit_audit(audit)
            result = conn.execute(
                update(endpoints)
                .where(endpoints.c.name == name)
                .values(
                    spec=_spec(routes, shadows),
                    description=description,
                    updated_at=now_ms(),
                    updated_by=_who(actor, event),
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no endpoint {name!r}", hint=_LIST_HINT)
            Database.audit(conn, event)
            return _get(conn, name)

    def get(self, name: str) -> Endpoint:
        """Endpoint ``name``.

        Raises:
            NotFoundError: No endpoint of that name.
        """
        with self._db.read() as conn:
            return _get(conn, name)

    def list(self) -> builtins.list[Endpoint]:
        """Every endpoint, by name."""
        with self._db.read() as conn:
            rows = conn.execute(select(endpoints).order_by(endpoints.c.name)).all()
        return [_endpoint(r) for r in rows]

    def delete(self, name: str, *, audit: Audit | None = None) -> None:
        """Remove endpoint ``name``; NotFoundError if there is none."""
        with self._db.write() as conn:
            if conn.execute(delete(endpoints).where(endpoints.c.name == name)).rowcount == 0:
                raise NotFoundError(f"no endpoint {name!r}", hint=_LIST_HINT)
            self._db.audit(conn, audit)

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """Nothing: an endpoint points at model versions, whose domain reports their blobs."""
        return set()

    def blob_references(self) -> builtins.list[BlobReference]:
        """Nothing: an endpoint references no blob of its own."""
        return []


def _spec(routes: Sequence[Route], shadows: Sequence[str]) -> str:
    return dumps(
        {"routes": [{"ref": r.ref, "weight": r.weight} for r in routes], "shadows": list(shadows)}
    )


def _who(actor: str | None, event: AuditEvent | None) -> str:
    return (actor or (event.actor if event is not None else ""))[:255]


def _get(conn: Connection, name: str) -> Endpoint:
    row = conn.execute(select(endpoints).where(endpoints.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no endpoint {name!r}", hint=_LIST_HINT)
    return _endpoint(row)


def _endpoint(r: Any) -> Endpoint:
    spec = json.loads(r.spec)
    return Endpoint(
        name=r.name,
        routes=tuple(Route(str(x["ref"]), float(x["weight"])) for x in spec["routes"]),
        shadows=tuple(str(s) for s in spec.get("shadows", [])),
        description=r.description,
        created_at=r.created_at,
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )
