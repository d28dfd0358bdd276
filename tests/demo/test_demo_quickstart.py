from __future__ import annotations

from pathlib import Path

import closedloop
from closedloop.demo import run_quickstart


def test_quickstart_records_real_runs(tmp_path: Path) -> None:
    messages: list[str] = []
    result = run_quickstart(tmp_path / "ws", epochs=3, say=messages.append)
    assert len(result.run_ids) == 2
    # a real model on real data beats the majority-class baseline (AUC 0.5) by far
    assert result.best_auc > 0.95
    assert result.plot.is_file()
    with closedloop.Client(tmp_path / "ws") as client:
        runs = client.runs.search("tags.demo = 'quickstart'").runs
        assert len(runs) == 3
        best = client.runs.get(result.best_run_id)
        assert best.metrics["test_roc_auc"].value == result.best_auc
        assert len(client.runs.history(best.id, "test_log_loss")) == 3
        assert {a.path for a in client.runs.artifacts(best.id)} == {
            "model/model.pkl",
            "report.json",
        }
        selection = next(r for r in runs if r.name == "selection")
        assert selection.tags["best_run"] == result.best_run_id
    assert any("best:" in m for m in messages)


def test_quickstart_reuses_an_existing_workspace(tmp_path: Path) -> None:
    first = run_quickstart(tmp_path, epochs=2, say=lambda _: None)
    second = run_quickstart(tmp_path, epochs=2, say=lambda _: None)
    assert set(first.run_ids).isdisjoint(second.run_ids)
    with closedloop.Client(tmp_path) as client:
        assert len(client.runs.search("tags.demo = 'quickstart'").runs) == 6
