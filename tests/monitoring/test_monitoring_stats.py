from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import (
    chi2_test,
    ks_test,
    ks_test_sorted,
    numeric_sample,
    psi,
    psi_categorical,
)
from closedloop.monitoring._stats import (
    KS_EXACT_MAX_N,
    PSI_EPSILON,
    ks_pvalue,
    missing_share,
    psi_edges,
)

# (n_reference, n_current): exact p-values (both <= 10,000) and asymptotic ones (either larger)
SIZES = [(3, 4), (20, 20), (137, 50), (999, 1000), (1000, 3000), (10_000, 9_999), (10_001, 40)]
SIZES += [(30_000, 20_000), (200_000, 500)]


def _samples(n1: int, n2: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(0, 1, n1), rng.normal(0.05, 1.1, n2)
    if kind == "ties":  # a few values, many ties on both sides
        return np.round(rng.normal(0, 1, n1)), np.round(rng.normal(0.1, 1, n2))
    return rng.poisson(4, n1).astype(float), rng.poisson(4.2, n2).astype(float)


@pytest.mark.parametrize(("n1", "n2"), SIZES)
@pytest.mark.parametrize("kind", ["continuous", "ties", "integers"])
def test_ks_equals_scipy_ks_2samp_at_every_size(n1: int, n2: int, kind: str) -> None:
    ref, cur = _samples(n1, n2, kind, seed=n1 + n2)
    expected = stats.ks_2samp(ref, cur)
    for statistic, p_value in (ks_test(ref, cur), ks_test_sorted(np.sort(ref), cur)):
        assert statistic == pytest.approx(expected.statistic, abs=1e-9)
        assert p_value == pytest.approx(expected.pvalue, abs=1e-9)
        assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_equals_scipy_when_one_sample_dominates_and_when_they_do_not_overlap() -> None:
    ref = np.arange(50.0)
    for cur in (ref + 100, ref - 100, np.array([25.0]), np.array([-1.0, 1e9])):
        expected = stats.ks_2samp(ref, cur)
        assert ks_test(ref, cur) == pytest.approx((expected.statistic, expected.pvalue), abs=1e-12)


def test_ks_pvalue_is_exact_up_to_scipys_limit_and_asymptotic_beyond() -> None:
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(0, 1, 300), rng.normal(0.2, 1, 200)
    d = stats.ks_2samp(ref, cur).statistic
    exact = stats.ks_2samp(ref, cur, method="exact").pvalue
    asymp = stats.ks_2samp(ref, cur, method="asymp").pvalue
    assert ks_pvalue(d, 300, 200)[1] == pytest.approx(exact, rel=1e-12)
    assert ks_pvalue(d, 300, 200, exact=False)[1] == pytest.approx(asymp, rel=1e-12)
    assert exact != pytest.approx(asymp, rel=1e-3)  # two methods, two numbers
    assert ks_pvalue(d, KS_EXACT_MAX_N + 1, 200) == ks_pvalue(
        d, KS_EXACT_MAX_N + 1, 200, exact=False
    )


def test_ks_falls_back_to_asymptotic_where_scipys_exact_method_fails() -> None:
    n = KS_EXACT_MAX_N
    ref, cur = np.arange(float(n)), np.arange(float(n)) + 0.5  # D = 1e-4: exact p rounds > 1
    with pytest.warns(RuntimeWarning, match="Exact calculation unsuccessful"):
        expected = stats.ks_2samp(ref, cur)
    assert ks_test(ref, cur) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-12)


