"""Contracts of the lifecycle stores a ``MetadataStore`` carries as attributes."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from closedloop.core import (
    Audit,
    DatasetVersion,
    LoopDecision,
    ModelVersion,
    Prediction,
    TableSchema,
)

__all__ = ["DatasetStore", "DecisionStore", "ModelStore", "PredictionLog"]


class DatasetStore(Protocol):
    """Dataset versions: immutable, content-addressed, numbered per dataset."""

    def add_version(
        self,
        dataset: str,
        *,
        digest: str,
        n_rows: int,
        n_columns: int,
        schema: TableSchema,
        source: str,
        source_digest: str | None,
        parents: Sequence[str] = (),
        audit: Audit | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Record a version, or return the one with the same digest; says if it is new.

        ``audit`` is written in every case (the ingest happened even when it added nothing).
        """
        ...

    def get_version(self, ref: str) -> DatasetVersion:
        """``name@<digest prefix>``, ``name@latest`` or ``name/<number>``; NotFoundError."""
        ...

    def list_versions(self, dataset: str | None = None) -> list[DatasetVersion]:
        """Versions by dataset then number."""
        ...


class ModelStore(Protocol):
    """Registered model versions and aliases."""

    def create_version(
        self,
        model: str,
        *,
        artifact_digest: str,
        signature: TableSchema,
        target: str,
        classes: Sequence[str],
        metrics: Mapping[str, float],
        run_id: str | None = None,
        dataset_version_id: str | None = None,
        audit: Audit | None = None,
    ) -> ModelVersion:
        """Register the next version of ``model``."""
        ...

    def get_version(self, ref: str) -> ModelVersion:
        """``name/<number>``, ``name@<alias>`` or ``name@latest``; NotFoundError."""
        ...

    def list_versions(self, model: str | None = None) -> list[ModelVersion]:
        """Versions by model then number."""
        ...

    def set_alias(
        self, model: str, alias: str, version: int, *, audit: Audit | None = None
    ) -> ModelVersion:
        """Point an alias at a version (moving it)."""
        ...

    def delete_alias(self, model: str, alias: str, *, audit: Audit | None = None) -> None:
        """Remove an alias; NotFoundError if absent."""
        ...


class PredictionLog(Protocol):
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


class DecisionStore(Protocol):
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
