"""SQL stores of dataset versions, model versions and aliases, predictions, loop decisions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from closedloop.core import (
    Audit,
    DatasetVersion,
    LoopDecision,
    ModelVersion,
    Prediction,
    TableSchema,
    now_ms,
)
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql.tables import (
    dataset_versions,
    datasets,
    loop_decisions,
    model_aliases,
    model_versions,
    models,
    predictions,
)

__all__ = ["SqlDatasetStore", "SqlDecisionStore", "SqlModelStore", "SqlPredictionLog"]


def _named_id(conn: Connection, table: Any, name: str, db: Database) -> int:
    """The id of the row called ``name`` in ``datasets``/``models``, inserted if new."""
    conn.execute(
        db.insert(table)
        .values(name=name, created_at=now_ms())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return int(conn.execute(select(table.c.id).where(table.c.name == name)).scalar_one())


def split_ref(ref: str) -> tuple[str, str]:
    """``"adult@champion"`` → ``("adult", "champion")``; ``"adult/3"`` → ``("adult", "3")``."""
    for sep in ("@", "/"):
        if sep in ref:
            name, _, selector = ref.partition(sep)
            if name and selector:
                return name, selector
    raise InvalidArgumentError(
        f"{ref!r} does not name a version",
        hint="write <name>@<alias|latest|digest prefix> or <name>/<version number>",
    )


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
            dataset_id = _named_id(conn, datasets, dataset, self._db)
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


class SqlModelStore:
    """Model versions and their aliases."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        with self._db.write() as conn:
            model_id = _named_id(conn, models, model, self._db)
            number = (
                conn.execute(
                    select(func.max(model_versions.c.version)).where(
                        model_versions.c.model_id == model_id
                    )
                ).scalar()
                or 0
            ) + 1
            conn.execute(
                insert(model_versions).values(
                    model_id=model_id,
                    version=number,
                    run_id=run_id,
                    dataset_version_id=dataset_version_id,
                    artifact_digest=artifact_digest,
                    signature=dumps(signature.to_dict()),
                    target=target,
                    classes=dumps(list(classes)),
                    metrics=dumps(dict(metrics)),
                    created_at=now_ms(),
                )
            )
            self._db.audit(conn, audit, version=number)
        return self.get_version(f"{model}/{number}")

    def _query(self) -> Any:
        return select(model_versions, models.c.name.label("model")).join(
            models, models.c.id == model_versions.c.model_id
        )

    def get_version(self, ref: str) -> ModelVersion:
        """A version by ``name/<number>``, ``name@<alias>`` or ``name@latest``.

        Raises:
            NotFoundError: No such model, version or alias.
        """
        name, selector = split_ref(ref)
        q = self._query().where(models.c.name == name)
        with self._db.read() as conn:
            if "/" in ref and selector.isdigit():
                q = q.where(model_versions.c.version == int(selector))
            elif selector == "latest":
                q = q.order_by(model_versions.c.version.desc()).limit(1)
            else:
                number = conn.execute(
                    select(model_aliases.c.version)
                    .join(models, models.c.id == model_aliases.c.model_id)
                    .where(models.c.name == name, model_aliases.c.alias == selector)
                ).scalar()
                if number is None:
                    raise NotFoundError(
                        f"model {name!r} has no alias {selector!r}",
                        hint=f"set it with `closedloop models alias {name} {selector} <version>`",
                    )
                q = q.where(model_versions.c.version == number)
            row = conn.execute(q).first()
            if row is None:
                raise NotFoundError(
                    f"no model version {ref!r}", hint="list them with `closedloop models list`"
                )
            aliases = tuple(
                conn.execute(
                    select(model_aliases.c.alias)
                    .where(
                        model_aliases.c.model_id == row.model_id,
                        model_aliases.c.version == row.version,
                    )
                    .order_by(model_aliases.c.alias)
                ).scalars()
            )
        return _model_version(row, aliases)

    def list_versions(self, model: str | None = None) -> list[ModelVersion]:
        """Versions by model name then number, with their aliases."""
        q = self._query().order_by(models.c.name, model_versions.c.version)
        if model is not None:
            q = q.where(models.c.name == model)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
            alias_rows = conn.execute(select(model_aliases)).all()
        by_version: dict[tuple[int, int], list[str]] = {}
        for a in alias_rows:
            by_version.setdefault((a.model_id, a.version), []).append(a.alias)
        return [
            _model_version(r, tuple(sorted(by_version.get((r.model_id, r.version), []))))
            for r in rows
        ]

    def set_alias(
        self, model: str, alias: str, version: int, *, audit: Audit | None = None
    ) -> ModelVersion:
        """Point ``alias`` at ``version`` (moving it from any other version)."""
        if not alias or alias == "latest" or alias.isdigit() or "/" in alias or "@" in alias:
            raise InvalidArgumentError(
                f"{alias!r} cannot be an alias", hint="use a word such as champion or challenger"
            )
        target = self.get_version(f"{model}/{version}")
        with self._db.write() as conn:
            model_id = _named_id(conn, models, model, self._db)
            stmt = self._db.insert(model_aliases).values(
                model_id=model_id, alias=alias, version=version
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["model_id", "alias"], set_={"version": version}
                )
            )
            self._db.audit(conn, audit)
        return self.get_version(target.id)

    def delete_alias(self, model: str, alias: str, *, audit: Audit | None = None) -> None:
        """Remove an alias."""
        with self._db.write() as conn:
            result = conn.execute(
                delete(model_aliases).where(
                    model_aliases.c.alias == alias,
                    model_aliases.c.model_id.in_(select(models.c.id).where(models.c.name == model)),
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"model {model!r} has no alias {alias!r}")
            self._db.audit(conn, audit)


def _model_version(r: Any, aliases: tuple[str, ...]) -> ModelVersion:
    return ModelVersion(
        id=f"{r.model}/{r.version}",
        model=r.model,
        version=r.version,
        run_id=r.run_id,
        dataset_version_id=r.dataset_version_id,
        artifact_digest=r.artifact_digest,
        signature=TableSchema.from_dict(json.loads(r.signature)),
        target=r.target,
        classes=tuple(json.loads(r.classes)),
        metrics=json.loads(r.metrics),
        aliases=aliases,
        created_at=r.created_at,
    )


class SqlPredictionLog:
    """The durable prediction log: one row per predicted input row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, items: Sequence[Prediction], *, audit: Audit | None = None) -> None:
        """Append predictions (and the request's audit event) in one transaction."""
        if not items:
            return
        rows = [
            {
                "request_id": p.request_id,
                "row": p.row,
                "time": p.time,
                "model_version_id": p.model_version_id,
                "inputs": dumps(dict(p.inputs)),
                "output": dumps(p.output),
                "latency_ms": p.latency_ms,
            }
            for p in items
        ]
        with self._db.write() as conn:
            conn.execute(insert(predictions), rows)
            self._db.audit(conn, audit)

    def count(self, model_version_id: str | None = None) -> int:
        """How many predictions are logged (for one model version)."""
        q = select(func.count()).select_from(predictions)
        if model_version_id is not None:
            q = q.where(predictions.c.model_version_id == model_version_id)
        with self._db.read() as conn:
            return int(conn.execute(q).scalar_one())

    def list(
        self,
        model_version_id: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[Prediction]:
        """Predictions in logging order, optionally for one version and a time window."""
        q = select(predictions).order_by(predictions.c.id)
        if model_version_id is not None:
            q = q.where(predictions.c.model_version_id == model_version_id)
        if since is not None:
            q = q.where(predictions.c.time >= since)
        if until is not None:
            q = q.where(predictions.c.time < until)
        if limit is not None:
            q = q.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        return [
            Prediction(
                request_id=r.request_id,
                row=r.row,
                time=r.time,
                model_version_id=r.model_version_id,
                inputs=json.loads(r.inputs),
                output=json.loads(r.output),
                latency_ms=r.latency_ms,
            )
            for r in rows
        ]


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