def test_ks_test_sorted_with_n_reference_scores_a_sketch_asymptotically() -> None:
    rng = np.random.default_rng(5)
    full = np.sort(rng.normal(0, 1, 200_000))
    sketch = np.quantile(full, np.linspace(0, 1, 1001))  # 1,001 quantiles of 200k values
    cur = rng.normal(0.1, 1, 800)
    exact_d, exact_p = ks_test_sorted(full, cur)
    d, p = ks_test_sorted(sketch, cur, n_reference=len(full))
    assert d == pytest.approx(exact_d, abs=2e-3)  # the sketch's CDF is within 1/1000
    m, n = len(full), len(cur)
    expected_p = stats.kstwo.sf(d, np.round(m * n / (m + n)))
    assert p == pytest.approx(expected_p, rel=1e-12)
    assert p == pytest.approx(exact_p, rel=0.5)
    # a small sketch of a small reference: n_reference != len forbids the exact lattice
    small = np.sort(rng.normal(0, 1, 300))
    d_small, p_small = ks_test_sorted(small[::3], cur[:50], n_reference=300)
    assert p_small == pytest.approx(ks_pvalue(d_small, 300, 50, exact=False)[1])
    with pytest.raises(InvalidArgumentError, match="n_reference"):
        ks_test_sorted(small, cur, n_reference=0)


def test_ks_test_sorted_refuses_an_unsorted_or_non_finite_reference() -> None:
    with pytest.raises(InvalidArgumentError, match="sorted") as info:
        ks_test_sorted(np.array([2.0, 1.0]), [1.0])
    assert info.value.hint is not None
    with pytest.raises(InvalidArgumentError, match="sorted"):
        ks_test_sorted(np.array([1.0, np.inf]), [1.0])
    with pytest.raises(InvalidArgumentError, match="sorted"):
        ks_test_sorted(np.array([1.0, np.nan]), [1.0])


def test_ks_test_drops_missing_and_non_finite_values() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 500)
    cur = rng.normal(0.3, 1, 400)
    gappy = pd.Series(np.concatenate([cur, [np.nan] * 50, [np.inf, -np.inf]]))
    expected = stats.ks_2samp(ref, cur)
    assert ks_test(np.append(ref, np.inf), gappy) == pytest.approx(
        (expected.statistic, expected.pvalue), rel=1e-12
    )


def test_numeric_sample_counts_missing_and_non_finite_separately() -> None:
    sample = numeric_sample(pd.Series([1.0, None, np.inf, "x", -np.inf, 2.0], dtype=object))
    assert sample.values.tolist() == [1.0, 2.0]
    assert (sample.n_missing, sample.n_non_finite, sample.n_total) == (2, 2, 6)


def test_chi2_test_equals_scipy_on_the_union_of_categories() -> None:
    ref = {"a": 50, "b": 30, "c": 20, "gone": 0}
    cur = pd.Series({"a": 20, "b": 30, "c": 45, "new": 5})
    expected = stats.chi2_contingency(np.array([[50, 30, 20, 0], [20, 30, 45, 5]]))
    statistic, p_value = chi2_test(ref, cur)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_chi2_test_drops_categories_absent_from_both() -> None:
    with_zero = chi2_test({"a": 10, "b": 5, "z": 0}, {"a": 3, "b": 9, "z": 0})
    assert with_zero == chi2_test({"a": 10, "b": 5}, {"a": 3, "b": 9})


def test_chi2_test_of_a_single_category_is_no_evidence() -> None:
    assert chi2_test({"a": 10}, {"a": 99, "b": 0}) == (0.0, 1.0)


def test_psi_matches_a_hand_computation() -> None:
    # bins=2: the reference median 2.5 splits [1, 2] | [3, 4] -> shares 0.5 / 0.5.
    # current [1, 1, 1, 4] -> 0.75 / 0.25.
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi([1, 2, 3, 4], [1, 1, 1, 4], bins=2) == pytest.approx(expected, rel=1e-12)


def test_psi_floors_an_empty_bin_at_epsilon() -> None:
    # all current values fall in the lower bin; the upper bin's share 0 becomes 1e-4
    expected = (1 - 0.5) * math.log(1 / 0.5) + (PSI_EPSILON - 0.5) * math.log(PSI_EPSILON / 0.5)
    assert psi([1, 2, 3, 4], [1, 1, 2, 2], bins=2) == pytest.approx(expected, rel=1e-12)


def test_psi_outer_bins_are_open_ended() -> None:
    # values far outside the reference range still count, in the outermost bins
    assert psi([1, 2, 3, 4], [100, 200, -50, -60], bins=2) == pytest.approx(0.0)
    assert psi([1, 2, 3, 4], [100, 200, 300, 400], bins=2) > 4


