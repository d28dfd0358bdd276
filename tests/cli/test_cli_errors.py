"""Errors that are not closedloop's own still end as one line and a hint, never a traceback."""

from __future__ import annotations

import pytest
from cli_support import Cli, Populated

from closedloop.cli import _state


def _raise(exc: BaseException) -> object:
    def client(self: object) -> object:
        raise exc

    return client


def test_an_unexpected_error_is_one_line_with_the_way_to_the_traceback(
    cli: Cli, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_state.CliState, "client", _raise(RuntimeError("boom [/red]")))
    result = cli("-w", str(populated.root), "runs", "list")
    assert result.code == 70
    assert "Traceback" not in result.err
    assert "error [INTERNAL]: unexpected RuntimeError: boom [/red]" in result.err
    assert "--debug" in result.err
    with pytest.raises(RuntimeError, match="boom"):
        cli("--debug", "-w", str(populated.root), "runs", "list")


def test_an_os_error_names_the_file(
    cli: Cli, populated: Populated, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = PermissionError(13, "Permission denied", "/data/adult.csv")
    monkeypatch.setattr(_state.CliState, "client", _raise(error))
    result = cli("-w", str(populated.root), "runs", "list")
    assert result.code == 1
    assert "error [OS]: /data/adult.csv: Permission denied" in result.err
    assert "Traceback" not in result.err


def test_a_long_error_stays_on_one_line_when_piped(cli: Cli, populated: Populated) -> None:
    prefix = "x" * 500
    result = cli("-w", str(populated.root), "runs", "show", prefix)
    assert result.code != 0
    error_lines = [line for line in result.err.splitlines() if line.startswith("error")]
    assert len(error_lines) == 1
    assert prefix in error_lines[0]
