"""Decisions of the loop: a challenger against the champion, with reasons (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoopDecision"]


@dataclass(frozen=True, slots=True)
class LoopDecision:
    """The outcome of comparing a challenger with the champion.

    Attributes:
        id: Assigned by the store, increasing.
        time: Epoch milliseconds.
        model: Model name.
        champion_version_id: The champion at the time (``<model>/<version>``).
        challenger_version_id: The retrained challenger.
        decision: What the policy decided: ``promote`` or ``keep``.
        reasons: Why, one sentence per guard.
        detail: The numbers behind the reasons (metrics of both, trigger, ...).
    """

    id: int
    time: int
    model: str
    champion_version_id: str
    challenger_version_id: str
    decision: str
    reasons: tuple[str, ...]
    detail: Mapping[str, Any] = field(default_factory=dict)
