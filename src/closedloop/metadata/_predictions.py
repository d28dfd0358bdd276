"""The contract of the prediction log (``MetadataStore.predictions``)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Protocol

from closedloop.core import Audit, Prediction
from closedloop.metadata._domain import DomainStore

__all__ = ["PredictionLog"]


class PredictionLog(DomainStore, Protocol):
    """Append-only log of served predictions, one entry per input row."""

    def append(self, items: Sequence[Prediction], *, audit: Audit | None = None) -> None:
        """Append in one transaction, with the request's audit event when given."""
        ...

    def count(self, model_version_id: str | None = None) -> int:
        """Number of logged predictions."""
        ...

    def list(
        self,
        model_version_id: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> builtins.list[Prediction]:
        """Predictions in logging order."""
        ...
