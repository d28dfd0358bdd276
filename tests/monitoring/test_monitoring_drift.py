from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from monitoring_support import people
from rich.console import Console

import closedloop.monitoring as monitoring
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import ColumnRule, DriftDetector, DriftReport, ks_test

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
    # 3,000 current rows: beyond 1,000 the automatic rule measures distances
    assert drifted_report.drifted_features == ("age", "color")
    assert drifted_report.share_drifted == pytest.approx(2 / 3)
    assert drifted_report.dataset_drifted
    age = drifted_report.feature("age")
    assert (age.kind, age.method, age.threshold) == ("numeric", "wasserstein", 0.1)
    assert age.statistic == pytest.approx(10 / 12, abs=0.1)  # +10 years, std 12
    assert math.isnan(age.p_value)
    assert 0 < age.noise_floor < 0.1
    color = drifted_report.feature("color")
    assert (color.kind, color.method) == ("categorical", "jensenshannon")
    assert color.statistic > 0.2
    income = drifted_report.feature("income")
    assert not income.drifted
    assert income.statistic < 0.1


def test_small_windows_are_tested(reference: pd.DataFrame) -> None:
    current = people(400, seed=7, age_shift=10)
    report = DriftDetector(SCHEMA).fit(reference).compare(current)
    age, color = report.feature("age"), report.feature("color")
    assert (age.method, color.method) == ("ks", "chi2")
    assert (age.statistic, age.p_value) == pytest.approx(ks_test(reference["age"], current["age"]))
    assert age.drifted
    assert age.p_value < 1e-6
    assert math.isnan(age.noise_floor)
    assert not color.drifted
    assert report.drifted_features == ("age",)
    assert not report.dataset_drifted  # 1 of 3 is below the default share 0.5
    assert DriftDetector(SCHEMA, drift_share=0.3).fit(reference).compare(current).dataset_drifted


def test_an_independent_sample_of_the_same_distribution_is_not_flagged(
    reference: pd.DataFrame,
) -> None:
    report = DriftDetector(SCHEMA).fit(reference).compare(people(3000, seed=3))
    assert report.drifted_features == ()
    assert all(f.statistic < 0.05 for f in report.features)
    assert not report.dataset_drifted


def test_a_significant_but_negligible_shift_is_not_drift() -> None:
    # 50k rows: a shift of 0.05 standard deviations is "significant" for KS but tiny in PSI
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.normal(40, 12, 50_000)})
    cur = pd.DataFrame({"x": rng.normal(40, 12, 50_000) + 0.6})
    x = DriftDetector().fit(ref).compare(cur).feature("x")
    assert ks_test(ref["x"], cur["x"])[1] < 0.05
    assert x.method == "wasserstein"
    assert x.statistic == pytest.approx(0.05, abs=0.02)
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
        "rules": None,
        "alpha": 2.0,
        "drift_share": 0.5,
        "bins": 0,
        "columns": None,
        "resamples": None,
        "random_state": 0,
    }
    assert not [k for k in vars(detector) if k.endswith("_")]
    with pytest.raises(InvalidArgumentError, match="alpha"):
        detector.fit(reference)
    detector.set_params(alpha=0.01, bins=5).fit(reference)
    learned = {k for k in vars(detector) if k.endswith("_")}
    assert {"columns_", "kinds_", "rules_", "reference_", "n_reference_rows_"} <= learned
    assert "noise_floors_" in learned
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
    assert math.isnan(income.statistic)
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
    assert doc["drift_share"] == 0.5
    assert doc["dataset_drifted"] is True
    age = doc["features"][0]
    assert (age["method"], age["threshold"], age["p_value"]) == ("wasserstein", 0.1, None)
    assert age["noise_floor"] > 0


