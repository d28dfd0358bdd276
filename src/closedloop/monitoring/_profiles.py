"""Building, storing and reading a model version's reference profile (the verbs).

:func:`build_profile` summarises reference rows (by default the version's own training
dataset version), scores them with the model so the profile knows its predictions, and
stores the profile (``monitor.profile``); :func:`reference_profile` reads the stored one,
building it on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from closedloop.core import DatasetVersion, ModelVersion
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._profile import category_text
from closedloop.monitoring._reference import ReferenceProfile, fit_profile, monitored_columns
from closedloop.workspace import Actions, Workspace

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["build_profile", "reference_profile"]

DEFAULT_PROFILE = "default"
#: A reference naming a stored monitoring window: ``window:<id>`` (``monitor windows``).
WINDOW_PREFIX = "window:"


def _version(ws: Workspace, model: str | ModelVersion) -> ModelVersion:
    return model if isinstance(model, ModelVersion) else ws.metadata.models.get_version(model)


def _reference_rows(
    ws: Workspace, version: ModelVersion, reference: pd.DataFrame | DatasetVersion | str | None
) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    from closedloop.data import load

    if isinstance(reference, pd.DataFrame):
        return reference, "frame"
    if isinstance(reference, str) and reference.startswith(WINDOW_PREFIX):
        return _window_rows(ws, version, reference[len(WINDOW_PREFIX) :])
    if reference is not None:
        frame = load(ws, reference)
        label = reference.id if isinstance(reference, DatasetVersion) else str(reference)
        return frame, f"dataset:{label}"
    if version.dataset_version_id is None:
        raise InvalidArgumentError(
            f"{version.id} has no training dataset version to build its reference profile from",
            hint="name the reference data: --reference DATASET_REF on the command line, "
            "reference= in the SDK (a dataset version, its reference or a frame)",
        )
    return load(ws, version.dataset_version_id), f"dataset:{version.dataset_version_id}"


def _window_rows(ws: Workspace, version: ModelVersion, given: str) -> tuple[pd.DataFrame, str]:
    """The logged inputs of a stored window (and their labels as the target, where known).

    The window may be another version's (the champion's last calm window as the reference of
    its successor): its rows are read back from that version's prediction log, between the
    window's first and last log positions.

    Raises:
        InvalidArgumentError: ``given`` is not a window id.
        NotFoundError: No such window, or its rows are no longer in the log.
    """
    import pandas as pd

    from closedloop.errors import NotFoundError
    from closedloop.monitoring._summary import labels_for
    from closedloop.predictions._stream import concat_chunks, iter_log

    hint = "name a window by its id: --reference window:ID (closedloop monitor windows MODEL)"
    try:
        window_id = int(given)
    except ValueError:
        raise InvalidArgumentError(f"{given!r} is not a window id", hint=hint) from None
    with ws.action(Actions.MONITOR_READ, f"window:{window_id}"):
        window = ws.metadata.monitoring.get_window(window_id)
    if window is None:
        raise NotFoundError(f"there is no monitoring window {window_id}", hint=hint)
    parts = []
    after = window.first_position - 1
    for chunk in iter_log(ws, window.model_version_id, after_position=after):
        inside = chunk.positions <= window.last_position
        if inside.any():
            parts.append(chunk.take(0, int(inside.sum())))
        if not inside.all():
            break
    rows = concat_chunks(parts)
    if rows is None or rows.n_rows == 0:
        raise NotFoundError(
            f"window {window_id}'s rows are no longer in the prediction log",
            hint="name a dataset version as the reference instead (--reference DATASET_REF)",
        )
    frame = pd.DataFrame(
        {c.name: rows.columns[c.name] for c in version.signature if c.name in rows.columns}
    )
    if version.target:
        labels, known = labels_for(ws, rows)
        if known.any():
            frame[version.target] = labels  # None where no label arrived
    return frame, f"{WINDOW_PREFIX}{window_id}"


def _predictions(
    ws: Workspace, version: ModelVersion, frame: pd.DataFrame
) -> tuple[np.ndarray | None, np.ndarray | None, tuple[str, ...]]:
    """The model's probabilities and labels on the reference rows."""
    from closedloop.registry import load_model

    model = load_model(ws, version).model
    by_text = {str(c): c for c in frame.columns}
    x = frame[[by_text[c.name] for c in version.signature if c.name in by_text]]
    x.columns = [str(c) for c in x.columns]
    proba = None
    classes: tuple[str, ...] = tuple(version.classes)
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(x), dtype=np.float64)
        fitted = getattr(model, "classes_", None)
        if fitted is not None:
            classes = tuple(category_text(c) for c in fitted)
        labels = np.asarray([classes[i] for i in proba.argmax(axis=1)], dtype=object)
    else:
        labels = np.asarray(model.predict(x), dtype=object)
    return proba, labels, classes


