"""Evaluate a fitted binary classifier on held-out data, overall and by group."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from closedloop.errors import InvalidArgumentError

__all__ = ["Evaluation", "evaluate_classifier"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Held-out metrics of a binary classifier.

    Attributes:
        metrics: ``accuracy``, ``roc_auc``, ``log_loss``, ``selection_rate``,
            ``true_positive_rate``, ``baseline_accuracy`` (always predicting the majority
            class), and with a sensitive feature ``demographic_parity_difference`` and
            ``equalized_odds_difference`` (fairlearn's definitions).
        by_group: Per value of the sensitive feature: ``count``, ``selection_rate``,
            ``true_positive_rate``, ``accuracy``.
        positive_class: The label counted as positive.
        sensitive: Name of the sensitive feature (or ``None``).
        n_rows: Rows evaluated.
    """

    metrics: dict[str, float]
    by_group: dict[str, dict[str, float]] = field(default_factory=dict)
    positive_class: str = ""
    sensitive: str | None = None
    n_rows: int = 0

    def flat(self) -> dict[str, float]:
        """Metrics and group metrics as one flat mapping (for logging to a run)."""
        out = dict(self.metrics)
        for group, values in self.by_group.items():
            for name, value in values.items():
                out[f"{self.sensitive}.{name}.{group}"] = value
        return out


def evaluate_classifier(
    model: Any,
    data: pd.DataFrame,
    *,
    target: str,
    positive_class: str,
    sensitive: str | None = None,
) -> Evaluation:
    """Score ``model`` on ``data`` (features + target + optional sensitive column).

    Raises:
        InvalidArgumentError: A needed column is missing or the positive class is unknown.
    """
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        equalized_odds_difference,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

    needed = [target] + ([sensitive] if sensitive else [])
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise InvalidArgumentError(f"evaluation data lacks columns {missing}")
    classes = [str(c) for c in model.classes_]
    if positive_class not in classes:
        raise InvalidArgumentError(
            f"positive class {positive_class!r} is not one of the model's classes {classes}"
        )
    y_true = data[target].astype(str).to_numpy()
    proba = model.predict_proba(data)
    p_pos = proba[:, classes.index(positive_class)]
    y_pred = np.asarray(model.predict(data)).astype(str)
    t = (y_true == positive_class).astype(int)
    p = (y_pred == positive_class).astype(int)
    majority = max(t.mean(), 1 - t.mean())
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "roc_auc": float(roc_auc_score(t, p_pos)),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "selection_rate": float(p.mean()),
        "true_positive_rate": float(p[t == 1].mean()) if t.any() else math.nan,
        "baseline_accuracy": float(majority),
    }
    by_group: dict[str, dict[str, float]] = {}
    if sensitive:
        groups = data[sensitive].astype(str)
        frame = MetricFrame(
            metrics={
                "selection_rate": selection_rate,
                "true_positive_rate": true_positive_rate,
                "accuracy": accuracy_score,
            },
            y_true=t,
            y_pred=p,
            sensitive_features=groups,
        )
        counts = groups.value_counts()
        for group, row in frame.by_group.iterrows():
            by_group[str(group)] = {
                "count": float(counts[group]),
                **{str(k): float(v) for k, v in row.items()},
            }
        metrics["demographic_parity_difference"] = float(
            demographic_parity_difference(t, p, sensitive_features=groups)
        )
        metrics["equalized_odds_difference"] = float(
            equalized_odds_difference(t, p, sensitive_features=groups)
        )
    return Evaluation(metrics, by_group, positive_class, sensitive, len(data))


def compare(champion: Mapping[str, float], challenger: Mapping[str, float]) -> dict[str, float]:
    """Challenger minus champion for every metric both have."""
    return {k: challenger[k] - champion[k] for k in champion if k in challenger}