def test_render_lists_every_feature_and_the_rule(drifted_report: DriftReport) -> None:
    console = Console(record=True, width=200, color_system=None)
    console.print(drifted_report.render())
    text = console.export_text()
    for name in ("age", "income", "color"):
        assert name in text
    assert text.count("DRIFT") == 3  # two features and the dataset
    assert "DATASET DRIFT" in text
    assert "wasserstein" in text
    assert "jensenshannon" in text
    assert "p < 0.05" in text
    assert "noise floor" in text


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
    assert code.statistic == pytest.approx(0.0)
    assert code.p_value == pytest.approx(1.0)


def test_scikit_learn_can_clone_an_unfitted_copy(reference: pd.DataFrame) -> None:
    from sklearn.base import clone

    fitted = DriftDetector(SCHEMA, alpha=0.01, columns=["age"]).fit(reference)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "reference_")


# per-column rules ------------------------------------------------------------------------------
def test_rules_choose_the_method_and_threshold_per_column(reference: pd.DataFrame) -> None:
    current = people(3000, seed=2, age_shift=3)  # +0.25 std: a Wasserstein of about 0.25
    rules = {"age": ColumnRule("wasserstein", 0.3), "color": ColumnRule("psi")}
    report = DriftDetector(SCHEMA, rules=rules).fit(reference).compare(current)
    age, income, color = report.feature("age"), report.feature("income"), report.feature("color")
    assert (age.method, age.threshold, age.drifted) == ("wasserstein", 0.3, False)
    assert (color.method, color.threshold) == ("psi", 0.2)
    assert income.method == "wasserstein"  # not named: automatic
    assert DriftDetector(SCHEMA).fit(reference).compare(current).feature("age").drifted


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "tv", "hellinger", "ks", "wasserstein"])
def test_every_numeric_method_flags_a_large_shift_and_not_a_resample(method: str) -> None:
    rules = {"age": ColumnRule(method), "income": ColumnRule(method)}  # type: ignore[arg-type]
    detector = DriftDetector(SCHEMA, rules=rules, columns=["age", "income"])
    detector.fit(people(3000, seed=1))
    assert detector.compare(people(2000, seed=2, age_shift=15)).drifted_features == ("age",)
    assert detector.compare(people(2000, seed=3)).drifted_features == ()


@pytest.mark.parametrize("method", ["psi", "jensenshannon", "tv", "hellinger", "chi2"])
def test_every_categorical_method_flags_a_large_shift_and_not_a_resample(method: str) -> None:
    rules = {"color": ColumnRule(method)}  # type: ignore[arg-type]
    detector = DriftDetector(SCHEMA, rules=rules, columns=["color"]).fit(people(3000, seed=1))
    moved = people(2000, seed=2, colors=(0.2, 0.3, 0.5))
    assert detector.compare(moved).drifted_features == ("color",)
    assert detector.compare(people(2000, seed=3)).drifted_features == ()


def test_invalid_rules_are_refused_at_fit(reference: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="not checked") as info:
        DriftDetector(SCHEMA, rules={"height": ColumnRule("psi")}).fit(reference)
    assert "age" in str(info.value.hint)
    with pytest.raises(InvalidArgumentError, match="does not apply"):
        DriftDetector(SCHEMA, rules={"color": ColumnRule("ks")}).fit(reference)
    with pytest.raises(InvalidArgumentError, match="not a ColumnRule"):
        DriftDetector(SCHEMA, rules={"age": "psi"}).fit(reference)  # type: ignore[dict-item]
    for params in ({"drift_share": 0.0}, {"resamples": 0}, {"random_state": -1}):
        with pytest.raises(InvalidArgumentError):
            DriftDetector(SCHEMA, **params).fit(reference)  # type: ignore[arg-type]


