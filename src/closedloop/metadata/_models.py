"""The contract of the model-version store (``MetadataStore.models``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from closedloop.core import Audit, ModelVersion, TableSchema
from closedloop.metadata._domain import DomainStore

__all__ = ["ModelStore"]


class ModelStore(DomainStore, Protocol):
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

    def set_onnx(
        self, model: str, version: int, digest: str | None, *, audit: Audit | None = None
    ) -> ModelVersion:
        """Record (or, with ``None``, clear) the digest of a version's ONNX conversion.

        Raises:
            NotFoundError: No such version.
        """
        ...
