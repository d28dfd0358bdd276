from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from monitoring_support import people
from rich.console import Console

import closedloop.monitoring as monitoring
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import DriftDetector, DriftReport

SCHEMA = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER),
        ColumnSchema("income", LogicalType.FLOAT),
        ColumnSchema("color", LogicalType.CATEGORY),
    )
)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return people(3000, seed=1)


@pytest.fixture(scope="module")
def drifted_report(reference: pd.DataFrame) -> DriftReport:
    current = people(3000, seed=2, age_shift=10, colors=(0.2, 0.3, 0.5))
    return DriftDetector(SCHEMA).fit(reference).compare(current)


def test_public_names_match_all() -> None:
    public = {n for n in vars(monitoring) if not n.startswith("_")}
    assert set(monitoring.__all__) == public - {"annotations"}


def test_shifted_numeric_and_categorical_columns_are_flagged(drifted_report: DriftReport) -> None:
    assert drifted_report.drifted_features == ("age", "color")
    assert drifted_report.share_drifted == pytest.approx(2 / 3)
    age = drifted_report.feature("age")
    assert (age.kind, age.test) == ("numeric", "ks")
    assert age.p_value < 1e-6
    assert age.psi > 0.25
    color = drifted_report.feature("color")
    assert (color.kind, color.test) == ("categorical", "chi2")
    assert color.p_value < 1e-6
    assert color.psi > 0.25
    income = drifted_report.feature("income")
    assert not income.drifted
    assert income.psi < 0.1


def test_an_independent_sample_of_the_same_distribution_is_not_flagged(
    reference: pd.DataFrame,
) -> None:
    report = DriftDetector(SCHEMA).fit(reference).compare(people(3000, seed=3))
    assert report.drifted_features == ()
    assert all(f.psi < 0.05 for f in report.features)


def test_a_significant_but_negligible_shift_is_not_drift() -> None:
    # 50k rows: a shift of 0.05 standard deviations is "significant" for KS but tiny in PSI
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.normal(40, 12, 50_000)})
    cur = pd.DataFrame({"x": rng.normal(40, 12, 50_000) + 0.6})
    x = DriftDetector().fit(ref).compare(cur).feature("x")
    assert x.p_value < 0.05
    assert x.psi < 0.1
    assert not x.drifted


def test_schema_decides_the_kind_and_dtypes_do_without_one() -> None:
    frame = pd.DataFrame({"zip": [1, 2, 3, 1] * 50, "score": np.linspace(0, 1, 200)})
    typed = TableSchema(
        (ColumnSchema("zip", LogicalType.CATEGORY), ColumnSchema("score", LogicalType.FLOAT))
    )
    assert DriftDetector(typed).fit(frame).kinds_ == {"zip": "categorical", "score": "numeric"}
    assert DriftDetector().fit(frame).kinds_ == {"zip": "numeric", "score": "numeric"}
    flags = pd.DataFrame({"flag": [True, False] * 10, "name": ["a", "b"] * 10})
    assert DriftDetector().fit(flags).kinds_ == {"flag": "categorical", "name": "categorical"}


def test_datetime_columns_are_left_out_by_default() -> None:
    frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=20), "x": range(20)})
    assert DriftDetector().fit(frame).columns_ == ("x",)
    schema = TableSchema(
        (ColumnSchema("when", LogicalType.DATETIME), ColumnSchema("x", LogicalType.INTEGER))
    )
    assert DriftDetector(schema).fit(frame).columns_ == ("x",)
    with pytest.raises(InvalidArgumentError, match="datetime"):
        DriftDetector(schema, columns=["when"]).fit(frame)


def test_columns_restrict_the_check(reference: pd.DataFrame) -> None:
    report = DriftDetector(SCHEMA, columns=["color"]).fit(reference).compare(reference[["color"]])
    assert [f.name for f in report.features] == ["color"]


def test_missing_columns_are_named(reference: pd.DataFrame) -> None:
    detector = DriftDetector(SCHEMA).fit(reference)
    with pytest.raises(InvalidArgumentError, match="income"):
        detector.compare(reference.drop(columns=["income"]))
    with pytest.raises(InvalidArgumentError, match="color"):
        DriftDetector(SCHEMA).fit(reference.drop(columns=["color"]))
    with pytest.raises(InvalidArgumentError, match="height"):
        DriftDetector(SCHEMA, columns=["height"]).fit(reference)


def test_compare_before_fit_is_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="fit first"):
        DriftDetector(SCHEMA).compare(reference)


def test_init_only_stores_params_and_fit_learns_trailing_underscore_state(
    reference: pd.DataFrame,
) -> None:
    detector = DriftDetector(alpha=2.0, bins=0)  # not validated before fit
    assert detector.get_params() == {
        "schema": None,
        "alpha": 2.0,
        "psi_threshold": 0.1,
        "bins": 0,
        "columns": None,
    }
    assert not [k for k in vars(detector) if k.endswith("_")]
    with pytest.raises(InvalidArgumentError, match="alpha"):
        detector.fit(reference)
    detector.set_params(alpha=0.01, bins=5).fit(reference)
    learned = {k for k in vars(detector) if k.endswith("_")}
    assert {"columns_", "kinds_", "reference_", "n_reference_rows_"} <= learned
    with pytest.raises(InvalidArgumentError, match="unknown"):
        detector.set_params(treshold=1)


