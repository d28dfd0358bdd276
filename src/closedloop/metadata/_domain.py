"""What every domain store of the metadata reports: the blobs its records reference.

The aggregate ``MetadataStore`` answers ``referenced_digests`` and ``blob_references`` by
asking each of its domain stores (run artifacts, datasets, models, predictions, decisions,
and whatever domain is added later), so no store knows another domain's columns.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple, Protocol

__all__ = ["BlobReference", "DomainStore"]


class BlobReference(NamedTuple):
    """One record that points at a blob.

    Attributes:
        digest: The blob's digest.
        kind: ``"run artifact"``, ``"dataset version"`` or ``"model version"``.
        name: What references it: ``<run id>:<path>``, ``adult@<digest12>``, ``adult/3``.
    """

    digest: str
    kind: str
    name: str


class DomainStore(Protocol):
    """A store of one domain, as the aggregate store and garbage collection see it."""

    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """The blob digests this domain's records point at.

        Args:
            among: When given, only those of these digests that are referenced.

        Returns:
            The digests (empty for a domain that references no blob).
        """
        ...

    def blob_references(self) -> list[BlobReference]:
        """Every record of this domain that points at a blob (any order)."""
        ...
