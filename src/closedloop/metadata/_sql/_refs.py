"""Which records reference which blob: the query behind ``Workspace.verify``."""

from __future__ import annotations

from sqlalchemy import Connection, select

from closedloop.metadata._protocol import BlobReference
from closedloop.metadata._sql.tables import (
    dataset_versions,
    model_versions,
    models,
    run_artifacts,
)

__all__ = ["blob_references"]


def blob_references(conn: Connection) -> list[BlobReference]:
    """Every reference to a blob, sorted by digest, then kind and name.

    The same three tables as ``referenced_digests``: run artifacts, dataset versions and
    model versions.
    """
    refs = [
        BlobReference(r.digest, "run artifact", f"{r.run_id}:{r.path}")
        for r in conn.execute(
            select(run_artifacts.c.run_id, run_artifacts.c.path, run_artifacts.c.digest)
        )
    ]
    refs += [
        BlobReference(r.digest, "dataset version", r.id)
        for r in conn.execute(select(dataset_versions.c.id, dataset_versions.c.digest))
    ]
    q = select(models.c.name, model_versions.c.version, model_versions.c.artifact_digest).join(
        models, models.c.id == model_versions.c.model_id
    )
    refs += [
        BlobReference(r.artifact_digest, "model version", f"{r.name}/{r.version}")
        for r in conn.execute(q)
    ]
    return sorted(refs)
