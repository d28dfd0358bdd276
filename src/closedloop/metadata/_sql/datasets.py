"""``SqlDatasetStore``: dataset versions and the Parquet blobs they reference."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, insert, select

from closedloop.core import Audit, DatasetVersion, TableSchema, now_ms
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql._refs import named_id, referenced_in, split_ref
from closedloop.metadata._sql.tables import dataset_versions, datasets

__all__ = ["SqlDatasetStore"]


class SqlDatasetStore:
    """Dataset versions: immutable, content-addressed, numbered per dataset."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        """Record a version, or return the existing one with the same digest.

        Returns:
            The version and whether it was created now.
        """
        existing = self._find(dataset, digest)
        if existing is not None:
            if audit is not None:  # the action happened even though nothing new was stored
                with self._db.write() as conn:
                    self._db.audit(conn, audit)
            return existing, False
        with self._db.write() as conn:
            dataset_id = named_id(conn, datasets, dataset, self._db)
            again = conn.execute(
                select(dataset_versions.c.id).where(
                    dataset_versions.c.dataset_id == dataset_id,
                    dataset_versions.c.digest == digest,
                )
            ).first()
            if again is None:
                number = (
                    conn.execute(
                        select(func.max(dataset_versions.c.version)).where(
                            dataset_versions.c.dataset_id == dataset_id
                        )
                    ).scalar()
                    or 0
                ) + 1
                conn.execute(
                    insert(dataset_versions).values(
                        id=f"{dataset}@{digest.removeprefix('sha256:')[:12]}",
                        dataset_id=dataset_id,
                        version=number,
                        digest=digest,
                        n_rows=n_rows,
                        n_columns=n_columns,
                        schema=dumps(schema.to_dict()),
                        source=source,
                        source_digest=source_digest,
                        parents=dumps(list(parents)),
                        created_at=now_ms(),
                    )
                )
            self._db.audit(conn, audit)
        found = self._find(dataset, digest)
        assert found is not None
        return found, again is None

    def _query(self) -> Any:
        return select(dataset_versions, datasets.c.name.label("dataset")).join(
            datasets, datasets.c.id == dataset_versions.c.dataset_id
        )

    def _find(self, dataset: str, digest: str) -> DatasetVersion | None:
        with self._db.read() as conn:
            row = conn.execute(
                self._query().where(datasets.c.name == dataset, dataset_versions.c.digest == digest)
            ).first()
        return None if row is None else _dataset_version(row)

    def get_version(self, ref: str) -> DatasetVersion:
        """A version by ``name@<digest prefix>``, ``name@latest`` or ``name/<number>``.

        Raises:
            NotFoundError: No such version.
        """
        name, selector = split_ref(ref)
        q = self._query().where(datasets.c.name == name)
        if selector == "latest":
            q = q.order_by(dataset_versions.c.version.desc()).limit(1)
        elif selector.isdigit() and "/" in ref:
            q = q.where(dataset_versions.c.version == int(selector))
        else:
            q = q.where(dataset_versions.c.digest.like(f"sha256:{selector.lower()}%")).limit(2)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        if not rows:
            raise NotFoundError(
                f"no dataset version {ref!r}", hint="list them with `closedloop data list`"
            )
        if len(rows) > 1:
            raise InvalidArgumentError(f"dataset version prefix {ref!r} is ambiguous")
        return _dataset_version(rows[0])

    def list_versions(self, dataset: str | None = None) -> list[DatasetVersion]:
        """Versions by dataset name then number."""
        q = self._query().order_by(datasets.c.name, dataset_versions.c.version)
        if dataset is not None:
            q = q.where(datasets.c.name == dataset)
        with self._db.read() as conn:
            return [_dataset_version(r) for r in conn.execute(q).all()]

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """The digests of the versions' canonical Parquet blobs (among ``among``)."""
        return referenced_in(self._db, dataset_versions.c.digest, among)

    def blob_references(self) -> list[BlobReference]:
        """One ``dataset version`` reference per version."""
        with self._db.read() as conn:
            rows = conn.execute(select(dataset_versions.c.id, dataset_versions.c.digest)).all()
        return [BlobReference(r.digest, "dataset version", r.id) for r in rows]


def _dataset_version(r: Any) -> DatasetVersion:
    return DatasetVersion(
        id=r.id,
        dataset=r.dataset,
        version=r.version,
        digest=r.digest,
        n_rows=r.n_rows,
        n_columns=r.n_columns,
        schema=TableSchema.from_dict(json.loads(r.schema)),
        source=r.source,
        source_digest=r.source_digest,
        parents=tuple(json.loads(r.parents)),
        created_at=r.created_at,
    )
