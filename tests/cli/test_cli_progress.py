from __future__ import annotations

import io

from rich.console import Console

from closedloop.cli._progress import progress_bars
from closedloop.core import ProgressEvent


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_bars_are_drawn_on_a_terminal_with_user_text_kept_literal() -> None:
    console, out = _console(True)
    with progress_bars(console) as progress:
        progress(ProgressEvent("cv [/evil] model\x1b]0;x\x07", 1, 5, "folds"))
        progress(ProgressEvent("read big.csv", 3 * 2**20, 8 * 2**20, "bytes"))
    text = out.getvalue()
    assert "cv [/evil] model" in text  # markup in a task name is shown, not parsed
    assert "\x07" not in text  # controls are replaced
    assert "\x1b]0;x" not in text
    assert "1/5 folds" in text
    assert "3.0 MiB / 8.0 MiB" in text


def test_piped_output_stays_clean() -> None:
    console, out = _console(False)
    with progress_bars(console) as progress:
        progress(ProgressEvent("cv model", 1, 5, "folds"))
    assert out.getvalue() == ""
