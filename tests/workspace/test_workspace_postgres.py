"""The team shape: metadata on PostgreSQL, artifacts in a folder, one lifecycle through it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sqlalchemy import make_url

import closedloop
from closedloop import data, registry
from closedloop.cli._app import main
from closedloop.features import FeatureSpec
from closedloop.serving import create_app

pytestmark = pytest.mark.postgres


def test_init_records_the_team_database_without_its_password(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_url(pg_url)
    monkeypatch.setenv("PGPASSWORD", url.password or "")
    root = tmp_path / "team"
    assert main(["init", str(root), "--metadata-uri", pg_url]) == 0
    config = (root / ".closedloop" / "closedloop.yaml").read_text(encoding="utf-8")
    assert "metadata_uri:" in config
    if url.password:
        assert f":{url.password}@" not in config
    with closedloop.Client(root) as client:  # found through the yaml, password from the env
        assert client.workspace.metadata.uri.startswith("postgresql")


def test_a_lifecycle_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    root = tmp_path / "team"
    client = closedloop.init(root, metadata_uri=pg_url, artifact_uri=str(tmp_path / "blobs"))
    with client:
        ws = client.workspace
        frame = pd.DataFrame(
            {"x": [float(i) for i in range(40)], "y": ["a" if i < 20 else "b" for i in range(40)]}
        )
        version = data.ingest_frame(ws, frame, "toy", source="generated").version
        assert data.ingest_frame(ws, frame, "toy", source="generated").version == version
        spec = FeatureSpec(numeric=("x",))
        with client.start_run("team", params={"model": "lr"}) as run:
            run.log_input("dataset", version.id)
            model = make_pipeline(spec.build(), LogisticRegression()).fit(frame, frame["y"])
            run.log_metric("train_accuracy", float(model.score(frame, frame["y"])))
            run.log_text("notes", "notes.txt")
        registry.register_model(
            ws,
            "toy",
            model,
            signature=spec.signature(version.schema),
            target="y",
            classes=list(model.classes_),
            run_id=run.id,
            dataset_version_id=version.id,
            aliases=["champion"],
        )
        with TestClient(create_app(ws, "toy@champion")) as http:
            response = http.post("/predict", json={"records": [{"x": 1.0}, {"x": 38.0}]})
            assert response.status_code == 200
            assert response.json()["predictions"] == ["a", "b"]
            assert http.post("/predict", json={"records": [{"x": "high"}]}).status_code == 422
        assert ws.metadata.predictions.count("toy/1") == 2
        assert client.runs.search("metrics.train_accuracy > 0.9").runs[0].id == run.id
        assert client.runs.delete(run.id).blobs_freed == 1
        report = client.gc(grace=timedelta(0))
        assert report.blobs_deleted == 0  # dataset and model blobs are still referenced
        actions = {e.action for e in client.audit.list(limit=200)}
        assert {"dataset.ingest", "run.create", "model.register", "model.predict"} <= actions
