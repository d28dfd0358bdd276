"""``closedloop models`` (alias history, descriptions, tags) and ``closedloop endpoints``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Cli

import closedloop
from closedloop.core import ColumnSchema, LogicalType, TableSchema

_SIG = TableSchema((ColumnSchema("age", LogicalType.INTEGER),))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with versions adult/1..3, champion → 1, challenger → 2, and small/1."""
    root = (tmp_path / "ws").resolve()
    with closedloop.init(root) as client:
        store = client.workspace.metadata.models
        for model in ("adult", "adult", "adult", "small"):
            signature = _SIG if model == "adult" else TableSchema(())
            store.create_version(
                model,
                artifact_digest="sha256:" + "d" * 64,
                signature=signature,
                target="y",
                classes=[],
                metrics={},
            )
        client.models.set_alias("adult", "champion", 1)
        client.models.set_alias("adult", "challenger", 2)
    return root


def _rows(out: str) -> dict[str, list[str]]:
    """The cells of a printed table's rows, by their second cell."""
    rows = [[c.strip() for c in ln.strip().strip("│").split("│")] for ln in out.splitlines()]
    return {r[1]: r for r in rows if len(r) > 2}


def test_alias_with_a_reason_and_the_history(cli: Cli, ws: Path) -> None:
    moved = cli(
        "-w", ws, "models", "alias", "adult", "champion", "3", "--reason", "auc [b]0.84[/b]"
    )
    assert moved.code == 0, moved.err
    result = cli("-w", ws, "models", "history", "adult")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "from → to" in lines[1]
    assert "why" in lines[1]
    newest = next(line for line in lines if "adult/1 → adult/3" in line)
    assert "auc [b]0.84[/b]" in newest  # markup in a reason is shown as written
    assert "new → adult/1" in result.out
    only = cli("-w", ws, "models", "history", "adult", "--alias", "challenger")
    assert "new → adult/2" in only.out
    assert "champion" not in only.out
    assert "no alias moves" in cli("-w", ws, "models", "history", "small").out


def test_describe_tag_untag_and_show(cli: Cli, ws: Path) -> None:
    assert cli("-w", ws, "models", "describe", "adult", "income [red]model[/red]").code == 0
    assert cli("-w", ws, "models", "describe", "adult@champion", "the first").code == 0
    assert cli("-w", ws, "models", "tag", "adult", "team=risk=high").code == 0
    assert cli("-w", ws, "models", "tag", "adult/2", "approved=no").code == 0
    model = cli("-w", ws, "models", "show", "adult")
    assert model.code == 0, model.err
    assert "income [red]model[/red]" in model.out
    assert "team" in model.out
    assert "risk=high" in model.out
    assert "champion → adult/1" in model.out
    assert "adult/3" in model.out
    version = cli("-w", ws, "models", "show", "adult/1")
    assert "the first" in version.out
    assert "approved" in cli("-w", ws, "models", "show", "adult/2").out
    assert cli("-w", ws, "models", "untag", "adult/2", "approved").code == 0
    assert "approved" not in cli("-w", ws, "models", "show", "adult/2").out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("models", "tag", "adult", "novalue"), "is not KEY=VALUE"),
        (("models", "tag", "adult", "=x"), "tag key cannot be empty"),
        (("models", "untag", "adult", "nope"), "no tag 'nope'"),
        (("models", "describe", "nobody/1", "x"), "nobody/1"),
        (("endpoints", "create", "e"), "at least one route"),
        (("endpoints", "create", "e", "--route", "adult@champion"), "has no weight"),
        (("endpoints", "create", "e", "--route", "adult@champion=lots"), "not a number"),
        (("endpoints", "create", "e", "--route", "adult/1=0"), "finite and above 0"),
        (("endpoints", "create", "e", "--route", "adult/1=1", "--shadow", "small/1"), "small/1"),
        (("endpoints", "create", "e", "--route", "adult/9=1"), "adult/9"),
        (("endpoints", "show", "nope"), "no endpoint 'nope'"),
        (("endpoints", "delete", "nope"), "no endpoint 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_a_hint(
    cli: Cli, ws: Path, argv: tuple[str, ...], message: str
) -> None:
    result = cli("-w", ws, *argv)
    assert result.code in (2, 3), result.err
    assert message in result.err
    assert "hint:" in result.err
    assert "Traceback" not in result.err


def test_endpoints_create_show_update_list_delete(cli: Cli, ws: Path) -> None:
    created = cli(
        "-w",
        ws,
        "endpoints",
        "create",
        "census",
        "--route",
        "adult@champion=90",
        "--route",
        "adult@challenger=10",
        "--shadow",
        "adult/3",
        "--description",
        "income [i]split[/i]",
    )
    assert created.code == 0, created.err
    shown = cli("-w", ws, "endpoints", "show", "census")
    rows = _rows(shown.out)
    assert rows["adult@champion"] == ["route", "adult@champion", "90%", "90", "adult/1"]
    assert rows["adult@challenger"] == ["route", "adult@challenger", "10%", "10", "adult/2"]
    assert rows["adult/3"][0] == "shadow"
    assert rows["adult/3"][-1] == "adult/3"
    assert "income [i]split[/i]" in shown.out
    # an alias move shows at once: the endpoint holds the reference, not the version
    assert cli("-w", ws, "models", "alias", "adult", "champion", "3").code == 0
    now = _rows(cli("-w", ws, "endpoints", "show", "census").out)
    assert now["adult@champion"][-1] == "adult/3"

    updated = cli("-w", ws, "endpoints", "update", "census", "--route", "adult/1=1", "--no-shadows")
    assert updated.code == 0, updated.err
    listed = cli("-w", ws, "endpoints", "list")
    assert "census" in listed.out
    assert "adult/1 100%" in listed.out
    assert "adult@champion" not in listed.out
    assert cli("-w", ws, "endpoints", "delete", "census").code == 0
    assert "no endpoints" in cli("-w", ws, "endpoints", "list").out
