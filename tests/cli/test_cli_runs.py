"""``closedloop runs list | show | compare | delete``."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from cli_support import Cli, Populated
from typer.testing import CliRunner

import closedloop
from closedloop.cli import app
from closedloop.cli._app import main
from closedloop.errors import FilterSyntaxError, NotFoundError
from closedloop.workspace import Workspace


def _ids_in_json(text: str) -> list[str]:
    return [r["id"] for r in json.loads(text)["runs"]]


def _strict_json(text: str) -> object:
    def reject(token: str) -> object:
        raise ValueError(f"{token} is not valid JSON")

    return json.loads(text, parse_constant=reject)


# list ---------------------------------------------------------------------------------------------
def test_runs_list_shows_the_runs(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "list")
    assert r.code == 0, r.err
    assert "3 run(s)" in r.out
    for run_id, name in (
        (populated.rf, "rf-run"),
        (populated.gb, "gb-run"),
        (populated.lr, "lr-run"),
    ):
        assert run_id[:12] in r.out
        assert name in r.out
    assert "default/churn" in r.out
    assert "FINISHED" in r.out
    assert "0.91" in r.out
    assert "0.88" not in r.out  # the latest value is shown
    # newest first
    assert r.out.index("lr-run") < r.out.index("gb-run") < r.out.index("rf-run")


def test_runs_list_json(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "list", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["next_page_token"] is None
    by_id = {run["id"]: run for run in doc["runs"]}
    assert set(by_id) == {populated.rf, populated.gb, populated.lr}
    rf = by_id[populated.rf]
    assert rf["name"] == "rf-run"
    assert rf["status"] == "FINISHED"
    assert rf["params"] == {"model": "rf", "depth": "8"}
    assert rf["tags"] == {"team": "core"}
    assert rf["metrics"] == {"auc": {"value": 0.91, "step": 1}}
    assert rf["end_time"] >= rf["start_time"]


def test_runs_list_filter_narrows(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "list", "--json", "--filter", "metrics.auc > 0.8")
    assert r.code == 0, r.err
    assert sorted(_ids_in_json(r.out)) == sorted([populated.rf, populated.gb])

    r = cli("-w", populated.root, "runs", "list", "-f", "metrics.auc > 0.8 and params.model = 'rf'")
    assert r.code == 0, r.err
    assert "1 run(s)" in r.out
    assert "rf-run" in r.out
    assert "gb-run" not in r.out


def test_runs_list_order_and_max(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "list", "--json", "--order-by", "metrics.auc ASC")
    assert _ids_in_json(r.out) == [populated.lr, populated.gb, populated.rf]

    r = cli("-w", populated.root, "runs", "list", "--json", "--max", "2", "-o", "metrics.auc DESC")
    doc = json.loads(r.out)
    assert [run["id"] for run in doc["runs"]] == [populated.rf, populated.gb]
    token = doc["next_page_token"]
    assert token

    r = cli(
        "-w",
        populated.root,
        "runs",
        "list",
        "--json",
        "--max",
        "2",
        "-o",
        "metrics.auc DESC",
        "--page-token",
        token,
    )
    assert _ids_in_json(r.out) == [populated.lr]


def test_runs_list_by_experiment(cli: Cli, populated: Populated) -> None:
    with closedloop.Client(populated.root) as client, client.start_run("other"):
        pass
    r = cli("-w", populated.root, "runs", "list", "--json", "--experiment", "churn")
    assert len(_ids_in_json(r.out)) == 3
    r = cli("-w", populated.root, "runs", "list", "--json", "-e", "other")
    assert len(_ids_in_json(r.out)) == 1
    r = cli("-w", populated.root, "runs", "list", "-e", "nope")
    assert r.code == 3
    assert "error [NOT_FOUND]" in r.err


def test_runs_list_bad_filter(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "list", "--filter", "metrics.auc > 'x'")
    assert r.code == 2
    assert "error [FILTER_SYNTAX]" in r.err
    assert "hint:" in r.err
    assert "Traceback" not in r.err
    assert r.out == ""


def test_runs_list_bad_filter_with_debug_raises(populated: Populated) -> None:
    with pytest.raises(FilterSyntaxError):
        main(
            ["--debug", "-w", str(populated.root), "runs", "list", "--filter", "metrics.auc > 'x'"]
        )


def test_runs_list_json_is_strict_json_with_nan_metrics(cli: Cli, populated: Populated) -> None:
    with closedloop.Client(populated.root) as client, client.start_run("odd") as run:
        run.log_metric("loss", math.nan)
        run.log_metric("ratio", math.inf)
    r = cli("-w", populated.root, "runs", "list", "--json", "-e", "odd")
    assert r.code == 0, r.err
    _strict_json(r.out)


# show ---------------------------------------------------------------------------------------------
def test_runs_show_by_prefix(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "show", populated.rf[:8])
    assert r.code == 0, r.err
    assert populated.rf in r.out
    assert "rf-run" in r.out
    assert "default/churn" in r.out
    assert "FINISHED" in r.out
    # params, metrics, tags, artifacts
    for text in (
        "params",
        "model",
        "rf",
        "depth",
        "metrics (latest)",
        "auc",
        "0.91",
        "tags",
        "team",
        "core",
        "artifacts",
        "model/model.bin",
        "notes.txt",
    ):
        assert text in r.out, text


def test_runs_show_json(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "show", populated.rf.upper()[:10], "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["id"] == populated.rf
    assert doc["params"] == {"model": "rf", "depth": "8"}
    assert {a["path"] for a in doc["artifacts"]} == {"model/model.bin", "notes.txt"}
    assert all(a["digest"].startswith("sha256:") for a in doc["artifacts"])


def test_runs_show_unknown_full_id(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "show", "0" * 32)
    assert r.code == NotFoundError.exit_code == 3
    assert "error [NOT_FOUND]" in r.err
    assert "Traceback" not in r.err


def test_runs_show_unknown_prefix(cli: Cli, populated: Populated) -> None:
    unused = next(
        c
        for c in "0123456789abcdef"
        if not any(i.startswith(c) for i in (populated.rf, populated.gb, populated.lr))
    )
    r = cli("-w", populated.root, "runs", "show", unused)
    assert r.code == 3
    assert "no run id starts with" in r.err


@pytest.mark.parametrize("prefix", ["not-hex", "zz", "a" * 33, " "])
def test_runs_show_invalid_prefix(cli: Cli, populated: Populated, prefix: str) -> None:
    r = cli("-w", populated.root, "runs", "show", prefix)
    assert r.code == 2
    assert "error [INVALID_ARGUMENT]" in r.err
    assert "32 hexadecimal" in r.err


def test_runs_show_ambiguous_prefix(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "amb"
    Workspace.init(root)
    with Workspace.open(root) as ws:
        exp = ws.metadata.get_or_create_experiment("default", "e")
        for run_id in ("abcd" + "0" * 28, "abcd" + "1" * 28):
            ws.metadata.create_run(exp.id, name=run_id[4:8], user="u", start_time=1, run_id=run_id)
    r = cli("-w", root, "runs", "show", "abcd")
    assert r.code == 2
    assert "ambiguous" in r.err
    r = cli("-w", root, "runs", "show", "abcd1")
    assert r.code == 0, r.err
    assert "abcd" + "1" * 28 in r.out


# compare ------------------------------------------------------------------------------------------
def test_runs_compare_shows_differing_params(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "compare", populated.rf[:8], populated.gb[:8])
    assert r.code == 0, r.err
    assert _cells(r.out, "params.model") == ["params.model", "rf", "gb"]
    assert _cells(r.out, "params.depth") == ["params.depth", "8", "8"]
    assert _cells(r.out, "metrics.auc") == ["metrics.auc", "0.91", "0.85"]
    assert "rf-run" in r.out
    assert "gb-run" in r.out


def test_runs_compare_only_diff(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "compare", "--only-diff", populated.rf, populated.gb)
    assert r.code == 0, r.err
    assert "params.model" in r.out
    assert "params.depth" not in r.out


def _cells(output: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is ``label``."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n{output}")


def test_runs_compare_missing_param_shows_dash(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "compare", populated.rf, populated.lr)
    assert r.code == 0, r.err
    assert _cells(r.out, "params.depth") == ["params.depth", "8", "-"]
    assert _cells(r.out, "params.model") == ["params.model", "rf", "lr"]
    assert _cells(r.out, "metrics.auc") == ["metrics.auc", "0.91", "0.7"]


def test_runs_compare_needs_two_runs(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "compare", populated.rf)
    assert r.code == 2
    assert "error [INVALID_ARGUMENT]" in r.err
    assert "two" in r.err


# delete -------------------------------------------------------------------------------------------
def test_runs_delete_with_yes(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "delete", populated.rf[:8], "--yes")
    assert r.code == 0, r.err
    assert f"deleted run {populated.rf}" in r.out
    assert "freed 2 blob(s)" in r.out
    assert "0 B" not in r.out

    assert cli("-w", populated.root, "runs", "show", populated.rf).code == 3
    r = cli("-w", populated.root, "runs", "list", "--json")
    assert sorted(_ids_in_json(r.out)) == sorted([populated.gb, populated.lr])


def test_runs_delete_unknown_prefix_deletes_nothing(cli: Cli, populated: Populated) -> None:
    unused = next(
        c
        for c in "0123456789abcdef"
        if not any(i.startswith(c) for i in (populated.rf, populated.gb, populated.lr))
    )
    r = cli("-w", populated.root, "runs", "delete", "-y", populated.gb, unused)
    assert r.code == 3
    r = cli("-w", populated.root, "runs", "list", "--json")
    assert populated.gb in _ids_in_json(r.out)


def test_runs_delete_several(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "delete", "-y", populated.gb, populated.lr)
    assert r.code == 0, r.err
    assert r.out.count("deleted run") == 2
    assert "freed 0 blob(s), 0 B" in r.out
    r = cli("-w", populated.root, "runs", "list", "--json")
    assert _ids_in_json(r.out) == [populated.rf]


def test_runs_delete_unknown_deletes_nothing(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "runs", "delete", "-y", populated.gb, "f" * 32)
    assert r.code == 3
    r = cli("-w", populated.root, "runs", "list", "--json")
    assert populated.gb in _ids_in_json(r.out)


def test_runs_delete_declined_keeps_the_run(
    cli: Cli, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    r = cli("-w", populated.root, "runs", "delete", populated.gb)
    assert r.code != 0
    assert "Delete 1 run(s)" in r.out
    assert "aborted" in r.err.lower()
    assert "Traceback" not in r.err
    assert cli("-w", populated.root, "runs", "show", populated.gb).code == 0


def test_runs_delete_confirmed_at_the_prompt(
    cli: Cli, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    r = cli("-w", populated.root, "runs", "delete", populated.gb)
    assert r.code == 0, r.err
    assert f"deleted run {populated.gb}" in r.out
    assert cli("-w", populated.root, "runs", "show", populated.gb).code == 3


def test_runs_delete_declined_with_cli_runner(populated: Populated) -> None:
    result = CliRunner().invoke(
        app, ["-w", str(populated.root), "runs", "delete", populated.lr], input="n\n"
    )
    assert result.exit_code != 0
    assert "Delete 1 run(s)" in result.output
    with closedloop.Client(populated.root) as client:
        assert client.runs.get(populated.lr).id == populated.lr


def test_runs_plot_writes_a_self_contained_page(
    cli: Cli, populated: Populated, tmp_path: Path
) -> None:
    out = tmp_path / "auc.html"
    r = cli("-w", populated.root, "runs", "plot", populated.rf[:8], "-m", "auc", "-o", out)
    assert r.code == 0, r.err
    page = out.read_text(encoding="utf-8")
    assert "rf-run" in page
    assert "<script src=" not in page


def test_runs_plot_unknown_metric_is_not_found(
    cli: Cli, populated: Populated, tmp_path: Path
) -> None:
    r = cli("-w", populated.root, "runs", "plot", populated.rf, "-m", "nope", "-o", tmp_path / "x")
    assert r.code == 3
    assert "nope" in r.err
