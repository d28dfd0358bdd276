"""The contract of the model-version store (``MetadataStore.models``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from closedloop.core import AliasChange, Audit, ModelVersion, RegisteredModel, TableSchema
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
        self,
        model: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> ModelVersion:
        """Point an alias at a version (moving it), recording the move in its history.

        The history row (from which version, to which, ``actor``, ``reason``, time) is
        written in the same transaction as the move. ``actor`` defaults to the audit
        event's actor.
        """
        ...

    def delete_alias(
        self,
        model: str,
        alias: str,
        *,
        reason: str = "",
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> None:
        """Remove an alias, recording it in the history; NotFoundError if absent."""
        ...

    def alias_history(self, model: str, alias: str | None = None) -> list[AliasChange]:
        """The moves of a model's aliases (or of one), newest first."""
        ...

    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its description, tags and aliases; NotFoundError."""
        ...

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        ...

    def set_description(
        self,
        model: str,
        version: int | None,
        text: str | None,
        *,
        audit: Audit | None = None,
    ) -> None:
        """Set (``None``: clear) the description of a model, or of one of its versions.

        Raises:
            NotFoundError: No such model or version.
        """
        ...

    def set_tag(
        self,
        model: str,
        version: int | None,
        key: str,
        value: str,
        *,
        audit: Audit | None = None,
    ) -> None:
        """Set a tag of a model, or of one of its versions (replacing its value).

        Raises:
            InvalidArgumentError: An empty key or one over 255 characters.
            NotFoundError: No such model or version.
        """
        ...

    def delete_tag(
        self, model: str, version: int | None, key: str, *, audit: Audit | None = None
    ) -> None:
        """Remove a tag of a model or version; NotFoundError if it has no such tag."""
        ...

    def set_onnx(
        self, model: str, version: int, digest: str | None, *, audit: Audit | None = None
    ) -> ModelVersion:
        """Record (or, with ``None``, clear) the digest of a version's ONNX conversion.

        Raises:
            NotFoundError: No such version.
        """
        ...