def test_psi_of_a_constant_reference_sees_the_current_move_off_it() -> None:
    assert list(psi_edges([1.0] * 10)) == [1.0, np.nextafter(1.0, 2.0)]  # below / at / above
    moved = (1 - PSI_EPSILON) * math.log(1 / PSI_EPSILON) * 2  # two bins swap all their mass
    assert psi([1.0] * 100, [2.0] * 100) == pytest.approx(moved)
    assert psi([1.0] * 100, [0.0] * 100) == pytest.approx(moved)
    assert psi([1.0] * 100, [1.0] * 30) == 0.0
    # a heavy tie at the top: values above the reference maximum get their own bin too
    tied = [0.0] * 50 + [1.0] * 50
    assert psi(tied, [5.0] * 100) > 4
    assert psi(tied, [0.0] * 50 + [1.0] * 50) == 0.0


def test_psi_is_zero_for_identical_samples_and_small_for_resamples() -> None:
    rng = np.random.default_rng(7)
    sample = rng.normal(40, 12, 5000)
    assert psi(sample, sample) == pytest.approx(0.0, abs=1e-12)
    assert psi(sample, rng.normal(40, 12, 5000)) < 0.02


def test_psi_edges_are_deduplicated_reference_quantiles() -> None:
    ties = psi_edges(np.array([0] * 90 + [1] * 10, dtype=float), bins=10)
    assert 0 < len(ties) < 9  # nine inner quantiles collapse onto a few values
    assert np.all(np.diff(ties) > 0)
    assert list(psi_edges(np.arange(100.0), bins=4)) == pytest.approx([24.75, 49.5, 74.25])


def test_psi_categorical_matches_a_hand_computation() -> None:
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi_categorical({"a": 50, "b": 50}, {"a": 75, "b": 25}) == pytest.approx(expected)
    # a category new in the current data has the floored share in the reference
    new = psi_categorical({"a": 1}, {"a": 1, "b": 1})
    expected_new = (0.5 - 1) * math.log(0.5) + (0.5 - PSI_EPSILON) * math.log(0.5 / PSI_EPSILON)
    assert new == pytest.approx(expected_new)


def test_missing_and_infinite_values_are_dropped_and_their_share_reported() -> None:
    values = pd.Series([1.0, None, 3.0, np.nan])
    assert missing_share(values) == 0.5
    assert psi(values, [1.0, 3.0], bins=2) == pytest.approx(0.0)
    assert psi([1.0, 3.0, np.inf], [1.0, 3.0, -np.inf], bins=2) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ks_test([np.nan], [1.0]),
        lambda: ks_test([1.0], [np.inf, -np.inf]),
        lambda: psi([1.0, 2.0], [np.nan]),
        lambda: chi2_test({}, {"a": 1}),
        lambda: psi_categorical({"a": 1}, {"a": -1}),
        lambda: psi([1.0, 2.0], [1.0], bins=0),
    ],
)
def test_empty_or_invalid_input_is_refused(call: object) -> None:
    with pytest.raises(InvalidArgumentError):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,  # the caller's float64 array
        lambda a: pd.Series(a),  # a Series over it
        lambda a: pd.Series(a.round()).astype(np.int64),  # converted on the way in
        lambda a: pd.Series(np.where(a > 1, np.nan, a)),  # missing values dropped
        lambda a: pd.Series(a, dtype="float64[pyarrow]"),  # a read-only Arrow view
        lambda a: pd.Series(a).astype("Float64"),  # nullable
    ],
)
def test_sorted_values_never_reorder_the_callers_data(make: object) -> None:
    raw = np.random.default_rng(3).normal(size=2_000)
    source = raw.copy()
    given = make(raw)  # type: ignore[operator]
    before = np.array(given, dtype=np.float64, copy=True)
    sample = numeric_sample(given)
    ordered = sample.sorted_values()
    assert bool(np.all(ordered[1:] >= ordered[:-1]))
    np.testing.assert_array_equal(np.array(given, dtype=np.float64), before)
    np.testing.assert_array_equal(raw, source)  # and the array it was made from
    expected = np.sort(before[np.isfinite(before)])
    np.testing.assert_array_equal(ordered, expected)
