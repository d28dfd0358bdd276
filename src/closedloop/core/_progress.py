"""Progress of long steps: one small event type that SDK functions report through.

A long SDK step (cross-validating a candidate, ingesting a large file, verifying every blob)
takes an optional ``progress`` callback and calls it with :class:`ProgressEvent` values.
The SDK never draws anything itself; the CLI turns the events into a progress bar on
stderr, and a notebook or service can forward them wherever it likes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ProgressCallback", "ProgressEvent", "report_progress"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """How far one task has come.

    Attributes:
        task: What is being done, e.g. ``"cv hist_gradient_boosting"``. Events with the same
            task update the same bar.
        completed: Units done so far (never decreasing for one task).
        total: Units in all, when known.
        unit: What is counted (``"folds"``, ``"bytes"``, ``"blobs"``).
    """

    task: str
    completed: float
    total: float | None = None
    unit: str = ""

    @property
    def finished(self) -> bool:
        """Whether the task is done (only known when ``total`` is)."""
        return self.total is not None and self.completed >= self.total


#: What a long step calls as it goes.
ProgressCallback = Callable[[ProgressEvent], None]


def report_progress(
    progress: ProgressCallback | None,
    task: str,
    completed: float,
    total: float | None = None,
    unit: str = "",
) -> None:
    """Call ``progress`` with an event, if there is a callback."""
    if progress is not None:
        progress(ProgressEvent(task, completed, total, unit))
