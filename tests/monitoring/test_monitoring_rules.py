from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import (
    ColumnRule,
    DriftDetector,
    ResolvedRule,
    dataset_drift,
    noise_floor,
    parse_rule,
    resolve_rule,
)
from closedloop.monitoring._rules import (
    AUTO_TEST_MAX_N,
    DEFAULT_THRESHOLDS,
    EARLY_MARGIN,
    EARLY_RESAMPLES,
    FloorSampler,
    NullModel,
    auto_resamples,
    effective_size,
    null_model_categorical,
)

ALPHA = 0.05
WINDOWS = 100
# binomial slack: a column may flag alpha * W windows plus three standard deviations
MAX_FLAGS = math.floor(WINDOWS * ALPHA + 3 * math.sqrt(WINDOWS * ALPHA * (1 - ALPHA)))
DISTANCES = ("psi", "jensenshannon", "tv", "hellinger")
CATEGORIES = np.array([f"c{i:02d}" for i in range(40)])
SHARES = np.random.default_rng(0).dirichlet(np.full(40, 2.0))
SCHEMA = TableSchema(
    (
        ColumnSchema("x", LogicalType.FLOAT),
        ColumnSchema("n", LogicalType.INTEGER),
        ColumnSchema("cat", LogicalType.CATEGORY),
    )
)


