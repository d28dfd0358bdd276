"""What the registry says about its models: descriptions, tags, aliases per model.

Functions of ``SqlModelStore`` (which delegates to them) on the ``models``,
``model_versions``, ``model_tags`` and ``model_version_tags`` tables.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, update

from closedloop.core import Audit, RegisteredModel
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.metadata._sql._db import Database
from closedloop.metadata._sql.tables import (
    model_aliases,
    model_tags,
    model_version_tags,
    model_versions,
    models,
)

__all__ = [
    "check_tag_key",
    "delete_tag",
    "get_model",
    "list_models",
    "set_description",
    "set_tag",
]

_MAX_KEY = 255
_LIST_HINT = "list them with `closedloop models list`"


def check_tag_key(key: str) -> None:
    """Refuse a tag key that is empty or longer than 255 characters.

    Raises:
        InvalidArgumentError: Naming the problem and the fix.
    """
    if not key or not key.strip():
        raise InvalidArgumentError(
            "a tag key cannot be empty", hint="give a key such as team=fraud (KEY=VALUE)"
        )
    if len(key) > _MAX_KEY:
        raise InvalidArgumentError(
            f"tag key {key[:20]!r}… is {len(key)} characters long",
            hint=f"use a key of at most {_MAX_KEY} characters (put long text in the value)",
        )


def _model_id(conn: Connection, name: str, version: int | None) -> int:
    """The id of model ``name``, checking that ``version`` (if given) exists."""
    model_id = conn.execute(select(models.c.id).where(models.c.name == name)).scalar()
    if model_id is None:
        raise NotFoundError(f"no model {name!r}", hint=_LIST_HINT)
    if version is not None:
        found = conn.execute(
            select(model_versions.c.id).where(
                model_versions.c.model_id == model_id, model_versions.c.version == version
            )
        ).scalar()
        if found is None:
            raise NotFoundError(f"no model version {name}/{version}", hint=_LIST_HINT)
    return int(model_id)


def _label(name: str, version: int | None) -> str:
    return name if version is None else f"{name}/{version}"


def get_model(db: Database, name: str) -> RegisteredModel:
    """Model ``name`` with its description, tags and aliases; NotFoundError."""
    found = _models(db, name)
    if not found:
        raise NotFoundError(f"no model {name!r}", hint=_LIST_HINT)
    return found[0]


def list_models(db: Database) -> list[RegisteredModel]:
    """Every model that has a version, by name."""
    return _models(db, None)


def _models(db: Database, name: str | None) -> list[RegisteredModel]:
    latest = (
        select(model_versions.c.model_id, func.max(model_versions.c.version).label("latest"))
        .group_by(model_versions.c.model_id)
        .subquery()
    )
    q = (
        select(models, latest.c.latest)
        .join(latest, latest.c.model_id == models.c.id)
        .order_by(models.c.name)
    )
    tags_q = select(model_tags)
    aliases_q = select(model_aliases)
    if name is not None:
        q = q.where(models.c.name == name)
        ids = select(models.c.id).where(models.c.name == name)
        tags_q = tags_q.where(model_tags.c.model_id.in_(ids))
        aliases_q = aliases_q.where(model_aliases.c.model_id.in_(ids))
    with db.read() as conn:
        rows = conn.execute(q).all()
        tags: dict[int, dict[str, str]] = {}
        for t in conn.execute(tags_q):
            tags.setdefault(t.model_id, {})[t.key] = t.value
        aliases: dict[int, dict[str, int]] = {}
        for a in conn.execute(aliases_q):
            aliases.setdefault(a.model_id, {})[a.alias] = a.version
    return [
        RegisteredModel(
            name=r.name,
            description=r.description,
            tags=dict(sorted(tags.get(r.id, {}).items())),
            created_at=r.created_at,
            latest_version=int(r.latest),
            aliases=dict(sorted(aliases.get(r.id, {}).items())),
        )
        for r in rows
    ]


def set_description(
    db: Database, name: str, version: int | None, text: str | None, *, audit: Audit | None
) -> None:
    """Set (``None``: clear) the description of model ``name`` or of its ``version``."""
    with db.write() as conn:
        model_id = _model_id(conn, name, version)
        if version is None:
            stmt = update(models).where(models.c.id == model_id)
        else:
            stmt = update(model_versions).where(
                model_versions.c.model_id == model_id, model_versions.c.version == version
            )
        conn.execute(stmt.values(description=text))
        db.audit(conn, audit)


def set_tag(
    db: Database,
    name: str,
    version: int | None,
    key: str,
    value: str,
    *,
    audit: Audit | None,
) -> None:
    """Set tag ``key`` of model ``name`` (or of its ``version``) to ``value``."""
    check_tag_key(key)
    with db.write() as conn:
        model_id = _model_id(conn, name, version)
        if version is None:
            stmt = db.insert(model_tags).values(model_id=model_id, key=key, value=value)
            index = ["model_id", "key"]
        else:
            stmt = db.insert(model_version_tags).values(
                model_id=model_id, version=version, key=key, value=value
            )
            index = ["model_id", "version", "key"]
        conn.execute(stmt.on_conflict_do_update(index_elements=index, set_={"value": value}))
        db.audit(conn, audit)


def delete_tag(
    db: Database, name: str, version: int | None, key: str, *, audit: Audit | None
) -> None:
    """Remove tag ``key`` of model ``name`` (or of its ``version``); NotFoundError."""
    with db.write() as conn:
        model_id = _model_id(conn, name, version)
        if version is None:
            stmt = delete(model_tags).where(
                model_tags.c.model_id == model_id, model_tags.c.key == key
            )
        else:
            stmt = delete(model_version_tags).where(
                model_version_tags.c.model_id == model_id,
                model_version_tags.c.version == version,
                model_version_tags.c.key == key,
            )
        if conn.execute(stmt).rowcount == 0:
            raise NotFoundError(
                f"{_label(name, version)} has no tag {key!r}",
                hint=f"see its tags with `closedloop models show {_label(name, version)}`",
            )
        db.audit(conn, audit)
