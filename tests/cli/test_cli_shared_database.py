"""One SQLite file for a workspace and an Optuna study; an old-layout workspace upgrades.

closedloop keeps its Alembic revision in ``closedloop_alembic_version``, so Optuna's RDB
storage, which keeps its own in Alembic's default ``alembic_version``, can share the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from cli_support import Cli, Populated

import closedloop
from closedloop.metadata._sql.tables import SCHEMA_HEAD, VERSION_TABLE
from closedloop.workspace import Workspace


def _db(root: Path) -> Path:
    return root / ".closedloop" / "closedloop.db"


def _tables(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


@pytest.fixture
def quiet_optuna() -> Iterator[None]:
    """Optuna without its per-trial log lines."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(before)


def _storage(db: Path) -> Any:
    # The same busy timeout as closedloop's engine, so the two queue for the write lock.
    return optuna.storages.RDBStorage(
        f"sqlite:///{db}", engine_kwargs={"connect_args": {"timeout": 30}}
    )


def _tune(db: Path, trials: int) -> list[float]:
    """Run ``trials`` more trials of the study ``tune``; returns all its values."""
    storage = _storage(db)
    try:
        study = optuna.create_study(
            study_name="tune",
            storage=storage,
            direction="minimize",
            sampler=optuna.samplers.RandomSampler(seed=0),
            load_if_exists=True,
        )
        study.optimize(lambda t: (t.suggest_float("x", -2.0, 2.0) - 1.0) ** 2, n_trials=trials)
        return [t.value for t in study.trials]
    finally:
        storage.engine.dispose()


def _log_a_run(root: Path, name: str) -> str:
    with closedloop.start_run("tuning", workspace=root, name=name, params={"x": 1}) as run:
        run.log_metric("loss", 0.5)
        return run.id


def _check_both(cli: Cli, root: Path, run_id: str, trials: int) -> None:
    r = cli("-w", root, "db", "current")
    assert r.code == 0, r.err
    assert r.out.strip() == SCHEMA_HEAD
    assert cli("-w", root, "runs", "show", run_id[:12]).code == 0
    with Workspace.open(root) as ws:  # the schema check on open passes
        assert ws.metadata.get_run(run_id).status == "FINISHED"
    storage = _storage(_db(root))
    try:
        study = optuna.load_study(study_name="tune", storage=storage)
        assert len(study.trials) == trials
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    finally:
        storage.engine.dispose()
    con = sqlite3.connect(_db(root))
    try:
        assert con.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [
            (SCHEMA_HEAD,)
        ]
        optuna_versions = con.execute("SELECT version_num FROM alembic_version").fetchall()
        assert len(optuna_versions) == 1
        assert optuna_versions[0][0] != SCHEMA_HEAD  # Optuna's own revision
    finally:
        con.close()


@pytest.mark.usefixtures("quiet_optuna")
def test_an_optuna_study_in_a_workspace_database(cli: Cli, tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    closedloop.init(root).close()
    before = _log_a_run(root, "before-tuning")
    values = _tune(_db(root), 3)
    assert len(values) == 3
    assert {"studies", "trials", "runs", "audit_events"} <= _tables(_db(root))
    after = _log_a_run(root, "after-tuning")
    _check_both(cli, root, after, 3)
    assert _tune(_db(root), 2)[:3] == values  # Optuna goes on where it stopped
    _check_both(cli, root, before, 5)
    r = cli("-w", root, "doctor")
    assert r.code == 0, r.out


@pytest.mark.usefixtures("quiet_optuna")
def test_closedloop_init_on_an_optuna_database(cli: Cli, tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    _db(root).parent.mkdir(parents=True)
    _tune(_db(root), 2)
    r = cli("init", root)
    assert r.code == 0, r.err
    run_id = _log_a_run(root, "after-init")
    _check_both(cli, root, run_id, 2)


def _downgrade(uri: str, revision: str) -> None:
    from alembic import command

    from closedloop.metadata._sql._engine import _alembic_config, create_store_engine

    engine = create_store_engine(uri)
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
    engine.dispose()


def test_an_old_layout_workspace_upgrades_with_db_upgrade(cli: Cli, populated: Populated) -> None:
    # The layout before 0003: the tables of 0003 (0002's and 0003's are the same), the
    # revision in Alembic's default table.
    _downgrade(f"sqlite:///{_db(populated.root)}", "0003")
    con = sqlite3.connect(_db(populated.root))
    with con:
        con.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0002'")
        con.execute(f"ALTER TABLE {VERSION_TABLE} RENAME TO alembic_version")
    con.close()
    r = cli("-w", populated.root, "runs", "list")
    assert r.code == 9
    assert "0002" in r.err
    assert "closedloop db upgrade" in r.err
    assert cli("-w", populated.root, "db", "current").out.strip() == "0002"
    r = cli("-w", populated.root, "db", "upgrade")
    assert r.code == 0, r.err
    assert f"schema upgraded: 0002 → {SCHEMA_HEAD}" in r.out
    assert "alembic_version" not in _tables(_db(populated.root))
    r = cli("-w", populated.root, "runs", "list", "-e", "churn")
    assert r.code == 0, r.err
    for name in ("rf-run", "gb-run", "lr-run"):
        assert name in r.out
