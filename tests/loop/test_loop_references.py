"""The loop takes dataset versions and registers the challenger from its refit run's blob."""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline

from closedloop import data, registry
from closedloop.features import FeatureSpec
from closedloop.loop import PromotionPolicy, challenge_champion
from closedloop.workspace import Workspace
from lifecycle_support import SCHEMA, make_frame

SPEC = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))


def test_versions_in_and_the_challenger_shares_its_refit_runs_blob(
    workspace: Workspace,
) -> None:
    train = make_frame(600)
    weak = make_pipeline(SPEC.build(), DummyClassifier(strategy="prior")).fit(train, train["y"])
    registry.register_model(
        workspace,
        "m",
        weak,
        signature=SPEC.signature(SCHEMA),
        target="y",
        classes=["no", "yes"],
        aliases=["champion"],
    )
    version = data.ingest_frame(workspace, train, "train", source="test").version
    data.ingest_frame(workspace, make_frame(300, seed=9), "holdout", source="test")
    blobs_before = {b.digest for b in workspace.artifacts.iter_blobs()}

    outcome = challenge_champion(
        workspace,
        "m",
        train=version,
        holdout="holdout@latest",
        spec=SPEC,
        target="y",
        positive_class="yes",
        policy=PromotionPolicy(max_fairness_regression=1.0),
        candidates=["logistic_regression"],
    )

    challenger = outcome.challenger
    assert outcome.promoted
    assert challenger.dataset_version_id == version.id
    assert challenger.run_id is not None
    artifact = workspace.metadata.get_artifact(challenger.run_id, "model/pipeline.pkl")
    assert challenger.artifact_digest == artifact.digest
    new_blobs = {b.digest for b in workspace.artifacts.iter_blobs()} - blobs_before
    assert challenger.artifact_digest in new_blobs
    models = {v.artifact_digest for v in registry.list_model_versions(workspace, "m")}
    assert len(models & new_blobs) == 1  # the refit run's pipeline, stored once
    stored = workspace.metadata.decisions.list("m")[0]
    assert stored.detail["holdout_rows"] == 300
    assert stored.detail["train_rows"] == 600
    loaded = registry.load_model(workspace, "m@champion")
    assert loaded.version.id == "m/2"
    assert list(loaded.model.predict(make_frame(5, seed=1))) == list(
        outcome_predictions(workspace, challenger.run_id)
    )


def outcome_predictions(ws: Workspace, run_id: str) -> list[str]:
    """What the refit run's own pipeline artifact predicts for the same rows."""
    import pickle

    from closedloop.tracking import read_artifact

    pipeline = pickle.loads(read_artifact(ws, run_id, "model/pipeline.pkl"))
    return list(pipeline.predict(make_frame(5, seed=1)))
