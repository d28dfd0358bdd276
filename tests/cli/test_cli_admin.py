"""``closedloop init | doctor | gc | db | audit | experiments | --version`` and selection."""

from __future__ import annotations

import getpass
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli, Populated

import closedloop
from closedloop.crypto import Keyring
from closedloop.errors import WorkspaceNotFoundError
from closedloop.metadata._sql.tables import SCHEMA_HEAD
from closedloop.workspace import Workspace


def _db(root: Path) -> Path:
    return root / ".closedloop" / "closedloop.db"


# init ---------------------------------------------------------------------------------------------
def test_init_creates_the_workspace_and_prints_where(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "new-ws"
    r = cli("init", target)
    assert r.code == 0, r.err
    root = target.resolve()
    assert f"workspace ready at {root}" in r.out
    assert str(root / ".closedloop" / "keys" / "workspace.key") in r.out
    assert "created (owner-only)" in r.out
    assert _db(root).is_file()
    key = root / ".closedloop" / "keys" / "workspace.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_init_defaults_to_the_current_folder(cli: Cli) -> None:
    r = cli("init")
    assert r.code == 0, r.err
    assert (Path.cwd() / ".closedloop" / "closedloop.db").is_file()
    assert f"workspace ready at {Path.cwd().resolve()}" in r.out


def test_init_twice_keeps_the_key(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    assert cli("init", target).code == 0
    key = target / ".closedloop" / "keys" / "workspace.key"
    before = key.read_bytes()
    r = cli("init", target)
    assert r.code == 0, r.err
    assert key.read_bytes() == before
    assert "created" not in r.out
    assert "existing" in r.out


# doctor -------------------------------------------------------------------------------------------
def test_doctor_reports_a_healthy_workspace(cli: Cli, populated: Populated) -> None:
    r = cli("--workspace", populated.root, "doctor")
    assert r.code == 0, r.err
    assert str(populated.root) in r.out
    assert f"{SCHEMA_HEAD} (code expects {SCHEMA_HEAD})" in r.out
    assert "mode 600" in r.out
    assert "AES-256-GCM (on)" in r.out
    assert "all checks passed" in r.out
    assert r.err == ""


def test_doctor_outside_any_workspace(cli: Cli, outside: Path, monkeypatch) -> None:
    monkeypatch.chdir(outside)
    r = cli("doctor")
    assert r.code == WorkspaceNotFoundError.exit_code == 4
    assert "error [WORKSPACE_NOT_FOUND]" in r.err
    assert "hint:" in r.err
    assert "closedloop init" in r.err
    assert "Traceback" not in r.err
    assert "all checks passed" not in r.out


def test_doctor_flags_an_old_schema(cli: Cli, populated: Populated) -> None:
    con = sqlite3.connect(_db(populated.root))
    with con:
        con.execute("UPDATE closedloop_alembic_version SET version_num = '0000'")
    con.close()
    r = cli("-w", populated.root, "doctor")
    assert r.code == 1
    assert f"0000 (code expects {SCHEMA_HEAD})" in r.out
    assert "closedloop db upgrade" in r.out
    assert "1 problem(s) found" in r.out
    assert "all checks passed" not in r.out


def test_doctor_flags_a_key_file_readable_by_others(cli: Cli, populated: Populated) -> None:
    key = populated.root / ".closedloop" / "keys" / "workspace.key"
    key.chmod(0o644)
    r = cli("-w", populated.root, "doctor")
    assert r.code == 1
    assert "accessible by other users" in r.out
    assert "problem(s) found" in r.out


def test_doctor_reports_a_corrupt_database_as_a_problem(cli: Cli, populated: Populated) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{_db(populated.root)}{suffix}").unlink(missing_ok=True)
    _db(populated.root).write_bytes(b"this is not a database " * 100)
    r = cli("-w", populated.root, "doctor")
    assert r.code == 1
    assert "problem(s) found" in r.out


# gc -----------------------------------------------------------------------------------------------
def test_gc_dry_run_and_grace(cli: Cli, populated: Populated) -> None:
    with closedloop.Client(populated.root) as client:
        orphan = client.workspace.artifacts.put_bytes(b"orphan blob for the cli")
    hex_digest = orphan.digest.removeprefix("sha256:")
    orphan_file = populated.root / ".closedloop/artifacts/objects" / hex_digest[:2] / hex_digest[2:]
    # populated holds two referenced blobs plus this orphan

    r = cli("-w", populated.root, "gc", "--dry-run")
    assert r.code == 0, r.err
    assert "would delete 0 of 3 blob(s)" in r.out
    assert "kept 1 recent unreferenced" in r.out

    r = cli("-w", populated.root, "gc", "--dry-run", "--grace", "0")
    assert r.code == 0, r.err
    assert "would delete 1 of 3 blob(s)" in r.out
    assert orphan_file.exists()

    r = cli("-w", populated.root, "gc", "--grace", "0")
    assert r.code == 0, r.err
    assert "deleted 1 of 3 blob(s)" in r.out
    assert "kept 0 recent unreferenced" in r.out
    assert not orphan_file.exists()

    r = cli("-w", populated.root, "gc", "--grace", "0")
    assert "deleted 0 of 2 blob(s), 0 B" in r.out


def test_gc_refuses_a_negative_grace(cli: Cli, populated: Populated) -> None:
    with closedloop.Client(populated.root) as client:
        orphan = client.workspace.artifacts.put_bytes(b"a writer is about to record this")
    r = cli("-w", populated.root, "gc", "--grace", "-10")
    assert r.code == 2
    with closedloop.Client(populated.root) as client:
        assert client.workspace.artifacts.exists(orphan.digest)


# db -----------------------------------------------------------------------------------------------
def test_db_upgrade_creates_the_schema_once(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "bare"
    (root / ".closedloop").mkdir(parents=True)
    sqlite3.connect(_db(root)).close()  # an empty database file

    r = cli("--workspace", root, "db", "current")
    assert r.code == 0, r.err
    assert "(empty)" in r.out

    r = cli("--workspace", root, "db", "upgrade")
    assert r.code == 0, r.err
    assert "upgraded" in r.out
    assert f"(empty) → {SCHEMA_HEAD}" in r.out

    r = cli("--workspace", root, "db", "upgrade")
    assert r.code == 0, r.err
    assert f"already at {SCHEMA_HEAD}" in r.out

    r = cli("--workspace", root, "db", "current")
    assert r.code == 0, r.err
    assert r.out.strip() == SCHEMA_HEAD


def test_db_upgrade_of_a_newer_database_is_a_clean_error(cli: Cli, populated: Populated) -> None:
    con = sqlite3.connect(_db(populated.root))
    with con:
        con.execute("UPDATE closedloop_alembic_version SET version_num = '9999'")
    con.close()
    r = cli("-w", populated.root, "db", "upgrade")
    assert r.code == 9
    assert "error [SCHEMA_VERSION]" in r.err
    assert "upgrade closedloop" in r.err


def test_db_current_of_an_initialised_workspace(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "db", "current")
    assert r.code == 0, r.err
    assert r.out.strip() == SCHEMA_HEAD


def test_commands_need_an_upgraded_schema(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "bare"
    Keyring.create(root / ".closedloop" / "keys" / "workspace.key")
    r = cli("-w", root, "runs", "list")
    assert r.code == 9
    assert "error [SCHEMA_VERSION]" in r.err
    assert "closedloop db upgrade" in r.err


# audit and experiments ----------------------------------------------------------------------------
def test_audit_lists_events(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "audit", "-n", "500")
    assert r.code == 0, r.err
    for action in ("run.create", "run.end", "artifact.put"):
        assert action in r.out
    assert getpass.getuser() in r.out
    assert f"run:{populated.rf}" in r.out


def test_audit_filters_by_action(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "audit", "--action", "run.create")
    assert r.code == 0, r.err
    assert r.out.count("run.create") == 3
    assert "run.end" not in r.out
    assert "artifact.put" not in r.out


def test_experiments_lists_project_and_experiment(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "experiments")
    assert r.code == 0, r.err
    assert "churn" in r.out
    assert "default" in r.out


# selecting the workspace --------------------------------------------------------------------------
def test_workspace_option_selects_a_workspace_from_elsewhere(
    cli: Cli, populated: Populated, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    assert cli("runs", "list").code == 4
    r = cli("--workspace", populated.root, "runs", "list")
    assert r.code == 0, r.err
    assert "3 run(s)" in r.out


def test_relative_workspace_option(
    cli: Cli, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(populated.root.parent)
    r = cli("-w", populated.root.name, "runs", "list")
    assert r.code == 0, r.err
    assert "3 run(s)" in r.out


def test_env_variable_selects_a_workspace_from_elsewhere(
    cli: Cli, populated: Populated, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(outside)
    monkeypatch.setenv("CLOSEDLOOP_WORKSPACE", str(populated.root))
    r = cli("runs", "list")
    assert r.code == 0, r.err
    assert "3 run(s)" in r.out


def test_workspace_option_beats_the_env_variable(
    cli: Cli, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-ws"
    assert cli("init", empty).code == 0
    monkeypatch.setenv("CLOSEDLOOP_WORKSPACE", str(populated.root))
    r = cli("-w", empty, "runs", "list")
    assert r.code == 0, r.err
    assert "0 run(s)" in r.out


def test_workspace_found_from_a_nested_folder(
    cli: Cli, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = populated.root / "notebooks" / "2024"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    r = cli("runs", "list")
    assert r.code == 0, r.err
    assert "3 run(s)" in r.out


def test_workspace_given_by_database_uri(
    cli: Cli, tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = tmp_path / "team"
    uri = f"sqlite:///{team / 'team.db'}"
    settings = closedloop.load_settings(
        {"workspace": uri, "artifact_uri": str(team / "blobs"), "key_file": str(team / "k.key")},
        environ={},
    )
    Workspace.init(settings=settings)
    with closedloop.Client(settings=settings) as client, client.start_run("shared"):
        pass
    monkeypatch.chdir(outside)

    r = cli("-w", uri, "runs", "list")
    assert r.code == 7
    assert "artifact_uri and key_file" in r.err
    assert "CLOSEDLOOP_ARTIFACT_URI" in r.err

    monkeypatch.setenv("CLOSEDLOOP_ARTIFACT_URI", str(team / "blobs"))
    monkeypatch.setenv("CLOSEDLOOP_KEY_FILE", str(team / "k.key"))
    r = cli("-w", uri, "runs", "list")
    assert r.code == 0, r.err
    assert "1 run(s)" in r.out
    assert "default/shared" in r.out

    r = cli("-w", uri, "doctor")
    assert r.code == 0, r.err
    assert "(given by URI)" in r.out
    assert "all checks passed" in r.out


def test_workspace_option_naming_no_workspace(cli: Cli, outside: Path) -> None:
    r = cli("-w", outside, "runs", "list")
    assert r.code == 4
    assert "is not a closedloop workspace" in r.err
    assert f"closedloop init {outside.resolve()}" in r.err


def test_invalid_config_is_reported_with_its_exit_code(cli: Cli, populated: Populated) -> None:
    (populated.root / ".closedloop" / "closedloop.yaml").write_text("colour: blue\n")
    r = cli("-w", populated.root, "runs", "list")
    assert r.code == 7
    assert "error [CONFIGURATION]" in r.err
    assert "colour" in r.err


# misc ---------------------------------------------------------------------------------------------
def test_version(cli: Cli) -> None:
    r = cli("--version")
    assert r.code == 0
    assert r.out.strip() == f"closedloop {closedloop.__version__}"


def test_unknown_command_is_a_usage_error(cli: Cli) -> None:
    r = cli("frobnicate")
    assert r.code == 2
    assert "frobnicate" in r.err
    assert "Traceback" not in r.err


def test_bad_option_value_is_a_usage_error(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "list", "--max", "0")
    assert r.code == 2
    assert "--max" in r.err


def test_cli_imports_without_the_click_package() -> None:
    """typer>=0.2x vendors click; closedloop does not declare click, so must not import it."""
    code = (
        "import sys\n"
        "sys.modules['click'] = None  # as in a clean install: typer>=0.2x does not need it\n"
        "import closedloop.cli\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
