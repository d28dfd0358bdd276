"""Dataset versions: immutable, content-addressed snapshots of a table (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from closedloop.core._schema import TableSchema

__all__ = ["DatasetVersion"]


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """An immutable, content-addressed version of a dataset.

    Attributes:
        id: ``<dataset>@<first 12 hex of the digest>``, stable for the same content.
        dataset: Dataset name.
        version: 1, 2, … in order of first ingestion.
        digest: sha256 of the canonical Parquet bytes (the artifact blob).
        n_rows: Row count.
        n_columns: Column count.
        schema: The inferred schema.
        source: Where it came from (path or URI) and how it was read.
        source_digest: sha256 of the source bytes, when the source is a file.
        parents: Ids of the dataset versions it was derived from (lineage).
        created_at: Epoch milliseconds.
    """

    id: str
    dataset: str
    version: int
    digest: str
    n_rows: int
    n_columns: int
    schema: TableSchema
    source: str
    source_digest: str | None
    parents: tuple[str, ...]
    created_at: int
