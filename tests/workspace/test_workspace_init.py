"""``Workspace.init``: folders, key file, config template and database schema."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from closedloop.config import load_settings
from closedloop.crypto import Keyring
from closedloop.errors import SchemaVersionError, StorageError
from closedloop.metadata import get_metadata_store
from closedloop.metadata._sql.tables import SCHEMA_HEAD
from closedloop.workspace import Workspace


def test_init_creates_the_workspace_layout(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    report = Workspace.init(folder)
    state = folder / ".closedloop"

    assert (state / "closedloop.db").is_file()
    assert (state / "artifacts").is_dir()
    key = state / "keys" / "workspace.key"
    assert key.is_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (state / "closedloop.yaml").is_file()

    assert report.created_key is True
    assert report.created_schema is True
    assert report.created_config is True
    loc = report.location
    assert loc.root == folder.resolve()
    assert loc.state_dir == folder.resolve() / ".closedloop"
    assert loc.key_file == folder.resolve() / ".closedloop" / "keys" / "workspace.key"
    assert loc.metadata_uri == f"sqlite:///{folder.resolve() / '.closedloop' / 'closedloop.db'}"
    assert loc.artifact_uri == str(folder.resolve() / ".closedloop" / "artifacts")


def test_init_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    report = Workspace.init()
    assert report.location.root == folder.resolve()
    assert (folder / ".closedloop" / "closedloop.db").is_file()


def test_key_file_is_a_loadable_keyring(root: Path) -> None:
    ring = Keyring.load(root / ".closedloop" / "keys" / "workspace.key")
    assert len(ring.key_ids) == 1
    assert ring.active_key_id == ring.key_ids[0]


def test_config_template_is_all_comments_and_loads(root: Path) -> None:
    text = (root / ".closedloop" / "closedloop.yaml").read_text(encoding="utf-8")
    assert "metadata_uri" in text
    assert "artifact_uri" in text
    assert all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())
    settings = load_settings(environ={}, cwd=root)
    assert settings.workspace == str(root)
    assert settings.metric_buffer_size == 10_000
    # Every setting a user may put in the file is named there (storage_options is a mapping
    # for fsspec, documented in the README; workspace is where the file itself lives).
    documented = {f"# {name}:" for name in type(settings).model_fields}
    missing = {d for d in documented if d not in text} - {"# workspace:", "# storage_options:"}
    assert not missing


def test_init_again_keeps_key_config_and_data(root: Path) -> None:
    state = root / ".closedloop"
    key_bytes = (state / "keys" / "workspace.key").read_bytes()
    (state / "closedloop.yaml").write_text("metric_buffer_size: 5\n", encoding="utf-8")
    with Workspace.open(root) as ws:
        ws.metadata.get_or_create_experiment("p", "e")

    report = Workspace.init(root)

    assert report.created_key is False
    assert report.created_schema is False
    assert report.created_config is False
    assert (state / "keys" / "workspace.key").read_bytes() == key_bytes
    assert (state / "closedloop.yaml").read_text(encoding="utf-8") == "metric_buffer_size: 5\n"
    with Workspace.open(root) as ws:
        assert [(e.project, e.name) for e in ws.metadata.list_experiments("p")] == [("p", "e")]


def test_init_completes_a_workspace_missing_its_key(root: Path) -> None:
    key = root / ".closedloop" / "keys" / "workspace.key"
    key.unlink()
    report = Workspace.init(root)
    assert report.created_key is True
    assert report.created_schema is False
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_database_is_in_wal_mode(root: Path) -> None:
    con = sqlite3.connect(root / ".closedloop" / "closedloop.db")
    try:
        (mode,) = con.execute("PRAGMA journal_mode").fetchone()
    finally:
        con.close()
    assert mode == "wal"


def test_database_schema_is_at_head_after_init(root: Path) -> None:
    store = get_metadata_store(f"sqlite:///{root / '.closedloop' / 'closedloop.db'}")
    try:
        assert store.schema_revision() == SCHEMA_HEAD
    finally:
        store.close()


def test_init_refuses_a_database_at_an_older_schema(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "0000" stands for an older released revision the migrations still know.
    monkeypatch.setattr(
        "closedloop.metadata._sql._engine.known_revisions", lambda: ["0000", SCHEMA_HEAD]
    )
    con = sqlite3.connect(root / ".closedloop" / "closedloop.db")
    with con:
        con.execute("UPDATE closedloop_alembic_version SET version_num = '0000'")
    con.close()
    with pytest.raises(SchemaVersionError) as info:
        Workspace.init(root)
    assert "closedloop db upgrade" in (info.value.hint or "")


def test_init_on_a_corrupt_database_raises_a_closedloop_error(tmp_path: Path) -> None:
    state = tmp_path / "bad" / ".closedloop"
    state.mkdir(parents=True)
    (state / "closedloop.db").write_bytes(b"this is not a database " * 100)
    with pytest.raises(StorageError):
        Workspace.init(tmp_path / "bad")
