from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop.metadata._sql import SqlMetadataStore
from closedloop.testing import MetadataStoreContract


def _migrated(uri: str) -> SqlMetadataStore:
    fresh = SqlMetadataStore(uri, check_schema=False)
    fresh.upgrade()
    fresh.close()
    return SqlMetadataStore(uri)


class TestSqlite(MetadataStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlMetadataStore]:
        store = _migrated(f"sqlite:///{tmp_path / 'meta.db'}")
        yield store
        store.close()

    def test_sqlite_pragmas(self, store: SqlMetadataStore) -> None:
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.postgres
class TestPostgres(MetadataStoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[SqlMetadataStore]:
        store = _migrated(pg_url)
        assert store.dialect == "postgresql"
        yield store
        store.close()

    def test_uri_hides_password(self, pg_url: str) -> None:
        from sqlalchemy import make_url

        url = make_url(pg_url).set(password="s3cret")
        store = SqlMetadataStore(url.render_as_string(hide_password=False), check_schema=False)
        assert "s3cret" not in store.uri
        store.close()
