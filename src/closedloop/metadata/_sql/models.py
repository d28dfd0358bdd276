"""``SqlModelStore``: model versions, their aliases and the model blobs they reference."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from closedloop.core import (
    AliasChange,
    Audit,
    ModelVersion,
    RegisteredModel,
    TableSchema,
    commit_audit,
    now_ms,
)
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql import model_catalog
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql._refs import named_id, referenced_in, split_ref
from closedloop.metadata._sql.tables import (
    model_alias_history,
    model_aliases,
    model_version_tags,
    model_versions,
    models,
)

__all__ = ["SqlModelStore"]


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
            model_id = named_id(conn, models, model, self._db)
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
            return _hydrate(conn, [row], one_model=True)[0]

    def list_versions(self, model: str | None = None) -> list[ModelVersion]:
        """Versions by model name then number, with their aliases."""
        q = self._query().order_by(models.c.name, model_versions.c.version)
        if model is not None:
            q = q.where(models.c.name == model)
        with self._db.read() as conn:
            return _hydrate(conn, conn.execute(q).all(), one_model=model is not None)

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
        """Point ``alias`` at ``version`` (moving it), with a history row of the move."""
        if not alias or alias == "latest" or alias.isdigit() or "/" in alias or "@" in alias:
            raise InvalidArgumentError(
                f"{alias!r} cannot be an alias", hint="use a word such as champion or challenger"
            )
        if len(alias) > 64:
            raise InvalidArgumentError(
                f"alias {alias[:20]!r}… is {len(alias)} characters long",
                hint="use an alias of at most 64 characters",
            )
        target = self.get_version(f"{model}/{version}")
        with self._db.write() as conn:
            model_id = named_id(conn, models, model, self._db)
            previous = _alias_version(conn, model_id, alias)
            stmt = self._db.insert(model_aliases).values(
                model_id=model_id, alias=alias, version=version
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["model_id", "alias"], set_={"version": version}
                )
            )
            _record_move(conn, audit, model, alias, previous, version, actor, reason)
        return self.get_version(target.id)

    def delete_alias(
        self,
        model: str,
        alias: str,
        *,
        reason: str = "",
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> None:
        """Remove an alias, with a history row of its removal."""
        with self._db.write() as conn:
            model_id = conn.execute(select(models.c.id).where(models.c.name == model)).scalar()
            previous = None if model_id is None else _alias_version(conn, model_id, alias)
            if model_id is None or previous is None:
                raise NotFoundError(f"model {model!r} has no alias {alias!r}")
            conn.execute(
                delete(model_aliases).where(
                    model_aliases.c.model_id == model_id, model_aliases.c.alias == alias
                )
            )
            _record_move(conn, audit, model, alias, previous, None, actor, reason)

    def alias_history(self, model: str, alias: str | None = None) -> list[AliasChange]:
        """The moves of ``model``'s aliases (only ``alias``'s when given), newest first."""
        q = select(model_alias_history).where(model_alias_history.c.model == model)
        if alias is not None:
            q = q.where(model_alias_history.c.alias == alias)
        with self._db.read() as conn:
            rows = conn.execute(q.order_by(model_alias_history.c.id.desc())).all()
        return [
            AliasChange(
                r.id, r.model, r.alias, r.from_version, r.to_version, r.actor, r.reason, r.time
            )
            for r in rows
        ]

    # descriptions and tags (model_catalog) --------------------------------------------------
    def get_model(self, name: str) -> RegisteredModel:
        """A registered model with its description, tags and aliases.

        Raises:
            NotFoundError: No model of that name.
        """
        return model_catalog.get_model(self._db, name)

    def list_models(self) -> list[RegisteredModel]:
        """Every registered model, by name."""
        return model_catalog.list_models(self._db)

    def set_description(
        self, model: str, version: int | None, text: str | None, *, audit: Audit | None = None
    ) -> None:
        """Set (``None``: clear) the description of a model or of one of its versions."""
        model_catalog.set_description(self._db, model, version, text, audit=audit)

    def set_tag(
        self,
        model: str,
        version: int | None,
        key: str,
        value: str,
        *,
        audit: Audit | None = None,
    ) -> None:
        """Set a tag of a model or of one of its versions."""
        model_catalog.set_tag(self._db, model, version, key, value, audit=audit)

    def delete_tag(
        self, model: str, version: int | None, key: str, *, audit: Audit | None = None
    ) -> None:
        """Remove a tag of a model or of one of its versions."""
        model_catalog.delete_tag(self._db, model, version, key, audit=audit)

    def set_onnx(
        self, model: str, version: int, digest: str | None, *, audit: Audit | None = None
    ) -> ModelVersion:
        """Record (or, with ``None``, clear) the digest of a version's ONNX conversion.

        Raises:
            NotFoundError: No such version.
        """
        with self._db.write() as conn:
            result = conn.execute(
                update(model_versions)
                .where(
                    model_versions.c.version == version,
                    model_versions.c.model_id.in_(
                        select(models.c.id).where(models.c.name == model)
                    ),
                )
                .values(onnx_digest=digest)
            )
            if result.rowcount == 0:
                raise NotFoundError(
                    f"no model version {model}/{version}",
                    hint="list them with `closedloop models list`",
                )
            self._db.audit(conn, audit)
        return self.get_version(f"{model}/{version}")

    # blobs -------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """The digests of the versions' model blobs and ONNX conversions (among ``among``)."""
        found = referenced_in(self._db, model_versions.c.artifact_digest, among)
        found |= referenced_in(self._db, model_versions.c.onnx_digest, among)
        found.discard(None)  # type: ignore[arg-type,unused-ignore]  # versions without one
        return found

    def blob_references(self) -> list[BlobReference]:
        """Each version's ``model version`` blob and any ``model version onnx`` conversion.

        Each is named ``<model>/<version>``.
        """
        q = select(
            models.c.name,
            model_versions.c.version,
            model_versions.c.artifact_digest,
            model_versions.c.onnx_digest,
        ).join(models, models.c.id == model_versions.c.model_id)
        with self._db.read() as conn:
            rows = conn.execute(q).all()
        refs = [
            BlobReference(r.artifact_digest, "model version", f"{r.name}/{r.version}") for r in rows
        ]
        refs += [
            BlobReference(r.onnx_digest, "model version onnx", f"{r.name}/{r.version}")
            for r in rows
            if r.onnx_digest is not None
        ]
        return refs


