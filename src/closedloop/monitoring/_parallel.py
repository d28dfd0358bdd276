"""Columns of a drift comparison on threads, from one pool kept for the process.

The work per column is numpy's sorts and reductions and Arrow's hashing, which release the
GIL, so long columns gain from a thread per CPU. The pool is created on first use (nothing
starts at import) and kept: starting and joining threads on every window cost about half a
millisecond, a few percent of scoring one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

__all__ = ["PARALLEL_MIN_ROWS", "per_column"]

_T = TypeVar("_T")

#: Columns shorter than this run in the calling thread: a pool costs more than it saves.
PARALLEL_MIN_ROWS = 50_000
_MAX_THREADS = 8

_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (the pid that made it, the pool)
_workers = threading.local()  # marks the pool's own threads


def _shared_pool(workers: int) -> ThreadPoolExecutor:
    global _pool
    with _lock:
        # a forked child inherits the pool but not its threads: it makes its own
        if _pool is None or _pool[0] != os.getpid():
            pool = ThreadPoolExecutor(
                workers, thread_name_prefix="closedloop-drift", initializer=_mark_worker
            )
            _pool = (os.getpid(), pool)
        return _pool[1]


def _mark_worker() -> None:
    _workers.inside = True


def per_column(fn: Callable[[str], _T], columns: Sequence[str], n_rows: int) -> list[_T]:
    """``[fn(c) for c in columns]``, on the shared threads when the columns are long.

    The calling thread takes columns too, next to ``cpus - 1`` pool threads, all pulling
    from one queue in order: no thread hop for the caller's share, and its memory (warm
    from reading the data) serves it. Called from one of the pool's own threads (a
    comparison nested in another), everything runs in that thread, since waiting on the
    pool from inside it could wait forever. The first exception is raised once every
    thread has stopped taking columns.
    """
    workers = min(os.cpu_count() or 1, _MAX_THREADS)
    if (
        workers < 2
        or len(columns) < 2
        or n_rows < PARALLEL_MIN_ROWS
        or getattr(_workers, "inside", False)
    ):
        return [fn(c) for c in columns]
    results: list[_T | None] = [None] * len(columns)
    errors: list[BaseException] = []
    queue = iter(range(len(columns)))
    taking = threading.Lock()

    def drain() -> None:
        while not errors:
            with taking:
                i = next(queue, None)
            if i is None:
                return
            try:
                results[i] = fn(columns[i])
            except BaseException as e:  # re-raised in the caller below
                errors.append(e)

    pool = _shared_pool(workers - 1)
    helpers = [pool.submit(drain) for _ in range(min(workers, len(columns)) - 1)]
    drain()
    for helper in helpers:
        helper.result()
    if errors:
        raise errors[0]
    return cast(list[_T], results)
