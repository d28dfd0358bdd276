"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from closedloop.config import find_workspace_root
from closedloop.workspace import Workspace

PG_ENV = "CLOSEDLOOP_TEST_PG_URL"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer setting leaks into a test."""
    for key in list(os.environ):
        if key.startswith("CLOSEDLOOP_") and key not in (PG_ENV, "CLOSEDLOOP_REQUIRE_PG"):
            monkeypatch.delenv(key)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace at ``tmp_path``, open for the test and closed after it."""
    Workspace.init(tmp_path)
    ws = Workspace.open(tmp_path)
    yield ws
    ws.close()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder with no workspace at or above it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    if find_workspace_root(folder) is not None:  # pragma: no cover - machine-specific
        pytest.skip(f"a parent of {folder} is a closedloop workspace")
    return folder


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards).

    Skips with a message when ``CLOSEDLOOP_TEST_PG_URL`` is not set, unless
    ``CLOSEDLOOP_REQUIRE_PG`` is set (as CI does), where it fails instead.
    """
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CLOSEDLOOP_REQUIRE_PG"):
            pytest.fail(f"{PG_ENV} is not set but CLOSEDLOOP_REQUIRE_PG is")
        pytest.skip(f"PostgreSQL suite skipped: set {PG_ENV}=postgresql+psycopg://user@host/db")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