# the bugs of issue 9 ---------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["reference", "current"])
def test_an_infinite_value_is_counted_and_left_out(side: str) -> None:
    rng = np.random.default_rng(5)
    clean = pd.DataFrame({"x": rng.normal(0, 1, 400)})
    gappy = clean.copy()
    gappy.loc[0, "x"] = np.inf
    gappy.loc[1, "x"] = -np.inf
    ref, cur = (gappy, clean) if side == "reference" else (clean, gappy)
    x = DriftDetector().fit(ref).compare(cur).feature("x")
    share = x.reference_non_finite_share if side == "reference" else x.current_non_finite_share
    assert share == pytest.approx(2 / 400)
    assert (x.reference_rows if side == "reference" else x.current_rows) == 398
    assert math.isfinite(x.statistic)
    assert not x.drifted
    assert all(math.isfinite(e) for e in x.distribution.edges)
    assert "±inf share" in DriftDetector().fit(ref).compare(cur).to_html()


def test_a_column_of_only_infinite_values_is_reported_not_crashed() -> None:
    ref = pd.DataFrame({"x": np.arange(50.0)})
    x = DriftDetector().fit(ref).compare(pd.DataFrame({"x": [np.inf] * 10})).feature("x")
    assert (x.current_rows, x.current_non_finite_share) == (0, 1.0)
    assert math.isnan(x.statistic)
    assert not x.drifted


def test_integer_column_labels_are_found() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({0: rng.normal(0, 1, 300), 1: rng.choice(["a", "b"], 300)})
    cur = pd.DataFrame({0: rng.normal(3, 1, 300), 1: rng.choice(["a", "b"], 300)})
    report = DriftDetector().fit(ref).compare(cur)
    assert [f.name for f in report.features] == ["0", "1"]
    assert report.drifted_features == ("0",)
    assert DriftDetector(columns=[0]).fit(ref).compare(cur).drifted_features == ("0",)
    with pytest.raises(InvalidArgumentError, match="several columns"):
        DriftDetector().fit(pd.DataFrame([[1, 2]], columns=[0, "0"]))


@pytest.mark.parametrize("n", [200, 5000])  # tested (KS) and measured (Wasserstein)
def test_a_constant_reference_column_drifts_when_the_current_moves_off_it(n: int) -> None:
    ref = pd.DataFrame({"x": [1.0] * n})
    detector = DriftDetector().fit(ref)
    moved = detector.compare(pd.DataFrame({"x": [2.0] * n})).feature("x")
    assert moved.drifted
    assert moved.method == ("ks" if n <= 1000 else "wasserstein")
    if moved.method == "wasserstein":
        assert moved.statistic == pytest.approx(1.0)  # scale |1.0|
    assert not detector.compare(pd.DataFrame({"x": [1.0] * n})).feature("x").drifted
    for method in ("psi", "jensenshannon", "hellinger", "tv"):
        rule = {"x": ColumnRule(method)}  # type: ignore[arg-type]
        fitted = DriftDetector(rules=rule).fit(ref)
        assert fitted.compare(pd.DataFrame({"x": [2.0] * n})).feature("x").drifted, method
        assert not fitted.compare(pd.DataFrame({"x": [1.0] * n})).feature("x").drifted, method


def test_a_third_of_a_standard_deviation_at_a_million_rows_is_flagged() -> None:
    rng = np.random.default_rng(7)
    n = 1_000_000
    ref = pd.DataFrame({"x": rng.normal(0, 1, n)})
    x = DriftDetector().fit(ref).compare(pd.DataFrame({"x": rng.normal(0.3, 1, n)})).feature("x")
    assert x.method == "wasserstein"
    assert x.statistic == pytest.approx(0.3, abs=0.01)
    assert x.noise_floor < 0.01
    assert x.drifted


def test_a_doubled_mean_is_flagged() -> None:
    # the issue: a column whose mean doubled had a PSI of only 0.07-0.09
    rng = np.random.default_rng(8)
    ref = pd.DataFrame({"x": rng.gamma(2.0, 50.0, 20_000)})
    cur = pd.DataFrame({"x": rng.gamma(2.0, 50.0, 5_000) + 100.0})
    assert DriftDetector().fit(ref).compare(cur).feature("x").drifted


# fitted from stored summaries ------------------------------------------------------------------
@dataclass(frozen=True)
class _Numeric:
    values: np.ndarray
    n: int
    missing: int
    nonfinite: int
    std: float


