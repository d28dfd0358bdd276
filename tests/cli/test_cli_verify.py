"""``closedloop verify``; ``doctor``'s permission warnings; ``gc --dry-run`` on temp files."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from cli_support import Cli, Populated

import closedloop
from closedloop.errors import ArtifactIntegrityError

CSV = "age,job\n31,a\n45,b\n27,a\n"


def _blob(root: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return root / ".closedloop" / "artifacts" / "objects" / hex_digest[:2] / hex_digest[2:]


def _ingest(cli: Cli, root: Path, tmp_path: Path) -> tuple[Path, str]:
    source = tmp_path / "people.csv"
    source.write_text(CSV)
    r = cli("-w", root, "data", "ingest", source, "--name", "people")
    assert r.code == 0, r.err
    with closedloop.Client(root) as client:
        digest = client.workspace.metadata.datasets.get_version("people/1").digest
    return source, digest


# verify ----------------------------------------------------------------------------------------
def test_verify_passes_on_a_healthy_workspace(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "verify")
    assert r.code == 0, r.err
    assert "ok: 2 blob(s)" in r.out
    assert "authenticated" in r.out


def test_a_flipped_byte_is_found_named_and_repaired_by_ingesting_again(
    cli: Cli, populated: Populated, tmp_path: Path
) -> None:
    source, digest = _ingest(cli, populated.root, tmp_path)
    blob = _blob(populated.root, digest)
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    blob.write_bytes(bytes(raw))

    r = cli("-w", populated.root, "verify")
    assert r.code == ArtifactIntegrityError.exit_code == 10
    assert digest in r.out
    assert "corrupt" in r.out
    assert f"dataset version people@{digest[7:19]}" in r.out
    assert "data ingest" in r.out
    assert "error [ARTIFACT_INTEGRITY]: 1 of 3 referenced blob(s) are broken" in r.err
    assert "hint:" in r.err
    assert "Traceback" not in r.err

    r = cli("-w", populated.root, "doctor")  # configuration only; it points at verify
    assert r.code == 0, r.err
    assert "closedloop verify" in r.out

    r = cli("-w", populated.root, "data", "ingest", source, "--name", "people")
    assert r.code == 0, r.err
    assert "existing (same content)" in r.out
    r = cli("-w", populated.root, "verify")
    assert r.code == 0, r.out
    r = cli("-w", populated.root, "data", "show", "people/1")
    assert r.code == 0, r.err


def test_a_missing_blob_is_reported(cli: Cli, populated: Populated) -> None:
    with closedloop.Client(populated.root) as client:
        ref = client.workspace.metadata.get_artifact(populated.rf, "notes.txt")
    _blob(populated.root, ref.digest).unlink()
    r = cli("-w", populated.root, "verify")
    assert r.code == 10
    assert ref.digest in r.out
    assert "missing" in r.out
    assert f"run artifact {populated.rf}:notes.txt" in r.out


# doctor: permissions ---------------------------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_doctor_warns_about_loose_permissions_with_the_fix(cli: Cli, populated: Populated) -> None:
    state = populated.root / ".closedloop"
    r = cli("-w", populated.root, "doctor")
    assert r.code == 0, r.err
    assert "owner-only" in r.out
    assert "warning:" not in r.out

    (state / "closedloop.db").chmod(0o644)
    state.chmod(0o755)
    r = cli("-w", populated.root, "doctor")
    assert r.code == 0, r.err  # a warning, not a failure
    assert "2 path(s) accessible by other users" in r.out
    assert f"folder {state} is accessible by other users (mode 755); fix: chmod 700 {state}" in (
        r.out
    )
    db = state / "closedloop.db"
    assert f"file {db} is accessible by other users (mode 644); fix: chmod 600 {db}" in r.out
    assert f"fix them all: chmod -R go-rwx {state}" in r.out
    assert "all checks passed" in r.out


# gc --dry-run ------------------------------------------------------------------------------------
def test_gc_dry_run_reports_the_temp_files_it_would_remove(cli: Cli, populated: Populated) -> None:
    tmp = populated.root / ".closedloop" / "artifacts" / "tmp"
    tmp.mkdir(exist_ok=True)
    abandoned = tmp / f"{'1' * 32}.part"
    abandoned.write_bytes(b"a killed writer's half blob")
    an_hour_ago = time.time() - 7200
    os.utime(abandoned, (an_hour_ago, an_hour_ago))

    r = cli("-w", populated.root, "gc", "--dry-run", "--grace", "0")
    assert r.code == 0, r.err
    assert "would remove 1 abandoned temp file(s)" in r.out
    assert abandoned.exists()

    r = cli("-w", populated.root, "gc", "--grace", "0")
    assert r.code == 0, r.err
    assert "removed 1 abandoned temp file(s)" in r.out
    assert not abandoned.exists()
