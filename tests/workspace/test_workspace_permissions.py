"""A local workspace is owner-only: folders 0700, files 0600 (WAL and SHM included)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop import tracking
from closedloop.config import load_settings
from closedloop.workspace import LoosePath, Workspace, loose_permissions, resolve_location

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which files used to come out 0644 and folders 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("usual_umask")
def test_init_and_use_create_owner_only_files(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace.init(root)
    state = root / ".closedloop"
    with Workspace.open(root) as ws:
        with tracking.start_run(ws, "exp") as run:
            ref = run.log_bytes(b"artifact", "a.bin")
        # While a connection is open, SQLite keeps its -wal and -shm files beside the db.
        wal, shm = state / "closedloop.db-wal", state / "closedloop.db-shm"
        assert wal.exists()
        assert shm.exists()
        assert _mode(wal) == 0o600
        assert _mode(shm) == 0o600
        blob = state / "artifacts" / "objects" / ref.digest[7:9] / ref.digest[9:]
        folders = [state, state / "keys", state / "artifacts", state / "artifacts" / "tmp"]
        folders += [state / "artifacts" / "objects", blob.parent]
        for folder in folders:
            assert _mode(folder) == 0o700, folder
        files = [state / "closedloop.db", state / "closedloop.yaml", blob]
        files.append(state / "keys" / "workspace.key")
        for file in files:
            assert _mode(file) == 0o600, file
        assert loose_permissions(ws.location) == []  # type: ignore[arg-type]
    assert _mode(root) == 0o755  # the user's own folder is left as the umask makes it


@pytest.mark.usefixtures("usual_umask")
def test_loose_paths_are_found_with_their_fix(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace.init(root)
    state = root / ".closedloop"
    (state / "closedloop.db").chmod(0o644)
    (state / "artifacts").chmod(0o755)
    location = resolve_location(load_settings({"workspace": str(root)}))

    loose = loose_permissions(location)

    assert loose == [
        LoosePath(state / "artifacts", 0o755, True),
        LoosePath(state / "closedloop.db", 0o644, False),
    ]
    assert loose[0].fix == f"chmod 700 {state / 'artifacts'}"
    assert loose[1].fix == f"chmod 600 {state / 'closedloop.db'}"


@pytest.mark.usefixtures("usual_umask")
def test_a_database_and_artifacts_outside_the_folder_are_checked_too(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "ws", tmp_path / "elsewhere"
    db = elsewhere / "meta" / "team.db"
    settings = load_settings(
        {
            "workspace": str(root),
            "metadata_uri": f"sqlite:///{db}",
            "artifact_uri": (elsewhere / "arts").as_uri(),
        }
    )
    Workspace.init(settings=settings)
    assert _mode(db) == 0o600
    assert _mode(db.parent) == 0o700
    with Workspace.open(settings=settings) as ws:
        ws.artifacts.put_bytes(b"x")
    assert _mode(elsewhere / "arts") == 0o700
    (elsewhere / "arts" / "tmp").chmod(0o777)
    db.chmod(0o640)
    loose = loose_permissions(resolve_location(settings))
    assert [(p.path, p.mode) for p in loose] == [
        (elsewhere / "arts" / "tmp", 0o777),
        (db, 0o640),
    ]


def test_remote_artifact_stores_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    uri = f"memory://perm-test-{os.urandom(4).hex()}"
    settings = load_settings({"workspace": str(root), "artifact_uri": uri})
    Workspace.init(settings=settings)
    with Workspace.open(settings=settings) as ws:
        digest = ws.artifacts.put_bytes(b"remote").digest
        assert ws.artifacts.get_bytes(digest) == b"remote"
    assert loose_permissions(resolve_location(settings)) == []
