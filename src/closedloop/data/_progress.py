"""Byte progress of reading a file, reported as :class:`~closedloop.core.ProgressEvent`.

Byte counts are reported at most once per :data:`REPORT_EVERY` bytes (plus the end), so
the callback costs nothing noticeable even on a file of several hundred megabytes.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from closedloop.core import ProgressCallback, report_progress

__all__ = ["REPORT_EVERY", "CountingReader"]

#: Bytes between two reports of the same task.
REPORT_EVERY = 1 << 20


class CountingReader(io.RawIOBase):
    """A binary file that reports the bytes read through it as progress events.

    Args:
        raw: An unbuffered binary file opened for reading.
        total: Its size in bytes.
        progress: Called with ``ProgressEvent(task, done, total, "bytes")``; ``done`` is
            the bytes read so far, capped at ``total`` (a reader that seeks back, such as
            Parquet's, reads some bytes twice), so it never decreases.
        task: The task to report.
    """

    def __init__(
        self, raw: BinaryIO, total: int, progress: ProgressCallback | None, task: str
    ) -> None:
        super().__init__()
        self._raw = raw
        self._total = total
        self._progress = progress
        self._task = task
        self._done = 0
        self._reported = 0

    def readable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Whether the underlying file can seek."""
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Move in the underlying file."""
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        """The position in the underlying file."""
        return self._raw.tell()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read into ``buffer``; report progress every :data:`REPORT_EVERY` bytes."""
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        n = len(data)
        view[:n] = data
        self._done = min(self._done + n, self._total)
        if self._done - self._reported >= REPORT_EVERY or (n and self._done == self._total):
            self._reported = self._done
            report_progress(self._progress, self._task, self._done, self._total, "bytes")
        return n

    def close(self) -> None:
        """Close the underlying file too."""
        self._raw.close()
        super().close()
