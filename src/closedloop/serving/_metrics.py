"""Prometheus metrics of a model server (``GET /metrics``), per endpoint and version.

Names follow BentoML's and MLServer's precedents:

- ``closedloop_requests_total{endpoint, version, protocol, code}`` — answered requests;
- ``closedloop_request_duration_seconds{endpoint, version, protocol}`` — histogram, from the
  first byte of the request to its answer (the log commit included);
- ``closedloop_requests_in_flight`` — gauge;
- ``closedloop_rows_total{endpoint, version, role}`` — rows scored (``role`` primary or
  shadow);
- ``closedloop_rows_logged_total`` and ``closedloop_log_commits_total`` — the log writer's
  rows and transactions; ``closedloop_log_queue_depth`` — requests waiting for it;
- ``closedloop_refusals_logged_total`` and ``closedloop_refusals_lost_total`` — refused
  requests (bad input) recorded for monitoring's refused rate, and those whose record could
  not be stored (queue full, writer closed, write failed);
- ``closedloop_model_swaps_total`` — route tables replaced after an alias or endpoint moved.

One server process keeps its metrics in its own registry. With several worker processes
(``--workers``) the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before they start, each
worker's values live in shared files, and any worker's ``/metrics`` adds them up
(prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "ServerMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Set (to a folder) when several worker processes share their metrics.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServerMetrics:
    """The metrics of one server process, with cached label children for the hot path."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "closedloop_requests",
            "Answered requests.",
            ["endpoint", "version", "protocol", "code"],
            registry=r,
        )
        self.duration = Histogram(
            "closedloop_request_duration_seconds",
            "Seconds from the first byte of a request to its answer (log commit included).",
            ["endpoint", "version", "protocol"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "closedloop_requests_in_flight",
            "Requests being answered.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.rows = Counter(
            "closedloop_rows", "Rows scored.", ["endpoint", "version", "role"], registry=r
        )
        self.rows_logged = Counter(
            "closedloop_rows_logged", "Rows committed to the prediction log.", registry=r
        )
        self.log_commits = Counter(
            "closedloop_log_commits", "Prediction log transactions committed.", registry=r
        )
        self.queue_depth = Gauge(
            "closedloop_log_queue_depth",
            "Requests waiting for the prediction log writer.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.refusals_logged = Counter(
            "closedloop_refusals_logged",
            "Refused requests (bad input) recorded in the prediction log.",
            registry=r,
        )
        self.refusals_lost = Counter(
            "closedloop_refusals_lost",
            "Refused requests whose record could not be stored.",
            registry=r,
        )
        self.swaps = Counter(
            "closedloop_model_swaps", "Route tables replaced after a registry move.", registry=r
        )
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(
        self, endpoint: str, version: str, protocol: str, code: int, seconds: float
    ) -> None:
        """Count one answered request and its duration."""
        self._child(self.requests, endpoint, version, protocol, str(code)).inc()
        self._child(self.duration, endpoint, version, protocol).observe(seconds)

    def scored(self, endpoint: str, version: str, role: str, rows: int) -> None:
        """Count rows scored by a version."""
        self._child(self.rows, endpoint, version, role).inc(rows)

    def committed(self, requests: int, rows: int) -> None:
        """Count one log commit (called from the writer thread)."""
        self.log_commits.inc()
        self.rows_logged.inc(rows)

    def refusals(self, recorded: int, lost: int) -> None:
        """Count refusal records stored and lost (called from the writer thread)."""
        if recorded:
            self.refusals_logged.inc(recorded)
        if lost:
            self.refusals_lost.inc(lost)

    def render(self, queue_depth: Callable[[], int]) -> bytes:
        """The exposition text (all workers' values added up in multiprocess mode)."""
        self.queue_depth.set(queue_depth())
        if self.multiprocess:
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(merged))
        return bytes(generate_latest(self.registry))
