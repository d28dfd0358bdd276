"""The per-window HTML page (SDK and CLI), picking a window, and docs/monitoring.md's config."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from monitoring_support import people
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

from closedloop import data
from closedloop.cli import app
from closedloop.cli._app import main
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.monitoring import (
    MonitorConfig,
    find_window,
    list_windows,
    monitor_run,
    window_html,
)
from closedloop.monitoring._reference import NumericReference
from closedloop.monitoring._sketch import OTHER, NumericSketch
from closedloop.monitoring._window_page import categorical_bins, numeric_bins
from closedloop.predictions import attach_labels
from closedloop.registry import register_model
from closedloop.testing._prediction_log import log_request
from closedloop.workspace import Workspace

T0 = 1_700_000_000_000
EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SIGNATURE = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER),
        ColumnSchema("income", LogicalType.FLOAT),
        ColumnSchema("color", LogicalType.CATEGORY),
        ColumnSchema(EVIL, LogicalType.CATEGORY),  # a column named like markup
    )
)
DOC = Path(__file__).parents[2] / "docs" / "monitoring.md"


def _frame(n: int, seed: int, *, age_shift: float = 0.0, evil: bool = False) -> pd.DataFrame:
    frame = people(n, seed, age_shift=age_shift)
    rng = np.random.default_rng(seed + 100)
    values = ["a", "b", EVIL] if evil else ["a", "b"]
    frame[EVIL] = rng.choice(values, n)
    return frame


def _labels(frame: pd.DataFrame, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    logit = (frame["age"] - 40) / 8 + (frame["color"] == "red") * 1.0
    return pd.Series((rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int))


def _serve(ws: Workspace, model, frame: pd.DataFrame, t0: int, prefix: str) -> list[str]:
    x = frame[list(SIGNATURE.names)]
    proba = model.predict_proba(x)
    ids = []
    for k, start in enumerate(range(0, len(frame), 100)):
        part = slice(start, start + 100)
        ids.append(f"{prefix}{k}")
        log_request(
            ws,
            "m/1",
            x.iloc[part],
            [str(v) for v in proba[part].argmax(axis=1)],
            request_id=ids[-1],
            time=t0 + k * 1000,
            probabilities=proba[part],
            classes=["0", "1"],
        )
    return ids


@pytest.fixture
def monitored(workspace: Workspace) -> tuple[Workspace, list[str], pd.DataFrame]:
    """m/1 served 2,000 calm rows then 2,000 with age + 15 (and a markup category); run."""
    train = _frame(3_000, seed=1)
    train["y"] = _labels(train, 11)
    dataset = data.ingest_frame(workspace, train, "train", source="test").version
    model = make_pipeline(
        ColumnTransformer(
            [("c", OneHotEncoder(handle_unknown="ignore"), ["color", EVIL])],
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=2000),
    ).fit(train[list(SIGNATURE.names)], train["y"])
    register_model(
        workspace,
        "m",
        model,
        signature=SIGNATURE,
        target="y",
        classes=["0", "1"],
        dataset_version_id=dataset.id,
    )
    _serve(workspace, model, _frame(2_000, seed=2), T0, "a")
    shifted = _frame(2_000, seed=3, age_shift=15, evil=True)
    ids = _serve(workspace, model, shifted, T0 + 100_000, "b")
    monitor_run(workspace, "m/1", config=_config(), now=T0 + 10**7)
    return workspace, ids, shifted


def _config() -> MonitorConfig:
    rule = {"name": "column-drift", "metric": "drift.column.*.drifted", "op": ">=", "threshold": 1}
    return MonitorConfig().with_options(
        windows=["count:2000"], alerts=[rule], sensitive=["color"], min_group_size=10
    )


def _row(page: str, table: str, name: str) -> str:
    body = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"(\w+)\">(.*?)</tr>", body, flags=re.S)
    return next(f"{cls}|{cells}" for cls, cells in rows if f">{name}</a>" in cells)


def _offline(page: str) -> None:
    """No script or style from the network; plotly.js inlined once.

    plotly.js itself holds URLs in its code (its logo's link, map tile servers) that a bar
    chart never requests; everything else in the page holds none.
    """
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", page, flags=re.I)
    assert not re.search(r"<link\b", page, flags=re.I)
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S | re.I)
    bundles = [s for s in scripts if len(s) > 1_000_000]
    assert len(bundles) == 1  # plotly.js inlined once
    assert page.count("window.PlotlyConfig") == 1
    rest = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S | re.I)
    others = [s for s in scripts if len(s) <= 1_000_000]
    assert others  # the figures
    assert not re.search(r"https?://|//cdn", rest + "".join(others), flags=re.I)


def test_the_page_of_a_drifted_window(monitored) -> None:
    ws, _, _ = monitored
    calm, shifted = list_windows(ws, "m/1", "count:2000")
    page = window_html(ws, shifted)
    s = shifted.summary
    assert page.startswith("<!DOCTYPE html>")
    _offline(page)
    # escaped everywhere: the column name and the category value, tables and figures alike
    assert EVIL not in page
    assert ESCAPED in page
    before = re.findall(r"(.{14})alert\(1\)", page)
    assert before
    assert {b for b in before} == {"&lt;script&gt;"}, set(before)  # tables, figures, alerts
    # the header
    w = shifted.window
    assert f"{w.first_position} to {w.last_position}" in page
    assert f"<td>{w.n_rows}</td>" in page
    assert f"<td>{w.n_requests}</td>" in page
    # the drift table: age drifted, listed first, with the stored statistic and threshold
    age = next(f for f in s.drift["features"] if f["name"] == "age")
    assert age["drifted"]
    row = _row(page, "drift", "age")
    assert row.startswith("drifted|")
    assert f">{age['statistic']:.4g}<" in row
    assert f">{age['threshold']:g}<" in row
    drift_table = page.split('<table id="drift">', 1)[1].split("</table>", 1)[0]
    classes = re.findall(r'<tr class="(drifted|ok)">', drift_table)
    assert classes == sorted(classes, key=lambda c: c != "drifted")
    assert _row(page, "drift", "income").startswith("ok|")
    # a figure per input column plus score and label; the category shows up escaped in one
    assert page.count('class="plotly-graph-div"') == len(SIGNATURE) + 2
    assert "reference percentile bins" in page
    # prediction drift and quality as stored
    score = next(f for f in s.prediction["features"] if f["name"] == "score")
    assert f">{score['statistic']:.4g}<" in _row(page, "prediction", "score")
    assert f"{s.quality.unseen_rate:.1%}" in page
    assert f"{ESCAPED} (" in page  # the unseen value in the quality table
    # estimated performance before labels (fairness needs labels)
    assert f">{s.estimated['accuracy']:.4g}<" in page
    assert "Fairness by group" not in page
    # the drift alert fired on this window and is shown here, not on the calm one
    assert "fired here" in page
    assert "column-drift" in page
    assert "No alert is linked to this window." in window_html(ws, calm)


def test_the_page_shows_realised_next_to_estimated_once_labels_arrive(monitored) -> None:
    ws, ids, shifted = monitored
    truth = _labels(shifted, 12)
    attach_labels(
        ws, [(rid, r, int(truth[k * 100 + r])) for k, rid in enumerate(ids) for r in range(100)]
    )
    (refreshed,) = monitor_run(ws, "m/1", config=_config(), now=T0 + 10**7).refreshed
    page = window_html(ws, find_window(ws, "m/1", last=True), title="labelled")
    v = refreshed.summary.values
    row = re.search(r"<tr><td>accuracy</td>(.*?)</tr>", page, flags=re.S)
    assert row is not None
    cells = re.findall(r">([^<]*)</td>", row.group(1))
    assert cells[:3] == [
        f"{v['performance.accuracy']:.4g}",
        f"{v['estimated.accuracy']:.4g}",
        f"{v['estimated.accuracy'] - v['performance.accuracy']:+.4g}",
    ]
    assert "label coverage 100.0%" in page
    assert "<title>labelled</title>" in page
    fairness = refreshed.summary.fairness["color"]
    assert "Fairness by group" in page
    assert "<td>red</td>" in page
    dp = fairness["demographic_parity_difference"]
    assert f'<th>demographic parity difference</th><td class="num">{dp:.4g}</td>' in page


def test_find_window_by_id_position_or_last(monitored) -> None:
    ws, _, _ = monitored
    calm, shifted = list_windows(ws, "m/1")
    assert find_window(ws, "m/1", last=True).window.id == shifted.window.id
    assert find_window(ws, "m/1", window_id=calm.window.id).window.id == calm.window.id
    inside = calm.window.last_position
    assert find_window(ws, "m/1", position=inside).window.id == calm.window.id
    assert find_window(ws, "m/1", position=shifted.window.first_position).window.id == (
        shifted.window.id
    )
    with pytest.raises(NotFoundError, match="holds log position") as e:
        find_window(ws, "m/1", position=10**9)
    assert e.value.hint
    assert "monitor windows" in e.value.hint
    with pytest.raises(NotFoundError, match="no monitoring window"):
        find_window(ws, "m/1", window_id=10**6)
    with pytest.raises(InvalidArgumentError, match="pick one window"):
        find_window(ws, "m/1", last=True, window_id=calm.window.id)
    # sliding windows: the one starting latest; two specs holding it: name one
    monitor_run(ws, "m/1", config=_config(), windows=["count:2000/1000"], now=T0 + 10**7)
    with pytest.raises(InvalidArgumentError, match="2 specs") as e:
        find_window(ws, "m/1", position=inside)
    assert e.value.hint
    assert "count:2000/1000" in e.value.hint
    sliding = find_window(ws, "m/1", position=inside, monitor="count:2000/1000").window
    starts = [
        w.window.first_position
        for w in list_windows(ws, "m/1", "count:2000/1000")
        if w.window.first_position <= inside <= w.window.last_position
    ]
    assert len(starts) == 2
    assert sliding.first_position == max(starts)


def test_the_cli_writes_one_window_or_names_the_problem(
    monitored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _, _ = monitored
    calm, shifted = list_windows(ws, "m/1")
    runner = CliRunner()
    base = ["--workspace", str(tmp_path), "monitor", "report", "m/1"]
    for how, expected in (
        (["--last"], shifted),
        (["--position", str(calm.window.first_position + 1)], calm),
        (["--window-id", str(shifted.window.id), "-w", "count:2000"], shifted),
    ):
        out = tmp_path / "pages" / f"{expected.window.id}-{how[0]}.html"
        got = runner.invoke(app, [*base, "-o", str(out), *how])
        assert got.exit_code == 0, got.output
        page = out.read_text(encoding="utf-8")
        assert f"<th>window id</th><td>{expected.window.id}</td>" in page
        _offline(page)
    timeline = tmp_path / "pages" / "timeline.html"
    assert runner.invoke(app, [*base, "-o", str(timeline)]).exit_code == 0
    assert "window id" not in timeline.read_text(encoding="utf-8")
    # no such window: one line naming it, one with the fix, no traceback
    capsys.readouterr()
    missing = str(tmp_path / "missing.html")
    code = main(["--workspace", str(tmp_path), "monitor", "report", "m/1", "-o", missing,
                 "--position", "999999999"])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0
    assert "holds log position 999999999" in err
    assert "closedloop monitor windows m/1" in err
    assert "Traceback" not in err
    assert not Path(missing).exists()
    code = main(["--workspace", str(tmp_path), "monitor", "report", "m/1", "-o", missing,
                 "--last", "--window-id", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0
    assert "--window-id N, --position N, --last" in err
    assert "Traceback" not in err


def test_numeric_bins_group_the_reference_bins() -> None:
    ref = NumericReference.of(np.arange(1_000, dtype=float))
    window = NumericSketch.of(np.arange(500, 1_000, dtype=float), ref.edges)
    labels, r, c = numeric_bins(ref, window, max_bars=10)
    assert len(labels) == len(set(labels)) == 10
    assert labels[0].startswith("< ")
    assert labels[-1].startswith("≥ ")
    assert sum(r) == pytest.approx(1)
    assert sum(c) == pytest.approx(1)
    assert sum(c[:5]) == pytest.approx(0, abs=0.02)  # the window holds the upper half only
    other = NumericReference.of(np.zeros(10))  # rebuilt: other (three) bins
    assert numeric_bins(other, window) is None


def test_categorical_bins_fold_the_rare_categories() -> None:
    ref = {f"c{i}": 10 for i in range(20)} | {"big": 100}
    cur = {"big": 50, "new": 30, OTHER: 20}
    labels, r, c = categorical_bins(ref, cur, top=3)
    assert labels[:2] == ["big", "new"]
    assert labels[-1] == "other (20 categories)"  # 19 of c*, and the sketch's own overflow
    assert len(labels) == 4
    assert sum(r) == pytest.approx(1)
    assert sum(c) == pytest.approx(1)


def test_the_config_example_in_the_docs_validates() -> None:
    text = DOC.read_text(encoding="utf-8")
    marker = "<!-- monitoring-config-example -->"
    assert marker in text
    block = re.search(r"```yaml\n(.*?)```", text.split(marker, 1)[1], flags=re.S)
    assert block is not None
    section = yaml.safe_load(block.group(1))["monitoring"]
    config = MonitorConfig.from_settings(section)
    assert config.windows
    assert config.rules
    assert config.sensitive
    from closedloop.monitoring import rules_from_config, sinks_from_config

    assert rules_from_config(list(config.alerts or ()))
    assert sinks_from_config(list(config.sinks or ()))
