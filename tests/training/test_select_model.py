from __future__ import annotations

import pickle

import pytest

from closedloop.errors import InvalidArgumentError
from closedloop.features import FeatureSpec
from closedloop.tracking import get_run, read_artifact
from closedloop.training import CANDIDATES, get_candidate, select_model
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
    with pytest.raises(InvalidArgumentError, match="regression"):
        select_model(workspace, frame, target="y", spec=SPEC, candidates=["ridge"])


def test_catalog() -> None:
    assert {c.task for c in CANDIDATES.values()} == {"classification", "regression"}
    assert get_candidate("ridge").loss.startswith("squared error")
