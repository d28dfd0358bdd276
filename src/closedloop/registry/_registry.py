"""Register fitted models as versions with a signature, aliases and lineage; load them back."""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from closedloop.core import ModelVersion, TableSchema
from closedloop.errors import (
    ArtifactIntegrityError,
    InvalidArgumentError,
    NotFoundError,
    StorageError,
)
from closedloop.workspace import Actions, Workspace

__all__ = [
    "LoadedModel",
    "delete_alias",
    "get_model_version",
    "list_model_versions",
    "load_model",
    "register_model",
    "register_model_from_run",
    "set_alias",
]

RUN_MODEL_ARTIFACT = "model/pipeline.pkl"
_FORMAT = "closedloop.sklearn-pickle/1"
_REFUSED_HINT = (
    "its blob was not written by this workspace or was damaged: run `closedloop verify`, "
    "then re-register the model (or restore the artifact folder from a backup)"
)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model version and its deserialised estimator (scikit-learn API)."""

    version: ModelVersion
    model: Any


def _check_name(name: str, kind: str = "model") -> None:
    if not name or any(c in name for c in "@/ ") or len(name) > 255:
        raise InvalidArgumentError(
            f"{name!r} is not a valid {kind} name",
            hint="use letters, digits, '-', '_' or '.', without '@', '/' or spaces",
        )


def register_model(
    ws: Workspace,
    name: str,
    model: Any,
    *,
    signature: TableSchema,
    target: str,
    classes: Sequence[str] = (),
    metrics: Mapping[str, float] | None = None,
    run_id: str | None = None,
    dataset_version_id: str | None = None,
    aliases: Sequence[str] = (),
) -> ModelVersion:
    """Store a fitted model and register it as the next version of ``name``.

    The model is serialised with pickle into the content-addressed artifact store, which
    authenticates it with the workspace key (encrypted, or signed when encryption is off);
    its digest is recorded so every load is verified and authenticated. The signature is the input
    schema requests must fit (derived from the training data's schema).

    Args:
        ws: The workspace.
        name: Model name.
        model: A fitted estimator with ``predict`` (and ``predict_proba`` for classifiers).
        signature: Input columns and types.
        target: The predicted column's name.
        classes: Class labels in the order of ``predict_proba``'s columns.
        metrics: Evaluation metrics to keep with the version.
        run_id: The training run (lineage).
        dataset_version_id: The training data version (lineage).
        aliases: Aliases to point at the new version (e.g. ``("champion",)``).
    """
    _check_name(name)
    if not hasattr(model, "predict"):
        raise InvalidArgumentError(
            f"cannot register {type(model).__name__}: it has no predict method",
            hint="register a fitted estimator or pipeline",
        )
    if len(signature) == 0:
        raise InvalidArgumentError("a model signature needs at least one input column")
    buffer = io.BytesIO()
    pickle.dump({"format": _FORMAT, "model": model}, buffer, protocol=5)
    with ws.action(Actions.MODEL_REGISTER, f"model:{name}", run_id=run_id) as act:
        blob = ws.artifacts.put_bytes(buffer.getvalue())
        act["digest"] = blob.digest  # the store adds the version number it assigns
        version = ws.metadata.models.create_version(
            name,
            artifact_digest=blob.digest,
            signature=signature,
            target=target,
            classes=[str(c) for c in classes],
            metrics={k: float(v) for k, v in (metrics or {}).items()},
            run_id=run_id,
            dataset_version_id=dataset_version_id,
            audit=act,
        )
    for alias in aliases:
        version = set_alias(ws, name, alias, version.version, reason="set at registration")
    return version


def register_model_from_run(
    ws: Workspace,
    name: str,
    run_id: str,
    artifact_path: str = RUN_MODEL_ARTIFACT,
    *,
    signature: TableSchema,
    target: str,
    classes: Sequence[str] | None = None,
    metrics: Mapping[str, float] | None = None,
    dataset_version_id: str | None = None,
    aliases: Sequence[str] = (),
) -> ModelVersion:
    """Register a model a run already stored, pointing the version at that artifact's blob.

    Nothing is pickled or stored again: the version's ``artifact_digest`` is the digest of
    the run's artifact (e.g. ``model/pipeline.pkl``, which ``training.select_model`` logs),
    so the artifact store keeps one blob for both. The blob must be authenticated by the
    workspace key (artifacts the store writes are) and must unpickle to an estimator with
    ``predict`` whose ``classes_`` match ``classes``; only then is the version created.
    The run is the version's lineage.

    Args:
        ws: The workspace.
        name: Model name.
        run_id: The run that stored the fitted model.
        artifact_path: The artifact's path within the run.
        signature: Input columns and types.
        target: The predicted column's name.
        classes: Class labels in the order of ``predict_proba``'s columns; by default the
            estimator's ``classes_`` (none for a model without them).
        metrics: Evaluation metrics to keep with the version.
        dataset_version_id: The training data version (lineage).
        aliases: Aliases to point at the new version (e.g. ``("champion",)``).

    Raises:
        NotFoundError: No such run or artifact, or its blob is gone.
        UnauthenticatedArtifactError: The blob is not authenticated by the workspace key.
        ArtifactIntegrityError: The blob is corrupt or fails authentication.
        InvalidArgumentError: A bad name or signature, or the blob is not an estimator
            with the given classes.
    """
    _check_name(name)
    if len(signature) == 0:
        raise InvalidArgumentError("a model signature needs at least one input column")
    label = f"artifact {artifact_path!r} of run {run_id}"
    with ws.action(Actions.MODEL_REGISTER, f"model:{name}", run_id=run_id) as act:
        ref = ws.metadata.get_artifact(run_id, artifact_path)
        act.update(digest=ref.digest, artifact_path=artifact_path)
        try:
            data = ws.artifacts.get_bytes(ref.digest, require_authenticated=True)
        except (ArtifactIntegrityError, NotFoundError) as e:
            raise type(e)(f"{label} cannot be registered: {e.message}", hint=_REFUSED_HINT) from e
        try:
            model = pickle.loads(data)  # authenticated above: written by this workspace
        except Exception as e:  # any bytes a run stored: not necessarily a pickle
            raise InvalidArgumentError(
                f"cannot register {label}: it does not unpickle ({type(e).__name__})",
                hint="give the path of a pickled fitted estimator or pipeline",
            ) from e
        if not hasattr(model, "predict"):
            raise InvalidArgumentError(
                f"cannot register {label}: it holds a {type(model).__name__}, "
                "which has no predict method",
                hint="give the path of a pickled fitted estimator or pipeline",
            )
        fitted = [str(c) for c in getattr(model, "classes_", ())]
        wanted = fitted if classes is None else [str(c) for c in classes]
        if wanted != fitted:
            raise InvalidArgumentError(
                f"cannot register {label}: its classes {fitted} are not {wanted}",
                hint="give the classes in the estimator's predict_proba order, or omit them",
            )
        version = ws.metadata.models.create_version(
            name,
            artifact_digest=ref.digest,
            signature=signature,
            target=target,
            classes=wanted,
            metrics={k: float(v) for k, v in (metrics or {}).items()},
            run_id=run_id,
            dataset_version_id=dataset_version_id,
            audit=act,
        )
    for alias in aliases:
        version = set_alias(ws, name, alias, version.version, reason="set at registration")
    return version


def set_alias(
    ws: Workspace, name: str, alias: str, version: int, *, reason: str = ""
) -> ModelVersion:
    """Point ``alias`` (e.g. ``champion``) at ``version`` of ``name``.

    The move (from which version, to which, who, ``reason``) is written to the alias's
    history in the same transaction (see :func:`alias_history`).

    Args:
        ws: The workspace.
        name: Model name.
        alias: The alias to point (``champion``, ``challenger``, …).
        version: The version number it points at from now on.
        reason: Why, in words (kept in the history and the audit detail).
    """
    with ws.action(
        Actions.MODEL_ALIAS, f"model:{name}@{alias}", version=version, reason=reason
    ) as act:
        return ws.metadata.models.set_alias(
            name, alias, version, reason=reason, actor=ws.actor, audit=act
        )


def delete_alias(ws: Workspace, name: str, alias: str, *, reason: str = "") -> None:
    """Remove an alias, recording who removed it and ``reason`` in its history."""
    with ws.action(Actions.MODEL_ALIAS_DELETE, f"model:{name}@{alias}", reason=reason) as act:
        ws.metadata.models.delete_alias(name, alias, reason=reason, actor=ws.actor, audit=act)


def get_model_version(ws: Workspace, ref: str) -> ModelVersion:
    """``name@alias``, ``name@latest`` or ``name/<version>``."""
    with ws.action(Actions.MODEL_READ, f"model:{ref}"):
        return ws.metadata.models.get_version(ref)


def list_model_versions(ws: Workspace, name: str | None = None) -> list[ModelVersion]:
    """Registered versions (of one model or all)."""
    with ws.action(Actions.MODEL_LIST, f"model:{name or '*'}"):
        return ws.metadata.models.list_versions(name)


def load_model(ws: Workspace, ref: str | ModelVersion) -> LoadedModel:
    """Load a registered model, verifying and authenticating its bytes before unpickling.

    Unpickling runs code, so a model blob is deserialised only when its bytes are
    authenticated by the workspace key (the encrypted envelope, or the signature a store
    with encryption off writes) and match the recorded digest. A plain blob, which anyone
    with write access to the artifact folder could plant under a digest they then record
    in the database, is refused before deserialisation. (Dataset blobs are Parquet data,
    not code, and are read without this requirement.)

    Raises:
        NotFoundError: No such version, or its blob is missing.
        UnauthenticatedArtifactError: The blob is not authenticated by the workspace key.
        ArtifactIntegrityError: The blob is corrupt or fails authentication.
    """
    label = ref if isinstance(ref, str) else ref.id
    with ws.action(Actions.MODEL_LOAD, f"model:{label}"):
        version = ref if isinstance(ref, ModelVersion) else ws.metadata.models.get_version(ref)
        try:
            data = ws.artifacts.get_bytes(version.artifact_digest, require_authenticated=True)
        except (ArtifactIntegrityError, NotFoundError) as e:
            raise type(e)(
                f"model version {version.id} cannot be loaded: {e.message}",
                hint=_REFUSED_HINT,
            ) from e
        payload = pickle.loads(data)
    return LoadedModel(version, _estimator(payload, version.id))


def _estimator(payload: Any, version_id: str) -> Any:
    """The model a blob holds: the registry's wrapper, or a bare pickled estimator.

    ``register_model`` writes ``{"format": …, "model": …}``; ``register_model_from_run``
    points a version at a run artifact, which holds the estimator itself.
    """
    if isinstance(payload, dict):
        if payload.get("format") == _FORMAT:
            return payload["model"]
    elif hasattr(payload, "predict"):
        return payload
    raise StorageError(
        f"model blob of {version_id} is not in a format this closedloop reads",
        hint="re-register the model with this version of closedloop",
    )
