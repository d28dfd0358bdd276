"""The shared column threads of a drift comparison (monitoring/_parallel.py)."""

from __future__ import annotations

import os
import threading

import pytest

from closedloop.monitoring import _parallel
from closedloop.monitoring._parallel import PARALLEL_MIN_ROWS, per_column

LONG = PARALLEL_MIN_ROWS  # long enough for threads


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def test_results_keep_the_columns_order_and_use_another_thread(two_cpus: None) -> None:
    threads: set[str] = set()
    barrier = threading.Barrier(2, timeout=10)

    def fn(c: str) -> str:
        threads.add(threading.current_thread().name)
        if c in ("a", "b"):  # both threads hold one column at once: two threads ran
            barrier.wait()
        return c.upper()

    columns = ["a", "b", *[f"c{i}" for i in range(30)]]
    assert per_column(fn, columns, LONG) == [c.upper() for c in columns]
    assert threading.current_thread().name in threads
    assert any(name.startswith("closedloop-drift") for name in threads)


def test_short_columns_run_in_the_caller(two_cpus: None) -> None:
    seen: set[str] = set()
    per_column(lambda c: seen.add(threading.current_thread().name), ["a", "b", "c"], 10)
    assert seen == {threading.current_thread().name}


def test_the_first_error_is_raised_after_every_thread_stopped(two_cpus: None) -> None:
    running = threading.Event()
    finished: list[str] = []

    def fn(c: str) -> str:
        if c == "bad":
            raise ValueError("column bad failed")
        running.set()
        finished.append(c)
        return c

    with pytest.raises(ValueError, match="column bad failed"):
        per_column(fn, ["bad", "ok1", "ok2", "ok3"], LONG)
    # nothing is still running in the pool once the error reached the caller
    snapshot = list(finished)
    assert per_column(lambda c: c, ["x", "y"], LONG) == ["x", "y"]
    assert finished == snapshot


def test_a_comparison_nested_in_a_pool_thread_runs_inline(two_cpus: None) -> None:
    def inner(c: str) -> list[str]:
        # called from a pool thread (or the caller): must not wait on the busy pool
        return per_column(lambda x: f"{c}{x}", ["1", "2", "3"], LONG)

    out = per_column(inner, ["a", "b", "c", "d"], LONG)
    assert out == [[f"{c}{x}" for x in "123"] for c in "abcd"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_makes_its_own_pool(two_cpus: None) -> None:
    assert per_column(lambda c: c, ["a", "b"], LONG) == ["a", "b"]  # the parent's pool exists
    assert _parallel._pool is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the inherited pool has no threads; a hang would time out
        try:
            ok = per_column(lambda c: c * 2, ["a", "b", "c"], LONG) == ["aa", "bb", "cc"]
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert os.WEXITSTATUS(status) == 0
