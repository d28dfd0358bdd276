"""Realised performance of a served model over one monitoring window: pure array functions.

A window's labels arrive later and for some rows only, so each function takes the served
outputs of all rows, the labels, and which rows are labelled (a mask; a missing label is
never labelled). A metric the labels do not allow (nothing labelled, one class only, no
probabilities served) is ``None`` and ``reasons`` says why: a window never raises for lack of
data; inputs that contradict each other raise :class:`~closedloop.errors.InvalidArgumentError`.

The values equal scikit-learn's metric functions and fairlearn's parity differences, computed
with numpy (``bincount`` counts, one sort per ROC curve). Labels match classes by value, then
by text (``1``, ``1.0``, ``"1"``: ``_estimate.encode_labels``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._estimate import (
    BoolArray,
    ClassesLike,
    FloatArray,
    IntArray,
    LabelsLike,
    as_label_array,
    as_probabilities,
    check_classes,
    encode_labels,
    positive_index,
    roc_auc_from_weights,
)
from closedloop.monitoring._profile import category_text

__all__ = [
    "ECE_BINS",
    "MIN_GROUP_SIZE",
    "ClassMetrics",
    "ClassificationPerformance",
    "FairnessReport",
    "GroupRates",
    "RegressionPerformance",
    "classification_performance",
    "fairness_by_group",
    "regression_performance",
]

ECE_BINS = 10
"""Equal-width confidence bins of the expected calibration error."""

MIN_GROUP_SIZE = 30
"""Rows a group needs to take part in a fairness difference."""

_NOTHING_LABELLED = "no labelled rows"
_MISSING = -2  # the code of a missing label
_PROBABILITY_METRICS = ("roc_auc", "log_loss", "brier_score", "expected_calibration_error")
_LABEL_METRICS = ("accuracy", "balanced_accuracy")


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """Precision and recall of one class over the labelled rows of a window.

    Attributes:
        label: The class.
        support: Labelled rows whose label is the class.
        predicted: Labelled rows predicted as the class.
        precision: Of the rows predicted as the class, the share that have it.
        recall: Of the rows that have the class, the share predicted as it.
    """

    label: Any
    support: int
    predicted: int
    precision: float | None
    recall: float | None


@dataclass(frozen=True, slots=True)
class ClassificationPerformance:
    """Realised metrics of a classifier over one window, from the labels arrived so far.

    Attributes:
        n_rows: Rows served in the window.
        n_labelled: Rows with a label.
        label_coverage: ``n_labelled / n_rows`` (``None`` for an empty window).
        n_unknown_labels: Labelled rows whose label is none of ``classes``: counted in
            ``n_labelled``, left out of every metric.
        classes: The classes, in the column order of the probabilities.
        positive_class: The class a binary ROC-AUC scores (``None`` for multiclass).
        accuracy: Share of rows predicted right.
        balanced_accuracy: Mean recall over the classes present among the labels.
        roc_auc: Binary: of the positive-class probability. Multiclass: the one-vs-rest
            macro average, defined when every class is present among the labels.
        log_loss: Mean negative log of the probability given to the true class, clipped to
            ``[eps, 1 - eps]`` as scikit-learn does.
        brier_score: Mean squared distance between the probabilities and the one-hot
            label, halved for two classes (scikit-learn's convention).
        expected_calibration_error: Top-label ECE. A row's confidence is the probability
            of the label served; rows are put in ``n_bins`` equal-width bins ``[b/n,
            (b+1)/n)`` (the last one closed), and the gaps between each bin's accuracy and
            mean confidence are averaged, weighted by the bins' rows.
        per_class: Precision and recall per class, in ``classes`` order.
        reasons: The name of each ``None`` metric (``"roc_auc"``, ``"precision[<label>]"``)
            to why it is missing.
    """

    n_rows: int
    n_labelled: int
    label_coverage: float | None
    n_unknown_labels: int
    classes: tuple[Any, ...]
    positive_class: Any
    accuracy: float | None
    balanced_accuracy: float | None
    roc_auc: float | None
    log_loss: float | None
    brier_score: float | None
    expected_calibration_error: float | None
    per_class: tuple[ClassMetrics, ...]
    reasons: Mapping[str, str]

    def flat(self) -> dict[str, float | None]:
        """Counts and metrics as one flat mapping (``precision[<label>]`` per class)."""
        names = ("n_rows", "n_labelled", "label_coverage", *_LABEL_METRICS, *_PROBABILITY_METRICS)
        out: dict[str, float | None] = {name: getattr(self, name) for name in names}
        for metrics in self.per_class:
            out[f"precision[{metrics.label}]"] = metrics.precision
            out[f"recall[{metrics.label}]"] = metrics.recall
        return out


@dataclass(frozen=True, slots=True)
class RegressionPerformance:
    """Realised metrics of a regressor over one window, from the labels arrived so far.

    Attributes:
        n_rows: Rows served in the window.
        n_labelled: Rows with a label.
        label_coverage: ``n_labelled / n_rows`` (``None`` for an empty window).
        mae: Mean absolute error.
        rmse: Root mean squared error.
        r2: Coefficient of determination; ``None`` with fewer than two labelled rows or
            constant labels (where scikit-learn's ``force_finite`` answers 0 or 1).
        reasons: The name of each ``None`` metric to why it is missing.
    """

    n_rows: int
    n_labelled: int
    label_coverage: float | None
    mae: float | None
    rmse: float | None
    r2: float | None
    reasons: Mapping[str, str]

    def flat(self) -> dict[str, float | None]:
        """Counts and metrics as one flat mapping."""
        names = ("n_rows", "n_labelled", "label_coverage", "mae", "rmse", "r2")
        return {name: getattr(self, name) for name in names}


def classification_performance(
    predictions: LabelsLike | None,
    labels: LabelsLike | None,
    labelled: npt.ArrayLike | None = None,
    *,
    probabilities: npt.ArrayLike | None = None,
    classes: ClassesLike | None = None,
    positive_class: Any = None,
    n_bins: int = ECE_BINS,
) -> ClassificationPerformance:
    """Realised metrics of a classifier over the labelled rows of one window.

    Args:
        predictions: The served label of every row; ``None``: the most probable class of
            ``probabilities``. A label outside ``classes`` counts as wrong.
        labels: The label of every row (anything, e.g. ``None``, at unlabelled rows);
            ``None`` when no label has arrived.
        labelled: Which rows are labelled. ``None``: those whose label is not missing.
        probabilities: The served probabilities, ``(n_rows, n_classes)`` in ``classes``
            order (for two classes also the positive-class column alone); ``None`` when the
            model serves labels only.
        classes: The model's classes; needed with ``probabilities``. ``None``: the sorted
            distinct predictions and labels.
        positive_class: The class a binary ROC-AUC scores; ``None``: ``classes[1]``.
        n_bins: Confidence bins of the expected calibration error.

    Returns:
        The metrics, ``None`` (with a reason) where the labels do not allow them.

    Raises:
        InvalidArgumentError: The inputs disagree in length or shape, ``classes`` is
            missing or repeats a class, a probability lies outside ``[0, 1]``, or
            ``n_bins < 1``.
    """
    if n_bins < 1:
        raise InvalidArgumentError(f"n_bins must be at least 1, got {n_bins}")
    if classes is None:
        if probabilities is not None:
            raise InvalidArgumentError("probabilities need the classes of their columns")
        classes = _infer_classes(predictions, labels, labelled)
    class_list = check_classes(classes)
    k = len(class_list)
    proba = as_probabilities(probabilities, k) if probabilities is not None else None
    if predictions is not None:
        served = encode_labels(predictions, class_list)
    elif proba is not None:
        served = np.argmax(proba, axis=1).astype(np.intp)
    else:
        raise InvalidArgumentError("give the predictions, the probabilities, or both")
    n = len(served)
    if proba is not None and len(proba) != n:
        raise InvalidArgumentError(f"{len(proba)} rows of probabilities for {n} predictions")
    pos = positive_index(class_list, positive_class) if k == 2 else None
    true, mask = _label_codes(labels, labelled, class_list, n)
    n_labelled = int(mask.sum())
    used = mask & (true >= 0)
    if not used.all():  # views of every row otherwise: no copy of a fully labelled window
        rows = np.flatnonzero(used)
        true, served = true[rows], served[rows]
        proba = proba[rows] if proba is not None else None
    m = len(true)
    reasons: dict[str, str] = {}
    metrics: dict[str, float | None] = {}
    support = np.bincount(true, minlength=k)
    hits = np.bincount(true[served == true], minlength=k)
    if m:
        present = support > 0
        metrics["accuracy"] = float(hits.sum() / m)
        metrics["balanced_accuracy"] = float(np.mean(hits[present] / support[present]))
        if proba is not None:
            metrics.update(_probability_metrics(proba, true, served, support, pos, n_bins))
    for name in _LABEL_METRICS + _PROBABILITY_METRICS:
        if metrics.get(name) is None:
            reasons[name] = _reason(m, proba is not None, class_list, support)
    return ClassificationPerformance(
        n_rows=n,
        n_labelled=n_labelled,
        label_coverage=n_labelled / n if n else None,
        n_unknown_labels=n_labelled - m,
        classes=tuple(class_list),
        positive_class=class_list[pos] if pos is not None else None,
        accuracy=metrics.get("accuracy"),
        balanced_accuracy=metrics.get("balanced_accuracy"),
        roc_auc=metrics.get("roc_auc"),
        log_loss=metrics.get("log_loss"),
        brier_score=metrics.get("brier_score"),
        expected_calibration_error=metrics.get("expected_calibration_error"),
        per_class=_per_class(class_list, support, served, hits, reasons),
        reasons=reasons,
    )


def regression_performance(
    predictions: npt.ArrayLike,
    labels: npt.ArrayLike | Sequence[float | None] | None,
    labelled: npt.ArrayLike | None = None,
) -> RegressionPerformance:
    """Realised metrics of a regressor over the labelled rows of one window.

    Args:
        predictions: The served prediction of every row.
        labels: The label of every row (NaN or ``None`` at unlabelled rows); ``None`` when
            no label has arrived.
        labelled: Which rows are labelled. ``None``: those whose label is not missing.

    Returns:
        MAE, RMSE and R², ``None`` (with a reason) where the labels do not allow them.

    Raises:
        InvalidArgumentError: Lengths disagree, a value is not a number, or a labelled
            row's prediction is not finite.
    """
    pred = _as_float(predictions, "predictions")
    n = len(pred)
    y = _as_float(labels, "labels") if labels is not None else None
    mask = _with_mask(~np.isnan(y), labelled) if y is not None else np.zeros(n, dtype=bool)
    if len(mask) != n:
        raise InvalidArgumentError(f"{len(mask)} labels for {n} predictions")
    m = int(mask.sum())
    reasons: dict[str, str] = {}
    mae = rmse = r2 = None
    if m == 0:
        reasons = dict.fromkeys(("mae", "rmse", "r2"), _NOTHING_LABELLED)
    else:
        assert y is not None
        truth, served = y[mask], pred[mask]
        if not np.isfinite(served).all():
            raise InvalidArgumentError("a labelled row's prediction is not a finite number")
        errors = truth - served
        squared = float(np.einsum("i,i->", errors, errors))
        mae = float(np.mean(np.abs(errors)))
        rmse = float(np.sqrt(squared / m))
        centred = truth - truth.mean()
        total = float(np.einsum("i,i->", centred, centred))
        if m < 2:
            reasons["r2"] = "fewer than two labelled rows"
        elif total == 0.0:
            reasons["r2"] = "the labels are constant"
        else:
            r2 = 1.0 - squared / total
    return RegressionPerformance(
        n_rows=n,
        n_labelled=m,
        label_coverage=m / n if n else None,
        mae=mae,
        rmse=rmse,
        r2=r2,
        reasons=reasons,
    )


def _probability_metrics(
    proba: FloatArray,
    true: IntArray,
    pred: IntArray,
    support: IntArray,
    pos: int | None,
    n_bins: int,
) -> dict[str, float | None]:
    """ROC-AUC, log loss, Brier score and ECE from the labelled rows' probabilities."""
    m, k = proba.shape
    p_true = proba[np.arange(m), true]
    eps = np.finfo(np.float64).eps
    # sum_j (p_j - y_j)^2 = sum_j p_j^2 - 2 p_true + 1 for a one-hot y
    brier = float(np.mean(np.einsum("ij,ij->i", proba, proba) - 2.0 * p_true + 1.0))
    out: dict[str, float | None] = {
        "log_loss": float(-np.mean(np.log(np.clip(p_true, eps, 1 - eps)))),
        "brier_score": 0.5 * brier if k <= 2 else brier,
        "expected_calibration_error": _calibration_error(proba, true, pred, n_bins),
    }
    one_vs_rest = [pos] if pos is not None else list(range(k))
    if pos is not None or (k > 2 and bool(np.all(support > 0))):
        aucs = [roc_auc_from_weights(proba[:, j], (true == j) * 1.0) for j in one_vs_rest]
        present = [a for a in aucs if a is not None]
        out["roc_auc"] = float(np.mean(present)) if len(present) == len(aucs) else None
    return out


def _calibration_error(proba: FloatArray, true: IntArray, pred: IntArray, n_bins: int) -> float:
    """Top-label ECE over equal-width bins ``[b/n, (b+1)/n)``, the last one closed."""
    given = proba[np.arange(len(pred)), np.maximum(pred, 0)]
    confidence = np.where(pred >= 0, given, 0.0)  # a label outside the classes got none
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]  # 1.0 falls in the last bin
    bins = np.searchsorted(inner_edges, confidence, side="right")
    confidence_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(bins, weights=(pred == true), minlength=n_bins)
    return float(np.abs(correct_sum - confidence_sum).sum() / len(pred))


def _per_class(
    classes: list[Any],
    support: IntArray,
    pred: IntArray,
    hits: IntArray,
    reasons: dict[str, str],
) -> tuple[ClassMetrics, ...]:
    predicted = np.bincount(pred[pred >= 0], minlength=len(classes))
    out = []
    for j, label in enumerate(classes):
        precision = recall = None
        if predicted[j]:
            precision = float(hits[j] / predicted[j])
        else:
            reasons[f"precision[{label}]"] = "no labelled row is predicted as this class"
        if support[j]:
            recall = float(hits[j] / support[j])
        else:
            reasons[f"recall[{label}]"] = "no labelled row has this class"
        out.append(ClassMetrics(label, int(support[j]), int(predicted[j]), precision, recall))
    return tuple(out)


def _reason(n_known: int, has_proba: bool, classes: list[Any], support: IntArray) -> str:
    if n_known == 0:
        return _NOTHING_LABELLED
    if not has_proba:
        return "no probabilities were served"
    if len(classes) < 2:
        return "fewer than two classes"
    if len(classes) == 2:
        return "only one class among the labelled rows"
    absent = [c for c, s in zip(classes, support, strict=True) if s == 0]
    return f"classes absent among the labelled rows: {absent}"


# --- fairness ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Rates of one group of a sensitive feature over a window.

    Attributes:
        group: The group's value, as text (``"<missing>"`` for missing values).
        n: Rows of the group.
        n_labelled: Its labelled rows.
        selection_rate: Share of its rows (labelled or not) predicted positive.
        true_positive_rate: Among its labelled positive rows, the share predicted positive
            (``None`` without such rows).
        false_positive_rate: Among its labelled negative rows, the share predicted positive
            (``None`` without such rows).
        is_in_parity: ``n >= min_group_size``: it takes part in the parity difference.
        is_in_odds: ``n_labelled >= min_group_size`` and both rates are defined: it takes
            part in the equalized-odds differences.
    """

    group: str
    n: int
    n_labelled: int
    selection_rate: float
    true_positive_rate: float | None
    false_positive_rate: float | None
    is_in_parity: bool
    is_in_odds: bool


@dataclass(frozen=True, slots=True)
class FairnessReport:
    """Group rates of a window and their differences (fairlearn's ``between_groups``).

    Attributes:
        positive_class: The class counted as positive (selected).
        min_group_size: Rows a group needs to take part in a difference.
        groups: Every group, sorted by its text, small ones included.
        demographic_parity_difference: Largest minus smallest selection rate.
        true_positive_rate_difference: Largest minus smallest true-positive rate.
        false_positive_rate_difference: Largest minus smallest false-positive rate.
        equalized_odds_difference: The larger of the two rate differences.
        reasons: The name of each ``None`` difference to why it is missing.
    """

    positive_class: Any
    min_group_size: int
    groups: tuple[GroupRates, ...]
    demographic_parity_difference: float | None
    true_positive_rate_difference: float | None
    false_positive_rate_difference: float | None
    equalized_odds_difference: float | None
    reasons: Mapping[str, str]


def fairness_by_group(
    predictions: LabelsLike,
    sensitive: LabelsLike,
    labels: LabelsLike | None = None,
    labelled: npt.ArrayLike | None = None,
    *,
    positive_class: Any,
    min_group_size: int = MIN_GROUP_SIZE,
) -> FairnessReport:
    """Selection, true- and false-positive rates per group and their spreads over a window.

    Selection rates use every row (no label needed); true- and false-positive rates use the
    labelled rows. With every row labelled and every group large enough, the differences
    equal fairlearn's ``demographic_parity_difference`` and ``equalized_odds_difference``.

    Args:
        predictions: The served label of every row.
        sensitive: The sensitive feature's value for every row; missing values form one
            group.
        labels: The label of every row (anything at unlabelled rows); ``None`` when no
            label has arrived.
        labelled: Which rows are labelled. ``None``: those whose label is not missing.
        positive_class: The class counted as positive; any other label is negative.
        min_group_size: Rows (labelled rows, for the rate differences) below which a group
            is reported but left out of the differences.

    Returns:
        The groups and differences, ``None`` (with a reason) with fewer than two groups.

    Raises:
        InvalidArgumentError: Lengths disagree or ``min_group_size < 1``.
    """
    if min_group_size < 1:
        raise InvalidArgumentError(f"min_group_size must be at least 1, got {min_group_size}")
    selected = encode_labels(predictions, [positive_class]) == 0
    n = len(selected)
    group, names = _groups(sensitive, n)
    codes, mask = _label_codes(labels, labelled, [positive_class], n)
    positive = codes == 0
    g = len(names)
    sizes = np.bincount(group, minlength=g)
    chosen = np.bincount(group, weights=selected, minlength=g)
    lab = group[mask]
    n_lab = np.bincount(lab, minlength=g)
    pos = np.bincount(lab, weights=positive[mask], minlength=g)
    tp = np.bincount(lab, weights=(positive & selected)[mask], minlength=g)
    fp = np.bincount(lab, weights=(~positive & selected)[mask], minlength=g)
    rows = []
    for j, name in enumerate(names):
        neg = n_lab[j] - pos[j]
        tpr = float(tp[j] / pos[j]) if pos[j] else None
        fpr = float(fp[j] / neg) if neg else None
        in_odds = bool(n_lab[j] >= min_group_size and pos[j] and neg)
        size, rate = int(sizes[j]), float(chosen[j] / sizes[j])
        rows.append(
            GroupRates(name, size, int(n_lab[j]), rate, tpr, fpr, size >= min_group_size, in_odds)
        )
    reasons: dict[str, str] = {}
    both = "labelled rows of both classes"
    dp = _spread(rows, "demographic_parity_difference", "rows", min_group_size, reasons)
    tpr_d = _spread(rows, "true_positive_rate_difference", both, min_group_size, reasons)
    fpr_d = _spread(rows, "false_positive_rate_difference", both, min_group_size, reasons)
    eo = None if tpr_d is None or fpr_d is None else max(tpr_d, fpr_d)
    if eo is None:
        reasons["equalized_odds_difference"] = reasons["true_positive_rate_difference"]
    return FairnessReport(
        positive_class, min_group_size, tuple(rows), dp, tpr_d, fpr_d, eo, reasons
    )


def _spread(
    rows: list[GroupRates], name: str, what: str, size: int, reasons: dict[str, str]
) -> float | None:
    """Largest minus smallest rate among the groups that take part, or ``None``."""
    if name.startswith("demographic"):
        values = [r.selection_rate for r in rows if r.is_in_parity]
    else:
        rate = name.removesuffix("_difference")
        values = [getattr(r, rate) for r in rows if r.is_in_odds]
    if len(values) < 2:
        reasons[name] = f"fewer than two groups with at least {size} {what}"
        return None
    return float(max(values) - min(values))


def _groups(sensitive: LabelsLike, n: int) -> tuple[IntArray, list[str]]:
    """Each row's group index and the group names (text), sorted by name."""
    codes, uniques = pd.factorize(as_label_array(sensitive), use_na_sentinel=False)
    if len(codes) != n:
        raise InvalidArgumentError(f"{len(codes)} sensitive values for {n} predictions")
    texts = ["<missing>" if _is_missing(u) else category_text(u) for u in uniques]
    names = sorted(set(texts))
    order = {name: i for i, name in enumerate(names)}
    to_group = np.array([order[t] for t in texts], dtype=np.intp)
    return to_group[codes], names


def _label_codes(
    labels: LabelsLike | None, labelled: npt.ArrayLike | None, classes: list[Any], n: int
) -> tuple[IntArray, BoolArray]:
    """Each row's class (``-1`` unknown), and which rows are labelled (mask, not missing)."""
    if labels is None:
        return np.full(n, -1, dtype=np.intp), np.zeros(n, dtype=bool)
    codes = encode_labels(labels, classes, missing=_MISSING)
    if len(codes) != n:
        raise InvalidArgumentError(f"{len(codes)} labels for {n} rows")
    return codes, _with_mask(codes != _MISSING, labelled)


def _with_mask(present: BoolArray, labelled: npt.ArrayLike | None) -> BoolArray:
    if labelled is None:
        return present
    mask = np.asarray(labelled, dtype=bool)
    if mask.shape != present.shape:
        raise InvalidArgumentError(f"labelled mask of shape {mask.shape} for {len(present)} rows")
    return mask & present


def _infer_classes(
    predictions: LabelsLike | None, labels: LabelsLike | None, labelled: npt.ArrayLike | None
) -> list[Any]:
    values: list[Any] = []
    if predictions is not None:
        values.extend(pd.unique(as_label_array(predictions)))
    if labels is not None:
        arr = as_label_array(labels)
        values.extend(pd.unique(arr[_with_mask(~np.asarray(pd.isna(arr)), labelled)]))
    distinct = list(dict.fromkeys(v.item() if isinstance(v, np.generic) else v for v in values))
    distinct = [v for v in distinct if not _is_missing(v)]
    try:
        return sorted(distinct)
    except TypeError:  # labels of mixed types: order them by their text
        return sorted(distinct, key=str)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a value that is itself an array
        return False


def _as_float(values: npt.ArrayLike | Sequence[float | None], name: str) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{name} must be numbers: {e}") from e
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr
