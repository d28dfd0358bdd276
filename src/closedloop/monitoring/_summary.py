"""Summarising one window: drift, prediction drift, quality, performance, estimates.

:func:`summarize` turns the rows of a window (:class:`~closedloop.monitoring._windows.
RawWindow`) into a :class:`WindowSummary`: the drift report of its inputs against the
reference profile, the drift of the model's score and label, data quality, the realised
performance on whatever labels have arrived (and fairness by the sensitive columns), the
performance estimated from the served probabilities, its mergeable sketch, and the flat
``values`` that alert rules read. Its document (:meth:`WindowSummary.to_doc`) is what a
stored window's sealed payload holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from closedloop.core import ModelVersion
from closedloop.monitoring._config import MonitorConfig
from closedloop.monitoring._profile import category_text
from closedloop.monitoring._quality import Quality, window_quality
from closedloop.monitoring._reference import (
    NumericReference,
    ReferenceProfile,
    score_of,
)
from closedloop.monitoring._sketch import CategoricalSketch, NumericSketch, Sketch, WindowSketch
from closedloop.monitoring._windows import RawWindow
from closedloop.predictions._stream import LogChunk

__all__ = ["WindowSummary", "labels_for", "summarize"]

#: The input columns of prediction drift.
SCORE, LABEL = "score", "label"


@dataclass(frozen=True, slots=True)
class WindowSummary:
    """One window, summarised (see the module docstring)."""

    drift: dict[str, Any]
    prediction: dict[str, Any] | None
    quality: Quality
    performance: dict[str, Any] | None
    fairness: dict[str, Any] | None
    estimated: dict[str, Any] | None
    sketch: WindowSketch
    values: dict[str, float]
    sampled: float

    @property
    def drifted(self) -> bool:
        """Whether the dataset drifted."""
        return bool(self.drift.get("dataset_drifted"))

    def to_doc(self) -> dict[str, Any]:
        """The sealed payload's document."""
        return {
            "drift": self.drift,
            "prediction": self.prediction,
            "quality": self.quality.to_doc(),
            "performance": self.performance,
            "fairness": self.fairness,
            "estimated": self.estimated,
            "sketch": self.sketch.to_doc(),
            "values": self.values,
            "sampled": self.sampled,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> WindowSummary:
        """Read :meth:`to_doc`'s document."""
        return cls(
            drift=dict(doc["drift"]),
            prediction=doc["prediction"],
            quality=Quality.from_doc(doc["quality"]),
            performance=doc["performance"],
            fairness=doc["fairness"],
            estimated=doc["estimated"],
            sketch=WindowSketch.from_doc(doc["sketch"]),
            values={str(k): float(v) for k, v in doc["values"].items()},
            sampled=float(doc["sampled"]),
        )


def _sketch(profile: ReferenceProfile, rows: LogChunk, score: np.ndarray | None) -> WindowSketch:
    columns: dict[str, Sketch] = {}
    for name, ref in profile.columns.items():
        raw = rows.columns.get(name)
        if raw is None:
            raw = np.full(rows.n_rows, None, dtype=object)
        columns[name] = (
            NumericSketch.of(raw, ref.edges)
            if isinstance(ref, NumericReference)
            else CategoricalSketch.of(raw)
        )
    score_sketch = None
    if score is not None and profile.score is not None:
        score_sketch = NumericSketch.of(score, profile.score.edges)
    label = CategoricalSketch.of(rows.labels) if rows.n_rows else None
    return WindowSketch(columns, score_sketch, label, rows.n_rows)


def labels_for(ws: Any, rows: LogChunk) -> tuple[np.ndarray, np.ndarray]:
    """The labels attached to a window's rows: ``(values, labelled mask)``."""
    ids = list(dict.fromkeys(rows.request_ids.tolist()))
    values = np.full(rows.n_rows, None, dtype=object)
    mask = np.zeros(rows.n_rows, dtype=bool)
    if not ids:
        return values, mask
    known = {(lb.request_id, lb.row): lb.label for lb in ws.metadata.predictions.list_labels(ids)}
    if not known:
        return values, mask
    for i, key in enumerate(zip(rows.request_ids.tolist(), rows.rows.tolist(), strict=True)):
        label = known.get(key)
        if label is not None:
            values[i] = label
            mask[i] = True
    return values, mask


def summarize(
    ws: Any,
    version: ModelVersion,
    profile: ReferenceProfile,
    window: RawWindow,
    config: MonitorConfig,
    drift: Any,
    prediction_drift: Any | None,
) -> WindowSummary:
    """Summarise a window's rows.

    Args:
        ws: The workspace (labels and refusals are read from its stores).
        version: The model version.
        profile: Its reference profile.
        window: The rows.
        config: The monitor's settings.
        drift: A fitted drift detector of the inputs (``compare(frame) -> DriftReport``).
        prediction_drift: A fitted detector of ``score`` and ``label``, or ``None``.
    """
    import pandas as pd

    rows = window.rows
    frame = pd.DataFrame(
        {
            name: rows.columns.get(name, np.full(rows.n_rows, None, dtype=object))
            for name in profile.columns
        },
        copy=False,
    )
    report = drift.compare(frame, details=False)  # the window keeps sketches instead
    values: dict[str, float] = {
        "rows": float(window.n_rows),
        "drift.share": report.share_drifted,
        "drift.dataset": float(report.dataset_drifted),
    }
    for f in report.features:
        values[f"drift.column.{f.name}.statistic"] = f.statistic
        values[f"drift.column.{f.name}.drifted"] = float(f.drifted)
        if not math.isnan(f.p_value):
            values[f"drift.column.{f.name}.p_value"] = f.p_value
    score = (
        score_of(rows.probabilities, rows.classes)
        if rows.probabilities is not None and len(rows.classes)
        else None
    )
    prediction = None
    if prediction_drift is not None:
        current = {SCORE: score if score is not None else np.full(rows.n_rows, np.nan)}
        current[LABEL] = np.asarray([category_text(v) for v in rows.labels.tolist()], dtype=object)
        pred_report = prediction_drift.compare(
            pd.DataFrame({k: v for k, v in current.items() if k in prediction_drift.columns_}),
            details=False,
        )
        prediction = pred_report.to_dict()
        for f in pred_report.features:
            values[f"prediction.{f.name}.statistic"] = f.statistic
            values[f"prediction.{f.name}.drifted"] = float(f.drifted)
    refused = ws.metadata.predictions.count_refusals(
        model_version_id=version.id, since=window.start, until=window.end
    )
    quality = window_quality(
        profile,
        version.signature,
        rows.columns,
        rows.n_rows,
        n_requests=window.n_requests,
        refused=refused,
    )
    values.update(quality.values())
    for name, value in profile.performance.items():
        values[f"reference.{name}"] = value
    performance, fairness = _performance(ws, version, profile, rows, config, values)
    estimated = _estimated(profile, rows, values)
    return WindowSummary(
        drift=report.to_dict(),
        prediction=prediction,
        quality=quality,
        performance=performance,
        fairness=fairness,
        estimated=estimated,
        sketch=_sketch(profile, rows, score),
        values={k: float(v) for k, v in values.items() if v is not None},
        sampled=window.sampled,
    )


def _classes(profile: ReferenceProfile, rows: LogChunk) -> tuple[str, ...]:
    return rows.classes or profile.classes


def _performance(
    ws: Any,
    version: ModelVersion,
    profile: ReferenceProfile,
    rows: LogChunk,
    config: MonitorConfig,
    values: dict[str, float],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Realised metrics on the labels that arrived, and fairness by sensitive column."""
    from closedloop.monitoring._performance import (
        classification_performance,
        fairness_by_group,
        regression_performance,
    )

    labels, mask = labels_for(ws, rows)
    values["performance.label_coverage"] = float(mask.mean()) if rows.n_rows else 0.0
    values["performance.labelled"] = float(mask.sum())
    if not mask.any():
        return None, None
    classes = _classes(profile, rows)
    predictions = np.asarray([category_text(v) for v in rows.labels.tolist()], dtype=object)
    if classes:
        truth = np.asarray(
            [None if not m else category_text(v) for v, m in zip(labels, mask, strict=True)],
            dtype=object,
        )
        perf = classification_performance(
            predictions,
            truth,
            mask,
            probabilities=rows.probabilities if rows.probabilities is not None else None,
            classes=list(classes),
        )
        flat = perf.flat()
    else:
        try:
            served = rows.labels.astype(np.float64)
            truth_f = np.asarray(
                [float(v) if m else np.nan for v, m in zip(labels, mask, strict=True)]
            )
        except (TypeError, ValueError):
            return None, None
        reg = regression_performance(served, truth_f, mask)
        flat = reg.flat()
    for name, value in flat.items():
        if value is not None and name not in ("n_rows",):
            values[f"performance.{name}"] = float(value)
    reference_accuracy = profile.performance.get("accuracy")
    if reference_accuracy is not None and flat.get("accuracy") is not None:
        values["performance.accuracy_drop"] = reference_accuracy - float(flat["accuracy"])  # type: ignore[arg-type]
    fairness: dict[str, Any] | None = None
    if classes and config.sensitive:
        fairness = {}
        for column in config.sensitive:
            groups = rows.columns.get(column)
            if groups is None:
                continue
            report = fairness_by_group(
                predictions,
                groups,
                truth,
                mask,
                positive_class=classes[1] if len(classes) == 2 else classes[-1],
                min_group_size=config.min_group_size,
            )
            fairness[column] = _fairness_doc(report)
            for key in ("demographic_parity_difference", "equalized_odds_difference"):
                value = getattr(report, key)
                if value is not None:
                    values[f"fairness.{column}.{key}"] = float(value)
    return {k: v for k, v in flat.items()}, fairness


def _fairness_doc(report: Any) -> dict[str, Any]:
    from dataclasses import asdict

    doc = asdict(report)
    doc["positive_class"] = str(doc["positive_class"])
    doc["reasons"] = dict(report.reasons)
    return doc


def _estimated(
    profile: ReferenceProfile, rows: LogChunk, values: dict[str, float]
) -> dict[str, Any] | None:
    """Confidence-based estimates from the served probabilities (needs a calibrator)."""
    if profile.calibrator is None or rows.probabilities is None or not rows.n_rows:
        return None
    from closedloop.monitoring._estimate import Calibrator, estimate_performance

    calibrator = Calibrator.from_dict(profile.calibrator)
    if len(calibrator.classes_) != rows.probabilities.shape[1]:
        return None
    estimate = estimate_performance(rows.probabilities, calibrator)
    flat = estimate.flat()
    for name, value in flat.items():
        if value is not None and name != "n_rows":
            values[f"estimated.{name}"] = float(value)
    reference_accuracy = profile.performance.get("accuracy")
    if reference_accuracy is not None and estimate.accuracy is not None:
        values["estimated.accuracy_drop"] = reference_accuracy - estimate.accuracy
    return dict(flat)
