"""Distances against scipy and against Evidently 0.7's definitions (transcribed below)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import (
    _distances,
    binned_jensenshannon,
    binned_ks,
    binned_psi,
    binned_wasserstein,
    hellinger,
    histogram_counts,
    jensenshannon_categorical,
    jensenshannon_numeric,
    ks_test,
    psi,
    total_variation,
    wasserstein_norm,
    wasserstein_norm_sorted,
)
from closedloop.monitoring._distances import (
    hellinger_rows,
    jensenshannon_rows,
    jensenshannon_sorted,
    psi_rows,
    sturges_edges,
    total_variation_rows,
    wasserstein_scale,
    wasserstein_sorted,
)
from closedloop.monitoring._stats import psi_edges

SIZES = [(5, 7), (50, 50), (999, 1000), (3000, 700), (20_000, 30_000), (200_000, 900)]


def _numeric(n1: int, n2: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        return rng.normal(10, 2, n1), rng.normal(10.4, 2.5, n2)
    if kind == "ties":
        return np.round(rng.normal(10, 2, n1)), np.round(rng.normal(10.3, 2, n2))
    return rng.poisson(3, n1).astype(float), rng.poisson(3.3, n2).astype(float)


def _categorical(n1: int, n2: int, seed: int) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    ref = pd.Series(rng.choice(list("abcdefgh"), n1, p=[0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05]))
    cur = pd.Series(rng.choice(list("abcdefghz"), n2, p=[0.2] * 2 + [0.1] * 5 + [0.05] * 2))
    return ref, cur


# Evidently 0.7.23, evidently/legacy/calculations/stattests/*.py, transcribed --------------------
def _evidently_binned(ref: pd.Series, cur: pd.Series, numerical: bool) -> tuple[np.ndarray, ...]:
    """``utils.get_binned_data(..., feel_zeroes=False)``."""
    if numerical and ref.nunique() > 20:
        bins = np.histogram_bin_edges(np.asarray(pd.concat([ref, cur]).values), bins="sturges")
        return np.histogram(ref, bins)[0] / len(ref), np.histogram(cur, bins)[0] / len(cur)
    keys = list(set(ref.dropna().unique()) | set(cur.dropna().unique()))
    ref_d = {**dict.fromkeys(keys, 0), **dict(ref.value_counts())}
    cur_d = {**dict.fromkeys(keys, 0), **dict(cur.value_counts())}
    return (
        np.array([ref_d[k] / len(ref) for k in keys]),
        np.array([cur_d[k] / len(cur) for k in keys]),
    )


def _evidently_jensenshannon(ref: pd.Series, cur: pd.Series, numerical: bool) -> float:
    return float(distance.jensenshannon(*_evidently_binned(ref, cur, numerical)))


def _evidently_wasserstein(ref: pd.Series, cur: pd.Series) -> float:
    return float(stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))


def _evidently_tvd(ref: pd.Series, cur: pd.Series) -> float:
    keys = list(set(ref.dropna().unique()) | set(cur.dropna().unique()))
    r = np.array(list({**dict.fromkeys(keys, 0), **dict(ref.value_counts())}.values()))
    c = np.array(list({**dict.fromkeys(keys, 0), **dict(cur.value_counts())}.values()))
    return float(0.5 * np.sum(np.abs(r / sum(r) - c / sum(c))))


def _evidently_hellinger(ref: pd.Series, cur: pd.Series) -> float:
    keys = set(ref.unique()) | set(cur.unique())
    p, q = ref.value_counts() / len(ref), cur.value_counts() / len(cur)
    bc = sum(math.sqrt(float(p.get(k, 0)) * float(q.get(k, 0))) for k in keys)
    return math.sqrt(1 - float(np.clip(bc, 0, 1)))


# numeric -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n1", "n2"), SIZES)
@pytest.mark.parametrize("kind", ["continuous", "ties", "integers"])
def test_normed_wasserstein_equals_scipy_and_evidently(n1: int, n2: int, kind: str) -> None:
    ref, cur = _numeric(n1, n2, kind, seed=n1 * 7 + n2)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein_norm(ref, cur) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert wasserstein_norm_sorted(np.sort(ref), cur) == pytest.approx(expected, rel=1e-9)
    assert wasserstein_norm(ref, cur) == pytest.approx(
        _evidently_wasserstein(pd.Series(ref), pd.Series(cur)), rel=1e-9
    )


@pytest.mark.parametrize(
    ("n1", "n2"), [(1, 9), (3, 12), (12, 3), (7, 35_000), (20_000, 100_000), (100_000, 20_000)]
)
@pytest.mark.parametrize("kind", ["continuous", "ties", "integers"])
def test_wasserstein_of_sizes_that_divide_equals_scipy_and_the_general_form(
    n1: int, n2: int, kind: str
) -> None:
    # one size a multiple of the other (a 20,000-value sketch against a window of 100,000)
    # takes the broadcast form; it must equal scipy and the piecewise form it replaces
    ref, cur = _numeric(n1, n2, kind, seed=n1 + 5 * n2)
    a, b = np.sort(ref), np.sort(cur)
    expected = stats.wasserstein_distance(ref, cur)
    assert wasserstein_sorted(a, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    general = (
        _distances._pieces(a, b, tie_is_mine=True) + _distances._pieces(b, a, tie_is_mine=False)
    ) / (float(n1) * float(n2))
    assert wasserstein_sorted(a, b) == pytest.approx(general, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("n1", "n2"), SIZES)
@pytest.mark.parametrize("kind", ["continuous", "ties", "integers"])
def test_numeric_jensenshannon_equals_evidentlys_bins_and_scipys_distance(
    n1: int, n2: int, kind: str
) -> None:
    ref, cur = _numeric(n1, n2, kind, seed=n1 * 3 + n2)
    expected = _evidently_jensenshannon(pd.Series(ref), pd.Series(cur), numerical=True)
    assert jensenshannon_numeric(ref, cur) == pytest.approx(expected, abs=1e-9)
    assert jensenshannon_sorted(np.sort(ref), cur) == pytest.approx(expected, abs=1e-9)


def test_both_jensenshannon_bin_choices_are_exercised() -> None:
    few, _ = _numeric(3000, 10, "integers", seed=1)
    many, _ = _numeric(3000, 10, "continuous", seed=1)
    assert len(np.unique(few)) <= 20 < len(np.unique(many))


@pytest.mark.parametrize("values", [[1.0, 5.0], [2.0, 2.0], [-3.0, 1e6], [0.0, 1e-9]])
@pytest.mark.parametrize("size", [2, 10, 1000, 12345])
def test_sturges_edges_equal_numpys(values: list[float], size: int) -> None:
    sample = np.linspace(values[0], values[1], size)
    expected = np.histogram_bin_edges(sample, bins="sturges")
    np.testing.assert_array_equal(sturges_edges(values[0], values[1], size), expected)


def test_wasserstein_of_a_constant_reference_uses_the_constants_scale() -> None:
    assert wasserstein_scale(np.full(5, 1.0)) == 1.0
    assert wasserstein_norm([1.0] * 100, [2.0] * 100) == pytest.approx(1.0)
    assert wasserstein_norm([4.0] * 100, [5.0] * 100) == pytest.approx(0.25)
    assert wasserstein_norm([0.0] * 100, [0.5] * 100) == pytest.approx(0.5)  # scale 1 at 0
    assert wasserstein_norm([1.0] * 100, [1.0] * 7) == 0.0
    # 0.1 repeated has a float std of ~1e-17, not a spread to divide by
    assert wasserstein_norm([0.1] * 1000, [0.2] * 10) == pytest.approx(1.0)


def test_infinite_values_are_left_out_of_the_distances() -> None:
    ref, cur = _numeric(500, 400, "continuous", seed=3)
    with_inf = np.concatenate([cur, [np.inf, -np.inf, np.nan]])
    assert wasserstein_norm(ref, with_inf) == wasserstein_norm(ref, cur)
    assert jensenshannon_numeric(np.append(ref, np.inf), with_inf) == jensenshannon_numeric(
        ref, cur
    )


# categorical ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("n1", "n2"), SIZES)
def test_categorical_distances_equal_scipy_and_evidently(n1: int, n2: int) -> None:
    ref, cur = _categorical(n1, n2, seed=n1 + n2)
    rc, cc = ref.value_counts(), cur.value_counts()
    keys = sorted(set(rc.index) | set(cc.index))
    p = np.array([rc.get(k, 0) for k in keys], dtype=float)
    q = np.array([cc.get(k, 0) for k in keys], dtype=float)
    js = jensenshannon_categorical(rc, cc)
    assert js == pytest.approx(distance.jensenshannon(p, q), abs=1e-9)
    assert js == pytest.approx(_evidently_jensenshannon(ref, cur, numerical=False), abs=1e-9)
    assert total_variation(rc, cc) == pytest.approx(_evidently_tvd(ref, cur), abs=1e-9)
    assert hellinger(rc, cc) == pytest.approx(_evidently_hellinger(ref, cur), abs=1e-9)
    p, q = p / p.sum(), q / q.sum()
    assert total_variation(rc, cc) == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-12)
    hell = math.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))  # the textbook form
    assert hellinger(rc, cc) == pytest.approx(hell, abs=1e-9)


def test_categorical_distances_at_their_bounds() -> None:
    same, apart = ({"a": 3, "b": 1}, {"a": 30, "b": 10}), ({"a": 5}, {"b": 5})
    for fn in (jensenshannon_categorical, total_variation, hellinger):
        assert fn(*same) == pytest.approx(0.0, abs=1e-12)
    assert jensenshannon_categorical(*apart) == pytest.approx(math.sqrt(math.log(2)))
    assert total_variation(*apart) == 1.0
    assert hellinger(*apart) == 1.0


def test_row_wise_forms_equal_the_scalar_ones_row_by_row() -> None:
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(12))
    rows = rng.multinomial(200, p, size=30) / 200
    for rows_fn, scalar in (
        (jensenshannon_rows, lambda a, b: distance.jensenshannon(a, b)),
        (total_variation_rows, lambda a, b: 0.5 * np.abs(a - b).sum()),
        (hellinger_rows, lambda a, b: math.sqrt(1 - np.sqrt(a * b).sum())),
        (psi_rows, lambda a, b: psi_rows(a, b[None, :])[0]),
    ):
        expected = [scalar(p, row) for row in rows]
        np.testing.assert_allclose(rows_fn(p, rows), expected, rtol=1e-9, atol=1e-12)


# binned forms --------------------------------------------------------------------------------
def test_binned_forms_score_histograms_and_stay_within_their_bounds() -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(0, 1, 20_000), rng.normal(0.3, 1.2, 5_000)
    edges = np.linspace(-6, 6, 121)
    rc, cc = histogram_counts(ref, edges), histogram_counts(cur, edges)
    assert (rc.sum(), cc.sum()) == (len(ref), len(cur))

    d_ks = ks_test(ref, cur)[0]
    d_binned = binned_ks(edges, rc, cc)
    largest_bin = max((rc / rc.sum()).max(), (cc / cc.sum()).max())
    assert d_binned <= d_ks + 1e-12
    assert d_ks - d_binned <= largest_bin

    raw = stats.wasserstein_distance(ref, cur)
    width = np.diff(edges)
    bound = 0.5 * np.sum((rc / rc.sum() + cc / cc.sum()) * width)
    assert abs(binned_wasserstein(edges, rc, cc, scale=1.0) - raw) <= bound
    assert binned_wasserstein(edges, rc, cc, scale=1.0) == pytest.approx(raw, abs=0.02)
    normed = binned_wasserstein(edges, rc, cc)  # scale: the histogram's own std
    assert normed == pytest.approx(raw / np.std(ref), rel=0.02)

    assert binned_jensenshannon(edges, rc, cc) == pytest.approx(distance.jensenshannon(rc, cc))
    quantile_edges = np.concatenate([[-10.0], psi_edges(ref), [10.0]])
    qr, qc = histogram_counts(ref, quantile_edges), histogram_counts(cur, quantile_edges)
    assert binned_psi(quantile_edges, qr, qc) == pytest.approx(psi(ref, cur), rel=1e-9)


def test_binned_forms_score_a_merge_of_windows() -> None:
    rng = np.random.default_rng(8)
    edges = np.linspace(0, 10, 41)
    ref = histogram_counts(rng.uniform(0, 10, 10_000), edges)
    windows = [rng.uniform(0, 10, 700) for _ in range(30)]
    merged = sum(histogram_counts(w, edges) for w in windows)
    whole = histogram_counts(np.concatenate(windows), edges)
    np.testing.assert_array_equal(merged, whole)
    assert binned_jensenshannon(edges, ref, merged) == binned_jensenshannon(edges, ref, whole)


def test_histogram_counts_clip_strays_into_the_end_bins() -> None:
    counts = histogram_counts([-5.0, 0.0, 0.5, 1.0, 2.0, 99.0, np.inf, np.nan], [0.0, 1.0, 2.0])
    assert counts.tolist() == [3.0, 3.0]


def test_binned_wasserstein_of_a_constant_histogram_drifts() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]
    assert binned_wasserstein(edges, [0, 10, 0], [0, 0, 10]) == pytest.approx(1 / 1.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: binned_ks([0.0], [1], [1]),
        lambda: binned_ks([0.0, 1.0, 1.0], [1, 1], [1, 1]),
        lambda: binned_ks([0.0, np.inf], [1], [1]),
        lambda: binned_psi([0.0, 1.0, 2.0], [1, 1, 1], [1, 1]),
        lambda: binned_jensenshannon([0.0, 1.0], [0], [1]),
        lambda: binned_wasserstein([0.0, 1.0, 2.0], [1, -1], [1, 1]),
        lambda: binned_wasserstein([0.0, 1.0, 2.0], [1, 1], [1, 1], scale=0.0),
        lambda: wasserstein_norm_sorted(np.array([3.0, 1.0]), [1.0]),
        lambda: wasserstein_norm([np.nan], [1.0]),
        lambda: jensenshannon_categorical({"a": 1}, {}),
        lambda: hellinger({"a": -1}, {"a": 1}),
    ],
)
def test_invalid_input_is_refused(call: object) -> None:
    with pytest.raises(InvalidArgumentError):
        call()  # type: ignore[operator]
