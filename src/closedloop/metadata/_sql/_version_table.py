"""Where the schema revision is recorded, and moving it out of Alembic's default table.

Revisions 0001 and 0002 were recorded in Alembic's default table ``alembic_version``, the
table Optuna's RDB storage (and any other Alembic user) keeps its own revision in. From
0003 on closedloop records its revision in :data:`~closedloop.metadata._sql.tables.VERSION_TABLE`.

A database in the old layout still reports its revision here, so opening it raises the
usual "run ``closedloop db upgrade``" error (its revision is older than the head). The
upgrade first copies the revision into the new table, inside the upgrade's transaction
(Alembic, told the new table name, would otherwise see an empty database and try to create
every table again); migration 0003 then drops ``alembic_version`` if nothing but
closedloop's revision is in it, so another tool's version table is never touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from closedloop.metadata._sql.tables import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

__all__ = [
    "LEGACY_REVISIONS",
    "LEGACY_TABLE",
    "legacy_revision",
    "move_legacy_revision",
    "read_revision",
]

#: Alembic's default version table, where revisions 0001 and 0002 were recorded.
LEGACY_TABLE = "alembic_version"

#: The closedloop revisions ever recorded in :data:`LEGACY_TABLE`.
LEGACY_REVISIONS = frozenset({"0001", "0002"})


def _versions(conn: Connection, table: str) -> list[str]:
    return [str(row[0]) for row in conn.execute(text(f"SELECT version_num FROM {table}"))]


def read_revision(conn: Connection) -> str | None:
    """The revision closedloop's schema is at, in either layout; ``None`` for none."""
    if inspect(conn).has_table(VERSION_TABLE):
        versions = _versions(conn, VERSION_TABLE)
        return versions[0] if versions else None
    return legacy_revision(conn)


def legacy_revision(conn: Connection) -> str | None:
    """The revision of a database in the layout before 0003, else ``None``.

    The old layout: no :data:`VERSION_TABLE`, and :data:`LEGACY_TABLE` holds exactly one
    of :data:`LEGACY_REVISIONS` (rows of other tools are ignored).
    """
    inspector = inspect(conn)
    if inspector.has_table(VERSION_TABLE) or not inspector.has_table(LEGACY_TABLE):
        return None
    ours = [v for v in _versions(conn, LEGACY_TABLE) if v in LEGACY_REVISIONS]
    return ours[0] if len(ours) == 1 else None


def move_legacy_revision(conn: Connection, scripts: ScriptDirectory) -> str | None:
    """Record an old-layout database's revision in :data:`VERSION_TABLE`.

    Runs in the caller's transaction, before Alembic; :data:`LEGACY_TABLE` itself is left
    to migration 0003.

    Args:
        conn: A connection inside the upgrade's transaction.
        scripts: The packaged migration scripts.

    Returns:
        The revision copied, ``None`` when the database is not in the old layout.
    """
    from alembic.runtime.migration import MigrationContext

    revision = legacy_revision(conn)
    if revision is not None:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        context.stamp(scripts, revision)
    return revision
