"""Estimated performance of a classifier before its labels arrive (CBPE, as NannyML does it).

Confidence-based performance estimation: once a model's probabilities are calibrated on
labelled reference rows, the calibrated probability of a row's class is the chance that the
row has it, so expected metrics follow from the probabilities alone. A :class:`Calibrator`
is fitted once per reference (isotonic regression per class) and stored as plain lists; for
each window, :func:`estimate_performance` gives the expected accuracy with its standard
error, the expected ROC-AUC, precision, recall and F1.

The estimate holds while the model's calibration does, that is under covariate shift (the
inputs move, ``P(label | input)`` does not); under concept drift it does not, and the
realised metrics (:mod:`closedloop.monitoring._performance`) will tell.

The module also holds the array primitives both modules share: label encoding, the
probability matrix check and the weighted ROC-AUC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from closedloop.errors import InvalidArgumentError, NotFittedError
from closedloop.monitoring._profile import category_text

__all__ = [
    "CALIBRATOR_FORMAT",
    "BoolArray",
    "Calibrator",
    "ClassesLike",
    "FloatArray",
    "IntArray",
    "LabelsLike",
    "PerformanceEstimate",
    "as_label_array",
    "as_probabilities",
    "check_classes",
    "encode_labels",
    "estimate_performance",
    "positive_index",
    "roc_auc_from_weights",
]

CALIBRATOR_FORMAT = "closedloop.isotonic-calibrator/1"
"""The ``format`` field of :meth:`Calibrator.to_dict`."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
LabelsLike: TypeAlias = (
    "npt.ArrayLike | Sequence[Any] | pd.Series[Any] | pd.Index[Any] | pd.Categorical"
)
"""Labels of a window: an array, a list (``None`` where missing), or a pandas Series,
Index or Categorical."""
ClassesLike: TypeAlias = "Sequence[Any] | npt.NDArray[Any]"
"""A model's classes, e.g. a list or an estimator's ``classes_`` array."""


