from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline

from closedloop.errors import InvalidArgumentError
from closedloop.evaluation import compare, evaluate_classifier
from closedloop.features import FeatureSpec
from lifecycle_support import make_frame


@pytest.fixture(scope="module")
def fitted() -> object:
    frame = make_frame(1000, seed=1)
    spec = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))
    return make_pipeline(spec.build(), LogisticRegression(max_iter=1000)).fit(frame, frame["y"])


def test_metrics_match_sklearn_and_fairness_by_group(fitted: object) -> None:
    test = make_frame(500, seed=2)
    ev = evaluate_classifier(fitted, test, target="y", positive_class="yes", sensitive="group")
    pred = fitted.predict(test)  # type: ignore[attr-defined]
    proba = fitted.predict_proba(test)[:, 1]  # type: ignore[attr-defined]
    assert ev.metrics["accuracy"] == pytest.approx(accuracy_score(test["y"], pred))
    assert ev.metrics["roc_auc"] == pytest.approx(roc_auc_score(test["y"] == "yes", proba))
    assert ev.metrics["accuracy"] > ev.metrics["baseline_accuracy"]
    rates = {g: (pred[test["group"] == g] == "yes").mean() for g in ("F", "M")}
    assert ev.by_group["F"]["selection_rate"] == pytest.approx(rates["F"])
    assert ev.by_group["M"]["selection_rate"] == pytest.approx(rates["M"])
    assert ev.metrics["demographic_parity_difference"] == pytest.approx(
        abs(rates["M"] - rates["F"])
    )
    assert ev.by_group["F"]["count"] + ev.by_group["M"]["count"] == len(test)
    assert "group.selection_rate.F" in ev.flat()


def test_bad_arguments(fitted: object) -> None:
    test = make_frame(50)
    with pytest.raises(InvalidArgumentError, match="positive class"):
        evaluate_classifier(fitted, test, target="y", positive_class="maybe")
    with pytest.raises(InvalidArgumentError, match="lacks"):
        evaluate_classifier(fitted, test, target="y", positive_class="yes", sensitive="nope")


def test_compare() -> None:
    assert compare({"a": 1.0, "b": 2.0}, {"a": 1.5}) == {"a": 0.5}