def population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A float, a small-integer and a 40-category column."""
    return pd.DataFrame(
        {
            "x": rng.lognormal(3, 0.7, n),
            "n": rng.poisson(3, n),
            "cat": rng.choice(CATEGORIES, n, p=SHARES),
        }
    )


# ColumnRule and resolve_rule -----------------------------------------------------------------
def test_the_auto_rule_tests_small_windows_and_measures_large_ones() -> None:
    assert resolve_rule("numeric", AUTO_TEST_MAX_N) == ResolvedRule("ks", 0.05, True)
    assert resolve_rule("numeric", AUTO_TEST_MAX_N + 1) == ResolvedRule("wasserstein", 0.1, True)
    assert resolve_rule("categorical", 1000) == ResolvedRule("chi2", 0.05, True)
    assert resolve_rule("categorical", 1001) == ResolvedRule("jensenshannon", 0.1, True)
    assert resolve_rule("numeric", 10, alpha=0.01).threshold == 0.01


def test_named_methods_take_their_default_or_given_threshold() -> None:
    assert dict(DEFAULT_THRESHOLDS) == {
        "ks": 0.05,
        "chi2": 0.05,
        "psi": 0.2,
        "jensenshannon": 0.1,
        "wasserstein": 0.1,
        "tv": 0.1,
        "hellinger": 0.1,
    }
    assert resolve_rule("numeric", 5, ColumnRule("psi")) == ResolvedRule("psi", 0.2, True)
    assert resolve_rule("numeric", 10**6, ColumnRule("ks")).method == "ks"  # no switch
    assert resolve_rule("numeric", 10, ColumnRule("ks"), alpha=0.01).threshold == 0.01
    assert resolve_rule("categorical", 9, ColumnRule("tv", 0.3, noise_floor=False)) == (
        ResolvedRule("tv", 0.3, False)
    )


@pytest.mark.parametrize(
    ("kind", "method"), [("numeric", "chi2"), ("categorical", "ks"), ("categorical", "wasserstein")]
)
def test_a_method_of_the_other_kind_is_refused_with_the_choices(kind: str, method: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"{method}.*{kind}") as info:
        resolve_rule(kind, 10, ColumnRule(method), column="c")  # type: ignore[arg-type]
    assert info.value.hint is not None
    assert "auto" in info.value.hint


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "kolmogorov"}, "unknown drift method"),
        ({"method": "auto", "threshold": 0.1}, "takes no threshold"),
        ({"method": "ks", "threshold": 1.5}, r"p-value level in \(0, 1\)"),
        ({"method": "chi2", "threshold": 0.0}, r"p-value level in \(0, 1\)"),
        ({"method": "psi", "threshold": 0.0}, "must be positive"),
        ({"method": "wasserstein", "threshold": -1.0}, "must be positive"),
        ({"method": "tv", "threshold": math.nan}, "finite number"),
        ({"method": "tv", "threshold": "0.1"}, "finite number"),
    ],
)
def test_invalid_rules_name_the_problem_and_the_fix(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as info:
        ColumnRule(**kwargs)  # type: ignore[arg-type]
    assert info.value.hint


def test_parse_rule_reads_column_method_and_threshold() -> None:
    assert parse_rule("age=psi:0.25") == ("age", ColumnRule("psi", 0.25))
    assert parse_rule(" city = jensenshannon ") == ("city", ColumnRule("jensenshannon"))
    assert ColumnRule("psi", 0.25).spec == "psi:0.25"
    assert ColumnRule().spec == "auto"
    for bad in ("age", "=psi", "age=", "age=psi:high", "age=magic"):
        with pytest.raises(InvalidArgumentError):
            parse_rule(bad)


def test_dataset_drift_is_a_share_of_columns() -> None:
    assert dataset_drift([True, False]) == (0.5, True)
    assert dataset_drift([True, False, False]) == (pytest.approx(1 / 3), False)
    assert dataset_drift([True, False, False], drift_share=0.3) == (pytest.approx(1 / 3), True)
    assert dataset_drift([]) == (0.0, False)
    for bad in (0.0, 1.5, True):
        with pytest.raises(InvalidArgumentError, match="drift_share"):
            dataset_drift([True], drift_share=bad)


def test_a_distance_must_be_above_the_floor_and_at_least_the_threshold() -> None:
    rule = ResolvedRule("jensenshannon", 0.1, True)
    assert rule.is_drifted(0.1, math.nan, 0.05)
    assert not rule.is_drifted(0.099, math.nan, 0.05)
    assert not rule.is_drifted(0.2, math.nan, 0.2)  # at the floor: not above it
    assert rule.is_drifted(0.21, math.nan, 0.2)
    assert not rule.is_drifted(math.nan, math.nan, math.nan)
    assert ResolvedRule("jensenshannon", 0.1, False).is_drifted(0.2, math.nan, 0.5)
    test = ResolvedRule("ks", 0.05, True)
    assert test.is_drifted(0.9, 0.049, math.nan)
    assert not test.is_drifted(0.9, 0.05, math.nan)
    assert not test.is_drifted(0.9, math.nan, math.nan)


# the noise floor -----------------------------------------------------------------------------
def test_noise_floor_is_seeded_and_shrinks_with_the_window() -> None:
    null = null_model_categorical("jensenshannon", list(SHARES * 10_000))
    floors = [noise_floor(null, n, seed=1) for n in (100, 1000, 10_000)]
    assert floors == sorted(floors, reverse=True)
    assert noise_floor(null, 1000, seed=1) == floors[1]
    assert noise_floor(null, 1000, seed=2) != floors[1]
    # roughly sqrt((k - 1) / (8 n)) for 40 categories: the JS distance of pure noise
    assert floors[1] == pytest.approx(math.sqrt(39 / 8000), rel=0.25)
    assert noise_floor(null, 1000, alpha=0.01, seed=1) > floors[1]


def test_noise_floor_of_a_single_category_is_zero_and_wasserstein_uses_its_support() -> None:
    assert noise_floor(null_model_categorical("tv", [10.0]), 50) == 0.0
    two_points = NullModel("wasserstein", np.array([0.5, 0.5]), np.array([0.0, 1.0]), scale=0.5)
    # |share at 0 - 0.5| / 0.5, whose 0.95-quantile at n = 100 is about 1.96 * 0.1
    assert noise_floor(two_points, 100, resamples=2000) == pytest.approx(0.196, abs=0.03)
    with pytest.raises(InvalidArgumentError, match="test"):
        noise_floor(NullModel("ks", np.array([1.0]), np.empty(0)), 10)
    with pytest.raises(InvalidArgumentError):
        noise_floor(two_points, 0)


def test_resamples_default_to_1000_and_shrink_on_wide_columns() -> None:
    assert auto_resamples(40) == 1000
    assert auto_resamples(2000) == 1000
    assert auto_resamples(5000) == 400
    assert auto_resamples(10**6) == 200


def test_effective_size_counts_the_reference_noise() -> None:
    assert effective_size(3000, 3000) == 1500
    assert effective_size(10**7, 500) == 500
    assert effective_size(1, 1) == 1


def test_floors_are_cached_per_column_method_and_size_and_reproducible() -> None:
    rng = np.random.default_rng(3)
    ref = population(5000, rng)
    # thresholds no distance falls below: a floor is drawn only when it can decide
    rules = {"cat": ColumnRule("tv", threshold=1e-12), "x": ColumnRule("psi", threshold=1e-12)}
    windows = [population(n, rng) for n in (300, 300, 700)]
    a = DriftDetector(SCHEMA, rules=rules).fit(ref)
    first = [a.compare(w) for w in windows]
    assert set(a.noise_floors_) == {
        (c, m, n) for c, m in (("cat", "tv"), ("x", "psi")) for n in (300, 700)
    }
    b = DriftDetector(SCHEMA, rules=rules).fit(ref)
    again = [b.compare(w) for w in reversed(windows)][::-1]
    assert [r.to_dict() for r in first] == [r.to_dict() for r in again]
    assert math.isnan(first[0].feature("n").noise_floor)  # a test has none


def test_a_floor_is_drawn_only_when_it_can_decide() -> None:
    rng = np.random.default_rng(4)
    ref = population(5000, rng)
    detector = DriftDetector(SCHEMA, rules={"x": ColumnRule("psi")}).fit(ref)
    same = detector.compare(population(2000, rng)).feature("x")
    assert same.statistic < same.threshold
    assert not same.drifted
    assert math.isnan(same.noise_floor)
    assert not detector.noise_floors_
    shifted = population(2000, rng)
    shifted["x"] = shifted["x"] + 5 * shifted["x"].std()
    moved = detector.compare(shifted).feature("x")
    assert moved.drifted
    assert moved.statistic > moved.noise_floor > 0


# false positives on unchanged data -----------------------------------------------------------
def _flag_counts(detector: DriftDetector, windows: list[pd.DataFrame]) -> dict[str, int]:
    counts = dict.fromkeys(detector.columns_, 0)
    for window in windows:
        for f in detector.compare(window).features:
            counts[f.name] += f.drifted
    return counts


def _all_rules(method: str, threshold: float | None) -> dict[str, ColumnRule]:
    return {c: ColumnRule(method, threshold) for c in ("x", "n", "cat")}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return population(5000, np.random.default_rng(11))


@pytest.fixture(scope="module")
def resampled_windows(reference: pd.DataFrame) -> list[pd.DataFrame]:
    """100 windows of 500 rows drawn (with replacement) from the reference itself."""
    rng = np.random.default_rng(12)
    return [reference.iloc[rng.integers(0, len(reference), 500)] for _ in range(WINDOWS)]


@pytest.mark.parametrize("method", ["auto", *DISTANCES])
def test_windows_drawn_from_the_reference_flag_at_most_alpha(
    reference: pd.DataFrame, resampled_windows: list[pd.DataFrame], method: str
) -> None:
    # a tiny threshold: only the noise floor stands between the distance and a flag
    rules = _all_rules(method, None if method == "auto" else 1e-6)
    detector = DriftDetector(SCHEMA, rules=rules, alpha=ALPHA).fit(reference)
    counts = _flag_counts(detector, resampled_windows)
    assert all(n <= MAX_FLAGS for n in counts.values()), counts
    if method != "auto":
        # without the floor every one of these windows would be flagged
        plain = {c: ColumnRule(method, 1e-6, noise_floor=False) for c in rules}  # type: ignore[arg-type]
        unfloored = _flag_counts(
            DriftDetector(SCHEMA, rules=plain).fit(reference), resampled_windows
        )
        assert min(unfloored.values()) >= 0.9 * WINDOWS, unfloored


@pytest.mark.parametrize("method", ["wasserstein", "ks"])
def test_numeric_windows_drawn_from_the_reference_flag_at_most_alpha(
    reference: pd.DataFrame, resampled_windows: list[pd.DataFrame], method: str
) -> None:
    threshold = None if method == "ks" else 1e-6
    rules = {c: ColumnRule(method, threshold) for c in ("x", "n")}  # type: ignore[arg-type]
    detector = DriftDetector(SCHEMA, rules=rules, columns=["x", "n"]).fit(reference)
    counts = _flag_counts(detector, resampled_windows)
    assert all(n <= MAX_FLAGS for n in counts.values()), counts


@pytest.fixture(scope="module")
def independent() -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """A 50,000-row reference and 100 independent 500-row windows of the same population."""
    rng = np.random.default_rng(21)
    return population(50_000, rng), [population(500, rng) for _ in range(WINDOWS)]


@pytest.mark.parametrize("method", ["auto", "wasserstein", *DISTANCES])
def test_independent_windows_against_a_large_reference_flag_at_most_alpha(
    independent: tuple[pd.DataFrame, list[pd.DataFrame]], method: str
) -> None:
    reference, windows = independent
    columns = ["x", "n"] if method == "wasserstein" else ["x", "n", "cat"]
    threshold = None if method == "auto" else 1e-6
    rules = {c: ColumnRule(method, threshold) for c in columns}  # type: ignore[arg-type]
    detector = DriftDetector(SCHEMA, rules=rules, columns=columns).fit(reference)
    counts = _flag_counts(detector, windows)
    assert all(n <= MAX_FLAGS for n in counts.values()), counts


@pytest.mark.parametrize("method", DISTANCES)
def test_40_categories_on_3000_row_windows_do_not_drift_by_noise(method: str) -> None:
    # the issue: PSI of 40 categories is ~0.04 on 3,000-row windows of pure noise
    rng = np.random.default_rng(31)
    reference = population(50_000, rng)[["cat"]]
    windows = [population(3000, rng)[["cat"]] for _ in range(WINDOWS)]
    threshold = 0.005  # below the noise (PSI ~0.013, JS ~0.04): the floor must decide
    schema = TableSchema((ColumnSchema("cat", LogicalType.CATEGORY),))
    floored = DriftDetector(schema, rules={"cat": ColumnRule(method, threshold)}).fit(reference)
    flagged = _flag_counts(floored, windows)["cat"]
    assert flagged <= MAX_FLAGS
    plain_rule = ColumnRule(method, threshold, noise_floor=False)
    plain = DriftDetector(schema, rules={"cat": plain_rule}).fit(reference)
    assert _flag_counts(plain, windows)["cat"] >= 0.9 * WINDOWS
    # and a real change still shows: four categories lose half their share
    shares = SHARES.copy()
    shares[:4] /= 2
    moved = pd.DataFrame({"cat": rng.choice(CATEGORIES, 3000, p=shares / shares.sum())})
    assert floored.compare(moved).feature("cat").drifted


def test_a_distance_far_beyond_its_first_resamples_stops_there() -> None:
    null = null_model_categorical("jensenshannon", [50.0, 30.0, 20.0])
    full = noise_floor(null, 2000, seed=7)
    sampler = FloorSampler(null, 2000, seed=7)
    assert sampler.floor(0.001) == full  # close to the floor: every resample is drawn
    early = FloorSampler(null, 2000, seed=7)
    far = early.floor(0.5)
    assert early._count == EARLY_RESAMPLES
    assert 0 < far < 0.5 / EARLY_MARGIN
    # the same first draws whichever distance asked first
    assert sampler.floor(0.5) == far
    assert early.floor() == full
