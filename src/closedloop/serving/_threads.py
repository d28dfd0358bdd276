"""Native thread pools of a serving process: one thread each.

numpy's and scipy's OpenBLAS and scikit-learn's OpenMP each start a pool of one thread per
CPU and spread a single matrix product or dot over it. A server already runs requests
side by side (its event loop, the log writer, worker processes), so those pools only
oversubscribe the CPUs: on this project's 2-CPU machines a 32k-element ``np.dot`` took
2.6 ms with OpenBLAS's two threads against 28 us on one while another process was busy,
and every request's scoring (``X @ coef.T``) paid such stalls in its tail latency.

:func:`limit_native_threads` caps every pool loaded at that moment (threadpoolctl, a
scikit-learn dependency) to ``threads`` (default 1); call it once the models are loaded,
since a library loaded later brings its own pool. Only processes that ``closedloop serve``
runs call it; an application that embeds the ASGI app keeps its own settings.
"""

from __future__ import annotations

import logging

__all__ = ["limit_native_threads"]

_log = logging.getLogger("closedloop.serving")


def limit_native_threads(threads: int = 1) -> list[str]:
    """Cap the BLAS and OpenMP pools loaded in this process to ``threads`` each.

    Returns:
        The libraries capped (``internal_api`` names, e.g. ``openblas``), for the log.
    """
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        _log.debug("threadpoolctl is not installed; native thread pools keep their size")
        return []
    capped = [
        str(pool["internal_api"]) for pool in threadpool_info() if pool["num_threads"] > threads
    ]
    threadpool_limits(limits=threads)
    if capped:
        _log.debug("native thread pools capped at %d: %s", threads, ", ".join(capped))
    return capped
