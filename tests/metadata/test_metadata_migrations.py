from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from closedloop.errors import SchemaVersionError
from closedloop.metadata import get_metadata_store
from closedloop.metadata._sql import SqlMetadataStore
from closedloop.metadata._sql._engine import MIGRATIONS_DIR
from closedloop.metadata._sql.tables import SCHEMA_HEAD, VERSION_TABLE, metadata


def test_schema_head_constant_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_migrations_create_exactly_the_declared_tables(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    before, after = SqlMetadataStore(uri, check_schema=False).upgrade()
    assert (before, after) == (None, SCHEMA_HEAD)
    engine = create_engine(uri)
    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names()) - {VERSION_TABLE}
        assert tables == set(metadata.tables)
        for name, table in metadata.tables.items():
            assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys())
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    store = SqlMetadataStore(uri, check_schema=False)
    store.upgrade()
    assert store.upgrade() == (SCHEMA_HEAD, SCHEMA_HEAD)


def test_empty_database_says_how_to_upgrade(tmp_path: Path) -> None:
    with pytest.raises(SchemaVersionError) as info:
        get_metadata_store(f"sqlite:///{tmp_path / 'empty.db'}")
    assert "closedloop db upgrade" in str(info.value.hint)


@pytest.mark.parametrize(("revision", "fix"), [("0000", "closedloop db upgrade"), ("9999", "pip")])
def test_other_revisions_name_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, revision: str, fix: str
) -> None:
    # "0000" stands for an older released revision; "9999" for one from a newer closedloop.
    monkeypatch.setattr(
        "closedloop.metadata._sql._engine.known_revisions", lambda: ["0000", SCHEMA_HEAD]
    )
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ('{revision}')"))
    with pytest.raises(SchemaVersionError, match=revision) as info:
        get_metadata_store(uri)
    assert fix in str(info.value.hint)
    engine.dispose()


def test_known_revisions_end_at_the_head() -> None:
    from closedloop.metadata._sql._engine import known_revisions

    assert known_revisions()[-1] == SCHEMA_HEAD


def test_upgrade_refuses_a_database_from_a_newer_closedloop(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} VALUES ('9999')"))
    engine.dispose()
    store = SqlMetadataStore(uri, check_schema=False)
    with pytest.raises(SchemaVersionError, match="9999"):
        store.upgrade()
    store.close()


@pytest.mark.postgres
def test_postgres_upgrade_from_empty(pg_url: str) -> None:
    store = SqlMetadataStore(pg_url, check_schema=False)
    try:
        assert store.upgrade() == (None, SCHEMA_HEAD)
    finally:
        store.close()
    SqlMetadataStore(pg_url).close()


def _at_revision(uri: str, revision: str) -> None:
    from alembic import command

    from closedloop.metadata._sql._engine import _alembic_config, create_store_engine

    engine = create_store_engine(uri)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def test_a_real_older_schema_says_how_to_upgrade_and_upgrades_keeping_data(
    tmp_path: Path,
) -> None:
    uri = f"sqlite:///{tmp_path / 'v1.db'}"
    _at_revision(uri, "0001")
    engine = create_engine(uri)
    with engine.begin() as conn:  # a run recorded by the 0001 schema
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, status, user, start_time) "
                "VALUES ('" + "a" * 32 + "', 1, 'old', 'FINISHED', 'me', 5)"
            )
        )
        conn.execute(
            text("INSERT INTO params (run_id, key, value) VALUES ('" + "a" * 32 + "', 'k', 'v')")
        )
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="0001") as info:
        get_metadata_store(uri)
    assert "closedloop db upgrade" in str(info.value.hint)
    store = SqlMetadataStore(uri, check_schema=False)
    assert store.upgrade() == ("0001", SCHEMA_HEAD)
    store.close()
    store = SqlMetadataStore(uri)
    run = store.get_run("a" * 32)
    assert (run.name, dict(run.params)) == ("old", {"k": "v"})
    assert store.models.list_versions() == []
    store.close()
