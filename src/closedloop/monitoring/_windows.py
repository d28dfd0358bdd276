"""Windows over the prediction log: by row count or by time, tumbling or sliding.

A :class:`WindowSpec` names a window: ``count:1000`` (tumbling windows of 1,000 rows),
``count:5000/1000`` (5,000 rows, a new one every 1,000: sliding), ``time:1h`` (the hours of
the clock, UTC), ``time:1d/6h`` (a day, every six hours). :func:`assemble` streams a model
version's log from where the last complete window of that spec started and yields the rows
of each window (:class:`RawWindow`), the last one marked incomplete while it still fills.

Windows hold whole requests: a count window closes at the end of the request that reaches
its size. A time window takes the rows whose request time falls in it; a row logged late
(its time before the window being filled) counts in the window open when it is read. A
window keeps at most :data:`RAW_LIMIT` rows in memory: beyond that it is thinned to every
second row, then every fourth… (``sampled`` says by how much), so memory stays bounded
however busy the window; its row count stays exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from closedloop.core import MonitorWindow
from closedloop.errors import InvalidArgumentError
from closedloop.predictions._stream import LogChunk, concat_chunks, iter_log
from closedloop.workspace import Workspace

__all__ = ["RAW_LIMIT", "RawWindow", "WindowSpec", "assemble", "parse_duration"]

#: Rows a window keeps in memory; busier windows are thinned (see the module docstring).
RAW_LIMIT = 1_000_000
#: Seconds after its end before a time window counts as complete (late commits).
GRACE_MS = 5_000

_UNITS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")


def parse_duration(value: Any, what: str = "duration") -> int:
    """``90`` (seconds), ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"``, ``"1w"`` → milliseconds.

    Raises:
        InvalidArgumentError: Not a positive duration.
    """
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float):
        ms = float(value) * 1000
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise InvalidArgumentError(
                f"{what} {value!r} is not a duration",
                hint="write a number with a unit: 90s, 15m, 1h, 1d or 1w (a bare number is "
                "seconds)",
            )
        ms = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not math.isfinite(ms) or ms < 1:
        raise InvalidArgumentError(f"{what} {value!r} must be positive")
    return int(ms)


def _duration_text(ms: int) -> str:
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _UNITS[unit] == 0:
            return f"{ms // _UNITS[unit]}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """How a model version's log is cut into windows (see the module docstring).

    Attributes:
        by: ``count`` (rows) or ``time``.
        size: Rows, or milliseconds.
        step: Rows or milliseconds between window starts (``size``: tumbling).
    """

    by: str
    size: int
    step: int

    def __post_init__(self) -> None:
        if self.by not in ("count", "time"):
            raise InvalidArgumentError(
                f"a window is by 'count' or 'time', not {self.by!r}",
                hint="e.g. count:1000, count:5000/1000, time:1h, time:1d/6h",
            )
        if self.size < 1 or self.step < 1:
            raise InvalidArgumentError(f"window {self.name} must have a positive size and step")
        if self.step > self.size:
            raise InvalidArgumentError(
                f"window {self.name} steps further than it is long: rows would be skipped",
                hint="use a step no larger than the size (equal: tumbling windows)",
            )
        if self.by == "count" and self.size > RAW_LIMIT:
            raise InvalidArgumentError(
                f"a count window holds at most {RAW_LIMIT:,} rows, not {self.size:,}",
                hint="use smaller windows; merged windows cover longer spans "
                "(closedloop monitor windows --merge)",
            )

    @property
    def name(self) -> str:
        """The spec as text (``count:1000``, ``time:1d/6h``): how windows are stored."""
        text = str if self.by == "count" else _duration_text
        size = text(self.size)
        return (
            f"{self.by}:{size}" if self.step == self.size else f"{self.by}:{size}/{text(self.step)}"
        )

    @property
    def tumbling(self) -> bool:
        """Whether windows follow each other without overlap."""
        return self.step == self.size

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | WindowSpec) -> WindowSpec:
        """``count:1000``, ``time:1h/15m`` or ``{by: time, size: 1h, step: 15m}``.

        Raises:
            InvalidArgumentError: Not a window spec.
        """
        if isinstance(value, WindowSpec):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"by", "size", "step"})
            if unknown or "by" not in value or "size" not in value:
                raise InvalidArgumentError(
                    f"a window is {{by, size, step}}, not {dict(value)!r}",
                    hint="e.g. {by: count, size: 1000} or {by: time, size: 1h, step: 15m}",
                )
            by, size, step = str(value["by"]), value["size"], value.get("step", value["size"])
        else:
            by, _, rest = str(value).partition(":")
            size, _, step = rest.partition("/")
            step = step or size
            if not size:
                raise InvalidArgumentError(
                    f"{value!r} is not a window",
                    hint="e.g. count:1000, count:5000/1000, time:1h, time:1d/6h",
                )
        if by == "count":
            try:
                n, s = int(str(size)), int(str(step))
            except ValueError:
                raise InvalidArgumentError(
                    f"a count window's size and step are row counts, not {size!r}/{step!r}",
                    hint="e.g. count:1000 or count:5000/1000",
                ) from None
            return cls("count", n, s)
        if by == "time":
            return cls("time", parse_duration(size, "window size"), parse_duration(step, "step"))
        return cls(by, 1, 1)  # __post_init__ names the problem


@dataclass(frozen=True, slots=True)
class RawWindow:
    """The rows of one window, before they are summarised.

    Attributes:
        spec: Its spec.
        start: First time it covers (epoch ms).
        end: End of the time it covers (epoch ms, exclusive).
        rows: Its rows (thinned when it had more than :data:`RAW_LIMIT`).
        n_rows: Its rows before thinning.
        n_requests: Its requests.
        complete: ``False`` for the last window while it still fills.
        sampled: The share of its rows that ``rows`` holds (1.0: all).
    """

    spec: WindowSpec
    start: int
    end: int
    rows: LogChunk
    n_rows: int
    n_requests: int
    complete: bool
    sampled: float


def _boundary(positions: np.ndarray, k: int) -> int:
    """The first index at or after ``k`` that starts a request."""
    if k <= 0:
        return 0
    if k >= len(positions):
        return len(positions)
    return int(np.searchsorted(positions, positions[k - 1], side="right"))


def _select(chunk: LogChunk, mask: np.ndarray) -> LogChunk:
    return LogChunk(
        chunk.positions[mask],
        chunk.request_ids[mask],
        chunk.rows[mask],
        chunk.times[mask],
        {k: v[mask] for k, v in chunk.columns.items()},
        chunk.labels[mask],
        None if chunk.probabilities is None else chunk.probabilities[mask],
        chunk.classes,
    )


def _requests(chunk: LogChunk) -> int:
    return len(np.unique(chunk.positions)) if chunk.n_rows else 0


class _Buffer:
    """The rows of the window being filled, thinned past :data:`RAW_LIMIT`."""

    def __init__(self) -> None:
        self.parts: list[LogChunk] = []
        self.kept = 0
        self.every = 1  # keep every n-th row

    def add(self, chunk: LogChunk) -> None:
        if self.every > 1:
            chunk = _select(chunk, np.arange(chunk.n_rows) % self.every == 0)
        self.parts.append(chunk)
        self.kept += chunk.n_rows
        while self.kept > RAW_LIMIT:
            merged = self.merged()
            assert merged is not None
            thinned = _select(merged, np.arange(merged.n_rows) % 2 == 0)
            self.parts, self.kept, self.every = [thinned], thinned.n_rows, self.every * 2

    def merged(self) -> LogChunk | None:
        merged = concat_chunks(self.parts)
        if merged is not None:
            self.parts = [merged]
        return merged

    def replace(self, chunk: LogChunk | None) -> None:
        self.parts = [] if chunk is None or chunk.n_rows == 0 else [chunk]
        self.kept = 0 if chunk is None else chunk.n_rows


def assemble(
    ws: Workspace,
    model_version_id: str,
    spec: WindowSpec,
    *,
    last: MonitorWindow | None,
    now: int,
    page_rows: int = 50_000,
) -> Iterator[RawWindow]:
    """The windows of ``spec`` after ``last`` (the last complete one stored), oldest first.

    Args:
        ws: The workspace.
        model_version_id: The version whose log is read.
        spec: The window spec.
        last: The last complete window of this spec (``None``: from the log's start).
        now: The current time (epoch ms): a time window ends only once ``now`` is past it.
        page_rows: Rows read per page of the log.
    """
    after = None if last is None else last.first_position - 1
    chunks = iter_log(ws, model_version_id, after_position=after, page_rows=page_rows)
    if spec.by == "count":
        yield from _count_windows(spec, chunks, skip=0 if last is None else spec.step)
    else:
        yield from _time_windows(
            spec,
            chunks,
            None if last is None else last.start + spec.step,
            now,
            seen_through=None if last is None else last.last_position,
        )


def _count_windows(
    spec: WindowSpec, chunks: Iterator[LogChunk], *, skip: int
) -> Iterator[RawWindow]:
    buffer: LogChunk | None = None
    for chunk in chunks:
        if skip:
            cut = _boundary(chunk.positions, skip)
            skip = 0 if cut < chunk.n_rows or cut >= skip else skip - cut
            chunk = chunk.take(cut, chunk.n_rows)
            if chunk.n_rows == 0:
                continue
        buffer = chunk if buffer is None else concat_chunks([buffer, chunk])
        assert buffer is not None
        while buffer.n_rows >= spec.size:
            end = _boundary(buffer.positions, spec.size)
            rows = buffer.take(0, end)
            yield _raw(spec, rows, complete=True)
            buffer = buffer.take(_boundary(buffer.positions, spec.step), buffer.n_rows)
    if buffer is not None and buffer.n_rows:
        yield _raw(spec, buffer, complete=False)


def _raw(spec: WindowSpec, rows: LogChunk, *, complete: bool) -> RawWindow:
    return RawWindow(
        spec,
        int(rows.times.min()),
        int(rows.times.max()) + 1,
        rows,
        rows.n_rows,
        _requests(rows),
        complete,
        1.0,
    )


def _closed(
    spec: WindowSpec, start: int, merged: LogChunk, seen_rows: int, every: int
) -> RawWindow | None:
    """The complete time window at ``start`` out of the buffered rows (``None``: empty)."""
    rows = _select(merged, merged.times < start + spec.size)
    if not rows.n_rows:
        return None
    n = rows.n_rows * every
    return RawWindow(
        spec, start, start + spec.size, rows, min(n, seen_rows), _requests(rows), True, 1.0 / every
    )


def _time_windows(
    spec: WindowSpec,
    chunks: Iterator[LogChunk],
    start: int | None,
    now: int,
    *,
    seen_through: int | None = None,
) -> Iterator[RawWindow]:
    buffer = _Buffer()
    seen_rows = 0  # rows of the current window before thinning
    for chunk in chunks:
        if seen_through is not None and start is not None:
            # re-read rows of the last stored window belong only to windows after it
            chunk = _select(chunk, (chunk.positions > seen_through) | (chunk.times >= start))
            if chunk.n_rows == 0:
                continue
        if start is None and chunk.n_rows:
            start = int(chunk.times.min()) // spec.step * spec.step
        assert start is not None
        buffer.add(chunk)
        seen_rows += chunk.n_rows
        while int(chunk.times.max()) >= start + spec.size:
            merged = buffer.merged()
            assert merged is not None
            closed = _closed(spec, start, merged, seen_rows, buffer.every)
            if closed is not None:
                yield closed
            start += spec.step
            kept = _select(merged, merged.times >= start)
            if kept.n_rows == 0:
                later = chunk.times[chunk.times >= start]
                if later.size:
                    start = int(later.min()) // spec.step * spec.step
            buffer.replace(kept)
            seen_rows = kept.n_rows * buffer.every
    merged = buffer.merged()
    while start is not None and merged is not None and merged.n_rows:
        if now < start + spec.size + GRACE_MS:  # the window is still filling
            yield RawWindow(
                spec,
                start,
                start + spec.size,
                merged,
                seen_rows,
                _requests(merged),
                False,
                1.0 / buffer.every,
            )
            return
        closed = _closed(spec, start, merged, seen_rows, buffer.every)
        if closed is not None:
            yield closed
        start += spec.step
        merged = _select(merged, merged.times >= start)
        if merged.n_rows:
            start = max(start, int(merged.times.min()) // spec.step * spec.step)
        seen_rows = merged.n_rows * buffer.every
