"""Registered model versions, as frozen snapshots with no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from closedloop.core._schema import TableSchema

__all__ = ["AliasChange", "ModelVersion", "RegisteredModel"]


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A registered model version.

    Attributes:
        id: ``<model>/<version>``.
        model: Model name.
        version: 1, 2, … per model.
        run_id: The run that trained it.
        dataset_version_id: The dataset version it was trained on.
        artifact_digest: sha256 of the serialised model blob.
        signature: The input schema requests must fit.
        target: Name of the predicted column.
        classes: Class labels for classifiers (index = output position).
        metrics: Evaluation metrics recorded at registration.
        aliases: Aliases pointing at it (``champion``, …).
        created_at: Epoch milliseconds.
        onnx_digest: sha256 of the version's verified ONNX conversion, if it has one.
        description: Free text about the version.
        tags: Key/value labels.
    """

    id: str
    model: str
    version: int
    run_id: str | None
    dataset_version_id: str | None
    artifact_digest: str
    signature: TableSchema
    target: str
    classes: tuple[str, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    created_at: int = 0
    onnx_digest: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A registered model: what it is about and where its aliases point.

    Attributes:
        name: Model name.
        description: Free text about the model.
        tags: Key/value labels.
        created_at: Epoch milliseconds of its first version.
        latest_version: Its highest version number.
        aliases: Alias → the version number it points at.
    """

    name: str
    description: str | None
    tags: Mapping[str, str]
    created_at: int
    latest_version: int
    aliases: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class AliasChange:
    """One move of a model's alias: from which version to which, by whom and why.

    Attributes:
        id: Increasing with time.
        model: Model name.
        alias: The alias that moved.
        from_version: Where it pointed before; ``None`` when the alias was new.
        to_version: Where it points since; ``None`` when the alias was deleted.
        actor: Who moved it (the acting principal's name).
        reason: Why, as the actor wrote it (may be empty).
        time: Epoch milliseconds.
    """

    id: int
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    time: int
