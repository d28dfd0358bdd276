from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pytest
import typer
from monitoring_support import (
    T_NEW,
    T_OLD,
    log_batches,
    log_predictions,
    people,
    register,
    register_with_lineage,
)
from rich.console import Console

from closedloop import data
from closedloop.cli import _monitor
from closedloop.cli._monitor import parse_time
from closedloop.cli._state import CliState
from closedloop.errors import InvalidArgumentError
from closedloop.workspace import Workspace

Invoke = Callable[..., str]


@pytest.fixture
def invoke(
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Invoke:
    """Run ``closedloop monitor ...`` in-process on the workspace; returns stdout.

    The sub-app is mounted as the lead registers it (``app.add_typer(_monitor.app,
    name="monitor")``) under a root that opens the workspace like ``cli._app`` does.
    """
    root = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context, workspace: Annotated[str, typer.Option("-w")]) -> None:
        ctx.obj = CliState(workspace=workspace)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(_monitor.app, name="monitor")
    monkeypatch.setattr(_monitor, "console", Console(width=300, color_system=None))

    def run(*args: str) -> str:
        capsys.readouterr()
        root(["-w", str(tmp_path), "monitor", *args], standalone_mode=False)
        return capsys.readouterr().out

    return run


@pytest.fixture
def served(workspace: Workspace) -> str:
    """m/1 with an unshifted batch at T_OLD and a drifted one at T_NEW; the reference ref/1."""
    version = register(workspace)
    log_predictions(workspace, version, people(800, seed=2), T_OLD)
    log_predictions(workspace, version, people(800, seed=3, age_shift=10), T_NEW)
    return data.ingest_frame(workspace, people(2000, seed=1), "ref", source="test").version.id


def test_drift_prints_the_table_writes_the_page_and_names_the_run(
    invoke: Invoke, served: str, tmp_path: Path, workspace: Workspace
) -> None:
    out_file = tmp_path / "out" / "report.html"
    out = invoke("drift", "m/1", "--reference", served, "--since", str(T_NEW), "-o", str(out_file))
    assert "age" in out
    assert "income" in out
    assert "color" in out
    assert "DRIFT" in out
    assert "no dataset drift" in out  # one feature of three
    assert "up to 1000 current values a test" in out  # the rule, in the caption
    assert " ks " in out  # 800 rows: tested
    assert " chi2 " in out
    assert out_file.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    run_line = next(line for line in out.splitlines() if line.startswith("run: "))
    run_id = run_line.split()[1]
    assert workspace.metadata.get_run(run_id).tags["drifted_features"] == "age"


def test_drift_json_and_iso_window(invoke: Invoke, served: str) -> None:
    # T_OLD + 1 ms as UTC ISO text: only the first request (its ten rows share its time)
    until = "2023-11-14T22:13:20.001"
    doc = json.loads(invoke("drift", "m/1", "-r", served, "--until", until, "--json"))
    assert doc["n_predictions"] == 10
    assert doc["model_version"] == "m/1"
    assert [f["name"] for f in doc["report"]["features"]] == ["age", "income", "color"]


def test_parse_time() -> None:
    assert parse_time(None) is None
    assert parse_time("1700000000000") == T_OLD
    assert parse_time("2023-11-14T22:13:20") == T_OLD
    assert parse_time("2023-11-14T23:13:20+01:00") == T_OLD
    with pytest.raises(InvalidArgumentError, match="--since"):
        parse_time("yesterday", "--since")


def test_drift_without_reference_compares_with_the_training_data(
    invoke: Invoke, workspace: Workspace
) -> None:
    register_with_lineage(workspace, people(2000, seed=1).assign(y=1))
    doc = json.loads(invoke("drift", "m/1", "--since", str(T_NEW), "--json"))
    assert doc["n_predictions"] == 1000
    assert [f["name"] for f in doc["report"]["features"] if f["drifted"]] == ["age"]
    assert doc["report"]["reference_rows"] == 2000


def test_drift_without_reference_or_lineage_names_the_option(
    invoke: Invoke, workspace: Workspace
) -> None:
    log_batches(workspace, register(workspace))
    with pytest.raises(InvalidArgumentError, match="no training dataset version") as info:
        invoke("drift", "m/1")
    assert info.value.hint is not None
    assert "--reference" in info.value.hint


def test_drift_rules_and_drift_share_options(invoke: Invoke, served: str) -> None:
    args = ("drift", "m/1", "-r", served, "--since", str(T_NEW), "--json")
    doc = json.loads(invoke(*args, "--rule", "age=psi:0.25", "--rule", "color=tv"))
    features = {f["name"]: f for f in doc["report"]["features"]}
    assert (features["age"]["method"], features["age"]["threshold"]) == ("psi", 0.25)
    assert features["age"]["drifted"]
    assert (features["color"]["method"], features["color"]["threshold"]) == ("tv", 0.1)
    assert features["income"]["method"] == "ks"
    assert doc["report"]["dataset_drifted"] is False
    lenient = json.loads(invoke(*args, "--drift-share", "0.3"))
    assert lenient["report"]["dataset_drifted"] is True
    assert lenient["report"]["drift_share"] == 0.3


def test_a_bad_drift_rule_names_the_syntax(invoke: Invoke, served: str) -> None:
    with pytest.raises(InvalidArgumentError, match="COLUMN=METHOD") as info:
        invoke("drift", "m/1", "-r", served, "--rule", "age")
    assert info.value.hint is not None
    assert "age=psi" in info.value.hint
    with pytest.raises(InvalidArgumentError, match="unknown drift method"):
        invoke("drift", "m/1", "-r", served, "--rule", "age=kolmogorov")
    with pytest.raises(InvalidArgumentError, match="does not apply"):
        invoke("drift", "m/1", "-r", served, "--rule", "color=ks")
