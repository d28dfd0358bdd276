"""A new SQLite store uses 16 KiB pages; an existing database keeps the page size it has."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from closedloop.metadata import get_metadata_store
from closedloop.metadata._sql._engine import SQLITE_PAGE_SIZE
from closedloop.metadata._sql.store import SqlMetadataStore


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as con:
        return int(con.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_database_gets_large_pages(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = SqlMetadataStore(f"sqlite:///{path}", check_schema=False)
    store.upgrade()
    store.close()
    assert _page_size(path) == SQLITE_PAGE_SIZE == 16384


def test_an_existing_database_keeps_its_pages_and_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA page_size=4096")
        con.execute("CREATE TABLE keep (x INTEGER)")
        con.execute("INSERT INTO keep VALUES (42)")
    store = SqlMetadataStore(f"sqlite:///{path}", check_schema=False)
    store.upgrade()
    store.close()
    assert _page_size(path) == 4096
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT x FROM keep").fetchall() == [(42,)]
    reopened = get_metadata_store(f"sqlite:///{path}")
    reopened.close()
