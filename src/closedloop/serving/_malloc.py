"""glibc allocator settings for a serving process: fast large requests, memory given back.

A 10,000-row request allocates about 20 MiB of short-lived buffers (body, parsed numbers,
matrix, log payload, its ciphertext). Mapping fresh pages for each of them is slow (on this
project's VMs a page fault costs more than the JSON parse: 36 ms against 23 ms for the whole
request), so buffers up to :data:`MMAP_THRESHOLD` come from the heap and stay there for the
next request: under a stream of large requests nothing is mapped twice. glibc would do that
too, but by raising its threshold each time a large block is freed (up to 32 MiB) and never
giving the memory back; fixed thresholds stop that, and :func:`trim` (called once large
requests have stopped for a moment, see ``Predictor``) returns the free heap pages, so an
idle server is back where it started. Arenas are capped too (glibc makes one per thread).

Only processes that ``closedloop serve`` runs call :func:`tune_malloc`; an application that
embeds the ASGI app keeps its own allocator settings. Other C libraries (musl, macOS) are
left alone: there :func:`trim` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Any

__all__ = ["MMAP_THRESHOLD", "trim", "tune_malloc"]

_log = logging.getLogger("closedloop.serving")

#: Blocks of at least this many bytes are mmapped (and unmapped when freed); smaller ones
#: come from the heap. Above a 10,000-row request's largest buffer (2.4 MiB of numbers).
MMAP_THRESHOLD = 8 * 1024 * 1024
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Free memory at the top of a heap is returned on its own only past this (see :func:`trim`).
_TRIM_THRESHOLD = 64 * 1024 * 1024
_ARENA_MAX = 2


@functools.cache
def _glibc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def trim() -> bool:
    """Give the heaps' free pages back to the system (``False``: nothing to give, or not glibc)."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def tune_malloc() -> bool:
    """Fix glibc's ``mmap`` and trim thresholds and cap its arenas (``False``: not glibc)."""
    libc = _glibc()
    if libc is None:
        return False
    mallopt = libc.mallopt
    done = all(
        mallopt(option, value) == 1
        for option, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
            (_M_ARENA_MAX, _ARENA_MAX),
        )
    )
    if not done:
        _log.debug("mallopt refused a setting; the allocator keeps its defaults")
    return done
