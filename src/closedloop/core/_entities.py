"""Domain entities: frozen snapshots returned by every store. No I/O here."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ArtifactRef",
    "AuditEvent",
    "Experiment",
    "Metric",
    "Project",
    "Run",
    "RunInput",
    "RunPage",
    "RunStatus",
    "ms_to_datetime",
    "now_ms",
]


def now_ms() -> int:
    """Milliseconds since the Unix epoch, the unit every stored timestamp uses."""
    return int(datetime.now(UTC).timestamp() * 1000)


def ms_to_datetime(ms: int | None) -> datetime | None:
    """Convert stored epoch milliseconds to an aware UTC datetime (``None`` stays ``None``)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class RunStatus(enum.StrEnum):
    """Lifecycle of a run. Only ``RUNNING`` accepts new data."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended."""
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Project:
    """A named group of experiments (one per team or product)."""

    id: int
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of comparable runs inside a project."""

    id: int
    project_id: int
    project: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Metric:
    """One point of a metric series.

    Attributes:
        key: Metric name.
        value: The measured value.
        step: Position in the series (epoch, iteration); 0 when not given.
        timestamp: Epoch milliseconds when it was logged.
    """

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A file attached to a run: a logical path pointing at a content-addressed blob."""

    run_id: str
    path: str
    digest: str
    size: int
    created_at: int


@dataclass(frozen=True, slots=True)
class RunInput:
    """Something a run consumed, e.g. ``RunInput("dataset", "adult@3f2a…")``."""

    kind: str
    ref: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Run:
    """A snapshot of a run. ``metrics`` holds the latest point of each series."""

    id: str
    experiment_id: int
    name: str
    status: RunStatus
    user: str
    start_time: int
    end_time: int | None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[RunInput, ...] = ()

    @property
    def duration_s(self) -> float | None:
        """Wall-clock seconds between start and end, ``None`` while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time) / 1000

    def metric_values(self) -> dict[str, float]:
        """The latest value of every metric, by key."""
        return {k: m.value for k, m in self.metrics.items()}


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of search results and the token for the next page (``None`` at the end)."""

    runs: list[Run]
    next_page_token: str | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One recorded action: who did what to which resource, and how it ended.

    Attributes:
        time: Epoch milliseconds.
        actor: Who acted (the OS user for now; a token's user later).
        action: Dotted verb, e.g. ``run.create``, ``artifact.get``.
        resource: What it acted on, e.g. ``run:4f1c…``.
        outcome: ``ok``, or ``error:<CODE>`` with the error code.
        detail: Small JSON-serialisable context (never secrets or data).
        id: Store-assigned sequence number (0 before it is stored).
    """

    time: int
    actor: str
    action: str
    resource: str
    outcome: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0
