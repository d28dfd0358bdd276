from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import chi2_test, ks_test, psi, psi_categorical
from closedloop.monitoring._stats import PSI_EPSILON, missing_share, psi_edges


def test_ks_test_equals_scipy_after_dropping_missing_values() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 500)
    cur = rng.normal(0.3, 1, 400)
    cur_with_gaps = pd.Series(np.concatenate([cur, [np.nan] * 50]))
    expected = stats.ks_2samp(ref, cur)
    statistic, p_value = ks_test(ref, cur_with_gaps)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12)


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


def test_missing_values_are_dropped_and_their_share_reported() -> None:
    values = pd.Series([1.0, None, 3.0, np.nan])
    assert missing_share(values) == 0.5
    assert psi(values, [1.0, 3.0], bins=2) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: ks_test([np.nan], [1.0]),
        lambda: psi([1.0, 2.0], [np.nan]),
        lambda: chi2_test({}, {"a": 1}),
        lambda: psi_categorical({"a": 1}, {"a": -1}),
        lambda: psi([1.0, 2.0], [1.0], bins=0),
    ],
)
def test_empty_or_invalid_input_is_refused(call: object) -> None:
    with pytest.raises(InvalidArgumentError):
        call()  # type: ignore[operator]
