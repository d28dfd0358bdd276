"""``Workspace.open``: finding the workspace, URI-only workspaces and schema checks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from closedloop import tracking
from closedloop.config import Settings, load_settings
from closedloop.errors import (
    ConfigurationError,
    CryptoError,
    NotFoundError,
    SchemaVersionError,
    WorkspaceNotFoundError,
)
from closedloop.metadata._sql.tables import SCHEMA_HEAD
from closedloop.workspace import Workspace, resolve_location


# finding it -------------------------------------------------------------------------------------
def test_open_from_a_nested_folder_walks_up(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = root / "src" / "models" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    with Workspace.open() as ws:
        assert ws.location is not None
        assert ws.location.root == root
        assert ws.location.metadata_uri == f"sqlite:///{root / '.closedloop' / 'closedloop.db'}"


def test_open_by_folder_and_by_state_dir(root: Path, outside: Path, monkeypatch) -> None:
    monkeypatch.chdir(outside)
    with Workspace.open(root) as ws:
        assert ws.location is not None
        assert ws.location.root == root
    with Workspace.open(root / ".closedloop") as ws:
        assert ws.location is not None
        assert ws.location.root == root


def test_open_by_env_variable(root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(outside)
    monkeypatch.setenv("CLOSEDLOOP_WORKSPACE", str(root))
    with Workspace.open() as ws:
        assert ws.location is not None
        assert ws.location.root == root


def test_open_without_any_workspace(outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(outside)
    with pytest.raises(WorkspaceNotFoundError) as info:
        Workspace.open()
    err = info.value
    assert "closedloop init" in (err.hint or "")
    assert err.exit_code == 4
    assert err.code == "WORKSPACE_NOT_FOUND"


def test_open_a_named_folder_that_is_no_workspace(outside: Path) -> None:
    with pytest.raises(WorkspaceNotFoundError, match="not a closedloop workspace") as info:
        Workspace.open(outside)
    assert f"closedloop init {outside.resolve()}" in (info.value.hint or "")


def test_open_does_not_create_a_workspace(outside: Path) -> None:
    with pytest.raises(WorkspaceNotFoundError):
        Workspace.open(outside)
    assert not (outside / ".closedloop").exists()


def test_open_with_settings_and_no_name_uses_the_settings_workspace(
    root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    settings = load_settings({"workspace": str(root), "metric_buffer_size": 3}, environ={})
    with Workspace.open(settings=settings) as ws:
        assert ws.location is not None
        assert ws.location.root == root
        assert ws.settings.metric_buffer_size == 3


def test_open_a_named_workspace_with_explicit_settings(
    root: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    with Workspace.open(root, settings=Settings(synchronous_logging=True)) as ws:
        assert ws.location is not None
        assert ws.location.root == root
        assert ws.settings.synchronous_logging is True


# a workspace given only by URIs --------------------------------------------------------------
def test_uri_only_workspace_needs_artifact_uri_and_key_file(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'team.db'}"
    with pytest.raises(ConfigurationError) as info:
        Workspace.open(uri)
    err = info.value
    assert "artifact_uri" in err.message
    assert "key_file" in err.message
    assert "CLOSEDLOOP_ARTIFACT_URI" in (err.hint or "")
    assert "CLOSEDLOOP_KEY_FILE" in (err.hint or "")


def test_uri_only_workspace_names_only_what_is_missing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'team.db'}"
    settings = load_settings(
        {"workspace": uri, "artifact_uri": str(tmp_path / "blobs")}, environ={}
    )
    with pytest.raises(ConfigurationError, match="key_file") as info:
        resolve_location(settings)
    assert "artifact_uri" not in info.value.message


def test_uri_only_workspace_is_not_completed_from_the_cwd_workspace(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root)  # a complete workspace here must not fill the gaps
    with pytest.raises(ConfigurationError):
        Workspace.open(f"sqlite:///{tmp_path / 'team.db'}")


def test_uri_only_workspace_with_all_three_settings_works(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    db = tmp_path / "shared" / "team.db"
    blobs = tmp_path / "shared" / "blobs"
    key = tmp_path / "secrets" / "team.key"
    settings = load_settings(
        {"workspace": f"sqlite:///{db}", "artifact_uri": str(blobs), "key_file": str(key)},
        environ={},
    )
    report = Workspace.init(settings=settings)
    assert report.location.root is None
    assert report.location.state_dir is None
    assert report.created_key
    assert report.created_schema
    assert not report.created_config

    with Workspace.open(settings=settings) as ws:
        assert ws.location is not None
        assert ws.location.root is None
        with tracking.start_run(ws, "e", params={"p": 1}) as run:
            run.log_bytes(b"uri-only-content", "data.bin")
        assert tracking.read_artifact(ws, run.id, "data.bin") == b"uri-only-content"
    assert db.is_file()
    assert key.is_file()
    assert any((blobs / "objects").rglob("*"))
    assert not (outside / ".closedloop").exists()


# schema checks ------------------------------------------------------------------------------
def _drop_database(root: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (root / ".closedloop" / f"closedloop.db{suffix}").unlink(missing_ok=True)


def _set_revision(root: Path, revision: str) -> None:
    con = sqlite3.connect(root / ".closedloop" / "closedloop.db")
    with con:
        con.execute("UPDATE closedloop_alembic_version SET version_num = ?", (revision,))
    con.close()


def test_open_a_database_without_schema(root: Path) -> None:
    _drop_database(root)
    with pytest.raises(SchemaVersionError, match="no closedloop schema") as info:
        Workspace.open(root)
    assert "closedloop db upgrade" in (info.value.hint or "")
    assert info.value.exit_code == 9


def test_open_a_database_at_an_older_schema(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "0000" stands for an older released revision the migrations still know.
    monkeypatch.setattr(
        "closedloop.metadata._sql._engine.known_revisions", lambda: ["0000", SCHEMA_HEAD]
    )
    _set_revision(root, "0000")
    with pytest.raises(SchemaVersionError) as info:
        Workspace.open(root)
    assert "0000" in info.value.message
    assert SCHEMA_HEAD in info.value.message
    assert "closedloop db upgrade" in (info.value.hint or "")


def test_open_a_database_at_a_newer_schema(root: Path) -> None:
    _set_revision(root, "9999")
    with pytest.raises(SchemaVersionError, match="newer") as info:
        Workspace.open(root)
    assert "9999" in info.value.message
    hint = info.value.hint or ""
    assert "upgrade closedloop" in hint
    assert "db upgrade" not in hint


def test_init_repairs_a_workspace_whose_database_was_lost(root: Path) -> None:
    _drop_database(root)
    report = Workspace.init(root)
    assert report.created_schema is True
    assert report.created_key is False
    with Workspace.open(root) as ws:
        assert ws.metadata.schema_revision() == SCHEMA_HEAD


# failures while opening -----------------------------------------------------------------------
def test_open_with_an_unknown_artifact_scheme(root: Path) -> None:
    (root / ".closedloop" / "closedloop.yaml").write_text("artifact_uri: nosuchproto://b/x\n")
    with pytest.raises(ConfigurationError, match="nosuchproto"):
        Workspace.open(root)


def test_open_closes_the_metadata_store_when_the_artifact_store_fails(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closedloop.workspace import _workspace

    (root / ".closedloop" / "closedloop.yaml").write_text("artifact_uri: nosuchproto://b/x\n")
    opened: list[object] = []
    closed: list[object] = []
    real = _workspace.get_metadata_store

    def spy(uri: str, **kwargs: object) -> object:
        store = real(uri, **kwargs)
        real_close = store.close

        def close() -> None:
            closed.append(store)
            real_close()

        monkeypatch.setattr(store, "close", close)
        opened.append(store)
        return store

    monkeypatch.setattr(_workspace, "get_metadata_store", spy)
    with pytest.raises(ConfigurationError):
        Workspace.open(root)
    assert len(opened) == 1
    assert closed == opened


def test_open_without_its_key_file(root: Path) -> None:
    (root / ".closedloop" / "keys" / "workspace.key").unlink()
    with pytest.raises(NotFoundError, match=r"workspace\.key"):
        Workspace.open(root)


def test_open_refuses_a_key_file_readable_by_others(root: Path) -> None:
    (root / ".closedloop" / "keys" / "workspace.key").chmod(0o640)
    with pytest.raises(CryptoError, match="accessible by other users") as info:
        Workspace.open(root)
    assert "chmod 600" in (info.value.hint or "")
