"""``Workspace.verify``: every referenced blob read, authenticated, and named when broken."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from closedloop import registry, tracking
from closedloop.artifacts._store import PLAIN_MAGIC
from closedloop.core import ColumnSchema, LogicalType, ProgressEvent, TableSchema
from closedloop.data import ingest_frame, load
from closedloop.errors import ArtifactIntegrityError
from closedloop.workspace import Workspace

FRAME = pd.DataFrame({"x": [1, 2, 3, 4], "y": ["a", "b", "a", "b"]})
SIGNATURE = TableSchema((ColumnSchema("x", LogicalType.INTEGER),))


def _blob(root: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return root / ".closedloop" / "artifacts" / "objects" / hex_digest[:2] / hex_digest[2:]


def _flip_one_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def _populate(ws: Workspace) -> tuple[str, str, str]:
    """A dataset version, a model version and a run artifact; their digests."""
    dataset = ingest_frame(ws, FRAME, "toy", source="test").version
    model = DummyClassifier().fit(FRAME[["x"]], FRAME["y"])
    version = registry.register_model(ws, "toy", model, signature=SIGNATURE, target="y")
    with tracking.start_run(ws, "exp") as run:
        ref = run.log_bytes(b"notes of the run", "notes.txt")
    return dataset.digest, version.artifact_digest, ref.digest


def test_verify_passes_on_a_healthy_workspace(ws: Workspace) -> None:
    _populate(ws)
    events: list[ProgressEvent] = []
    report = ws.verify(progress=events.append)
    assert report.ok
    assert report.problems == ()
    assert report.blobs_checked == 3
    assert report.references == 3
    assert report.bytes_checked > 0
    assert events[-1] == ProgressEvent("verify blobs", 3, 3, "blobs")
    assert [e.completed for e in events] == [0, 1, 2, 3]
    event = ws.metadata.list_audit_events(action="artifact.verify", limit=1)[0]
    assert event.outcome == "ok"
    assert event.detail == {"blobs": 3, "broken": 0}


def test_a_flipped_byte_is_named_with_its_dataset_and_a_put_repairs_it(
    ws: Workspace, root: Path
) -> None:
    dataset_digest, _, _ = _populate(ws)
    _flip_one_byte(_blob(root, dataset_digest))

    report = ws.verify()

    assert not report.ok
    (problem,) = report.problems
    assert problem.digest == dataset_digest
    assert problem.problem == "corrupt"
    assert [(r.kind, r.name) for r in problem.referenced_by] == [
        ("dataset version", f"toy@{dataset_digest[7:19]}")
    ]
    assert "data ingest" in problem.repair
    # Re-ingesting the same content repairs the blob (it used to keep the broken one).
    again = ingest_frame(ws, FRAME, "toy", source="test")
    assert again.version.digest == dataset_digest
    assert ws.verify().ok
    pd.testing.assert_frame_equal(load(ws, "toy/1"), FRAME, check_dtype=False)


def test_a_missing_blob_is_reported(ws: Workspace, root: Path) -> None:
    _, model_digest, artifact_digest = _populate(ws)
    _blob(root, artifact_digest).unlink()
    (problem,) = ws.verify().problems
    assert problem.problem == "missing"
    assert problem.digest == artifact_digest
    assert problem.referenced_by[0].kind == "run artifact"
    assert problem.referenced_by[0].name.endswith(":notes.txt")
    assert "log the same file again" in problem.repair
    assert model_digest != artifact_digest


def test_a_plain_model_blob_is_reported_unauthenticated(ws: Workspace, root: Path) -> None:
    _, model_digest, _ = _populate(ws)
    plaintext = ws.artifacts.get_bytes(model_digest)
    _blob(root, model_digest).write_bytes(PLAIN_MAGIC + plaintext)  # intact, but plain
    (problem,) = ws.verify().problems
    assert problem.problem == "unauthenticated"
    assert problem.referenced_by[0].name == "toy/1"
    with pytest.raises(ArtifactIntegrityError, match="toy/1"):
        registry.load_model(ws, "toy/1")
    ws.artifacts.put_bytes(plaintext)  # the same content, stored again: authenticated
    assert ws.verify().ok
    assert registry.load_model(ws, "toy/1").version.id == "toy/1"


def test_a_blob_shared_by_two_records_is_read_once_and_names_both(
    ws: Workspace, root: Path
) -> None:
    with tracking.start_run(ws, "exp") as a:
        ref = a.log_bytes(b"shared", "x.bin")
    with tracking.start_run(ws, "exp") as b:
        b.log_bytes(b"shared", "y.bin")
    _flip_one_byte(_blob(root, ref.digest))
    report = ws.verify()
    assert report.blobs_checked == 1
    assert report.references == 2
    (problem,) = report.problems
    assert sorted(r.name for r in problem.referenced_by) == sorted(
        [f"{a.id}:x.bin", f"{b.id}:y.bin"]
    )
