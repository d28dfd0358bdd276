"""``closedloop feedback import|add|list``: labels from files and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cli_support import Cli

from closedloop.cli._feedback import parse_label
from closedloop.testing import log_request
from closedloop.workspace import Workspace


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A workspace with request ``r1`` (two rows) and ``r2`` (one row) of m/1."""
    folder = tmp_path / "ws"
    Workspace.init(folder)
    with Workspace.open(folder) as ws:
        log_request(ws, "m/1", pd.DataFrame({"x": [1, 2]}), ["a", "b"], request_id="r1", time=1)
        log_request(ws, "m/1", pd.DataFrame({"x": [3]}), ["a"], request_id="r2", time=2)
    return folder


def _labels(root: Path) -> dict[tuple[str, int], object]:
    with Workspace.open(root) as ws:
        return {(lb.request_id, lb.row): lb.label for lb in ws.metadata.predictions.list_labels()}


def test_import_reports_attached_and_unknown_ids(cli: Cli, root: Path, tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    rows = ["rid,row,y", "r1,0,b", "r1,1,b", *[f"ghost{i},0,a" for i in range(7)]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = cli("-w", root, "feedback", "import", path, "--request-id-column", "rid",
            "--label-column", "y")  # fmt: skip
    assert r.code == 0, r.err
    assert "attached 2 label(s) (0 replaced an earlier one)" in r.out
    assert "7 unknown request id(s), not stored: ghost0, ghost1, ghost2, ghost3, ghost4" in r.out
    assert "and 2 more" in r.out
    assert _labels(root) == {("r1", 0): "b", ("r1", 1): "b"}


def test_import_of_nothing_known_exits_1(cli: Cli, root: Path, tmp_path: Path) -> None:
    path = tmp_path / "truth.parquet"
    pd.DataFrame({"request_id": ["nope"], "label": [1]}).to_parquet(path)
    r = cli("-w", root, "feedback", "import", path)
    assert r.code == 1
    assert "attached 0 label(s)" in r.out
    assert "nope" in r.out


def test_a_missing_column_is_one_line_naming_it(cli: Cli, root: Path, tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    path.write_text("id,label\nr2,a\n", encoding="utf-8")
    r = cli("-w", root, "feedback", "import", path)
    assert r.code != 0
    assert "Traceback" not in r.err
    assert "no column 'request_id'" in r.err
    assert "'id', 'label'" in r.err
    assert "--request-id-column" in r.err


def test_a_missing_file_is_one_line(cli: Cli, root: Path, tmp_path: Path) -> None:
    r = cli("-w", root, "feedback", "import", tmp_path / "absent.csv")
    assert r.code != 0
    assert "Traceback" not in r.err
    assert "absent.csv" in r.err


def test_add_one_label_then_replace_it(cli: Cli, root: Path) -> None:
    r = cli("-w", root, "feedback", "add", "r1", "1", "--row", "1")
    assert r.code == 0, r.err
    assert "attached 1 label(s) (0 replaced" in r.out
    r = cli("-w", root, "feedback", "add", "r1", "1", "--row", "1", "--text")
    assert "(1 replaced" in r.out
    assert _labels(root) == {("r1", 1): "1"}


def test_add_reports_a_bad_row_and_an_unknown_request(cli: Cli, root: Path) -> None:
    r = cli("-w", root, "feedback", "add", "r2", "a", "--row", "3")
    assert r.code == 1
    assert "1 label(s) name a row the request does not have: r2 row 3 of 1" in r.out
    r = cli("-w", root, "feedback", "add", "zzz", "a")
    assert r.code == 1
    assert "1 unknown request id(s), not stored: zzz" in r.out


def test_list_shows_labels_and_user_text_stays_literal(cli: Cli, root: Path) -> None:
    cli("-w", root, "feedback", "add", "r2", "[red]x\x1b]0;t\x07")
    r = cli("-w", root, "feedback", "list")
    assert r.code == 0, r.err
    assert "1 label(s)" in r.out
    assert "[red]x" in r.out
    assert "\x1b" not in r.out
    (doc,) = [json.loads(x) for x in cli("-w", root, "feedback", "list", "--json").out.splitlines()]
    assert (doc["request_id"], doc["row"], doc["label"]) == ("r2", 0, "[red]x\x1b]0;t\x07")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("-2", -2), ("0.5", 0.5), ("true", True), ("False", False), ("yes", "yes"),
     ("nan", "nan"), (">50K", ">50K")],
)  # fmt: skip
def test_labels_typed_on_the_command_line(text: str, value: object) -> None:
    assert parse_label(text) == value
    assert type(parse_label(text)) is type(value)
