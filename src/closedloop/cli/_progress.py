"""Progress bars on stderr for the SDK's :class:`~closedloop.core.ProgressEvent` callbacks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from closedloop.cli._format import fmt_bytes
from closedloop.cli._safe import plain
from closedloop.core import ProgressCallback, ProgressEvent

__all__ = ["progress_bars"]


def _label(task: str) -> str:
    # Task names can carry user text (a file name): shown without markup, controls escaped.
    return plain(task)


def _amount(event: ProgressEvent) -> str:
    if event.unit == "bytes":
        done = fmt_bytes(int(event.completed))
        return done if event.total is None else f"{done} / {fmt_bytes(int(event.total))}"
    done = f"{event.completed:g}"
    total = "" if event.total is None else f"/{event.total:g}"
    return f"{done}{total} {event.unit}".rstrip()


@contextlib.contextmanager
def progress_bars(console: Console, *, enabled: bool | None = None) -> Iterator[ProgressCallback]:
    """A callback drawing one bar per task on ``console`` while the block runs.

    Bars are drawn only on a terminal (or when ``enabled`` is true): piped output stays
    clean, and the step's own result lines say what happened. The bars are removed when
    the block ends.

    Args:
        console: Where to draw (the CLI's stderr console).
        enabled: Force drawing on or off; ``None`` draws only on a terminal.

    Yields:
        The callback to pass as ``progress=`` to SDK functions.
    """
    if not (console.is_terminal if enabled is None else enabled):
        yield lambda event: None
        return
    bars = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.fields[amount]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(event: ProgressEvent) -> None:
        task_id = tasks.get(event.task)
        if task_id is None:
            task_id = bars.add_task(_label(event.task), total=event.total, amount="")
            tasks[event.task] = task_id
        bars.update(task_id, completed=event.completed, total=event.total, amount=_amount(event))

    with bars:
        yield update
