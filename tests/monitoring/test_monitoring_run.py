"""``monitor_run`` end to end: a real model, its logged traffic, drift, labels, alerts, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from monitoring_support import SIGNATURE, people
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

from closedloop import data
from closedloop.cli import app
from closedloop.monitoring import (
    MonitorConfig,
    list_alerts,
    list_windows,
    merge_windows,
    monitor_run,
)
from closedloop.predictions import attach_labels
from closedloop.registry import register_model
from closedloop.testing._prediction_log import log_request
from closedloop.workspace import Workspace

T0 = 1_700_000_000_000


def _labelled(frame: pd.DataFrame, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    logit = (frame["age"] - 40) / 8 + (frame["color"] == "red") * 1.0
    return pd.Series((rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int))


def _model_version(ws: Workspace):
    train = people(3_000, seed=1)
    train["y"] = _labelled(train, 11)
    dataset = data.ingest_frame(ws, train, "train", source="test").version
    model = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(handle_unknown="ignore"), ["color"])], remainder="passthrough"
        ),
        LogisticRegression(max_iter=2000),
    ).fit(train[list(SIGNATURE.names)], train["y"])
    version = register_model(
        ws,
        "m",
        model,
        signature=SIGNATURE,
        target="y",
        classes=["0", "1"],
        dataset_version_id=dataset.id,
    )
    return version, model


def _serve(ws: Workspace, version, model, frame: pd.DataFrame, t0: int, prefix: str) -> list[str]:
    ids = []
    x = frame[list(SIGNATURE.names)]
    proba = model.predict_proba(x)
    for k, start in enumerate(range(0, len(frame), 100)):
        part = slice(start, start + 100)
        rid = f"{prefix}{k}"
        log_request(
            ws,
            version.id,
            x.iloc[part],
            [str(v) for v in proba[part].argmax(axis=1)],
            request_id=rid,
            time=t0 + k * 1000,
            probabilities=proba[part],
            classes=["0", "1"],
        )
        ids.append(rid)
    return ids


def test_monitor_run_flags_a_shift_estimates_then_realises_performance(
    workspace: Workspace,
) -> None:
    version, model = _model_version(workspace)
    calm = people(2_000, seed=2)
    shifted = people(2_000, seed=3, age_shift=15)
    _serve(workspace, version, model, calm, T0, "a")
    shifted_ids = _serve(workspace, version, model, shifted, T0 + 100_000, "b")
    rule = {"name": "column-drift", "metric": "drift.column.*.drifted", "op": ">=", "threshold": 1}
    config = MonitorConfig().with_options(windows=["count:2000"], alerts=[rule])
    first = monitor_run(workspace, "m@latest", config=config, now=T0 + 10**7)
    complete = first.completed
    assert len(complete) == 2
    calm_w, shifted_w = (w.summary for w in complete)
    assert not calm_w.drift["dataset_drifted"]
    assert "age" in shifted_w.drift["drifted_features"]
    assert "age" not in calm_w.drift["drifted_features"]
    # estimated before any label arrived; nothing realised yet
    assert 0.5 < calm_w.values["estimated.accuracy"] <= 1
    assert "performance.accuracy" not in shifted_w.values
    assert calm_w.quality.missing_rate == 0
    # the drift alert fired for the shifted window only
    fired = list_alerts(workspace, version.id)
    assert [(a.subject, a.window_id) for a in fired] == [("age", complete[1].window.id)]
    # labels arrive: the next round recomputes that window's realised accuracy
    truth = _labelled(shifted, 12)
    rows = [
        (rid, r, int(truth[k * 100 + r])) for k, rid in enumerate(shifted_ids) for r in range(100)
    ]
    attach_labels(workspace, rows)
    second = monitor_run(workspace, "m@latest", config=config, now=T0 + 10**7)
    assert not second.windows  # nothing new was logged
    (refreshed,) = second.refreshed
    values = refreshed.summary.values
    assert values["performance.label_coverage"] == 1.0
    assert abs(values["performance.accuracy"] - values["estimated.accuracy"]) < 0.1
    stored = list_windows(workspace, version.id, "count:2000")
    assert [w.window.id for w in stored] == [w.window.id for w in complete]
    assert "performance.accuracy" in stored[1].summary.values
    merged = merge_windows(workspace, version.id, "count:2000")
    assert merged.n_rows == 4_000
    assert merged.columns["age"]["statistic"] > 0


def test_the_cli_runs_lists_and_reports(workspace: Workspace, tmp_path) -> None:
    version, model = _model_version(workspace)
    _serve(workspace, version, model, people(1_000, seed=4), T0, "a")
    runner = CliRunner()
    base = ["--workspace", str(tmp_path)]
    got = runner.invoke(app, [*base, "monitor", "run", "m@latest", "-w", "count:500", "--json"])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.output.strip().splitlines()[-1])
    assert [w["rows"] for w in doc["windows"]] == [500, 500]
    listed = runner.invoke(app, [*base, "monitor", "windows", "m@latest"])
    assert listed.exit_code == 0
    assert "count:500" in listed.output
    page = tmp_path / "out" / "timeline.html"
    rep = runner.invoke(app, [*base, "monitor", "report", "m@latest", "-o", str(page)])
    assert rep.exit_code == 0, rep.output
    assert "<script" in page.read_text()
    assert 'src="http' not in page.read_text()  # plotly.js inlined, nothing fetched
    bad = runner.invoke(app, [*base, "monitor", "run", "m@latest", "-w", "rows:10"])
    assert bad.exit_code != 0
    assert "Traceback" not in bad.output


def test_follow_reports_a_failed_round_and_goes_on(workspace: Workspace, monkeypatch) -> None:
    from closedloop.errors import NotFoundError, StorageError
    from closedloop.monitoring import _run

    calls: list[int] = []
    real = _run.monitor_run

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise StorageError("database is locked", hint="try again")
        return real(*args, **kwargs)

    version, model = _model_version(workspace)
    _serve(workspace, version, model, people(500, seed=4), T0, "a")
    monkeypatch.setattr(_run, "monitor_run", flaky)
    config = MonitorConfig().with_options(windows=["count:100"])
    errors: list[Exception] = []
    rounds: list[object] = []
    done = _run.follow(
        workspace,
        "m@latest",
        config=config,
        interval=0,
        rounds=3,
        on_round=rounds.append,
        on_error=errors.append,
    )
    assert done == 3
    assert len(rounds) == 2
    assert [e.message for e in errors] == ["database is locked"]
    # a first round that fails is the caller's mistake: raised
    with pytest.raises(NotFoundError):
        _run.follow(
            workspace, "nope@latest", config=config, interval=0, rounds=2, on_error=errors.append
        )


def test_a_stored_window_can_be_the_reference(workspace: Workspace, tmp_path) -> None:
    from closedloop.errors import InvalidArgumentError, NotFoundError
    from closedloop.monitoring import build_profile

    version, model = _model_version(workspace)
    calm = people(1_000, seed=5)
    ids = _serve(workspace, version, model, calm, T0, "a")
    truth = _labelled(calm, 13)
    attach_labels(
        workspace,
        [(rid, r, int(truth[k * 100 + r])) for k, rid in enumerate(ids) for r in range(100)],
    )
    config = MonitorConfig().with_options(windows=["count:500"])
    first, second = monitor_run(workspace, "m@latest", config=config, now=T0 + 10**7).completed
    profile = build_profile(workspace, version, f"window:{second.window.id}", name="recent")
    assert profile.source == f"window:{second.window.id}"
    assert profile.n_rows == 500
    # the window's rows exactly: rows 500..999 of what was served
    assert profile.columns["color"].counts == calm["color"].iloc[500:].value_counts().to_dict()
    assert profile.columns["age"].n == 500
    assert 0.5 < profile.performance["accuracy"] <= 1  # its labels stood for the target
    assert profile.calibrator is not None
    # monitoring against it: the first window, same distribution, does not drift
    again = monitor_run(
        workspace,
        "m@latest",
        config=config.with_options(windows=["count:250"], profile="recent"),
        now=T0 + 10**7,
    )
    assert all(not w.summary.drift["dataset_drifted"] for w in again.completed)
    runner = CliRunner()
    base = ["--workspace", str(tmp_path)]
    got = runner.invoke(
        app,
        [*base, "monitor", "profile", "m@latest", "-r", f"window:{first.window.id}", "--json"],
    )
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["source"] == f"window:{first.window.id}"
    with pytest.raises(InvalidArgumentError, match="not a window id"):
        build_profile(workspace, version, "window:last")
    with pytest.raises(NotFoundError, match="no monitoring window 999"):
        build_profile(workspace, version, "window:999")
