"""Realised window metrics: equal to scikit-learn and fairlearn, ``None`` with a reason."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._performance import (
    classification_performance,
    fairness_by_group,
    regression_performance,
)

TOL = 1e-9
CLASSES = ["<=50K", ">50K"]


def _binary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, positive-class probabilities (informative, with ties) and served labels."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.3
    score = np.clip(0.3 * truth + rng.normal(0.35, 0.2, n), 0.0, 1.0).round(3)
    labels = np.where(truth, ">50K", "<=50K").astype(object)
    served = np.where(score >= 0.5, ">50K", "<=50K").astype(object)
    return labels, score, served


def _multiclass(n: int, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[truth]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return truth, proba


def _reference_ece(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts, _ = np.histogram(confidence, bins=edges)
    conf_sum, _ = np.histogram(confidence, bins=edges, weights=confidence)
    acc_sum, _ = np.histogram(confidence, bins=edges, weights=correct.astype(float))
    total = 0.0
    for c, s, a in zip(counts, conf_sum, acc_sum, strict=True):
        if c:
            total += c / len(confidence) * abs(a / c - s / c)
    return total


def test_binary_metrics_equal_scikit_learn_on_the_labelled_rows() -> None:
    labels, score, served = _binary(5000)
    proba = np.column_stack([1 - score, score])
    labelled = np.random.default_rng(1).random(5000) < 0.4
    arrived = labels.copy()
    arrived[~labelled] = None
    perf = classification_performance(served, arrived, probabilities=proba, classes=CLASSES)
    y, p, s = labels[labelled], proba[labelled], served[labelled]
    assert perf.n_rows == 5000
    assert perf.n_labelled == labelled.sum()
    assert perf.label_coverage == pytest.approx(labelled.mean(), abs=TOL)
    assert perf.positive_class == ">50K"
    assert perf.accuracy == pytest.approx(skm.accuracy_score(y, s), abs=TOL)
    assert perf.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, s), abs=TOL)
    assert perf.roc_auc == pytest.approx(skm.roc_auc_score(y == ">50K", p[:, 1]), abs=TOL)
    assert perf.log_loss == pytest.approx(skm.log_loss(y, y_proba=p, labels=CLASSES), abs=TOL)
    brier = skm.brier_score_loss(y, p[:, 1], pos_label=">50K")
    assert perf.brier_score == pytest.approx(brier, abs=TOL)
    precision = skm.precision_score(y, s, labels=CLASSES, average=None)
    recall = skm.recall_score(y, s, labels=CLASSES, average=None)
    for j, metrics in enumerate(perf.per_class):
        assert metrics.label == CLASSES[j]
        assert metrics.support == (y == CLASSES[j]).sum()
        assert metrics.precision == pytest.approx(precision[j], abs=TOL)
        assert metrics.recall == pytest.approx(recall[j], abs=TOL)
    confidence = np.where(s == ">50K", p[:, 1], p[:, 0])
    ece = _reference_ece(confidence, s == y)
    assert perf.expected_calibration_error == pytest.approx(ece, abs=TOL)
    assert perf.reasons == {}


def test_an_explicit_mask_and_missing_labels_combine() -> None:
    labels, score, served = _binary(400)
    arrived = labels.copy()
    arrived[:50] = None  # missing: never labelled, even where the mask says so
    mask = np.zeros(400, dtype=bool)
    mask[:300] = True
    perf = classification_performance(served, arrived, mask, probabilities=score, classes=CLASSES)
    rows = np.arange(50, 300)
    assert perf.n_labelled == 250
    assert perf.label_coverage == pytest.approx(250 / 400)
    assert perf.accuracy == pytest.approx(skm.accuracy_score(labels[rows], served[rows]), abs=TOL)
    one_column = perf.roc_auc
    assert one_column == pytest.approx(
        skm.roc_auc_score(labels[rows] == ">50K", score[rows]), abs=TOL
    )


def test_multiclass_metrics_equal_scikit_learn() -> None:
    truth, proba = _multiclass(3000, k=4)
    classes = ["a", "b", "c", "d"]
    labels = np.array(classes, dtype=object)[truth]
    perf = classification_performance(None, labels, probabilities=proba, classes=classes)
    served = np.array(classes, dtype=object)[proba.argmax(axis=1)]
    assert perf.positive_class is None
    assert perf.accuracy == pytest.approx(skm.accuracy_score(labels, served), abs=TOL)
    assert perf.balanced_accuracy == pytest.approx(
        skm.balanced_accuracy_score(labels, served), abs=TOL
    )
    auc = skm.roc_auc_score(labels, proba, multi_class="ovr", average="macro", labels=classes)
    assert perf.roc_auc == pytest.approx(auc, abs=TOL)
    assert perf.log_loss == pytest.approx(
        skm.log_loss(labels, y_proba=proba, labels=classes), abs=TOL
    )
    assert perf.brier_score == pytest.approx(
        skm.brier_score_loss(labels, proba, labels=classes), abs=TOL
    )
    ece = _reference_ece(proba.max(axis=1), served == labels)
    assert perf.expected_calibration_error == pytest.approx(ece, abs=TOL)


def test_multiclass_roc_auc_needs_every_class_among_the_labels() -> None:
    truth, proba = _multiclass(600, k=3)
    labels = np.array([0, 1, 2])[truth].astype(float)
    labels[truth == 2] = np.nan  # class 2's labels have not arrived
    perf = classification_performance(None, labels, probabilities=proba, classes=[0, 1, 2])
    assert perf.roc_auc is None
    assert perf.reasons["roc_auc"] == "classes absent among the labelled rows: [2]"
    assert perf.per_class[2].recall is None
    assert "recall[2]" in perf.reasons
    assert perf.accuracy is not None
    assert perf.log_loss is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns: y_pred has a class y_true lacks
        served = proba.argmax(axis=1)[truth != 2]
        expected = skm.balanced_accuracy_score(truth[truth != 2], served)
    assert perf.balanced_accuracy == pytest.approx(expected, abs=TOL)


def test_nothing_labelled_gives_none_with_reasons() -> None:
    _labels, score, served = _binary(100)
    for arrived in (None, np.full(100, None, dtype=object)):
        perf = classification_performance(served, arrived, probabilities=score, classes=CLASSES)
        assert perf.n_labelled == 0
        assert perf.label_coverage == 0.0
        assert perf.accuracy is None
        assert perf.roc_auc is None
        assert perf.expected_calibration_error is None
        assert perf.reasons["accuracy"] == "no labelled rows"
        assert perf.reasons["log_loss"] == "no labelled rows"
        assert all(m.precision is None and m.recall is None for m in perf.per_class)


def test_one_class_among_the_labels() -> None:
    labels, score, served = _binary(500)
    arrived = labels.copy()
    arrived[labels != "<=50K"] = None
    perf = classification_performance(served, arrived, probabilities=score, classes=CLASSES)
    assert perf.roc_auc is None
    assert perf.reasons["roc_auc"] == "only one class among the labelled rows"
    assert perf.accuracy == pytest.approx(np.mean(served[labels == "<=50K"] == "<=50K"))
    assert perf.balanced_accuracy == perf.accuracy  # the recall of the only class present
    assert perf.per_class[1].recall is None


def test_labels_only_models_and_empty_windows() -> None:
    labels, _, served = _binary(300)
    perf = classification_performance(served, labels)
    assert perf.classes == tuple(CLASSES)  # inferred, sorted
    assert perf.accuracy == pytest.approx(skm.accuracy_score(labels, served), abs=TOL)
    for name in ("roc_auc", "log_loss", "brier_score", "expected_calibration_error"):
        assert getattr(perf, name) is None
        assert perf.reasons[name] == "no probabilities were served"
    empty = classification_performance([], [], classes=CLASSES)
    assert empty.n_rows == 0
    assert empty.label_coverage is None
    assert empty.reasons["accuracy"] == "no labelled rows"


def test_labels_match_classes_by_text_and_unknown_labels_are_counted() -> None:
    served = np.array([0, 1, 1, 1, 1])
    labels = pd.Series(["0", "1", "0", "surprise", 1.0], dtype=object)
    perf = classification_performance(served, labels, classes=[0, 1])
    assert perf.n_labelled == 5
    assert perf.n_unknown_labels == 1
    assert perf.accuracy == pytest.approx(3 / 4)
    assert perf.per_class[1].predicted == 3  # of the 4 served, the unknown-label row is out


def test_flat_lists_counts_metrics_and_classes() -> None:
    labels, score, served = _binary(200)
    flat = classification_performance(served, labels, probabilities=score, classes=CLASSES).flat()
    assert flat["n_rows"] == 200
    assert {"accuracy", "roc_auc", "precision[>50K]", "recall[<=50K]"} <= set(flat)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probabilities": np.zeros((3, 3)), "classes": CLASSES}, "shape"),
        ({"probabilities": np.full((3, 2), 1.5), "classes": CLASSES}, r"\[0, 1\]"),
        ({"probabilities": np.full((3, 2), 0.5)}, "classes"),
        ({"classes": ["a", "a"]}, "repeat"),
        ({"classes": CLASSES, "positive_class": "x"}, "positive class"),
        ({"classes": CLASSES, "n_bins": 0}, "n_bins"),
    ],
)
def test_inconsistent_inputs_raise(kwargs: dict[str, Any], message: str) -> None:
    served = np.array(["<=50K", ">50K", ">50K"], dtype=object)
    with pytest.raises(InvalidArgumentError, match=message):
        classification_performance(served, served, **kwargs)


def test_lengths_must_agree() -> None:
    with pytest.raises(InvalidArgumentError, match="labels for"):
        classification_performance(["a", "b"], ["a"], classes=["a", "b"])
    with pytest.raises(InvalidArgumentError, match="mask"):
        classification_performance(["a", "b"], ["a", "b"], [True], classes=["a", "b"])


# --- regression ----------------------------------------------------------------------------


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(10, 3, 2000)
    pred = truth + rng.normal(0.5, 1, 2000)
    labels = truth.copy()
    labels[rng.random(2000) < 0.5] = np.nan
    perf = regression_performance(pred, labels)
    m = ~np.isnan(labels)
    assert perf.n_labelled == m.sum()
    assert perf.mae == pytest.approx(skm.mean_absolute_error(truth[m], pred[m]), abs=TOL)
    assert perf.rmse == pytest.approx(skm.root_mean_squared_error(truth[m], pred[m]), abs=TOL)
    assert perf.r2 == pytest.approx(skm.r2_score(truth[m], pred[m]), abs=TOL)
    assert set(perf.flat()) == {"n_rows", "n_labelled", "label_coverage", "mae", "rmse", "r2"}


def test_regression_none_cases() -> None:
    nothing = regression_performance([1.0, 2.0], None)
    assert nothing.mae is None
    assert nothing.reasons["r2"] == "no labelled rows"
    constant = regression_performance([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert constant.mae == pytest.approx(2 / 3)
    assert constant.r2 is None
    assert constant.reasons["r2"] == "the labels are constant"
    single = regression_performance([1.0, 2.0], [1.5, None])
    assert single.rmse == pytest.approx(0.5)
    assert single.reasons["r2"] == "fewer than two labelled rows"
    with pytest.raises(InvalidArgumentError, match="finite"):
        regression_performance([np.nan, 2.0], [1.0, 2.0])


# --- fairness ------------------------------------------------------------------------------


def _fair_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array(["a", "b", "c"], dtype=object), n, p=[0.5, 0.3, 0.2])
    truth = rng.random(n) < np.where(group == "a", 0.4, 0.25)
    chosen = rng.random(n) < np.where(truth, 0.7, 0.15) + np.where(group == "c", 0.1, 0.0)
    return (
        group,
        np.where(truth, "yes", "no").astype(object),
        np.where(chosen, "yes", "no").astype(object),
    )


def test_fairness_equals_fairlearn_when_every_row_is_labelled() -> None:
    fm = pytest.importorskip("fairlearn.metrics")
    group, labels, served = _fair_data(3000)
    report = fairness_by_group(served, group, labels, positive_class="yes")
    t, p = (labels == "yes").astype(int), (served == "yes").astype(int)
    dp = fm.demographic_parity_difference(t, p, sensitive_features=group)
    eo = fm.equalized_odds_difference(t, p, sensitive_features=group)
    assert report.demographic_parity_difference == pytest.approx(dp, abs=TOL)
    assert report.equalized_odds_difference == pytest.approx(eo, abs=TOL)
    frame = fm.MetricFrame(
        metrics={
            "selection_rate": fm.selection_rate,
            "true_positive_rate": fm.true_positive_rate,
            "false_positive_rate": fm.false_positive_rate,
        },
        y_true=t,
        y_pred=p,
        sensitive_features=group,
    )
    assert [r.group for r in report.groups] == ["a", "b", "c"]
    for rates in report.groups:
        expected = frame.by_group.loc[rates.group]
        assert rates.n == (group == rates.group).sum()
        for name in ("selection_rate", "true_positive_rate", "false_positive_rate"):
            assert getattr(rates, name) == pytest.approx(expected[name], abs=TOL)
    assert report.reasons == {}


def test_fairness_with_partial_labels_uses_all_rows_for_selection() -> None:
    fm = pytest.importorskip("fairlearn.metrics")
    group, labels, served = _fair_data(4000, seed=1)
    labelled = np.random.default_rng(2).random(4000) < 0.3
    report = fairness_by_group(served, group, labels, labelled, positive_class="yes")
    t, p = (labels == "yes").astype(int), (served == "yes").astype(int)
    dp = fm.demographic_parity_difference(t, p, sensitive_features=group)
    eo = fm.equalized_odds_difference(t[labelled], p[labelled], sensitive_features=group[labelled])
    assert report.demographic_parity_difference == pytest.approx(dp, abs=TOL)
    assert report.equalized_odds_difference == pytest.approx(eo, abs=TOL)
    assert sum(r.n_labelled for r in report.groups) == labelled.sum()


def test_small_groups_are_reported_but_left_out_of_the_differences() -> None:
    fm = pytest.importorskip("fairlearn.metrics")
    group, labels, served = _fair_data(2000, seed=4)
    group[:10] = "tiny"
    group[10:12] = None  # missing values form their own (small) group
    report = fairness_by_group(served, group, labels, positive_class="yes")
    by_name = {r.group: r for r in report.groups}
    assert by_name["tiny"].n == 10
    assert not by_name["tiny"].is_in_parity
    assert by_name["<missing>"].n == 2
    assert not by_name["<missing>"].is_in_odds
    big = np.isin(group, ["a", "b", "c"])
    t, p = (labels == "yes").astype(int)[big], (served == "yes").astype(int)[big]
    dp = fm.demographic_parity_difference(t, p, sensitive_features=group[big])
    eo = fm.equalized_odds_difference(t, p, sensitive_features=group[big])
    assert report.demographic_parity_difference == pytest.approx(dp, abs=TOL)
    assert report.equalized_odds_difference == pytest.approx(eo, abs=TOL)


def test_fairness_without_two_large_groups_or_labels_is_none_with_reasons() -> None:
    group, labels, served = _fair_data(500)
    unlabelled = fairness_by_group(served, group, positive_class="yes")
    assert unlabelled.demographic_parity_difference is not None
    assert unlabelled.equalized_odds_difference is None
    assert "labelled rows of both classes" in unlabelled.reasons["equalized_odds_difference"]
    assert all(r.true_positive_rate is None for r in unlabelled.groups)
    strict = fairness_by_group(served, group, labels, positive_class="yes", min_group_size=400)
    assert strict.demographic_parity_difference is None
    assert strict.reasons["demographic_parity_difference"] == (
        "fewer than two groups with at least 400 rows"
    )
    assert len(strict.groups) == 3
    with pytest.raises(InvalidArgumentError, match="sensitive values"):
        fairness_by_group(served, group[:10], positive_class="yes")
