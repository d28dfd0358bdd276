from __future__ import annotations

import pandas as pd
import pytest
from monitoring_support import SIGNATURE, T_NEW, T_OLD, log_predictions, people, register

from closedloop import tracking
from closedloop.core import Prediction
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.monitoring import ColumnRule, monitor_drift, predictions_frame
from closedloop.workspace import Workspace


@pytest.fixture
def logged(workspace: Workspace) -> tuple[Workspace, pd.DataFrame]:
    """Version m/1; an unshifted batch at T_OLD and a drifted batch (age +10, colours) at T_NEW."""
    version = register(workspace)
    log_predictions(workspace, version, people(1500, seed=2), T_OLD)
    drifted = people(1500, seed=3, age_shift=10, colors=(0.2, 0.3, 0.5))
    log_predictions(workspace, version, drifted, T_NEW)
    reference = people(3000, seed=1).assign(y=1)  # extra columns beyond the signature are fine
    return workspace, reference


def test_monitor_drift_flags_records_a_run_and_stores_the_report(
    logged: tuple[Workspace, pd.DataFrame],
) -> None:
    ws, reference = logged
    result = monitor_drift(ws, "m@latest", reference, since=T_NEW)

    assert result.n_predictions == 1500
    assert result.model_version_id == "m/1"
    assert result.report.drifted_features == ("age", "color")
    assert result.report.current_rows == 1500

    run = tracking.get_run(ws, result.run_id)
    assert run.status.value == "FINISHED"
    assert run.name == "drift m@latest"
    assert tracking.get_experiment(ws, run.experiment_id).name == "monitoring"
    assert run.tags["model_version"] == "m/1"
    assert run.tags["kind"] == "drift"
    assert run.tags["drifted_features"] == "age,color"
    metrics = run.metric_values()
    assert metrics["drift.share"] == pytest.approx(2 / 3)
    assert metrics["drift.dataset"] == 1.0
    assert run.tags["dataset_drifted"] == "true"
    # 1,500 rows: distances (Wasserstein, Jensen-Shannon), which have no p-value
    assert {f.method for f in result.report.features} == {"wasserstein", "jensenshannon"}
    for f in result.report.features:
        assert metrics[f"drift.statistic.{f.name}"] == pytest.approx(f.statistic)
        assert f"drift.p_value.{f.name}" not in metrics
    assert run.params["alpha"] == "0.05"
    assert run.params["drift_share"] == "0.5"
    assert "rules" not in run.params
    assert run.params["since"] == str(T_NEW)
    assert [(i.kind, i.ref) for i in run.inputs] == [("model", "m/1")]

    stored = tracking.read_artifact(ws, result.run_id, "drift_report.html")
    assert stored.decode("utf-8") == result.html
    assert all(name in result.html for name in ("age", "income", "color"))

    events = ws.metadata.list_audit_events(action="monitor.drift")
    assert [(e.resource, e.outcome) for e in events] == [("model:m@latest", "ok")]
    assert events[0].detail["run_id"] == result.run_id


def test_rules_and_drift_share_are_applied_and_recorded(
    logged: tuple[Workspace, pd.DataFrame],
) -> None:
    ws, reference = logged
    rules = {"age": ColumnRule("ks", 0.01), "color": ColumnRule("psi", 0.3)}
    result = monitor_drift(ws, "m/1", reference, since=T_NEW, rules=rules, drift_share=0.9)
    age, color = result.report.feature("age"), result.report.feature("color")
    assert (age.method, age.threshold) == ("ks", 0.01)
    assert (color.method, color.threshold) == ("psi", 0.3)
    assert not result.report.dataset_drifted  # 2 of 3 < 0.9
    run = tracking.get_run(ws, result.run_id)
    assert run.params["rules"] == "age=ks:0.01,color=psi:0.3"
    assert run.params["drift_share"] == "0.9"
    assert run.tags["dataset_drifted"] == "false"
    assert run.metric_values()["drift.p_value.age"] == pytest.approx(age.p_value)


def test_the_window_selects_the_predictions(logged: tuple[Workspace, pd.DataFrame]) -> None:
    ws, reference = logged
    before = monitor_drift(ws, "m/1", reference, until=T_NEW, experiment="checks")
    assert before.n_predictions == 1500
    assert before.report.drifted_features == ()
    assert tracking.get_run(ws, before.run_id).tags["drifted_features"] == ""
    everything = monitor_drift(ws, "m/1", reference)
    assert everything.n_predictions == 3000


def test_an_empty_window_is_refused_with_a_hint(logged: tuple[Workspace, pd.DataFrame]) -> None:
    ws, reference = logged
    with pytest.raises(InvalidArgumentError, match="no predictions of m/1") as info:
        monitor_drift(ws, "m/1", reference, since=T_NEW + 10**9)
    assert info.value.hint
    assert "window" in info.value.hint
    with pytest.raises(InvalidArgumentError, match="window is empty"):
        monitor_drift(ws, "m/1", reference, since=T_NEW, until=T_OLD)
    events = ws.metadata.list_audit_events(action="monitor.drift")
    assert events[0].outcome == "error:INVALID_ARGUMENT"


def test_unknown_model_and_incomplete_reference(logged: tuple[Workspace, pd.DataFrame]) -> None:
    ws, reference = logged
    with pytest.raises(NotFoundError):
        monitor_drift(ws, "nope/1", reference)
    with pytest.raises(InvalidArgumentError, match="income"):
        monitor_drift(ws, "m/1", reference.drop(columns=["income"]))


def test_predictions_frame_keeps_signature_columns_and_reads_their_types() -> None:
    predictions = [
        Prediction("r", 0, 1, "m/1", {"age": "41", "color": 3, "other": 1}, 0, 1.0),
        Prediction("r", 1, 2, "m/1", {"age": 50, "income": None}, 0, 1.0),
    ]
    frame = predictions_frame(predictions, SIGNATURE.names)
    assert list(frame.columns) == ["age", "income", "color"]
    assert frame["income"].isna().all()
    from closedloop.monitoring import DriftDetector

    reference = pd.DataFrame({"age": [41, 50] * 5, "income": [1.0] * 10, "color": ["3"] * 10})
    report = DriftDetector(SIGNATURE).fit(reference).compare(frame)
    assert report.feature("age").current_rows == 2  # "41" read as a number
    assert report.feature("color").current_summary == {"3": 1.0}  # 3 compared as text


def test_logged_inputs_give_gappy_integers_back_and_fill_absent_columns() -> None:
    from closedloop.monitoring._monitor import logged_inputs

    logged = pd.DataFrame({"age": [41.0, None], "color": [3.0, float("nan")], "x": [1, 2]})
    frame = logged_inputs(logged, SIGNATURE)
    assert list(frame.columns) == ["age", "income", "color"]
    assert frame["age"].tolist() == [41, None]
    assert type(frame["color"][0]) is int  # category 3 is compared as "3", not "3.0"
    assert frame["income"].tolist() == [None, None]
