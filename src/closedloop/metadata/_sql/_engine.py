"""Engine set-up, transactions with error translation, and schema version management."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from closedloop._fs import create_private_file
from closedloop.errors import AlreadyExistsError, SchemaVersionError, StorageError
from closedloop.metadata._backends import mask_uri
from closedloop.metadata._sql._version_table import move_legacy_revision, read_revision
from closedloop.metadata._sql.tables import SCHEMA_HEAD

__all__ = [
    "MIGRATIONS_DIR",
    "create_store_engine",
    "current_revision",
    "mask_uri",
    "read_scope",
    "upgrade_schema",
    "write_scope",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_WRITE = "closedloop_write"


def _normalise(uri: str) -> str:
    # "postgresql://" means psycopg (v3) here, the driver we install, not psycopg2.
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    return uri


def create_store_engine(uri: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """Create the engine for ``uri`` with the settings closedloop relies on.

    SQLite gets WAL journaling, a busy timeout, foreign keys, ``synchronous=NORMAL`` (durable
    across application crashes; a power loss may drop the last commits) and ``BEGIN
    IMMEDIATE`` for write transactions so that concurrent writers queue on the busy timeout
    instead of failing on a lock upgrade. A new SQLite file is created owner-only (0600, in
    missing folders made 0700); SQLite gives its ``-wal`` and ``-shm`` files the database
    file's mode, so they are owner-only too.
    """
    url = make_url(_normalise(uri))
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private_file(Path(database))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        _configure_sqlite(engine, busy_timeout_ms)
    return engine


#: The page size of a new SQLite database.
SQLITE_PAGE_SIZE = 16384


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        # Effective only while the file is new (before WAL and the first table): 16 KiB
        # pages write a prediction log's 2.6 MB payload in 1.8 ms instead of 2.8 (fewer WAL
        # frames); an existing database keeps its page size.
        cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _translate(exc: SQLAlchemyError, uri: str) -> Exception:
    if isinstance(exc, IntegrityError):
        return AlreadyExistsError(f"conflicting record: {exc.orig}")
    message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if "file is not a database" in message:
        return StorageError(
            f"{mask_uri(uri)} is not a SQLite database (corrupt or another kind of file)",
            hint="point the workspace at another file, or restore it from a backup",
        )
    if isinstance(exc, OperationalError) and "no such table" in message:
        return SchemaVersionError(
            f"the database at {mask_uri(uri)} has no closedloop schema",
            hint="run `closedloop db upgrade` (or `closedloop init`)",
        )
    return StorageError(f"metadata store {mask_uri(uri)} failed: {message}")


@contextlib.contextmanager
def write_scope(engine: Engine, uri: str) -> Iterator[Connection]:
    """A write transaction: commits on success, rolls back on any error.

    SQLAlchemy errors become closedloop errors (``IntegrityError`` → ``AlreadyExistsError``).
    """
    try:
        with engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
            yield conn
    except SQLAlchemyError as e:
        raise _translate(e, uri) from e


@contextlib.contextmanager
def read_scope(engine: Engine, uri: str) -> Iterator[Connection]:
    """A read-only transaction (a consistent snapshot on both backends)."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except SQLAlchemyError as e:
        raise _translate(e, uri) from e


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, ``None`` for an empty database.

    Read from ``tables.VERSION_TABLE``, or from Alembic's default table for a database in
    the layout before revision 0003 (see ``_version_table``).

    Raises:
        StorageError: The database cannot be read (unreachable, or not a database at all).
    """
    try:
        with engine.connect() as conn:
            return read_revision(conn)
    except SQLAlchemyError as e:
        raise _translate(e, engine.url.render_as_string(hide_password=True)) from e


def check_schema(engine: Engine, uri: str) -> None:
    """Raise ``SchemaVersionError`` with the fix unless the database is at ``SCHEMA_HEAD``."""
    revision = current_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    if revision is None:
        raise SchemaVersionError(
            f"the database at {mask_uri(uri)} has no closedloop schema",
            hint="run `closedloop db upgrade` (or `closedloop init` for a new workspace)",
        )
    if revision in known_revisions():
        raise SchemaVersionError(
            f"the database at {mask_uri(uri)} is at schema {revision}, "
            f"this closedloop needs {SCHEMA_HEAD}",
            hint="back it up, then run `closedloop db upgrade`",
        )
    raise SchemaVersionError(
        f"the database at {mask_uri(uri)} is at schema {revision}, newer than this "
        f"closedloop knows ({SCHEMA_HEAD})",
        hint="upgrade closedloop (pip install -U closedloop)",
    )


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _scripts() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def known_revisions() -> list[str]:
    """Every revision the packaged migrations know, oldest first."""
    return [s.revision for s in reversed(list(_scripts().walk_revisions()))]


def upgrade_schema(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Run the packaged Alembic migrations up to ``revision``.

    A database in the layout before 0003 (revision in ``alembic_version``) first has its
    revision copied to ``tables.VERSION_TABLE``, in the same transaction as the migrations.

    Returns:
        The revision before and after.

    Raises:
        SchemaVersionError: The database is at a revision this closedloop does not know
            (written by a newer version).
        StorageError: A migration failed; the transaction is rolled back.
    """
    from alembic import command
    from alembic.util import CommandError

    url = engine.url.render_as_string(hide_password=True)
    before = current_revision(engine)
    if before is not None and before not in known_revisions():
        raise SchemaVersionError(
            f"the database at {mask_uri(url)} is at schema {before}, which this closedloop "
            f"does not know (newest here: {SCHEMA_HEAD})",
            hint="upgrade closedloop (pip install -U closedloop) to use this database",
        )
    config = _alembic_config()
    try:
        with engine.begin() as conn:
            move_legacy_revision(conn, _scripts())
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except CommandError as e:
        raise StorageError(f"migrating {mask_uri(url)} failed: {e}") from e
    except SQLAlchemyError as e:
        raise _translate(e, url) from e
    return before, current_revision(engine)
