"""Convert a registered model version to ONNX, keeping the conversion only if it is faithful."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from closedloop.core import ModelVersion
from closedloop.errors import ArtifactIntegrityError, InvalidArgumentError, NotFoundError
from closedloop.features._onnx import OnnxConversion, convert_pipeline
from closedloop.registry._registry import _REFUSED_HINT, load_model
from closedloop.workspace import Actions, Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_VALIDATION_ROWS", "convert_to_onnx", "load_onnx"]

#: Rows of the training data a conversion is checked on when no validation rows are given.
MAX_VALIDATION_ROWS = 5_000
_SEED = 0


def convert_to_onnx(
    ws: Workspace,
    ref: str | ModelVersion,
    validation: pd.DataFrame | None = None,
    *,
    atol: float = 1e-4,
) -> OnnxConversion:
    """Convert a model version to ONNX and record it if it predicts what the model does.

    The model is loaded (verified and authenticated) and converted with skl2onnx; the
    validation rows are scored by both, and the conversion is accepted only when every label
    is identical and every probability within ``atol`` (see
    :func:`closedloop.features._onnx.convert_pipeline`). An accepted conversion is stored in
    the artifact store (authenticated like model blobs) and its digest recorded on the
    version (``ModelVersion.onnx_digest``), which serving uses as the fast path. A refused
    one records nothing and clears a conversion recorded before, so a version never keeps an
    ONNX model the latest check refused. Either way the ``model.convert`` audit event says
    what was found.

    Args:
        ws: The workspace.
        ref: The version (``name/3``, ``name@champion``) or its entity.
        validation: Rows to compare predictions on; by default up to
            :data:`MAX_VALIDATION_ROWS` rows of the version's training dataset version,
            sampled with a fixed seed.
        atol: Largest accepted absolute difference of a probability.

    Returns:
        The outcome (``ok``, the reason, rows checked and the largest difference).

    Raises:
        NotFoundError: No such version, or its blob or training data is gone.
        InvalidArgumentError: ``atol`` is negative, or no validation rows are given and the
            version records no training data.
        UnauthenticatedArtifactError: The model blob is not authenticated by the workspace key.
    """
    if not atol >= 0:
        raise InvalidArgumentError(
            f"atol must be a non-negative number, got {atol}", hint="e.g. --atol 1e-4"
        )
    loaded = load_model(ws, ref)
    version = loaded.version
    if validation is None:
        validation = _training_rows(ws, version)
    with ws.action(Actions.MODEL_CONVERT, f"model:{version.id}", format="onnx", atol=atol) as act:
        outcome = convert_pipeline(loaded.model, version.signature, validation, atol=atol)
        act.update(
            ok=outcome.ok,
            rows_checked=outcome.rows_checked,
            max_abs_diff=None if math.isnan(outcome.max_abs_diff) else outcome.max_abs_diff,
        )
        if outcome.ok and outcome.onnx_bytes is not None:
            blob = ws.artifacts.put_bytes(outcome.onnx_bytes)
            act["digest"] = blob.digest
            ws.metadata.models.set_onnx(version.model, version.version, blob.digest, audit=act)
        else:
            act["reason"] = outcome.reason
            if version.onnx_digest is not None:
                act["cleared"] = version.onnx_digest
                ws.metadata.models.set_onnx(version.model, version.version, None, audit=act)
    return outcome


def _training_rows(ws: Workspace, version: ModelVersion) -> pd.DataFrame:
    from closedloop import data

    if version.dataset_version_id is None:
        raise InvalidArgumentError(
            f"model version {version.id} records no training data to validate a conversion on",
            hint="give validation rows (a frame, or --dataset NAME@VERSION on the command line)",
        )
    frame = data.load(ws, version.dataset_version_id)
    if len(frame) > MAX_VALIDATION_ROWS:
        frame = frame.sample(MAX_VALIDATION_ROWS, random_state=_SEED).reset_index(drop=True)
    return frame


def load_onnx(ws: Workspace, ref: str | ModelVersion) -> bytes | None:
    """The ONNX conversion recorded on a version, verified and authenticated; ``None`` if none.

    Raises:
        NotFoundError: No such version, or the recorded blob is missing.
        UnauthenticatedArtifactError: The blob is not authenticated by the workspace key.
        ArtifactIntegrityError: The blob is corrupt or fails authentication.
    """
    label = ref if isinstance(ref, str) else ref.id
    with ws.action(Actions.MODEL_LOAD, f"model:{label}", format="onnx"):
        version = ref if isinstance(ref, ModelVersion) else ws.metadata.models.get_version(ref)
        if version.onnx_digest is None:
            return None
        try:
            return ws.artifacts.get_bytes(version.onnx_digest, require_authenticated=True)
        except (ArtifactIntegrityError, NotFoundError) as e:
            raise type(e)(
                f"the ONNX model of {version.id} cannot be loaded: {e.message}",
                hint=_REFUSED_HINT.replace("re-register the model", "convert the model again"),
            ) from e
