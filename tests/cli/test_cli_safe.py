"""``closedloop.cli._safe``: the one way the CLI turns user text into display text."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from closedloop.cli._safe import SafeTable, line, plain, printer, safe_console, user_text


def _render(*renderables: object, colour: bool = False) -> str:
    buffer = io.StringIO()
    console = safe_console(
        file=buffer,
        width=120,
        force_terminal=colour,
        color_system="standard" if colour else None,
        legacy_windows=False,
    )
    for renderable in renderables:
        console.print(renderable)
    return buffer.getvalue()


def _assert_no_raw(out: str) -> None:
    for char in ("\x1b", "\x07", "\x9b"):
        assert char not in out


# plain --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", r"\x1b]0;pwned\x07"),  # OSC: set the terminal title
        ("\x1b[31mred", r"\x1b[31mred"),  # CSI colour
        ("a\x9b31mb", r"a\x9b31mb"),  # 8-bit CSI
        ("\x9d0;t\x9c", r"\x9d0;t\x9c"),  # 8-bit OSC and ST
        ("nul\x00", r"nul\x00"),
        ("back\x08space", r"back\x08space"),
        ("over\rwrite", r"over\rwrite"),
        ("del\x7f", r"del\x7f"),
        ("two\nlines\ttab", r"two\nlines\ttab"),
        ("\u202eevil", r"\u202eevil"),  # right-to-left override
        ("line\u2028sep", r"line\u2028sep"),
    ],
)
def test_plain_makes_control_characters_visible(raw: str, shown: str) -> None:
    assert plain(raw) == shown


def test_plain_keeps_printable_text_and_markup_as_is() -> None:
    text = "eval on [/data/adult.csv] [bold red]x[/] :cat: café 中文 ✓ C:\\data"
    assert plain(text) == text


def test_plain_multiline_keeps_line_feeds_and_tabs_only() -> None:
    assert plain("a\nb\tc\r\x1b", multiline=True) == "a\nb\tc\\r\\x1b"


def test_plain_of_other_values() -> None:
    assert plain(3) == "3"
    assert plain(None) == "None"
    assert plain(Text("[/t]\x1b")) == r"[/t]\x1b"  # (a Text already drops BEL, BS, CR)
    assert plain(b"\x1b") == r"b'\x1b'"  # repr of bytes is already escaped


# user_text and line ------------------------------------------------------------------------------
def test_user_text_is_never_markup() -> None:
    for name in ("eval on [/data/adult.csv]", "[/evil]", "ablation [no-age]", "[bold red]x[/]"):
        text = user_text(name)
        assert isinstance(text, Text)
        assert text.plain == name
        assert _render(text).rstrip("\n") == name


def test_user_text_style_and_escaping() -> None:
    text = user_text("\x1b]0;x\x07", style="red")
    assert text.plain == r"\x1b]0;x\x07"
    assert str(text.style) == "red"
    kept = Text("ok", style="green")
    assert user_text(kept) is kept  # a clean Text keeps its spans
    rebuilt = user_text(Text("bad\x1b", style="green"))
    assert rebuilt.plain == r"bad\x1b"
    assert str(rebuilt.style) == "green"


def test_line_styles_our_words_and_shows_user_values_literally() -> None:
    text = line(("error", "bold red"), " [NOT_FOUND]: run ", "[/evil]\x1b[2J", "!")
    assert text.plain == r"error [NOT_FOUND]: run [/evil]\x1b[2J!"
    assert [str(s.style) for s in text.spans] == ["bold red"]
    coloured = _render(text, colour=True)
    assert "\x1b[1;31merror" in coloured  # our style is rendered
    assert "\x1b[2J" not in coloured  # theirs is not


# SafeTable ----------------------------------------------------------------------------------------
def test_safe_table_cells_headers_and_title_are_literal() -> None:
    table = SafeTable(title="[/title]", caption="[bold]cap")
    table.add_column("[/head]")
    table.add_column("n", justify="right")
    table.add_column(Text("styled", style="bold"))
    table.add_row("eval on [/data/adult.csv]", 3, Text("ok", style="green"))
    table.add_row("ablation [no-age]", None, "\x1b]0;pwned\x07")
    grid = SafeTable.grid()
    grid.add_row(":cat: [/x]")
    out = _render(table, grid)
    for text in ("[/title]", "[bold]cap", "[/head]", "eval on [/data/adult.csv]", "3"):
        assert text in out
    assert "ablation [no-age]" in out
    assert r"\x1b]0;pwned\x07" in out
    assert ":cat: [/x]" in out
    _assert_no_raw(out)


def test_plain_rich_table_would_fail_and_safe_table_does_not() -> None:
    unsafe = Table()
    unsafe.add_column("name")
    unsafe.add_row("[/evil]")
    with pytest.raises(Exception, match="closing tag"):
        _render(unsafe)
    safe = SafeTable()
    safe.add_column("name")
    safe.add_row("[/evil]")
    assert "[/evil]" in _render(safe)


# safe_console: the render hook behind everything ------------------------------------------------
def test_safe_console_escapes_controls_in_any_renderable() -> None:
    table = Table(title="report")  # built elsewhere, not a SafeTable
    table.add_column("column")
    table.add_row(Text("x\x1b]0;pwned\x9c\x9b31m"))
    out = _render(table, Text("esc\x1b"), "plain \x1b[2J str")
    assert r"x\x1b]0;pwned\x9c\x9b31m" in out
    assert r"esc\x1b" in out
    assert r"plain \x1b[2J str" in out
    _assert_no_raw(out)


def test_safe_console_keeps_rich_styles_and_line_breaks() -> None:
    out = _render(Text("red", style="red"), Text("one\ntwo"), colour=True)
    assert "\x1b[31mred\x1b[0m" in out  # rich's own colour codes still work
    assert "one\ntwo" in out


def test_a_plain_console_would_let_escapes_through() -> None:
    buffer = io.StringIO()
    Console(file=buffer, color_system=None).print(Text("\x1b]0;pwned"))
    assert "\x1b" in buffer.getvalue()  # why the CLI consoles carry the hook


def test_safe_console_has_no_emoji_codes() -> None:
    assert ":cat:" in _render(":cat:")


# printer ------------------------------------------------------------------------------------------
def test_printer_prints_messages_literally_and_renderables_as_they_are() -> None:
    buffer = io.StringIO()
    say = printer(safe_console(file=buffer, width=120, color_system=None))
    say("[3 train] path /tmp/[bold]ws\nsecond line\x07")
    table = SafeTable()
    table.add_column("c")
    table.add_row("[/cell]")
    say(table)
    out = buffer.getvalue()
    assert "[3 train] path /tmp/[bold]ws\nsecond line\\x07" in out
    assert "[/cell]" in out
    assert "┃ c" in out
