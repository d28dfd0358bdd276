"""``SqlRunArtifacts``: the blobs attached to runs, and the inputs runs consumed.

Part of tracking (the rows hang off ``runs``), but reported to the aggregate store like any
other domain: it answers for the ``run_artifacts`` digests.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from closedloop.core import ArtifactRef, RunInput, now_ms
from closedloop.errors import NotFoundError
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._db import Database
from closedloop.metadata._sql._refs import referenced_in
from closedloop.metadata._sql._rows import check_artifact_path
from closedloop.metadata._sql._run_writes import require_running
from closedloop.metadata._sql.tables import run_artifacts, run_inputs, runs

__all__ = ["SqlRunArtifacts"]


def _require_run(conn: Connection, run_id: str, *, hint: str | None = None) -> None:
    if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
        raise NotFoundError(f"no run with id {run_id}", hint=hint)


class SqlRunArtifacts:
    """Artifact references of runs (``run → path → digest``) and run inputs.

    Args:
        db: The database shared with the other stores.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_artifact(self, run_id: str, path: str, digest: str, size: int) -> ArtifactRef:
        """Attach a blob to a running run under ``path`` (replacing what was there)."""
        path = check_artifact_path(path)
        now = now_ms()
        with self._db.write() as conn:
            require_running(conn, run_id)
            stmt = self._db.insert(run_artifacts).values(
                run_id=run_id, path=path, digest=digest, size=size, created_at=now
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "path"],
                    set_={"digest": digest, "size": size, "created_at": now},
                )
            )
        return ArtifactRef(run_id, path, digest, size, now)

    def list_artifacts(self, run_id: str) -> list[ArtifactRef]:
        """A run's artifacts by path."""
        with self._db.read() as conn:
            _require_run(conn, run_id)
            rows = conn.execute(
                select(run_artifacts)
                .where(run_artifacts.c.run_id == run_id)
                .order_by(run_artifacts.c.path)
            ).all()
        return [ArtifactRef(*r) for r in rows]

    def get_artifact(self, run_id: str, path: str) -> ArtifactRef:
        """One artifact reference; ``NotFoundError`` names the unknown run or path."""
        with self._db.read() as conn:
            row = conn.execute(
                select(run_artifacts).where(
                    run_artifacts.c.run_id == run_id, run_artifacts.c.path == path
                )
            ).first()
            if row is None:
                _require_run(conn, run_id, hint="list runs with `closedloop runs list`")
                raise NotFoundError(
                    f"run {run_id} has no artifact {path!r}",
                    hint=f"see its artifacts with `closedloop runs show {run_id}`",
                )
        return ArtifactRef(*row)

    def add_run_input(self, run_id: str, run_input: RunInput) -> None:
        """Record an input of a running run (idempotent)."""
        with self._db.write() as conn:
            require_running(conn, run_id)
            conn.execute(
                self._db.insert(run_inputs)
                .values(run_id=run_id, kind=run_input.kind, ref=run_input.ref, name=run_input.name)
                .on_conflict_do_nothing()
            )

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """The digests run artifacts point at (among ``among``)."""
        return referenced_in(self._db, run_artifacts.c.digest, among)

    def blob_references(self) -> list[BlobReference]:
        """One ``run artifact`` reference per artifact (``<run id>:<path>``)."""
        q = select(run_artifacts.c.run_id, run_artifacts.c.path, run_artifacts.c.digest)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        return [BlobReference(r.digest, "run artifact", f"{r.run_id}:{r.path}") for r in rows]
