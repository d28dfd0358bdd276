"""Registering the model a run stored: one blob, no second pickle, checked before it counts."""

from __future__ import annotations

import json
import pickle

import pytest
from fastapi.testclient import TestClient

from closedloop import registry, tracking
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.features import FeatureSpec
from closedloop.serving import create_app
from closedloop.training import Selection, select_model
from closedloop.workspace import Workspace
from lifecycle_support import SCHEMA, make_frame

SPEC = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))


def _select(ws: Workspace) -> Selection:
    return select_model(
        ws, make_frame(300), target="y", spec=SPEC, candidates=["logistic_regression"], cv=2
    )


def _blobs(ws: Workspace) -> set[str]:
    return {b.digest for b in ws.artifacts.iter_blobs()}


def test_the_version_points_at_the_refit_runs_pipeline_blob(workspace: Workspace) -> None:
    sel = _select(workspace)
    artifact = workspace.metadata.get_artifact(sel.run_id, sel.artifact_path)
    assert sel.artifact_path == registry.RUN_MODEL_ARTIFACT == "model/pipeline.pkl"
    before = _blobs(workspace)

    version = registry.register_model_from_run(
        workspace,
        "m",
        sel.run_id,
        signature=SPEC.signature(SCHEMA),
        target="y",
        metrics={"roc_auc": 0.8},
        aliases=["champion"],
    )

    assert version.artifact_digest == artifact.digest
    assert _blobs(workspace) == before  # nothing pickled or stored again
    assert version.run_id == sel.run_id
    assert version.classes == ("no", "yes")  # the estimator's classes_ by default
    assert version.aliases == ("champion",)
    events = workspace.metadata.list_audit_events(action="model.register")
    assert events[0].detail["digest"] == artifact.digest
    assert events[0].detail["artifact_path"] == "model/pipeline.pkl"
    assert events[0].detail["version"] == 1

    frame = make_frame(30, seed=4)
    loaded = registry.load_model(workspace, "m@champion")
    assert (loaded.model.predict(frame) == sel.pipeline.predict(frame)).all()
    with TestClient(create_app(workspace, "m@champion")) as client:
        records = json.loads(frame[list(SPEC.columns)].to_json(orient="records"))
        response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == sel.pipeline.predict(frame).tolist()


def test_deleting_the_run_keeps_the_registered_blob(workspace: Workspace) -> None:
    sel = _select(workspace)
    version = registry.register_model_from_run(
        workspace, "m", sel.run_id, signature=SPEC.signature(SCHEMA), target="y"
    )
    report = tracking.delete_run(workspace, sel.run_id)
    assert report.blobs_freed == 0
    assert workspace.artifacts.exists(version.artifact_digest)
    frame = make_frame(10, seed=2)
    loaded = registry.load_model(workspace, "m/1")
    assert (loaded.model.predict(frame) == sel.pipeline.predict(frame)).all()


def test_a_blob_that_is_not_the_named_estimator_is_refused(workspace: Workspace) -> None:
    sel = _select(workspace)
    sig = SPEC.signature(SCHEMA)
    with pytest.raises(InvalidArgumentError, match="classes") as info:
        registry.register_model_from_run(
            workspace, "m", sel.run_id, signature=sig, target="y", classes=["yes", "no"]
        )
    assert info.value.hint
    with tracking.start_run(workspace, "other") as run:
        run.log_dict({"not": "a model"}, "report.json")
        run.log_bytes(pickle.dumps({"not": "a model"}), "model/pipeline.pkl")
    with pytest.raises(InvalidArgumentError, match="does not unpickle"):
        registry.register_model_from_run(
            workspace, "m", run.id, "report.json", signature=sig, target="y"
        )
    with pytest.raises(InvalidArgumentError, match="no predict method"):
        registry.register_model_from_run(workspace, "m", run.id, signature=sig, target="y")
    with pytest.raises(NotFoundError):
        registry.register_model_from_run(
            workspace, "m", sel.run_id, "model/missing.pkl", signature=sig, target="y"
        )
    with pytest.raises(InvalidArgumentError, match="name"):
        registry.register_model_from_run(workspace, "a@b", sel.run_id, signature=sig, target="y")
    assert registry.list_model_versions(workspace) == []
    outcomes = [e.outcome for e in workspace.metadata.list_audit_events(action="model.register")]
    assert outcomes.count("error:INVALID_ARGUMENT") == 3
    assert outcomes.count("error:NOT_FOUND") == 1
