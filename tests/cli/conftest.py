from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_support import MODEL_BYTES, NOTES, Cli, Populated, Result

import closedloop
from closedloop.cli import (
    _admin,
    _app,
    _artifacts,
    _data,
    _endpoints,
    _models,
    _monitor,
    _runs,
    _serve,
    _state,
)
from closedloop.cli._app import main
from closedloop.cli._safe import safe_console


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Work from an empty folder (tests/conftest.py already drops CLOSEDLOOP_* variables)."""
    home = tmp_path / "cwd"
    home.mkdir()
    monkeypatch.chdir(home)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``closedloop *argv`` in-process; returns exit code, stdout and stderr.

    The rich consoles are replaced by wide, colourless ones (made like the real ones, by
    ``safe_console``) that write to whatever ``sys.stdout``/``sys.stderr`` is at call time,
    so ``capsys`` sees their output and tables are not truncated. Without colours, any
    escape character in the output came from the data.
    """
    out = safe_console(width=400, color_system=None, force_terminal=False, legacy_windows=False)
    err = safe_console(
        width=400, color_system=None, force_terminal=False, legacy_windows=False, stderr=True
    )
    for module in (_state, _admin, _runs, _artifacts, _data, _models, _monitor, _serve, _endpoints):
        monkeypatch.setattr(module, "console", out)
    for module in (_state, _app):
        monkeypatch.setattr(module, "err_console", err)

    def run(*argv: str | os.PathLike[str]) -> Result:
        capsys.readouterr()  # drop what came before
        code = main([os.fspath(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def populated(tmp_path: Path) -> Populated:
    """Three runs in ``churn``: rf (auc 0.91, artifacts), gb (auc 0.85), lr (auc 0.70)."""
    root = (tmp_path / "ws").resolve()
    with closedloop.init(root) as client:
        with client.start_run(
            "churn", name="rf-run", params={"model": "rf", "depth": 8}, tags={"team": "core"}
        ) as run:
            run.log_metric("auc", 0.88)
            run.log_metric("auc", 0.91)
            run.flush()  # an explicit, audited run.log
            run.log_bytes(MODEL_BYTES, "model/model.bin")
            run.log_text(NOTES, "notes.txt")
        rf = run.id
        with client.start_run("churn", name="gb-run", params={"model": "gb", "depth": 8}) as run:
            run.log_metric("auc", 0.85)
        gb = run.id
        with client.start_run("churn", name="lr-run", params={"model": "lr"}) as run:
            run.log_metric("auc", 0.70)
        lr = run.id
    return Populated(root, rf, gb, lr)
