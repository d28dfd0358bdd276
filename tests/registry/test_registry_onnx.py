"""registry.convert_to_onnx stores a faithful conversion and records it; load_onnx reads it."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from closedloop import data, datasets, registry
from closedloop.core import ModelVersion
from closedloop.errors import InvalidArgumentError
from closedloop.features import FeatureSpec
from closedloop.features._onnx import onnx_available
from closedloop.workspace import Actions, Workspace

pytestmark = pytest.mark.skipif(not onnx_available(), reason="the onnx extra is not installed")

SPEC = FeatureSpec(numeric=("age", "hours_per_week"), categorical=("workclass", "sex"))


def _register(ws: Workspace, spec: FeatureSpec = SPEC) -> ModelVersion:
    train_file, _ = datasets.adult_files()
    frame = datasets.read_adult(train_file).head(7000)
    version = data.ingest_frame(ws, frame, "adult", source="adult.data").version
    pipe = Pipeline([("features", spec.build()), ("model", LogisticRegression(max_iter=500))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(frame[spec.columns], frame["income_per_year"])
    return registry.register_model(
        ws,
        "adult",
        pipe,
        signature=spec.signature(version.schema),
        target="income_per_year",
        classes=list(pipe.classes_),
        dataset_version_id=version.id,
    )


def test_conversion_on_training_data_is_stored_and_recorded(workspace: Workspace) -> None:
    version = _register(workspace)
    assert version.onnx_digest is None
    assert registry.load_onnx(workspace, version) is None
    outcome = registry.convert_to_onnx(workspace, "adult/1")
    assert outcome.ok, outcome.reason
    assert outcome.rows_checked == 5000  # 7,000 training rows, sampled
    recorded = registry.get_model_version(workspace, "adult/1")
    assert recorded.onnx_digest is not None
    assert registry.load_onnx(workspace, recorded) == outcome.onnx_bytes
    assert registry.load_onnx(workspace, "adult/1") == outcome.onnx_bytes
    (event,) = workspace.metadata.list_audit_events(action=Actions.MODEL_CONVERT)
    assert event.resource == "model:adult/1"
    assert event.outcome == "ok"
    assert event.detail["ok"] is True
    assert event.detail["digest"] == recorded.onnx_digest
    assert event.detail["rows_checked"] == 5000


def test_refused_conversion_records_nothing_and_clears_an_old_one(workspace: Workspace) -> None:
    _register(workspace)
    assert registry.convert_to_onnx(workspace, "adult/1").ok
    holdout = datasets.read_adult(datasets.adult_files()[1]).head(500)
    outcome = registry.convert_to_onnx(workspace, "adult/1", holdout, atol=0.0)
    assert not outcome.ok
    assert outcome.rows_checked == 500
    assert "labels differ" in outcome.reason
    assert registry.get_model_version(workspace, "adult/1").onnx_digest is None
    assert registry.load_onnx(workspace, "adult/1") is None
    events = workspace.metadata.list_audit_events(action=Actions.MODEL_CONVERT)
    refused = [e for e in events if e.detail["ok"] is False]
    assert len(refused) == 1
    assert refused[0].detail["reason"] == outcome.reason
    assert refused[0].detail["cleared"]


def test_without_training_data_validation_rows_are_required(workspace: Workspace) -> None:
    version = _register(workspace)
    bare = registry.register_model(
        workspace,
        "bare",
        registry.load_model(workspace, version).model,
        signature=version.signature,
        target=version.target,
        classes=version.classes,
    )
    with pytest.raises(InvalidArgumentError, match="records no training data"):
        registry.convert_to_onnx(workspace, bare)
    frame = pd.DataFrame(
        {"age": [30, 50], "hours_per_week": [40, 60], "workclass": ["Private", None]}
        | {"sex": ["Male", "Female"]}
    )
    assert registry.convert_to_onnx(workspace, bare, frame).ok
    with pytest.raises(InvalidArgumentError, match="atol"):
        registry.convert_to_onnx(workspace, bare, frame, atol=-1.0)
