r"""User text on the terminal: never read as rich markup, control characters made visible.

Names, params, tags, paths, CSV headers and error messages come from people (or from
someone with write access to the workspace). Printed as they are, ``[/evil]`` crashes rich
with a ``MarkupError``, ``ablation [no-age]`` loses its ``[no-age]``, and ``\x1b]0;pwned\x07``
retitles the terminal. Everything the CLI shows goes through this module:

- :func:`plain` and :func:`user_text` turn any value into safe display text (a ``str`` with
  control characters escaped, or a :class:`rich.text.Text`, which rich never parses);
- :func:`line` assembles one line of our own styled words and user values;
- :class:`SafeTable` is a rich ``Table`` whose ``str`` cells, headers and titles are data;
- :func:`safe_console` makes the CLI consoles, whose render hook escapes control
  characters in every segment printed, whatever renderable produced it (a last line of
  defence for tables built elsewhere, such as validation and drift reports).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RenderResult
from rich.jupyter import JupyterMixin
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text

__all__ = [
    "SafeTable",
    "line",
    "plain",
    "printer",
    "safe_console",
    "user_text",
]

# C0 controls (NUL … US, including ESC, BEL, BS, CR, TAB, LF), DEL, C1 controls (0x80-0x9f,
# among them CSI 0x9b and OSC 0x9d, which terminals act on like ESC [ and ESC ]), the Unicode
# line and paragraph separators, and the bidirectional overrides and isolates that reorder
# what is shown ("Trojan Source").
_OTHERS = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_LINE = re.compile(f"[\x00-\x1f{_OTHERS}]")
# The same, but line feed (0x0a) and tab (0x09) are kept.
_UNSAFE_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: object, *, multiline: bool = False) -> str:
    r"""``value`` as text safe to print: control characters shown as escapes (``\x1b``).

    Args:
        value: Anything; a ``str`` is used as is, a ``Text`` by its plain text, anything
            else through ``str()``.
        multiline: Keep line feeds and tabs (for text shown on several lines, such as a
            report); otherwise they are escaped too, so one value stays on one line.

    Returns:
        The text with every C0/C1 control character, DEL, line/paragraph separator and
        bidirectional override replaced by its escape
        (``\n``, ``\r``, ``\t``, else ``\xNN`` or ``\uNNNN``). Rich markup
        is left as it is: pass the result to rich only inside a ``Text`` (see
        :func:`user_text`), never as a markup string.
    """
    if isinstance(value, Text):
        text = value.plain
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE_LINE
    return pattern.sub(_escape_char, text)


def user_text(value: object, *, style: str | Style = "", multiline: bool = False) -> Text:
    """``value`` as a rich ``Text``: shown literally (``[/evil]`` stays ``[/evil]``).

    Args:
        value: Anything (see :func:`plain`). A ``Text`` keeps its styles unless it holds
            control characters, in which case it is rebuilt from its escaped plain text.
        style: Style of the whole text, e.g. ``"bold red"``.
        multiline: Keep line feeds and tabs (see :func:`plain`).

    Returns:
        A ``Text`` with no control characters; rich does not parse a ``Text`` for markup
        or emoji codes.
    """
    pattern = _UNSAFE_MULTILINE if multiline else _UNSAFE_LINE
    if isinstance(value, Text) and not pattern.search(value.plain):
        if not style:
            return value
        styled = value.copy()
        styled.stylize(style)
        return styled
    base_style = value.style if isinstance(value, Text) and not style else style
    return Text(plain(value, multiline=multiline), style=base_style)


def line(*parts: object, multiline: bool = False) -> Text:
    """One printed line from parts: each is shown literally, none is read as markup.

    Args:
        *parts: Values (``str`` or anything else, see :func:`plain`), ``Text``, or
            ``(value, style)`` pairs for the words we style ourselves, e.g.
            ``line(("error", "bold red"), " ", message)``.
        multiline: Keep line feeds and tabs inside the parts.

    Returns:
        The parts joined, as a ``Text``.
    """
    out = Text()
    for part in parts:
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], str | Style):
            out.append_text(user_text(part[0], style=part[1], multiline=multiline))
        else:
            out.append_text(user_text(part, multiline=multiline))
    return out


def _cell(value: object) -> Any:
    """A table cell: ``str`` and other plain values become safe ``Text``."""
    if value is None:
        return None
    if isinstance(value, Text):
        return user_text(value, multiline=True)
    if hasattr(value, "__rich_console__") or hasattr(value, "__rich__"):
        return value  # a renderable we built; its own strings go through this module
    return user_text(value)


class SafeTable(Table):
    """A rich ``Table`` for data: ``str`` cells, headers, title and caption are literal text.

    ``rich.table.Table`` renders a ``str`` cell as console markup, so a run named
    ``eval on [/data/adult.csv]`` raises ``MarkupError``. Here every ``str`` (or number, or
    other value) becomes :func:`user_text`; to style a cell, pass a ``Text``
    (``user_text(value, style="red")``). ``SafeTable.grid()`` makes a safe grid.
    """

    def __init__(self, *headers: Any, **kwargs: Any) -> None:
        """Like ``Table``; a ``str`` title or caption is shown literally."""
        for key in ("title", "caption"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = user_text(kwargs[key])
        super().__init__(*headers, **kwargs)

    def add_column(self, header: Any = "", footer: Any = "", **kwargs: Any) -> None:
        """Like ``Table.add_column``; a ``str`` header or footer is shown literally."""
        super().add_column(_cell(header) or "", _cell(footer) or "", **kwargs)

    def add_row(
        self, *renderables: Any, style: str | Style | None = None, end_section: bool = False
    ) -> None:
        """Like ``Table.add_row``; ``str`` and other plain cells are shown literally."""
        super().add_row(*(_cell(r) for r in renderables), style=style, end_section=end_section)


class _Escaped(JupyterMixin):
    """A renderable whose printed segments have their control characters escaped."""

    def __init__(self, renderable: ConsoleRenderable | str) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.renderable, options):
            if segment.control or not _UNSAFE_MULTILINE.search(segment.text):
                yield segment
            else:
                yield Segment(plain(segment.text, multiline=True), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.renderable)


class _EscapeHook(RenderHook):
    """Wraps everything a console prints in :class:`_Escaped`."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Escaped(r) for r in renderables]


def safe_console(**kwargs: Any) -> Console:
    """A rich ``Console`` for the CLI: control characters never reach the terminal raw.

    Args:
        **kwargs: Passed to ``Console``; ``emoji`` defaults to off (``:cat:`` in a name
            stays ``:cat:``).

    Returns:
        The console, with a render hook that escapes control characters in every text
        segment it prints (rich's own control sequences, such as colours, are kept).
        Markup in a ``str`` printed directly is still read, so print user text as
        :func:`user_text`, :func:`line` or in a :class:`SafeTable`.
    """
    kwargs.setdefault("emoji", False)
    console = Console(**kwargs)
    console.push_render_hook(_EscapeHook())
    return console


def printer(console: Console) -> Callable[[object], None]:
    """A ``say`` callback that prints ``str`` messages literally (several lines allowed).

    Rich renderables (tables, ``Text``) are printed as they are; anything else is shown as
    :func:`user_text` with line feeds kept.
    """

    def say(message: object) -> None:
        if isinstance(message, Text) or not (
            hasattr(message, "__rich_console__") or hasattr(message, "__rich__")
        ):
            console.print(user_text(message, multiline=True))
        else:
            console.print(message)

    return say