class Calibrator:
    """Isotonic calibration of a classifier's probabilities, fitted on labelled reference rows.

    Binary: one isotonic regression of the positive class's probability on its 0/1 label;
    the other column is its complement. Multiclass: one per class, one-vs-rest, and each
    calibrated row rescaled to sum to one (a row the regressions all send to zero keeps its
    raw probabilities). Applying it is ``np.interp`` over the fitted thresholds (the values of
    scikit-learn's ``IsotonicRegression(out_of_bounds="clip").predict``), so a calibrator
    rebuilt by :meth:`from_dict` gives the same outputs, bit for bit, without scikit-learn.

    Attributes:
        classes_: The classes, in the column order of the probabilities.
        positive_class_: The calibrated class of a binary model (``None`` for multiclass).
        thresholds_: Per calibrated column, its index and the ``(x, y)`` interpolation
            points of its isotonic fit.
    """

    classes_: tuple[Any, ...]
    positive_class_: Any
    thresholds_: tuple[tuple[int, FloatArray, FloatArray], ...]

    def __repr__(self) -> str:
        return "Calibrator()"

    def fit(
        self,
        probabilities: npt.ArrayLike,
        labels: LabelsLike,
        *,
        classes: ClassesLike,
        positive_class: Any = None,
    ) -> Calibrator:
        """Fit on the probabilities the model gave to labelled reference rows.

        Args:
            probabilities: ``(n_rows, n_classes)`` in ``classes`` order (for two classes
                also the positive-class column alone).
            labels: Each row's label.
            classes: The model's classes.
            positive_class: The calibrated class of a binary model; ``None``:
                ``classes[1]``.

        Returns:
            ``self``, fitted.

        Raises:
            InvalidArgumentError: Fewer than two classes, no rows, lengths that disagree,
                or a label missing or outside ``classes``.
        """
        from sklearn.isotonic import IsotonicRegression  # fitting only: applying is numpy

        class_list = check_classes(classes)
        if len(class_list) < 2:
            raise InvalidArgumentError("a calibrator needs at least two classes")
        proba = as_probabilities(probabilities, len(class_list))
        true = encode_labels(labels, class_list)
        if len(true) != len(proba) or len(true) == 0:
            raise InvalidArgumentError(f"{len(true)} labels for {len(proba)} rows")
        if (true < 0).any():
            raise InvalidArgumentError(
                f"{int((true < 0).sum())} reference labels are missing or not in {class_list}"
            )
        if len(class_list) == 2:
            pos = positive_index(class_list, positive_class)
            columns = [pos]
            self.positive_class_ = _native(class_list[pos])
        else:
            columns = list(range(len(class_list)))
            self.positive_class_ = None
        fitted = []
        for j in columns:
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(proba[:, j], (true == j).astype(np.float64))
            x = np.asarray(iso.X_thresholds_, dtype=np.float64)
            fitted.append((j, x, np.asarray(iso.y_thresholds_, dtype=np.float64)))
        self.classes_ = tuple(_native(c) for c in class_list)
        self.thresholds_ = tuple(fitted)
        return self

    def transform(self, probabilities: npt.ArrayLike) -> FloatArray:
        """Calibrated probabilities, ``(n_rows, n_classes)``.

        Raises:
            NotFittedError: Neither fitted nor rebuilt from a dict.
            InvalidArgumentError: The probabilities do not fit the classes.
        """
        self._check_fitted()
        return self._calibrate(as_probabilities(probabilities, len(self.classes_)))

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON- and msgpack-ready lists (floats round-trip exactly).

        Raises:
            NotFittedError: Not fitted.
        """
        self._check_fitted()
        return {
            "format": CALIBRATOR_FORMAT,
            "classes": list(self.classes_),
            "positive_class": self.positive_class_,
            "columns": [j for j, _, _ in self.thresholds_],
            "x": [x.tolist() for _, x, _ in self.thresholds_],
            "y": [y.tolist() for _, _, y in self.thresholds_],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Calibrator:
        """A fitted calibrator from :meth:`to_dict`'s output (lists or arrays).

        Raises:
            InvalidArgumentError: ``state`` is not a calibrator's state.
        """
        if state.get("format") != CALIBRATOR_FORMAT:
            raise InvalidArgumentError(f"not a calibrator state (format {state.get('format')!r})")
        try:
            classes = check_classes(state["classes"])
            columns = [int(j) for j in state["columns"]]
            xs = [np.asarray(x, dtype=np.float64) for x in state["x"]]
            ys = [np.asarray(y, dtype=np.float64) for y in state["y"]]
            positive = state["positive_class"]
            binary = len(classes) == 2
            expected = [classes.index(positive)] if binary else list(range(len(classes)))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgumentError(f"malformed calibrator state: {e!r}") from e
        sizes_ok = len(columns) == len(xs) == len(ys) and columns == expected
        if not sizes_ok or not all(
            x.ndim == 1 and x.shape == y.shape and x.size for x, y in zip(xs, ys, strict=True)
        ):
            raise InvalidArgumentError("malformed calibrator state: columns and points differ")
        calibrator = cls()
        calibrator.classes_ = tuple(classes)
        calibrator.positive_class_ = positive
        calibrator.thresholds_ = tuple(zip(columns, xs, ys, strict=True))
        return calibrator

    def _check_fitted(self) -> None:
        if not hasattr(self, "thresholds_"):
            raise NotFittedError("the calibrator is not fitted", hint="call fit() first")

    def _calibrate(self, proba: FloatArray) -> FloatArray:
        if len(self.classes_) == 2:
            j, x, y = self.thresholds_[0]
            out = np.empty_like(proba)
            out[:, j] = np.interp(proba[:, j], x, y)
            out[:, 1 - j] = 1.0 - out[:, j]
            return out
        out = np.column_stack([np.interp(proba[:, j], x, y) for j, x, y in self.thresholds_])
        total = out.sum(axis=1, keepdims=True)
        scaled: FloatArray = np.divide(out, total, out=proba.copy(), where=total > 0)
        return scaled


@dataclass(frozen=True, slots=True)
class PerformanceEstimate:
    """Expected metrics of a classifier over one window, from its probabilities alone.

    Attributes:
        n_rows: Rows served in the window.
        accuracy: Mean calibrated probability of the served (or most probable) class.
        accuracy_standard_error: ``sqrt(sum p (1 - p)) / n`` over those probabilities: the
            sampling spread of the realised accuracy if the calibration holds (the
            calibration's own error is not in it).
        roc_auc: Binary: NannyML's estimate (the model's raw scores rank the rows, the
            calibrated probabilities are the expected positives; trapezoidal area).
            Multiclass: the one-vs-rest macro average of the same.
        precision: Expected precision (binary: of the positive class; multiclass: macro).
        recall: Expected recall, averaged likewise.
        f1: Expected F1 (``2 TP / (2 TP + FP + FN)`` of the expected counts), likewise.
        reasons: The name of each ``None`` metric to why it is missing.
    """

    n_rows: int
    accuracy: float | None
    accuracy_standard_error: float | None
    roc_auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    reasons: Mapping[str, str]

    def accuracy_band(self, z: float = 1.96) -> tuple[float, float] | None:
        """``accuracy ± z·standard error``, clipped to ``[0, 1]`` (``None`` without one)."""
        if self.accuracy is None or self.accuracy_standard_error is None:
            return None
        half = z * self.accuracy_standard_error
        return max(0.0, self.accuracy - half), min(1.0, self.accuracy + half)

    def flat(self) -> dict[str, float | None]:
        """Counts and metrics as one flat mapping."""
        names = ("n_rows", "accuracy", "accuracy_standard_error", "roc_auc")
        return {name: getattr(self, name) for name in (*names, "precision", "recall", "f1")}


def estimate_performance(
    probabilities: npt.ArrayLike,
    calibrator: Calibrator,
    *,
    predictions: LabelsLike | None = None,
) -> PerformanceEstimate:
    """Expected accuracy, ROC-AUC, precision, recall and F1 of one window (CBPE).

    Args:
        probabilities: The served probabilities, ``(n_rows, n_classes)`` in the
            calibrator's class order.
        calibrator: Fitted on the reference rows of the same model.
        predictions: The served labels; ``None``: the most probable class of each row.
            A label outside the classes counts as surely wrong.

    Returns:
        The estimate, ``None`` (with a reason) where it is undefined.

    Raises:
        NotFittedError: The calibrator is not fitted.
        InvalidArgumentError: The probabilities do not fit the classes, or the lengths
            disagree.
    """
    calibrator._check_fitted()
    classes = list(calibrator.classes_)
    k = len(classes)
    proba = as_probabilities(probabilities, k)
    n = len(proba)
    if n == 0:
        names = ("accuracy", "accuracy_standard_error", "roc_auc", "precision", "recall", "f1")
        nothing = dict.fromkeys(names, "no rows")
        return PerformanceEstimate(0, None, None, None, None, None, None, nothing)
    cal = calibrator._calibrate(proba)
    pred = np.argmax(proba, axis=1) if predictions is None else encode_labels(predictions, classes)
    if len(pred) != n:
        raise InvalidArgumentError(f"{len(pred)} predictions for {n} rows of probabilities")
    known = np.flatnonzero(pred >= 0)
    p_correct = np.zeros(n)
    p_correct[known] = cal[known, pred[known]]
    reasons: dict[str, str] = {}
    columns = [j for j, _, _ in calibrator.thresholds_] if k == 2 else list(range(k))
    aucs = [roc_auc_from_weights(proba[:, j], cal[:, j]) for j in columns]
    roc_auc = _mean_or_none(aucs, "roc_auc", "no expected positives or negatives", reasons)
    # expected counts per class: TP = the calibrated p of the rows predicted as it
    tp = np.bincount(pred[known], weights=p_correct[known], minlength=k)
    predicted = np.bincount(pred[known], minlength=k).astype(np.float64)
    support = cal.sum(axis=0)
    rates = {}
    for name, num, den in (
        ("precision", tp, predicted),
        ("recall", tp, support),
        ("f1", 2.0 * tp, predicted + support),
    ):
        ratios = [float(num[j] / den[j]) if den[j] > 0 else None for j in columns]
        rates[name] = _mean_or_none(ratios, name, "no expected or predicted rows", reasons)
    return PerformanceEstimate(
        n_rows=n,
        accuracy=float(p_correct.mean()),
        accuracy_standard_error=math.sqrt(float(np.einsum("i,i->", p_correct, 1 - p_correct))) / n,
        roc_auc=roc_auc,
        precision=rates["precision"],
        recall=rates["recall"],
        f1=rates["f1"],
        reasons=reasons,
    )


def _mean_or_none(
    values: Sequence[float | None], name: str, reason: str, reasons: dict[str, str]
) -> float | None:
    """The mean over the classes, ``None`` (and its reason) when one class lacks it."""
    present = [v for v in values if v is not None]
    if len(present) < len(values):
        reasons[name] = f"{reason} of a class"
        return None
    return float(np.mean(present))


# --- array primitives shared with closedloop.monitoring._performance -----------------------


def encode_labels(values: LabelsLike, classes: Sequence[Any], *, missing: int = -1) -> IntArray:
    """The position of each value in ``classes``; ``-1`` if unknown, ``missing`` if missing.

    Values match by equality, then by text (``category_text``: ``1``, ``1.0`` and ``"1"``
    name one class, so labels read back from a JSON log still match). Missing values are
    ``None``, NaN and ``pd.NA``. The work is one ``pd.factorize`` of the values and one
    lookup per distinct value.
    """
    codes, uniques = pd.factorize(as_label_array(values))
    exact: dict[Any, int] = {}
    text: dict[str, int] = {}
    for i, c in enumerate(classes):
        exact.setdefault(c, i)
        text.setdefault(category_text(c), i)
    lookup = [exact.get(u, text.get(category_text(u), -1)) for u in uniques]
    mapped = np.array([*lookup, missing], dtype=np.intp)
    result: IntArray = mapped[codes]  # code -1 (missing) picks the trailing entry
    return result


def as_label_array(values: LabelsLike) -> Any:
    """``values`` as a 1-D array that ``pd.factorize`` and boolean masks take quickly.

    Raises:
        InvalidArgumentError: The values are not one-dimensional.
    """
    if isinstance(values, pd.Series | pd.Index):
        return values.array
    if isinstance(values, pd.Categorical):
        return values
    arr = np.asarray(values, dtype=object if isinstance(values, list | tuple) else None)
    if arr.ndim != 1:
        raise InvalidArgumentError(f"labels must be one-dimensional, got shape {arr.shape}")
    return arr


def check_classes(classes: ClassesLike) -> list[Any]:
    """``classes`` as a list, checked for repeats (compared as text).

    Raises:
        InvalidArgumentError: A class repeats.
    """
    class_list = list(classes)
    if len({category_text(c) for c in class_list}) != len(class_list):
        raise InvalidArgumentError(f"the classes repeat a class: {class_list}")
    return class_list


def as_probabilities(probabilities: npt.ArrayLike, n_classes: int) -> FloatArray:
    """A ``(n_rows, n_classes)`` float matrix of probabilities in ``[0, 1]``.

    For two classes a one-dimensional input is the positive (second) class's column.

    Raises:
        InvalidArgumentError: The shape does not fit or a value is not in ``[0, 1]``.
    """
    arr = np.asarray(probabilities, dtype=np.float64)
    if arr.ndim == 1 and n_classes == 2:
        arr = np.column_stack([1.0 - arr, arr])
    if arr.ndim != 2 or arr.shape[1] != n_classes:
        raise InvalidArgumentError(
            f"probabilities of shape {arr.shape} for {n_classes} classes (rows x classes)"
        )
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):  # NaN fails both
        raise InvalidArgumentError("probabilities must be numbers in [0, 1]")
    return arr


def roc_auc_from_weights(
    scores: FloatArray, positive: FloatArray, negative: FloatArray | None = None
) -> float | None:
    """Area under the ROC curve of ``scores``, each row counting as weighted positives.

    The curve's points are the thresholds at the distinct scores (tied rows share one
    point, as in scikit-learn's ``roc_curve``); TPR and FPR are the ``positive`` and
    ``negative`` weights cumulated from the top score down over their totals; the area is
    the trapezoidal rule. With 0/1 labels as the weights this is ``roc_auc_score``; with
    calibrated probabilities it is CBPE's expected ROC-AUC.

    Args:
        scores: The ranking scores.
        positive: Each row's weight as a positive.
        negative: Each row's weight as a negative; ``None``: ``1 - positive``.

    Returns:
        The area, or ``None`` when either weight sums to zero.
    """
    n = len(scores)
    if n == 0:
        return None
    order = np.argsort(scores)[::-1]
    ranked = scores[order]
    last = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), n - 1)
    tps = np.concatenate(([0.0], np.cumsum(positive[order])[last]))
    if negative is None:  # cumulated 1 - p is the row count minus cumulated p
        fps = np.concatenate(([0.0], last + 1.0)) - tps
    else:
        fps = np.concatenate(([0.0], np.cumsum(negative[order])[last]))
    if tps[-1] <= 0.0 or fps[-1] <= 0.0:
        return None
    area = np.dot(np.diff(fps), tps[1:] + tps[:-1]) / 2.0
    return float(area / (tps[-1] * fps[-1]))


def positive_index(classes: list[Any], positive_class: Any) -> int:
    """The column of a binary model's positive class (``None``: the second).

    Raises:
        InvalidArgumentError: ``positive_class`` is none of ``classes``.
    """
    if positive_class is None:
        return 1
    code = int(encode_labels(np.array([positive_class], dtype=object), classes)[0])
    if code < 0:
        raise InvalidArgumentError(
            f"positive class {positive_class!r} is not one of the classes {classes}"
        )
    return code


def _native(value: Any) -> Any:
    """A numpy scalar as the Python value (JSON and msgpack take only those)."""
    return value.item() if isinstance(value, np.generic) else value
