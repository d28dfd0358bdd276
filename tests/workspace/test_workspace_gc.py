"""Blob life cycle in a workspace: delete_run frees blobs, gc removes orphans, encryption."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from closedloop import tracking
from closedloop.artifacts._store import SIGNED_MAGIC
from closedloop.crypto import ENVELOPE_MAGIC
from closedloop.errors import NotFoundError
from closedloop.workspace import Workspace


def _blob_file(root: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return root / ".closedloop" / "artifacts" / "objects" / hex_digest[:2] / hex_digest[2:]


def _log(ws: Workspace, data: bytes, name: str = "data.bin") -> tuple[str, str]:
    """A finished run holding ``data``; returns (run id, digest)."""
    with tracking.start_run(ws, "exp") as run:
        ref = run.log_bytes(data, name)
    return run.id, ref.digest


# delete_run -----------------------------------------------------------------------------------
def test_delete_run_frees_its_blob(ws: Workspace, root: Path) -> None:
    data = b"only this run uses these bytes"
    run_id, digest = _log(ws, data)
    blob = _blob_file(root, digest)
    assert blob.is_file()

    report = tracking.delete_run(ws, run_id)

    assert report.run_id == run_id
    assert report.blobs_freed == 1
    assert report.bytes_freed == len(data)
    assert not blob.exists()
    with pytest.raises(NotFoundError):
        tracking.get_run(ws, run_id)


def test_delete_run_keeps_a_blob_shared_with_another_run(ws: Workspace, root: Path) -> None:
    data = b"the same model in two runs"
    first, digest = _log(ws, data, "model.bin")
    second, digest2 = _log(ws, data, "copy/model.bin")
    assert digest == digest2  # content-addressed: stored once
    blob = _blob_file(root, digest)

    report = tracking.delete_run(ws, first)

    assert report.blobs_freed == 0
    assert report.bytes_freed == 0
    assert blob.is_file()
    assert tracking.read_artifact(ws, second, "copy/model.bin") == data

    assert tracking.delete_run(ws, second).blobs_freed == 1
    assert not blob.exists()


def test_delete_unknown_run(ws: Workspace) -> None:
    with pytest.raises(NotFoundError):
        tracking.delete_run(ws, "a" * 32)


# gc -----------------------------------------------------------------------------------------------
def test_gc_deletes_an_old_unreferenced_blob(ws: Workspace, root: Path) -> None:
    referenced_id, referenced = _log(ws, b"kept: a run uses it")
    orphan = ws.artifacts.put_bytes(b"nobody references this blob")
    orphan_file = _blob_file(root, orphan.digest)
    stored_size = orphan_file.stat().st_size

    report = ws.gc(grace=timedelta(0))

    assert report.blobs_seen == 2
    assert report.blobs_deleted == 1
    assert report.bytes_freed == stored_size
    assert report.blobs_young == 0
    assert report.dry_run is False
    assert not orphan_file.exists()
    assert _blob_file(root, referenced).is_file()
    assert tracking.read_artifact(ws, referenced_id, "data.bin") == b"kept: a run uses it"


def test_gc_keeps_young_unreferenced_blobs_by_default(ws: Workspace, root: Path) -> None:
    orphan = ws.artifacts.put_bytes(b"just written, not yet recorded")

    report = ws.gc()

    assert report.blobs_seen == 1
    assert report.blobs_deleted == 0
    assert report.blobs_young == 1
    assert report.bytes_freed == 0
    assert _blob_file(root, orphan.digest).is_file()


def test_gc_dry_run_reports_but_deletes_nothing(ws: Workspace, root: Path) -> None:
    orphan = ws.artifacts.put_bytes(b"would go")
    orphan_file = _blob_file(root, orphan.digest)

    report = ws.gc(dry_run=True, grace=timedelta(0))

    assert report.dry_run is True
    assert report.blobs_deleted == 1
    assert report.bytes_freed == orphan_file.stat().st_size
    assert orphan_file.is_file()
    assert ws.gc(grace=timedelta(0)).blobs_deleted == 1
    assert not orphan_file.exists()


def test_gc_never_deletes_referenced_blobs(ws: Workspace, root: Path) -> None:
    ids = [_log(ws, f"blob {i}".encode())[0] for i in range(3)]

    report = ws.gc(grace=timedelta(0))

    assert report.blobs_seen == 3
    assert report.blobs_deleted == 0
    for i, run_id in enumerate(ids):
        assert tracking.read_artifact(ws, run_id, "data.bin") == f"blob {i}".encode()


def test_gc_grace_comes_from_the_settings(root: Path) -> None:
    (root / ".closedloop" / "closedloop.yaml").write_text("gc_grace_seconds: 0\n")
    with Workspace.open(root) as ws:
        orphan = ws.artifacts.put_bytes(b"old enough at once")
        report = ws.gc()
    assert report.blobs_deleted == 1
    assert not _blob_file(root, orphan.digest).exists()


def test_gc_removes_abandoned_temp_files(ws: Workspace, root: Path) -> None:
    tmp = root / ".closedloop" / "artifacts" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    old = tmp / f"{'1' * 32}.part"
    fresh = tmp / f"{'2' * 32}.part"
    old.write_bytes(b"abandoned")
    fresh.write_bytes(b"in progress")
    an_hour_ago = time.time() - 7200
    os.utime(old, (an_hour_ago, an_hour_ago))

    dry = ws.gc(dry_run=True)
    assert dry.temp_files_removed == 1  # what a real gc would remove
    assert old.exists()
    assert ws.gc(dry_run=True, grace=timedelta(0)).temp_files_removed == 2
    assert fresh.exists()
    report = ws.gc()
    assert report.temp_files_removed == 1
    assert not old.exists()
    assert fresh.exists()


def test_gc_is_audited(ws: Workspace) -> None:
    ws.artifacts.put_bytes(b"orphan")
    ws.gc(grace=timedelta(0))
    (event,) = ws.metadata.list_audit_events(action="artifact.gc")
    assert event.outcome == "ok"
    assert event.detail["deleted"] == 1
    assert event.detail["dry_run"] is False


# encryption at rest ---------------------------------------------------------------------------
MARKER = b"CLOSEDLOOP-PLAINTEXT-MARKER-7f3a9c"


def test_artifact_blob_on_disk_does_not_hold_its_plaintext(ws: Workspace, root: Path) -> None:
    data = MARKER * 50
    run_id, digest = _log(ws, data)
    raw = _blob_file(root, digest).read_bytes()
    assert raw.startswith(ENVELOPE_MAGIC)
    assert MARKER not in raw
    assert MARKER[:16] not in raw
    assert tracking.read_artifact(ws, run_id, "data.bin") == data


def test_encryption_can_be_switched_off_in_the_config(root: Path) -> None:
    (root / ".closedloop" / "closedloop.yaml").write_text("encrypt_artifacts: false\n")
    with Workspace.open(root) as ws:
        run_id, digest = _log(ws, MARKER)
        raw = _blob_file(root, digest).read_bytes()
        # Readable on disk, but signed with the workspace key (so still authenticated).
        assert raw.startswith(SIGNED_MAGIC)
        assert MARKER in raw
        assert tracking.read_artifact(ws, run_id, "data.bin") == MARKER
        assert ws.artifacts.get_bytes(digest, require_authenticated=True) == MARKER
