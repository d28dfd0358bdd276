"""Large requests leave no memory behind: fixed allocator thresholds, trimmed when idle."""

from __future__ import annotations

import platform
import subprocess
import sys
import time

import pytest
from serving_support import Served, TestClient, make_frame, records

from closedloop.serving import _predictor, create_app
from closedloop.serving._predictor import INLINE_ROWS, TRIM_AFTER

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)

# Run in a child: tune_malloc changes the allocator of the whole process.
_GIVES_BACK = """
from closedloop.serving._malloc import tune_malloc, trim

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) // 1024

assert tune_malloc()
base = rss()
blocks = [bytearray(2 * 1024 * 1024) for _ in range(40)]  # 80 MiB below the mmap threshold
for b in blocks:
    b[::4096] = b"x" * len(b[::4096])  # touch every page
grown = rss()
del blocks
trim()
print(base, grown, rss())
"""


@glibc
def test_heap_buffers_are_given_back_by_trim() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _GIVES_BACK], capture_output=True, text=True, check=True
    )
    base, grown, after = map(int, out.stdout.split())
    assert grown - base >= 70  # the buffers came from the heap (not mapped one by one) ...
    assert after - base <= 10  # ... and went back to the system


def test_memory_is_released_once_large_requests_stop(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float] = []
    monkeypatch.setattr(_predictor, "trim", lambda: calls.append(time.monotonic()) or True)
    big = records(make_frame(INLINE_ROWS * 4, seed=3))
    with TestClient(create_app(served.ws, "m@champion")) as client:
        for _ in range(3):
            r = client.post("/v1/models/m/predict", json={"records": big})
            assert r.status_code == 200, r.text
        done = time.monotonic()
        deadline = done + 10 * TRIM_AFTER + 2
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) == 1  # once for the burst, not once per request
        assert calls[0] - done >= TRIM_AFTER * 0.8
        # a small request runs on the event loop and schedules nothing
        r = client.post("/v1/models/m/predict", json={"records": big[:1]})
        assert r.status_code == 200
        time.sleep(3 * TRIM_AFTER)
        assert len(calls) == 1
