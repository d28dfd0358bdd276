from __future__ import annotations

import pickle

import pytest

from closedloop.errors import InvalidArgumentError
from closedloop.features import FeatureSpec
from closedloop.tracking import get_run, read_artifact
from closedloop.training import CANDIDATES, Candidate, get_candidate, select_model
from closedloop.workspace import Workspace
from lifecycle_support import make_frame

SPEC = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))


def test_selection_tracks_each_candidate_and_refits_the_best(workspace: Workspace) -> None:
    frame = make_frame(800)
    lines: list[str] = []
    sel = select_model(workspace, frame, target="y", spec=SPEC, cv=3, say=lines.append)
    assert [r.name for r in sel.results] == ["logistic_regression", "hist_gradient_boosting"]
    assert sel.best.scores["cv_roc_auc"] == max(r.scores["cv_roc_auc"] for r in sel.results)
    assert sel.best.scores["cv_roc_auc"] > 0.7  # the label is learnable
    for result in sel.results:
        run = get_run(workspace, result.run_id)
        assert run.params["candidate"] == result.name
        assert run.params["loss"] == "cross-entropy"
        assert run.metrics["cv_roc_auc"].value == pytest.approx(result.scores["cv_roc_auc"])
        assert len(result.fold_scores) == 3
    refit = get_run(workspace, sel.run_id)
    assert refit.tags["stage"] == "refit"
    stored = pickle.loads(read_artifact(workspace, sel.run_id, "model/pipeline.pkl"))
    assert (stored.predict(frame) == sel.pipeline.predict(frame)).all()
    assert sel.classes == ["no", "yes"]
    assert len(lines) == 3


def test_selection_refuses_bad_targets(workspace: Workspace) -> None:
    frame = make_frame(100)
    with pytest.raises(InvalidArgumentError, match="not a column"):
        select_model(workspace, frame, target="nope", spec=SPEC)
    with pytest.raises(InvalidArgumentError, match="classes"):
        select_model(workspace, frame.assign(y="same"), target="y", spec=SPEC)
    with pytest.raises(InvalidArgumentError, match="unknown candidate"):
        select_model(workspace, frame, target="y", spec=SPEC, candidates=["svm"])


def test_selection_refuses_a_candidate_of_another_task(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import Ridge

    ridge = Candidate("ridge", "regression", "squared error (MSE)", lambda seed: Ridge())
    monkeypatch.setitem(CANDIDATES, "ridge", ridge)
    with pytest.raises(InvalidArgumentError, match="regression"):
        select_model(workspace, make_frame(100), target="y", spec=SPEC, candidates=["ridge"])


def test_catalog_is_classification_only_until_regression_is_supported() -> None:
    assert {c.task for c in CANDIDATES.values()} == {"classification"}
    assert {c.loss for c in CANDIDATES.values()} == {"cross-entropy"}
    assert get_candidate("hist_gradient_boosting").name in CANDIDATES


def test_selection_reports_each_fold_and_keeps_cross_validate_scores(
    workspace: Workspace,
) -> None:
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import Pipeline

    from closedloop.core import ProgressEvent

    frame = make_frame(600)
    events: list[ProgressEvent] = []
    sel = select_model(
        workspace,
        frame,
        target="y",
        spec=SPEC,
        candidates=["logistic_regression"],
        cv=4,
        progress=events.append,
    )
    cv_events = [(e.completed, e.total) for e in events if e.task == "cv logistic_regression"]
    assert cv_events == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(e.unit == "folds" for e in events if e.task.startswith("cv "))
    assert events[-1].task == "refit logistic_regression"
    assert events[-1].finished
    # Fold by fold gives what one cross_validate call over the same folds gives.
    pipeline = Pipeline(
        [("features", SPEC.build()), ("model", get_candidate("logistic_regression").make(0))]
    )
    whole = cross_validate(
        pipeline,
        frame[SPEC.columns],
        frame["y"].astype(str),
        cv=StratifiedKFold(n_splits=4, shuffle=True, random_state=0),
        scoring="roc_auc",
    )
    assert sel.best.fold_scores == pytest.approx(list(whole["test_score"]))
