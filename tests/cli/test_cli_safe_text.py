"""User text in every CLI view is shown literally: never read as markup, no raw controls.

Issue 6, item 1: a run named ``eval on [/data/adult.csv]`` crashed ``runs list`` with a
``MarkupError``, ``ablation [no-age]`` lost its ``[no-age]``, and escape sequences in
names, params, tags and values reached the terminal raw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import Cli
from sklearn.dummy import DummyClassifier

import closedloop
from closedloop import registry
from closedloop.config import Settings
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import NotFoundError
from closedloop.workspace import Workspace

ADULT = "eval on [/data/adult.csv]"
EVIL = "[/evil]"
ABLATION = "ablation [no-age]"
BOLD = "[bold red]x[/]"
OSC = "title \x1b]0;pwned\x07 end"  # sets the terminal title
CSI_8BIT = "csi \x9b31m red"  # 0x9b is CSI on 8-bit terminals
SGR = "\x1b[31mred\x1b[0m"
OTHERS = "bs\x08 cr\r del\x7f bel\x07"

RAW = ("\x1b", "\x07", "\x9b", "\x08", "\r", "\x7f")


def assert_no_raw_controls(text: str) -> None:
    for char in RAW:
        assert char not in text, f"raw {char!r} reached the terminal"


@dataclass(frozen=True)
class Hostile:
    """A workspace whose names and values were written by someone hostile."""

    root: Path
    adult: str  # run in experiment [/evil], named ADULT, with params, tags, inputs, artifact
    ablation: str  # run named ABLATION + OSC, in the same experiment


@pytest.fixture
def hostile(tmp_path: Path) -> Hostile:
    root = (tmp_path / "ws").resolve()
    with closedloop.init(root) as client:
        with client.start_run(
            EVIL,
            name=ADULT,
            params={"[/p]": ABLATION, "osc": OSC, "csi": CSI_8BIT},
            tags={BOLD: SGR, "others": OTHERS},
        ) as run:
            run.log_metric("[/m]", 0.5)
            run.log_input("dataset", EVIL, ABLATION)
            run.log_text("notes", "[/evil]notes-\x1b]0;pwned\x07.txt")
        adult = run.id
        with client.start_run(EVIL, name=ABLATION + OSC, params={"[/p]": BOLD}) as run:
            run.log_metric("[/m]", 0.25)
        ablation = run.id
    return Hostile(root, adult, ablation)


def test_runs_list(cli: Cli, hostile: Hostile) -> None:
    r = cli("-w", hostile.root, "runs", "list")
    assert r.code == 0, r.err
    assert ADULT in r.out
    assert ABLATION in r.out  # not swallowed as a style tag
    assert f"default/{EVIL}" in r.out
    assert "[/m]" in r.out  # metric keys are column headers
    assert r"title \x1b]0;pwned\x07 end" in r.out  # made visible, not acted on
    assert_no_raw_controls(r.out + r.err)


def test_runs_list_json_escapes_controls(cli: Cli, hostile: Hostile) -> None:
    """A check, not a fix: JSON output was already safe (json.dumps escapes controls)."""
    r = cli("-w", hostile.root, "runs", "list", "--json")
    assert r.code == 0, r.err
    assert_no_raw_controls(r.out)  # json.dumps writes \u001b, the value round-trips
    names = {run["name"] for run in json.loads(r.out)["runs"]}
    assert names == {ADULT, ABLATION + OSC}


def test_runs_show(cli: Cli, hostile: Hostile) -> None:
    r = cli("-w", hostile.root, "runs", "show", hostile.adult)
    assert r.code == 0, r.err
    for text in (ADULT, f"default/{EVIL}", "[/p]", ABLATION, BOLD, "[/m]", EVIL):
        assert text in r.out, text
    assert r"title \x1b]0;pwned\x07 end" in r.out
    assert r"csi \x9b31m red" in r.out
    assert r"\x1b[31mred\x1b[0m" in r.out
    assert r"bs\x08 cr\r del\x7f bel\x07" in r.out
    assert r"[/evil]notes-\x1b]0;pwned\x07.txt" in r.out  # artifact path
    assert_no_raw_controls(r.out + r.err)


def test_runs_compare(cli: Cli, hostile: Hostile) -> None:
    r = cli("-w", hostile.root, "runs", "compare", hostile.adult, hostile.ablation)
    assert r.code == 0, r.err
    for text in (ADULT, "params.[/p]", ABLATION, BOLD, "metrics.[/m]"):
        assert text in r.out, text
    assert r"ablation [no-age]title \x1b]0;pwned\x07 end" in r.out  # a column header
    assert_no_raw_controls(r.out + r.err)


def test_experiments(cli: Cli, hostile: Hostile) -> None:
    r = cli("-w", hostile.root, "experiments")
    assert r.code == 0, r.err
    assert EVIL in r.out
    assert_no_raw_controls(r.out + r.err)


def test_artifacts_list(cli: Cli, hostile: Hostile) -> None:
    r = cli("-w", hostile.root, "artifacts", "list", hostile.adult)
    assert r.code == 0, r.err
    assert r"[/evil]notes-\x1b]0;pwned\x07.txt" in r.out
    assert_no_raw_controls(r.out + r.err)


def test_artifacts_get_names_the_file_literally(cli: Cli, hostile: Hostile, tmp_path: Path) -> None:
    out = tmp_path / "[bold]out"  # was shown as .../out
    out.mkdir()
    path = "[/evil]notes-\x1b]0;pwned\x07.txt"
    r = cli("-w", hostile.root, "artifacts", "get", hostile.adult, path, "-o", out / "n.txt")
    assert r.code == 0, r.err
    assert f"wrote {out / 'n.txt'}" in r.out
    assert_no_raw_controls(r.out + r.err)


def _register_hostile_model(root: Path) -> None:
    signature = TableSchema(
        (
            ColumnSchema(ADULT, LogicalType.FLOAT),
            ColumnSchema(OSC, LogicalType.CATEGORY, categories=(EVIL, ABLATION)),
        )
    )
    model = DummyClassifier().fit([[0.0, 0.0], [1.0, 1.0]], ["[/no]", ABLATION])
    ws = Workspace.open(root)
    try:
        registry.register_model(
            ws,
            "[bold]m",
            model,
            signature=signature,
            target=EVIL,
            classes=["[/no]", ABLATION],
            metrics={"roc_auc": 0.5, "[/auc]": 0.75},
            aliases=("[bold]champion",),
        )
    finally:
        ws.close()


def test_models_list_and_show(cli: Cli, hostile: Hostile) -> None:
    _register_hostile_model(hostile.root)
    r = cli("-w", hostile.root, "models", "list")
    assert r.code == 0, r.err
    assert "[bold]m/1" in r.out
    assert "[bold]champion" in r.out
    assert_no_raw_controls(r.out + r.err)

    r = cli("-w", hostile.root, "models", "show", "[bold]m/1")
    assert r.code == 0, r.err
    for text in ("[bold]m/1", "[bold]champion", EVIL, f"[/no], {ABLATION}", ADULT, "[/auc]"):
        assert text in r.out, text
    assert r"title \x1b]0;pwned\x07 end" in r.out  # a signature column
    assert_no_raw_controls(r.out + r.err)


def test_audit(cli: Cli, hostile: Hostile) -> None:
    # run reads are audited only under audit_reads="all" (not under the default policy)
    ws = Workspace.open(hostile.root, settings=Settings(audit_reads="all"))
    try:
        ws.actor = "mallory [/evil]\x1b]0;pwned\x07"
        with ws.action("run.read", f"run:{ADULT}"):
            pass
        with pytest.raises(NotFoundError), ws.action("run.read", f"run:{EVIL}"):
            raise NotFoundError(f"no run {EVIL}")
    finally:
        ws.close()
    r = cli("-w", hostile.root, "audit")
    assert r.code == 0, r.err
    assert f"run:{ADULT}" in r.out
    assert f"run:{EVIL}" in r.out
    assert "error:NOT_FOUND" in r.out  # the outcome keeps its (red) style
    assert r"mallory [/evil]\x1b]0;pwned\x07" in r.out
    assert_no_raw_controls(r.out + r.err)


def test_error_message_and_hint_are_literal(cli: Cli, hostile: Hostile) -> None:
    r = cli("-w", hostile.root, "runs", "show", "[/evil]\x1b]0;pwned\x07")
    assert r.code != 0
    assert "Traceback" not in r.err
    assert r"[/evil]\x1b]0;pwned\x07" in r.err  # the message names what was given
    assert_no_raw_controls(r.out + r.err)

    missing = hostile.root.parent / "[/nowhere]" / "ablation [no-age]"
    r = cli("-w", missing, "runs", "list")
    assert r.code != 0
    assert "Traceback" not in r.err
    assert str(missing) in r.err
    assert "hint:" in r.err


def test_quickstart_prints_its_workspace_path_literally(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "[bold]ws \x1b]0;pwned\x07"  # was shown as ".../ws " + a new title
    r = cli("quickstart", path, "--epochs", "2")
    assert r.code == 0, r.err
    shown = str(path).replace("\x1b", r"\x1b").replace("\x07", r"\x07")
    assert f"workspace: {shown}" in r.out
    assert f"look at it: closedloop -w {shown} runs show" in r.out
    assert_no_raw_controls(r.out + r.err)


def test_demo_prints_without_markup_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    from closedloop.demo import _lifecycle

    _lifecycle._print("[8 monitor] report /tmp/[/evil]/drift.html")  # the default `say`
    assert "[8 monitor] report /tmp/[/evil]/drift.html" in capsys.readouterr().out


def test_serve_ready_lines_show_the_reference_literally(
    cli: Cli, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from closedloop import serving

    def fake_serve(ws: Workspace, model_ref: str, **kwargs: Any) -> None:
        kwargs["on_ready"]("http://127.0.0.1:8000")  # what the server calls once it listens

    monkeypatch.setattr(serving, "serve", fake_serve)
    r = cli("-w", hostile.root, "serve", "[bold]m\x1b]0;pwned\x07@champion")
    assert r.code == 0, r.err
    assert r"serving [bold]m\x1b]0;pwned\x07@champion at http://127.0.0.1:8000" in r.out
    assert_no_raw_controls(r.out + r.err)


def test_init_shows_the_folder_literally(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "[bold]team\x1b[2J"  # was shown as ".../team" after clearing the screen
    r = cli("init", path)
    assert r.code == 0, r.err
    shown = str(path).replace("\x1b", r"\x1b")
    assert f"workspace ready at {shown}" in r.out
    assert f"{shown}/.closedloop/artifacts" in r.out  # the grid below it too
    assert_no_raw_controls(r.out + r.err)


def test_models_decisions(cli: Cli, hostile: Hostile) -> None:
    ws = Workspace.open(hostile.root)
    try:
        ws.metadata.decisions.record(
            "[bold]m",
            champion_version_id="[bold]m/1",
            challenger_version_id="[bold]m/2",
            decision="keep",
            reasons=[f"drift in {ADULT}", OSC],
            detail={"trigger": [f"drift in {EVIL}"]},
        )
    finally:
        ws.close()
    r = cli("-w", hostile.root, "models", "decisions", "[bold]m")
    assert r.code == 0, r.err
    assert "[bold]m: challenger [bold]m/2 vs champion [bold]m/1 → keep" in r.out
    assert f"    - drift in {ADULT}" in r.out
    assert r"    - title \x1b]0;pwned\x07 end" in r.out
    assert f"    trigger: drift in {EVIL}" in r.out
    assert_no_raw_controls(r.out + r.err)
