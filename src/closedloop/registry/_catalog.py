"""What the registry says about its models: descriptions, tags and alias history."""

from __future__ import annotations

from closedloop.core import AliasChange, RegisteredModel
from closedloop.errors import InvalidArgumentError
from closedloop.workspace import Actions, Workspace

__all__ = [
    "alias_history",
    "delete_tag",
    "get_model",
    "list_models",
    "set_description",
    "set_tag",
]

_MAX_TAG_KEY = 255


def _target(ws: Workspace, ref_or_name: str) -> tuple[str, int | None]:
    """``adult`` → the model; ``adult/3``, ``adult@champion`` → that version (resolved now).

    Returns:
        The model name and the version number (``None`` for the model itself).
    """
    if "@" not in ref_or_name and "/" not in ref_or_name:
        if not ref_or_name or " " in ref_or_name:
            raise InvalidArgumentError(
                f"{ref_or_name!r} names no model or version",
                hint="give a model name (adult) or a version (adult/3, adult@champion)",
            )
        return ref_or_name, None
    version = ws.metadata.models.get_version(ref_or_name)
    return version.model, version.version


def _check_key(key: str) -> None:
    if not key or not key.strip():
        raise InvalidArgumentError(
            "a tag key cannot be empty", hint="give a key such as team=fraud (KEY=VALUE)"
        )
    if len(key) > _MAX_TAG_KEY:
        raise InvalidArgumentError(
            f"tag key {key[:20]!r}… is {len(key)} characters long",
            hint=f"use a key of at most {_MAX_TAG_KEY} characters (put long text in the value)",
        )


def set_description(ws: Workspace, ref_or_name: str, text: str | None) -> None:
    """Describe a model (``adult``) or one of its versions (``adult/3``, ``adult@champion``).

    Args:
        ws: The workspace.
        ref_or_name: A model name, or a version reference (an alias is resolved now: the
            description stays with that version when the alias moves).
        text: The description; ``None`` or empty clears it.

    Raises:
        NotFoundError: No such model or version.
    """
    with ws.action(Actions.MODEL_DESCRIBE, f"model:{ref_or_name}") as act:
        name, version = _target(ws, ref_or_name)
        act["version"] = version
        ws.metadata.models.set_description(name, version, text or None, audit=act)


def set_tag(ws: Workspace, ref_or_name: str, key: str, value: str) -> None:
    """Set tag ``key`` of a model or of one of its versions to ``value`` (replacing it).

    Raises:
        InvalidArgumentError: An empty key, or one over 255 characters.
        NotFoundError: No such model or version.
    """
    _check_key(key)
    with ws.action(Actions.MODEL_TAG, f"model:{ref_or_name}", key=key) as act:
        name, version = _target(ws, ref_or_name)
        act["version"] = version
        ws.metadata.models.set_tag(name, version, key, value, audit=act)


def delete_tag(ws: Workspace, ref_or_name: str, key: str) -> None:
    """Remove tag ``key`` of a model or of one of its versions.

    Raises:
        NotFoundError: No such model or version, or it has no such tag.
    """
    with ws.action(Actions.MODEL_TAG_DELETE, f"model:{ref_or_name}", key=key) as act:
        name, version = _target(ws, ref_or_name)
        act["version"] = version
        ws.metadata.models.delete_tag(name, version, key, audit=act)


def get_model(ws: Workspace, name: str) -> RegisteredModel:
    """Model ``name``: description, tags, latest version and where its aliases point.

    Raises:
        NotFoundError: No model of that name.
    """
    with ws.action(Actions.MODEL_READ, f"model:{name}"):
        return ws.metadata.models.get_model(name)


def list_models(ws: Workspace) -> list[RegisteredModel]:
    """Every registered model, by name."""
    with ws.action(Actions.MODEL_LIST, "model:*"):
        return ws.metadata.models.list_models()


def alias_history(ws: Workspace, name: str, alias: str | None = None) -> list[AliasChange]:
    """Every move of ``name``'s aliases (or of ``alias`` only), newest first.

    Each change says from which version to which (``None``: the alias was new, or was
    deleted), who moved it and why.
    """
    resource = f"model:{name}" if alias is None else f"model:{name}@{alias}"
    with ws.action(Actions.MODEL_READ, resource, history=True):
        return ws.metadata.models.alias_history(name, alias)
