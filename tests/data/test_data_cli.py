"""``closedloop data ingest | list | show | validate`` through typer's CliRunner."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from rich.console import Console
from typer.testing import CliRunner

from closedloop.cli import _data
from closedloop.cli._app import main
from closedloop.cli._safe import safe_console
from closedloop.cli._state import CliState
from closedloop.errors import ArtifactIntegrityError, DataValidationError, InvalidArgumentError
from closedloop.workspace import Workspace

Invoke = Callable[..., Result]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    Workspace.init(folder)
    return folder


@pytest.fixture
def invoke(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """Run ``closedloop data *args`` on the workspace at ``root``."""
    monkeypatch.setattr(_data, "console", safe_console(width=300, color_system=None))
    runner = CliRunner()
    states: list[CliState] = []

    def run(*args: str | Path) -> Result:
        state = CliState(workspace=str(root))
        states.append(state)
        return runner.invoke(_data.app, [str(a) for a in args], obj=state)

    yield run
    for state in states:
        state.close()


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    path = tmp_path / "batch.csv"
    path.write_text("age,sex,note\n31,F,a\n45,M,b\n27,F,c\n")
    return path


def test_ingest_prints_the_version(invoke: Invoke, batch: Path) -> None:
    first = invoke("ingest", batch, "--name", "people")
    assert first.exit_code == 0, first.output
    assert "people@" in first.output
    assert "version 1" in first.output
    assert "3 rows" in first.output
    assert "3 columns" in first.output
    assert "created" in first.output
    again = invoke("ingest", batch, "--name", "people")
    assert again.exit_code == 0, again.output
    assert "existing" in again.output


def test_ingest_with_format_and_options(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "semi.txt"
    path.write_text("a;b\n1;?\n2;x\n")
    r = invoke(
        "ingest", path, "-n", "semi", "--format", "csv", "-o", "sep=;", "-o", 'na_values=["?"]'
    )
    assert r.exit_code == 0, r.output
    shown = invoke("show", "semi@latest", "--json")
    doc = json.loads(shown.output)
    assert json.loads(doc["source"])["options"] == {"sep": ";", "na_values": ["?"]}
    b = next(c for c in doc["schema"]["columns"] if c["name"] == "b")
    assert b["nullable"] is True


def test_bad_option_syntax(invoke: Invoke, batch: Path) -> None:
    r = invoke("ingest", batch, "--name", "people", "--option", "novalue")
    assert isinstance(r.exception, InvalidArgumentError)
    assert r.exception.exit_code == 2


def test_list(invoke: Invoke, batch: Path, tmp_path: Path) -> None:
    invoke("ingest", batch, "--name", "people")
    other = tmp_path / "other.csv"
    other.write_text("x\n1\n")
    invoke("ingest", other, "--name", "other")
    r = invoke("list")
    assert r.exit_code == 0, r.output
    assert "2 dataset version(s)" in r.output
    assert "people@" in r.output
    assert "other@" in r.output
    assert str(batch.resolve()) in r.output
    only = invoke("list", "people")
    assert "1 dataset version(s)" in only.output
    assert "other@" not in only.output
    as_json = json.loads(invoke("list", "--json").output)
    assert [v["dataset"] for v in as_json] == ["other", "people"]


def test_show(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    rows = [f"{i},{'F' if i % 2 else 'M'},c{i:02d}" for i in range(20)]
    path.write_text("age,sex,code\n" + "\n".join(rows) + "\n")
    invoke("ingest", path, "--name", "wide")
    r = invoke("show", "wide/1")
    assert r.exit_code == 0, r.output
    for text in ("wide@", "rows", "20", "source digest", "sha256:", "schema", "nullable"):
        assert text in r.output
    lines = {line.split()[1]: line for line in r.output.splitlines() if line.startswith("│ ")}
    assert "integer" in lines["age"]
    assert "[0, 19]" in lines["age"]
    assert "F, M" in lines["sex"]
    assert "category" in lines["code"]
    assert "(+12 more)" in lines["code"]  # 20 categories, 8 shown
    assert "c19" not in r.output


def test_show_lineage(invoke: Invoke, root: Path, batch: Path) -> None:
    import pandas as pd

    from closedloop import data

    invoke("ingest", batch, "--name", "people")
    with Workspace.open(root) as ws:
        data.ingest_frame(
            ws, pd.DataFrame({"age": [31]}), "derived", source="first row", parents=["people/1"]
        )
        parent = data.get_version(ws, "people/1").id
    r = invoke("show", "derived@latest")
    assert r.exit_code == 0, r.output
    assert parent in r.output
    assert "first row" in r.output


def test_show_unknown_version(invoke: Invoke) -> None:
    r = invoke("show", "nobody@latest")
    assert r.exception is not None
    assert r.exception.exit_code == 3  # type: ignore[attr-defined]


def test_validate_ok_and_refused(invoke: Invoke, batch: Path, tmp_path: Path) -> None:
    invoke("ingest", batch, "--name", "people")
    good = tmp_path / "good.csv"
    good.write_text("age,sex,note\n50,M,z\n33,X,y\n")
    ok = invoke("validate", "people@latest", good)
    assert ok.exit_code == 0, ok.output
    assert "ok: 2 rows, 3 columns" in ok.output
    assert "category" in ok.output  # the warning is shown
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"age": "old", "sex": "F", "note": "a", "extra": 1}]))
    r = invoke("validate", "people@latest", bad)
    assert isinstance(r.exception, DataValidationError)
    assert r.exception.exit_code == 2
    assert "unknown_column" in r.output
    assert "old" in r.output
    assert "type" in r.output
    assert "ok:" not in r.output


def test_validate_with_explicit_format(invoke: Invoke, batch: Path, tmp_path: Path) -> None:
    invoke("ingest", batch, "--name", "people")
    path = tmp_path / "batch.data"
    path.write_text(batch.read_text())
    assert invoke("validate", "people/1", path, "--format", "csv").exit_code == 0


def test_help_text() -> None:
    r = CliRunner().invoke(_data.app, ["--help"])
    assert r.exit_code == 0
    assert "Ingest, inspect and validate datasets." in r.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,a\n1,2,3\n", "duplicate column name(s) in"),
        (",,,\n,,,\n,,,\n", "has no column names"),
        ("a,b,c\n", "no data rows in"),
        ("a,b\n5,x\n7,y\ninf,z\n", "column 'a' of"),
        ("a,b\n1,x\n99999999999999999999999999,y\n", "integer too large for 64 bits in data row 2"),
        ("a,b\n1,x\x00y\n", "NUL byte in data row 1"),
    ],
)
def test_refused_files_get_one_error_line_and_a_hint(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code = main(["-w", str(root), "data", "ingest", str(path), "-n", "bad"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("error [INVALID_ARGUMENT]: ")
    assert message in lines[0]
    assert lines[1].startswith("hint: ")
    assert "Traceback" not in err
    with Workspace.open(root) as ws:
        assert ws.metadata.datasets.list_versions(None) == []


def test_ingest_prints_its_warnings(invoke: Invoke, tmp_path: Path) -> None:
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b;c\n1;2;3\n")
    r = invoke("ingest", semi, "-n", "semi")
    assert r.exit_code == 0, r.output
    assert "3 columns  created" in r.output
    assert "warning: read with the delimiter ';' (detected)" in r.output
    explicit = invoke("ingest", semi, "-n", "one", "-o", "sep=,")
    assert "1 columns  created" in explicit.output
    assert "warning" not in explicit.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\nJosé\n".encode("latin-1"))
    r = invoke("ingest", latin, "-n", "latin")
    assert r.exit_code == 0, r.output
    assert "warning: 'latin.csv' is not valid UTF-8" in r.output
    assert "-o encoding=" in r.output


def test_unknown_format_hint_names_the_cli_flag(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.xyz"
    path.write_text("a\n1\n")
    assert main(["-w", str(root), "data", "ingest", str(path), "-n", "x"]) == 2
    assert "hint: pass -f/--format on the command line, or format= in Python" in (
        capsys.readouterr().err
    )


def test_markup_and_controls_in_headers_and_values_are_shown_literally(
    invoke: Invoke, tmp_path: Path
) -> None:
    path = tmp_path / "markup.csv"
    path.write_text("[/red],note\n[bold]x,\x1b]0;pwned\x07\ny,b\n")
    r = invoke("ingest", path, "-n", "markup")
    assert r.exit_code == 0, r.output
    shown = invoke("show", "markup@latest")
    assert shown.exit_code == 0, shown.output
    assert "[/red]" in shown.output
    assert "[bold]x" in shown.output
    assert "\x1b" not in shown.output
    assert "\x07" not in shown.output
    batch = tmp_path / "batch.csv"
    batch.write_text("[/red],note\n[/red],b\n")
    checked = invoke("validate", "markup@latest", batch)
    assert checked.exit_code == 0, checked.output
    assert "[/red]" in checked.output  # the unseen category, in the warning table
    assert "ok: 1 rows, 2 columns" in checked.output
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("[/red],[/oops]\nx,b\n")
    refused = invoke("validate", "markup@latest", wrong)
    assert isinstance(refused.exception, DataValidationError)
    assert "[/oops]" in refused.output  # the unknown column, in the error table


def test_piped_ingest_prints_no_progress(invoke: Invoke, batch: Path) -> None:
    r = invoke("ingest", batch, "-n", "people")
    assert r.exit_code == 0, r.output
    assert r.output.count("\n") == 1  # just the result line
    assert "\r" not in r.output
    assert "\x1b" not in r.output


def test_ingest_draws_progress_on_a_terminal(
    invoke: Invoke, batch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(_data, "err_console", Console(file=terminal, force_terminal=True))
    r = invoke("ingest", batch, "-n", "people")
    assert r.exit_code == 0, r.output
    assert "reading batch.csv" in terminal.getvalue()
    assert "reading" not in r.output  # stdout has the result only
    assert "people@" in r.output


def test_validate_against_a_corrupt_version_is_an_error(
    invoke: Invoke, root: Path, batch: Path
) -> None:
    invoke("ingest", batch, "-n", "people")
    shown = json.loads(invoke("show", "people@latest", "--json").output)
    hex_digest = shown["digest"].removeprefix("sha256:")
    blob = root / ".closedloop" / "artifacts" / "objects" / hex_digest[:2] / hex_digest[2:]
    content = bytearray(blob.read_bytes())
    content[-10] ^= 0xFF
    blob.write_bytes(bytes(content))
    r = invoke("validate", "people@latest", batch)
    assert isinstance(r.exception, ArtifactIntegrityError)
    assert r.exception.exit_code != 0
    assert shown["id"] in r.exception.message
    assert "ok:" not in r.output
