"""``SqlDecisionStore``: the loop's champion/challenger decisions, with their reasons."""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import insert, select

from closedloop.core import Audit, LoopDecision, now_ms
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql.tables import loop_decisions

__all__ = ["SqlDecisionStore"]


class SqlDecisionStore:
    """Loop decisions: champion against challenger, with reasons."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        """Store a decision and return it."""
        now = now_ms()
        with self._db.write() as conn:
            result = conn.execute(
                insert(loop_decisions).values(
                    time=now,
                    model=model,
                    champion_version_id=champion_version_id,
                    challenger_version_id=challenger_version_id,
                    decision=decision,
                    reasons=dumps(list(reasons)),
                    detail=dumps(dict(detail)),
                )
            )
            self._db.audit(conn, audit)
            key = result.inserted_primary_key
            assert key is not None
            new_id = int(key[0])
        return LoopDecision(
            new_id,
            now,
            model,
            champion_version_id,
            challenger_version_id,
            decision,
            tuple(reasons),
            dict(detail),
        )

    def list(self, model: str | None = None) -> list[LoopDecision]:
        """Decisions, newest first."""
        q = select(loop_decisions).order_by(loop_decisions.c.id.desc())
        if model is not None:
            q = q.where(loop_decisions.c.model == model)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        return [
            LoopDecision(
                r.id,
                r.time,
                r.model,
                r.champion_version_id,
                r.challenger_version_id,
                r.decision,
                tuple(json.loads(r.reasons)),
                json.loads(r.detail),
            )
            for r in rows
        ]

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """Nothing: a loop decision references no blob."""
        return set()

    def blob_references(self) -> builtins.list[BlobReference]:
        """Nothing: a loop decision references no blob."""
        return []