def build_profile(
    ws: Workspace,
    model: str | ModelVersion,
    reference: pd.DataFrame | DatasetVersion | str | None = None,
    *,
    name: str = DEFAULT_PROFILE,
) -> ReferenceProfile:
    """Build and store a model version's reference profile.

    Args:
        ws: The workspace.
        model: ``name/<number>``, ``name@alias``, ``name@latest`` or a version.
        reference: The reference rows: a dataset version (or its reference), a frame, or
            ``window:<id>``, the logged inputs of a stored monitoring window (this version's
            or another's; their feedback labels, where any arrived, are the target);
            default: the version's training dataset version.
        name: The profile's name (``default`` is the one monitoring uses unless told).

    Returns:
        The stored profile.

    Raises:
        NotFoundError: No such model version, dataset version or window.
        InvalidArgumentError: The reference is empty, lacks monitored columns, or there is
            none to default to.
    """
    version = _version(ws, model)
    with ws.action(Actions.MONITOR_PROFILE, f"model:{version.id}", profile=name) as act:
        frame, source = _reference_rows(ws, version, reference)
        if not monitored_columns(version.signature):
            raise InvalidArgumentError(
                f"{version.id} has no input column to monitor (its signature is empty or only "
                "datetimes)"
            )
        proba, labels, classes = _predictions(ws, version, frame)
        performance, calibrator = _on_reference(version, frame, proba, labels, classes)
        profile = fit_profile(
            version,
            frame,
            source=source,
            probabilities=proba,
            labels=labels,
            classes=classes,
            performance=performance,
            calibrator=calibrator,
        )
        blob = ws.artifacts.put_bytes(profile.to_bytes())
        act.update(source=source, rows=profile.n_rows, digest=blob.digest)
        ws.metadata.monitoring.put_profile(profile.record(name, blob.digest), audit=act)
    return profile


def reference_profile(
    ws: Workspace, model: str | ModelVersion, name: str = DEFAULT_PROFILE, *, build: bool = True
) -> ReferenceProfile:
    """A model version's stored reference profile, built on first use.

    Raises:
        NotFoundError: No such version, or no profile of that name and ``build`` is false
            (or the name is not ``default``, which is the only one built implicitly).
    """
    from closedloop.errors import NotFoundError

    version = _version(ws, model)
    with ws.action(Actions.MONITOR_READ, f"model:{version.id}", profile=name):
        record = ws.metadata.monitoring.get_profile(version.id, name)
        data = None if record is None else ws.artifacts.get_bytes(record.digest)
    if data is not None:
        return ReferenceProfile.from_bytes(data)
    if not build or name != DEFAULT_PROFILE:
        raise NotFoundError(
            f"{version.id} has no reference profile named {name!r}",
            hint=f"build it: closedloop monitor profile {version.id} --name {name} "
            "--reference DATASET_REF",
        )
    return build_profile(ws, version)


def _on_reference(
    version: ModelVersion,
    frame: pd.DataFrame,
    proba: np.ndarray | None,
    labels: np.ndarray | None,
    classes: tuple[str, ...],
) -> tuple[dict[str, float], dict[str, Any] | None]:
    """The model's metrics on the reference and its calibration, when the target is there."""
    target = version.target
    by_text = {str(c): c for c in frame.columns}
    if not target or target not in by_text or labels is None:
        return {}, None
    from closedloop.monitoring._performance import classification_performance

    truth = np.asarray(
        [
            None if v is None or v != v else category_text(v)
            for v in frame[by_text[target]].tolist()
        ],
        dtype=object,
    )
    served = np.asarray([category_text(v) for v in labels], dtype=object)
    if not classes:
        return {}, None
    known = np.isin(truth, list(classes))
    perf = classification_performance(
        served, truth, known, probabilities=proba, classes=list(classes)
    )
    metrics = {
        k: float(v)
        for k, v in perf.flat().items()
        if isinstance(v, int | float) and k not in ("n_rows", "n_labelled")
    }
    calibrator = None
    if proba is not None and known.sum() >= 2 and len(set(truth[known].tolist())) >= 2:
        from closedloop.monitoring._estimate import Calibrator

        calibrator = Calibrator().fit(proba[known], truth[known], classes=list(classes)).to_dict()
    return metrics, calibrator
