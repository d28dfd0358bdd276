"""``closedloop artifacts list | get``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import MODEL_BYTES, NOTES, Cli, Populated

from closedloop.cli import _admin, _app, _artifacts, _runs, _state
from closedloop.cli._app import main
from closedloop.errors import ArtifactIntegrityError


def test_artifacts_list(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "artifacts", "list", populated.rf[:8])
    assert r.code == 0, r.err
    assert "model/model.bin" in r.out
    assert "notes.txt" in r.out
    assert "sha256:" in r.out
    assert f"{len(MODEL_BYTES)} B" in r.out


def test_artifacts_get_into_a_folder(cli: Cli, populated: Populated, tmp_path: Path) -> None:
    out_dir = tmp_path / "download"
    out_dir.mkdir()
    r = cli(
        "-w", populated.root, "artifacts", "get", populated.rf, "model/model.bin", "-o", out_dir
    )
    assert r.code == 0, r.err
    target = out_dir / "model.bin"
    assert target.read_bytes() == MODEL_BYTES
    assert f"wrote {target}" in r.out
    assert [p.name for p in out_dir.iterdir()] == ["model.bin"]  # no temp file left behind


def test_artifacts_get_to_a_file_path(cli: Cli, populated: Populated, tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "renamed.txt"
    r = cli(
        "-w", populated.root, "artifacts", "get", populated.rf[:8], "notes.txt", "--output", target
    )
    assert r.code == 0, r.err
    assert target.read_text(encoding="utf-8") == NOTES


def test_artifacts_get_default_is_the_current_folder(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "artifacts", "get", populated.rf, "notes.txt")
    assert r.code == 0, r.err
    assert (Path.cwd() / "notes.txt").read_text(encoding="utf-8") == NOTES


def test_artifacts_get_to_stdout(
    populated: Populated,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    quiet = Console(width=400, color_system=None, force_terminal=False)
    for module in (_state, _admin, _runs, _artifacts):
        monkeypatch.setattr(module, "console", quiet)
    monkeypatch.setattr(_app, "err_console", Console(width=400, stderr=True))
    code = main(
        ["-w", str(populated.root), "artifacts", "get", populated.rf, "model/model.bin", "-o", "-"]
    )
    captured = capsysbinary.readouterr()
    assert code == 0, captured.err
    assert captured.out == MODEL_BYTES
    assert not any(p.name == "model.bin" for p in Path.cwd().iterdir())


def test_artifacts_get_unknown_path(cli: Cli, populated: Populated, tmp_path: Path) -> None:
    r = cli("-w", populated.root, "artifacts", "get", populated.rf, "missing.bin", "-o", tmp_path)
    assert r.code == 3
    assert "error [NOT_FOUND]" in r.err
    assert "missing.bin" in r.err
    assert not (tmp_path / "missing.bin").exists()


def test_artifacts_get_unknown_path_to_stdout(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "artifacts", "get", populated.rf, "missing.bin", "-o", "-")
    assert r.code == 3
    assert r.out == ""


def test_artifacts_get_from_a_run_without_it(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "artifacts", "get", populated.gb, "notes.txt", "-o", "-")
    assert r.code == 3
    assert "no artifact" in r.err


def test_artifacts_get_refuses_a_tampered_blob(
    cli: Cli, populated: Populated, tmp_path: Path
) -> None:
    objects = populated.root / ".closedloop" / "artifacts" / "objects"
    for blob in (p for p in objects.rglob("*") if p.is_file()):
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0xFF
        blob.write_bytes(bytes(data))
    out = tmp_path / "out.bin"
    r = cli("-w", populated.root, "artifacts", "get", populated.rf, "model/model.bin", "-o", out)
    assert r.code == ArtifactIntegrityError.exit_code
    assert "error [ARTIFACT_INTEGRITY]" in r.err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_artifacts_blobs_on_disk_are_not_plaintext(populated: Populated) -> None:
    objects = populated.root / ".closedloop" / "artifacts" / "objects"
    blobs = [p.read_bytes() for p in objects.rglob("*") if p.is_file()]
    assert len(blobs) == 2
    assert all(NOTES.encode() not in b and b"binary-model" not in b for b in blobs)