def test_empty_frames_are_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="no rows"):
        DriftDetector(SCHEMA).fit(reference.iloc[:0])
    with pytest.raises(InvalidArgumentError, match="no rows"):
        DriftDetector(SCHEMA).fit(reference).compare(reference.iloc[:0])


def test_missing_values_are_dropped_and_reported(reference: pd.DataFrame) -> None:
    current = people(1000, seed=4)
    current["income"] = current["income"].astype("float64")
    current.loc[:199, "income"] = np.nan
    current["color"] = current["color"].astype(object)
    current.loc[:99, "color"] = None
    report = DriftDetector(SCHEMA).fit(reference).compare(current)
    income, color = report.feature("income"), report.feature("color")
    assert (income.current_rows, income.current_missing_share) == (800, pytest.approx(0.2))
    assert (color.current_rows, color.current_missing_share) == (900, pytest.approx(0.1))
    assert income.reference_missing_share == 0.0
    assert not income.drifted
    assert not color.drifted


def test_a_column_with_no_observed_value_is_reported_not_flagged(
    reference: pd.DataFrame,
) -> None:
    current = people(100, seed=5)
    current["income"] = np.nan
    income = DriftDetector(SCHEMA).fit(reference).compare(current).feature("income")
    assert math.isnan(income.p_value)
    assert math.isnan(income.psi)
    assert income.current_missing_share == 1.0
    assert not income.drifted


def test_summaries_and_plot_distributions(drifted_report: DriftReport) -> None:
    age = drifted_report.feature("age")
    assert age.current_summary["mean"] - age.reference_summary["mean"] == pytest.approx(10, abs=1)
    assert len(age.distribution.edges) == len(age.distribution.labels) + 1
    assert sum(age.distribution.reference) == pytest.approx(1.0)
    assert sum(age.distribution.current) == pytest.approx(1.0)
    color = drifted_report.feature("color")
    assert set(color.reference_summary) == {"red", "green", "blue"}
    assert color.current_summary["blue"] == pytest.approx(0.5, abs=0.03)
    assert set(color.distribution.labels) == {"red", "green", "blue"}


def test_to_dict_is_strict_json(drifted_report: DriftReport) -> None:
    doc = json.loads(json.dumps(drifted_report.to_dict(), allow_nan=False))
    assert doc["drifted_features"] == ["age", "color"]
    assert [f["name"] for f in doc["features"]] == ["age", "income", "color"]
    assert doc["alpha"] == 0.05
    assert doc["psi_threshold"] == 0.1


def test_render_lists_every_feature_and_the_rule(drifted_report: DriftReport) -> None:
    console = Console(record=True, width=200, color_system=None)
    console.print(drifted_report.render())
    text = console.export_text()
    for name in ("age", "income", "color"):
        assert name in text
    assert text.count("DRIFT") == 2
    assert "p-value < 0.05" in text
    assert "PSI ≥ 0.1" in text


def test_render_does_not_read_names_as_markup() -> None:
    frame = pd.DataFrame({"[bold]x[/bold]": [1.0, 2.0, 3.0] * 10})
    report = DriftDetector().fit(frame).compare(frame)
    console = Console(record=True, width=200, color_system=None)
    console.print(report.render())
    assert "[bold]x[/bold]" in console.export_text()


def test_html_is_one_self_contained_page(reference: pd.DataFrame) -> None:
    current = people(500, seed=6, age_shift=10)
    frame = reference.rename(columns={"color": "<b>colour</b>"})
    report = DriftDetector().fit(frame).compare(current.rename(columns={"color": "<b>colour</b>"}))
    page = report.to_html("Drift <of> m/1")

    assert page.startswith("<!DOCTYPE html>")
    assert "Drift &lt;of&gt; m/1" in page
    for name in ("age", "income", "&lt;b&gt;colour&lt;/b&gt;"):
        assert name in page
    assert "<b>colour</b>" not in page
    # plotly.js inlined exactly once, one plot per feature, nothing fetched from the network
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S)
    assert sum(len(s) > 1_000_000 for s in scripts) == 1
    assert page.count("plotly.js v") == 1
    assert page.count('class="plotly-graph-div"') == 3
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.I)
    assert "<link" not in page.lower()
    assert "@import" not in page


def test_categories_compare_as_text_across_dtypes() -> None:
    schema = TableSchema((ColumnSchema("code", LogicalType.CATEGORY),))
    # an integer category with gaps becomes float in pandas; JSON logs give ints or strings
    reference = pd.DataFrame({"code": [1.0, 2.0, np.nan] * 20})
    current = pd.DataFrame({"code": pd.Series([1, "2", None] * 20, dtype=object)})
    code = DriftDetector(schema).fit(reference).compare(current).feature("code")
    assert code.reference_summary == code.current_summary == {"1": 0.5, "2": 0.5}
    assert code.psi == pytest.approx(0.0)


def test_scikit_learn_can_clone_an_unfitted_copy(reference: pd.DataFrame) -> None:
    from sklearn.base import clone

    fitted = DriftDetector(SCHEMA, alpha=0.01, columns=["age"]).fit(reference)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "reference_")
