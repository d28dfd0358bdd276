"""The contract of the loop-decision store (``MetadataStore.decisions``)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from closedloop.core import Audit, LoopDecision
from closedloop.metadata._domain import DomainStore

__all__ = ["DecisionStore"]


class DecisionStore(DomainStore, Protocol):
    """Champion/challenger decisions of the loop."""

    def record(
        self,
        model: str,
        *,
        champion_version_id: str,
        challenger_version_id: str,
        decision: str,
        reasons: Sequence[str],
        detail: Mapping[str, Any],
        audit: Audit | None = None,
    ) -> LoopDecision:
        """Store a decision."""
        ...

    def list(self, model: str | None = None) -> builtins.list[LoopDecision]:
        """Decisions, newest first."""
        ...
