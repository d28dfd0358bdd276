"""closedloop's own Alembic version table, and moving old-layout databases to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from closedloop.errors import SchemaVersionError, StorageError
from closedloop.metadata._sql import SqlMetadataStore
from closedloop.metadata._sql._engine import (
    _alembic_config,
    _scripts,
    check_schema,
    create_store_engine,
)
from closedloop.metadata._sql._version_table import LEGACY_TABLE
from closedloop.metadata._sql.tables import SCHEMA_HEAD, VERSION_TABLE

RUN_ID = "a" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (PostgreSQL: a fresh schema, see ``pg_url``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'v.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def _migrate(uri: str, command_name: str, revision: str) -> None:
    from alembic import command

    engine = create_store_engine(uri)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, command_name)(config, revision)
    engine.dispose()


def _execute(uri: str, *statements: str) -> None:
    engine = create_store_engine(uri)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def _old_layout(uri: str, revision: str) -> None:
    """A database as closedloop before 0003 left it: ``revision`` in ``alembic_version``.

    The old table is made by Alembic itself (its default version table, as it was then).
    """
    from alembic.runtime.migration import MigrationContext

    _migrate(uri, "upgrade", revision)
    engine = create_store_engine(uri)
    with engine.begin() as conn:
        MigrationContext.configure(conn).stamp(_scripts(), revision)
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    engine.dispose()
    _execute(
        uri,
        'INSERT INTO runs (id, experiment_id, name, status, "user", start_time) '
        f"VALUES ('{RUN_ID}', 1, 'old', 'FINISHED', 'me', 5)",
        f"INSERT INTO params (run_id, key, value) VALUES ('{RUN_ID}', 'k', 'v')",
    )


def _open_error(uri: str) -> SchemaVersionError:
    """The error opening the store at ``uri`` raises (its schema check, on an owned engine)."""
    engine = create_store_engine(uri)
    try:
        with pytest.raises(SchemaVersionError) as info:
            check_schema(engine, uri)
    finally:
        engine.dispose()
    return info.value


def _versions(engine: Engine, table: str) -> list[str] | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(table):
            return None
        return sorted(str(r[0]) for r in conn.execute(text(f"SELECT version_num FROM {table}")))


def _tables(uri: str) -> tuple[list[str] | None, list[str] | None]:
    engine = create_engine(uri)
    try:
        return _versions(engine, VERSION_TABLE), _versions(engine, LEGACY_TABLE)
    finally:
        engine.dispose()


def test_a_new_database_records_its_revision_in_closedloops_table(uri: str) -> None:
    store = SqlMetadataStore(uri, check_schema=False)
    assert store.upgrade() == (None, SCHEMA_HEAD)
    store.close()
    assert _tables(uri) == ([SCHEMA_HEAD], None)


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_an_old_layout_says_how_to_upgrade_then_upgrades_keeping_data(
    uri: str, revision: str
) -> None:
    _old_layout(uri, revision)
    error = _open_error(uri)
    assert f"at schema {revision}" in error.message
    assert "closedloop db upgrade" in str(error.hint)
    store = SqlMetadataStore(uri, check_schema=False)
    assert store.schema_revision() == revision
    assert store.upgrade() == (revision, SCHEMA_HEAD)
    store.close()
    assert _tables(uri) == ([SCHEMA_HEAD], None)  # moved; the old table is gone
    store = SqlMetadataStore(uri)
    try:
        run = store.get_run(RUN_ID)
        assert (run.name, dict(run.params)) == ("old", {"k": "v"})
        assert store.upgrade() == (SCHEMA_HEAD, SCHEMA_HEAD)
    finally:
        store.close()


def test_an_old_table_shared_with_another_tool_is_left_alone(uri: str) -> None:
    _old_layout(uri, "0002")
    _execute(uri, f"INSERT INTO {LEGACY_TABLE} (version_num) VALUES ('v3.2.0.a')")
    store = SqlMetadataStore(uri, check_schema=False)
    try:
        assert store.upgrade() == ("0002", SCHEMA_HEAD)
    finally:
        store.close()
    assert _tables(uri) == ([SCHEMA_HEAD], ["0002", "v3.2.0.a"])
    SqlMetadataStore(uri).close()


def test_another_tools_version_table_is_not_a_closedloop_schema(uri: str) -> None:
    _execute(
        uri,
        f"CREATE TABLE {LEGACY_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        f"INSERT INTO {LEGACY_TABLE} (version_num) VALUES ('v3.2.0.a')",
    )
    assert "no closedloop schema" in _open_error(uri).message
    store = SqlMetadataStore(uri, check_schema=False)
    try:
        assert store.schema_revision() is None
        assert store.upgrade() == (None, SCHEMA_HEAD)
    finally:
        store.close()
    assert _tables(uri) == ([SCHEMA_HEAD], ["v3.2.0.a"])


def test_a_failed_upgrade_leaves_the_old_layout_as_it_was(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic.util import CommandError

    _old_layout(uri, "0002")

    def fail(*_args: object, **_kwargs: object) -> None:
        raise CommandError("interrupted")

    monkeypatch.setattr("alembic.command.upgrade", fail)
    store = SqlMetadataStore(uri, check_schema=False)
    try:
        with pytest.raises(StorageError, match="interrupted"):
            store.upgrade()
        assert store.schema_revision() == "0002"
    finally:
        store.close()
    assert _tables(uri) == (None, ["0002"])  # the copied row was rolled back with the rest


def test_downgrading_0003_gives_older_releases_their_table_back(uri: str) -> None:
    _migrate(uri, "upgrade", SCHEMA_HEAD)
    _migrate(uri, "downgrade", "0002")
    assert _tables(uri) == (["0002"], ["0002"])
    store = SqlMetadataStore(uri, check_schema=False)
    try:
        assert store.schema_revision() == "0002"
        assert store.upgrade() == ("0002", SCHEMA_HEAD)
    finally:
        store.close()
    assert _tables(uri) == ([SCHEMA_HEAD], None)
