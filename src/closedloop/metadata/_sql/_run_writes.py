"""How a run's data is written: the RUNNING check, immutable params, metrics and tags.

Shared by the run methods of ``SqlMetadataStore`` and by ``SqlRunArtifacts``; every function
works inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select

from closedloop.core import Metric, RunStatus
from closedloop.errors import InvalidArgumentError, NotFoundError, RunStateError
from closedloop.metadata._sql._db import Database
from closedloop.metadata._sql._rows import metric_row, pair_rows
from closedloop.metadata._sql.tables import latest_metrics, params, runs, tags
from closedloop.metadata._sql.tables import metrics as metrics_table

__all__ = ["RunWrites", "require_running"]


def require_running(conn: Connection, run_id: str) -> None:
    """Refuse data for an unknown run (``NotFoundError``) or an ended one (``RunStateError``)."""
    status = conn.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()
    if status is None:
        raise NotFoundError(f"no run with id {run_id}")
    if status != RunStatus.RUNNING.value:
        raise RunStateError(
            f"run {run_id} is {status}; only a RUNNING run accepts new data",
            hint="start a new run to record more",
        )


class RunWrites:
    """The writes of ``log_batch``, with their upsert statements built once.

    Args:
        db: The database (its dialect decides the ``ON CONFLICT`` syntax).
    """

    def __init__(self, db: Database) -> None:
        # Built once: constructing ON CONFLICT statements costs more than running them.
        stmt = db.insert(latest_metrics)
        newer = (stmt.excluded.step > latest_metrics.c.step) | (
            (stmt.excluded.step == latest_metrics.c.step)
            & (stmt.excluded.timestamp >= latest_metrics.c.timestamp)
        )
        self._latest_upsert: Any = stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "value": stmt.excluded.value,
                "step": stmt.excluded.step,
                "timestamp": stmt.excluded.timestamp,
            },
            where=newer,
        )
        tag = db.insert(tags)
        self._tag_upsert: Any = tag.on_conflict_do_update(
            index_elements=["run_id", "key"], set_={"value": tag.excluded.value}
        )

    def set_params(self, conn: Connection, run_id: str, p: Mapping[str, str]) -> None:
        """Insert new params; a changed value raises ``InvalidArgumentError`` (set once)."""
        existing = dict(
            conn.execute(
                select(params.c.key, params.c.value).where(
                    params.c.run_id == run_id, params.c.key.in_(list(p))
                )
            ).all()
        )
        for k, v in p.items():
            if k in existing and existing[k] != v:
                raise InvalidArgumentError(
                    f"param {k!r} of run {run_id} is already {existing[k]!r}; "
                    f"it cannot change to {v!r}",
                    hint="params are immutable: log the new value as a tag or start a new run",
                )
        new = {k: v for k, v in p.items() if k not in existing}
        if new:
            conn.execute(insert(params), pair_rows(run_id, new))

    def set_tags(self, conn: Connection, run_id: str, t: Mapping[str, str]) -> None:
        """Insert or replace tags."""
        conn.execute(self._tag_upsert, pair_rows(run_id, t))

    def insert_metrics(self, conn: Connection, run_id: str, points: Sequence[Metric]) -> None:
        """Append metric points and move ``latest_metrics`` to the newest point of each key."""
        conn.execute(insert(metrics_table), [metric_row(run_id, m) for m in points])
        latest: dict[str, Metric] = {}
        for m in points:
            cur = latest.get(m.key)
            if cur is None or (m.step, m.timestamp) >= (cur.step, cur.timestamp):
                latest[m.key] = m
        conn.execute(self._latest_upsert, [metric_row(run_id, m) for m in latest.values()])