def _alias_version(conn: Connection, model_id: int, alias: str) -> int | None:
    """The version ``alias`` points at now (locked until commit on PostgreSQL), or None."""
    q = select(model_aliases.c.version).where(
        model_aliases.c.model_id == model_id, model_aliases.c.alias == alias
    )
    found = conn.execute(q.with_for_update()).scalar()
    return None if found is None else int(found)


def _record_move(
    conn: Connection,
    audit: Audit | None,
    model: str,
    alias: str,
    previous: int | None,
    version: int | None,
    actor: str | None,
    reason: str,
) -> None:
    """The history row of an alias move and the move's audit event, in ``conn``."""
    event = commit_audit(audit, from_version=previous, to_version=version)
    conn.execute(
        insert(model_alias_history).values(
            model=model,
            alias=alias,
            from_version=previous,
            to_version=version,
            actor=(actor or (event.actor if event is not None else ""))[:255],
            reason=reason,
            time=now_ms(),
        )
    )
    Database.audit(conn, event)


def _hydrate(conn: Connection, rows: Sequence[Any], *, one_model: bool) -> list[ModelVersion]:
    """The versions of ``rows`` with their aliases and tags (two queries in all).

    ``one_model``: every row is of the first row's model (the queries are narrowed to it).
    """
    if not rows:
        return []
    aliases_q = select(model_aliases)
    tags_q = select(model_version_tags)
    if one_model:
        aliases_q = aliases_q.where(model_aliases.c.model_id == rows[0].model_id)
        tags_q = tags_q.where(model_version_tags.c.model_id == rows[0].model_id)
    aliases: dict[tuple[int, int], list[str]] = {}
    for a in conn.execute(aliases_q):
        aliases.setdefault((a.model_id, a.version), []).append(a.alias)
    tags: dict[tuple[int, int], dict[str, str]] = {}
    for t in conn.execute(tags_q):
        tags.setdefault((t.model_id, t.version), {})[t.key] = t.value
    return [
        _model_version(
            r,
            tuple(sorted(aliases.get((r.model_id, r.version), []))),
            dict(sorted(tags.get((r.model_id, r.version), {}).items())),
        )
        for r in rows
    ]


def _model_version(r: Any, aliases: tuple[str, ...], tags: dict[str, str]) -> ModelVersion:
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
        onnx_digest=r.onnx_digest,
        description=r.description,
        tags=tags,
    )
