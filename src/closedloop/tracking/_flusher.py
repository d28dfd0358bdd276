"""The background flusher: writes buffered run data on an interval and at interpreter exit.

One daemon thread per process, started with the first buffered run and holding only weak
references, so an abandoned run is still flushed and a collected one is forgotten. This is
an implementation detail of buffering, not a "current run": nothing here is visible to users.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import Protocol

__all__ = ["Flushable", "register", "unregister", "wake"]

_log = logging.getLogger("closedloop.tracking")


class Flushable(Protocol):
    """Something holding buffered data."""

    @property
    def flush_interval(self) -> float:
        """Seconds between background flushes."""
        ...

    def flush(self) -> None:
        """Write buffered data."""
        ...

    def _finish_at_exit(self) -> None:
        """Flush and end the object at interpreter exit."""
        ...


class _Flusher:
    def __init__(self) -> None:
        self._items: weakref.WeakSet[Flushable] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._atexit = False
        self._flush_requested = False

    def register(self, item: Flushable) -> None:
        with self._lock:
            self._items.add(item)
            if not self._atexit:
                atexit.register(self._at_exit)
                self._atexit = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="closedloop-flusher", daemon=True
                )
                self._thread.start()
        self._wake.set()  # reschedule: the new item may want a shorter interval

    def wake(self) -> None:
        with self._lock:
            self._flush_requested = True
        self._wake.set()

    def unregister(self, item: Flushable) -> None:
        with self._lock:
            self._items.discard(item)

    def _snapshot(self) -> list[Flushable]:
        with self._lock:
            return list(self._items)

    def _loop(self) -> None:
        deadline: float | None = None
        while True:
            interval = min((i.flush_interval for i in self._snapshot()), default=None)
            now = time.monotonic()
            if interval is None:
                deadline = None
            elif deadline is None or now + interval < deadline:
                deadline = now + interval  # a new item never postpones a due flush
            woken = self._wake.wait(None if deadline is None else max(0.0, deadline - now))
            self._wake.clear()
            with self._lock:
                requested, self._flush_requested = self._flush_requested, False
            if woken and not requested:
                continue  # woken only to recompute the deadline: flush nothing early
            deadline = None
            for item in self._snapshot():  # taken after the wait: includes new items
                try:
                    item.flush()
                except Exception:  # keep flushing the others; the owner sees it on next flush
                    _log.exception("background flush failed")

    def _at_exit(self) -> None:
        for item in self._snapshot():
            try:
                item._finish_at_exit()
            except Exception:
                _log.exception("flush at exit failed")


_FLUSHER = _Flusher()


def register(item: Flushable) -> None:
    """Flush ``item`` on its interval and at exit until it is unregistered."""
    _FLUSHER.register(item)


def unregister(item: Flushable) -> None:
    """Stop watching ``item``."""
    _FLUSHER.unregister(item)


def wake() -> None:
    """Flush everything registered now, in the background thread."""
    _FLUSHER.wake()