@dataclass(frozen=True)
class _Categorical:
    counts: dict[str, int]
    missing: int


def _summaries(frame: pd.DataFrame, points: int | None = None) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in ("age", "income"):
        x = np.sort(frame[name].to_numpy(dtype=float))
        kept = x if points is None else x[((np.arange(points) + 0.5) * len(x) / points).astype(int)]
        out[name] = _Numeric(kept, len(x), 0, 0, float(x.std()))
    out["color"] = _Categorical(frame["color"].value_counts().to_dict(), 0)
    return out


@pytest.mark.parametrize("n_current", [400, 3000])
def test_from_a_full_profile_the_detector_equals_fit(
    reference: pd.DataFrame, n_current: int
) -> None:
    current = people(n_current, seed=9, age_shift=4)
    fitted = DriftDetector(SCHEMA).fit(reference).compare(current)
    profiled = DriftDetector.from_profile(_summaries(reference), len(reference)).compare(current)
    for a, b in zip(fitted.features, profiled.features, strict=True):
        assert (a.name, a.method, a.drifted) == (b.name, b.method, b.drifted)
        assert a.statistic == pytest.approx(b.statistic, rel=1e-9)
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9, nan_ok=True)
        assert a.noise_floor == pytest.approx(b.noise_floor, rel=1e-9, nan_ok=True)
    assert profiled.reference_rows == len(reference)


def test_from_a_sketch_sizes_stay_true_and_statistics_stay_close() -> None:
    big = people(60_000, seed=1)
    current = people(800, seed=2, age_shift=1)
    exact = DriftDetector(SCHEMA).fit(big).compare(current).feature("income")
    detector = DriftDetector.from_profile(_summaries(big, points=2000), len(big))
    sketched = detector.compare(current).feature("income")
    assert sketched.reference_rows == 60_000  # the true size, not the sketch's
    assert sketched.statistic == pytest.approx(exact.statistic, abs=1e-3)
    assert sketched.p_value == pytest.approx(exact.p_value, rel=0.05)
    rules = {"income": ColumnRule("wasserstein")}
    w = DriftDetector.from_profile(_summaries(big, points=2000), len(big), rules=rules)
    w_exact = DriftDetector(SCHEMA, rules=rules).fit(big).compare(current).feature("income")
    assert w.compare(current).feature("income").statistic == pytest.approx(
        w_exact.statistic, rel=0.05
    )


def test_from_profile_checks_its_input() -> None:
    with pytest.raises(InvalidArgumentError, match="no columns"):
        DriftDetector.from_profile({}, 0)
    with pytest.raises(TypeError, match="not a column profile"):
        DriftDetector.from_profile({"x": [1, 2, 3]}, 3)  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match="does not apply"):
        DriftDetector.from_profile(
            {"c": _Categorical({"a": 1}, 0)}, 1, rules={"c": ColumnRule("ks")}
        )
    with pytest.raises(InvalidArgumentError, match="alpha"):
        DriftDetector.from_profile({"c": _Categorical({"a": 1}, 0)}, 1, alpha=0)


@pytest.mark.parametrize("rows", [400, 5_000])  # tests and distances
def test_details_off_keeps_every_verdict_and_statistic(reference: pd.DataFrame, rows: int) -> None:
    detector = DriftDetector().fit(reference)
    current = people(rows, seed=9, age_shift=6)
    full = detector.compare(current)
    lean = detector.compare(current, details=False)
    for a, b in zip(full.features, lean.features, strict=True):
        assert (a.name, a.method, a.drifted, a.threshold) == (
            b.name,
            b.method,
            b.drifted,
            b.threshold,
        )
        assert a.statistic == b.statistic
        assert a.p_value == b.p_value or (math.isnan(a.p_value) and math.isnan(b.p_value))
        assert a.current_summary
        assert not b.current_summary
        assert not b.reference_summary
        assert b.distribution.labels == ()
    assert full.drifted_features == lean.drifted_features
    assert "age" in lean.drifted_features
