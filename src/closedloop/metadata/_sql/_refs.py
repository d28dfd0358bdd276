"""Helpers the SQL domain stores share: version references, named parents, digest columns."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Column, Connection, Table, select

from closedloop.core import now_ms
from closedloop.errors import InvalidArgumentError
from closedloop.metadata._sql._db import Database

__all__ = ["named_id", "referenced_in", "split_ref"]


def split_ref(ref: str) -> tuple[str, str]:
    """``"adult@champion"`` → ``("adult", "champion")``; ``"adult/3"`` → ``("adult", "3")``.

    Raises:
        InvalidArgumentError: ``ref`` names no version.
    """
    for sep in ("@", "/"):
        if sep in ref:
            name, _, selector = ref.partition(sep)
            if name and selector:
                return name, selector
    raise InvalidArgumentError(
        f"{ref!r} does not name a version",
        hint="write <name>@<alias|latest|digest prefix> or <name>/<version number>",
    )


def named_id(conn: Connection, table: Table, name: str, db: Database) -> int:
    """The id of the row called ``name`` in ``datasets``/``models``, inserted if new."""
    conn.execute(
        db.insert(table)
        .values(name=name, created_at=now_ms())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return int(conn.execute(select(table.c.id).where(table.c.name == name)).scalar_one())


def referenced_in(
    db: Database, column: Column[Any], among: Collection[str] | None = None
) -> set[str]:
    """The distinct digests in ``column`` (only those in ``among`` when it is given)."""
    q = select(column).distinct()
    if among is not None:
        q = q.where(column.in_(list(among)))
    with db.read() as conn:
        return set(conn.execute(q).scalars())
