"""The contract of the dataset-version store (``MetadataStore.datasets``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from closedloop.core import Audit, DatasetVersion, TableSchema
from closedloop.metadata._domain import DomainStore

__all__ = ["DatasetStore"]


class DatasetStore(DomainStore, Protocol):
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
