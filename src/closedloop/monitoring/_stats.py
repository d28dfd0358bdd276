"""Two-sample tests and the PSI behind drift detection: pure functions, no state, no I/O.

Numeric samples are one-dimensional arrays (or Series). Missing values (NaN, None, ``pd.NA``
and text that is not a number) are dropped; ``+inf`` and ``-inf`` are counted as
*non-finite* (:func:`numeric_sample`) and left out of every statistic, since no distance or
test is defined on them. Categorical samples are given as counts per category (a mapping or
a ``value_counts()`` Series); they carry no missing values by construction.

The distances (Jensen-Shannon, Wasserstein, total variation, Hellinger and their binned
forms) live in :mod:`closedloop.monitoring._distances`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from closedloop.errors import InvalidArgumentError

__all__ = [
    "KS_EXACT_MAX_N",
    "PSI_EPSILON",
    "Counts",
    "FloatArray",
    "NumericSample",
    "aligned_counts",
    "bin_proportions",
    "bin_counts_sorted",
    "bin_proportions_sorted",
    "check_sorted_reference",
    "chi2_test",
    "clean_numeric",
    "distinct_sorted",
    "ks_from_sorted",
    "ks_pvalue",
    "ks_statistic_sorted",
    "ks_test",
    "ks_test_sorted",
    "missing_share",
    "non_empty",
    "numeric_sample",
    "psi",
    "psi_categorical",
    "psi_edges",
    "psi_edges_sorted",
    "psi_from_proportions",
    "sorted_quantiles",
]

PSI_EPSILON = 1e-4
"""Floor of a bin's proportion in PSI, so an empty bin gives a large but finite term."""

KS_EXACT_MAX_N = 10_000
"""scipy's ``ks_2samp(method="auto")`` computes the exact p-value up to this sample size."""

FloatArray = npt.NDArray[np.float64]
Counts = Mapping[Any, float] | pd.Series
"""Counts per category: a mapping or a ``value_counts()`` Series."""


@dataclass(frozen=True, slots=True)
class NumericSample:
    """A numeric sample split into what the statistics use and what they leave out.

    Attributes:
        values: The finite values, in input order.
        n_missing: Missing or unreadable values (dropped).
        n_non_finite: ``+inf`` / ``-inf`` values (counted, excluded from the statistics).
    """

    values: FloatArray
    n_missing: int
    n_non_finite: int
    owned: bool = False
    """Whether ``values`` is a new array made here (it may be sorted in place)."""

    def sorted_values(self) -> FloatArray:
        """The finite values in ascending order: in place when owned, else a sorted copy."""
        if self.owned:
            self.values.sort()
            return self.values
        return np.sort(self.values)

    @property
    def n_total(self) -> int:
        """All values, finite or not."""
        return len(self.values) + self.n_missing + self.n_non_finite


def numeric_sample(values: npt.ArrayLike | pd.Series[Any]) -> NumericSample:
    """Read ``values`` as numbers: finite values, missing count and non-finite count.

    The finite values may share memory with ``values`` when every value is a finite float
    already (nothing to drop): treat them as read-only, unless ``owned`` says otherwise.
    """
    if isinstance(values, pd.Series):
        series = values if values.dtype.kind == "f" else pd.to_numeric(values, errors="coerce")
    else:
        series = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce")
    arr: FloatArray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(arr)
    if finite.all():
        # a numpy column of another dtype was cast into new memory: nobody else holds it
        # (a float64 column's array may be the caller's; an extension array such as
        # Float64 or an Arrow column may hand out its own buffer)
        dtype = series.dtype
        converted = isinstance(dtype, np.dtype) and dtype != np.float64 and arr.flags.owndata
        return NumericSample(arr, 0, 0, owned=bool(converted and arr.flags.writeable))
    n_nan = int(np.count_nonzero(np.isnan(arr)))
    kept = arr[finite]
    return NumericSample(kept, n_nan, len(arr) - len(kept) - n_nan, owned=True)


def distinct_sorted(values_sorted: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """``np.unique(values, return_counts=True)`` of an ascending array, without sorting it."""
    if len(values_sorted) == 0:
        return values_sorted[:0], np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate([[True], values_sorted[1:] != values_sorted[:-1]]))
    counts = np.diff(np.append(starts, len(values_sorted)))
    return values_sorted[starts], counts


def sorted_quantiles(values_sorted: FloatArray, q: npt.ArrayLike) -> FloatArray:
    """``np.quantile(values, q)`` (method ``linear``) of an ascending, finite, non-empty array.

    The same arithmetic as numpy's (virtual index, then its ``_lerp``), read straight off
    the sorted values instead of partitioning them again, so the results are equal.
    """
    quantiles = np.asarray(q, dtype=np.float64)
    n = len(values_sorted)
    virtual = (n - 1) * quantiles
    below = np.floor(virtual)
    gamma = virtual - below
    lo = np.clip(below, 0, n - 1).astype(np.intp)
    hi = np.clip(below + 1, 0, n - 1).astype(np.intp)
    lo[virtual >= n - 1] = n - 1
    a, b = values_sorted[lo], values_sorted[hi]
    diff = b - a
    out: FloatArray = a + diff * gamma
    upper = gamma >= 0.5
    out[upper] = (b - diff * (1 - gamma))[upper]
    return out


def clean_numeric(values: npt.ArrayLike | pd.Series[Any]) -> FloatArray:
    """The finite values of ``values`` as a float array (missing and +-inf dropped)."""
    return numeric_sample(values).values


def missing_share(values: pd.Series[Any]) -> float:
    """The share of missing values in ``values`` (0 for an empty series)."""
    return float(values.isna().mean()) if len(values) else 0.0


# Kolmogorov-Smirnov -------------------------------------------------------------------------
def ks_test(
    reference: npt.ArrayLike | pd.Series[Any], current: npt.ArrayLike | pd.Series[Any]
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test, two-sided: scipy's ``ks_2samp(ref, cur)``.

    A convenience over :func:`ks_test_sorted` for unsorted samples.

    Args:
        reference: The reference sample.
        current: The current sample.

    Returns:
        ``(statistic, p_value)``: the largest gap between the two empirical CDFs, and the
        probability of a gap at least that large if both samples came from one distribution.

    Raises:
        InvalidArgumentError: A sample has no finite value.
    """
    ref = non_empty(clean_numeric(reference), "reference")
    return ks_test_sorted(np.sort(ref), current)


def ks_test_sorted(
    reference_sorted: FloatArray,
    current: npt.ArrayLike | pd.Series[Any],
    *,
    n_reference: int | None = None,
) -> tuple[float, float]:
    """The KS test of :func:`ks_test`, from an already sorted reference.

    The reference is not sorted again: the statistic comes from ``np.searchsorted`` of the
    sorted current sample into it, so a detector that sorts its reference once at ``fit``
    pays only for the current window. Statistic and p-value equal
    ``scipy.stats.ks_2samp(reference, current)`` (``method="auto"``): scipy's exact
    distribution when both samples have at most :data:`KS_EXACT_MAX_N` values (through
    scipy's own helper), Smirnov's asymptotic ``kstwo`` distribution otherwise, and the
    asymptotic one when the exact computation fails in floating point, as scipy does.

    Args:
        reference_sorted: The finite reference values in ascending order (e.g.
            ``np.sort(clean_numeric(x))``), or a quantile sketch of a larger reference.
        current: The current sample (missing and non-finite values are dropped).
        n_reference: The size of the reference the sorted values stand for, when they are
            a sketch of it (e.g. 1,000 quantiles of 10 million rows). The statistic is then
            the sketch's approximation and the p-value uses ``n_reference``; the exact method
            needs the statistic on the lattice of the true sample sizes, so whenever
            ``n_reference`` differs from ``len(reference_sorted)`` the asymptotic ``kstwo``
            p-value is used, whatever the sizes. Default: ``len(reference_sorted)``.

    Returns:
        ``(statistic, p_value)``.

    Raises:
        InvalidArgumentError: A sample has no finite value, the reference is not sorted or
            not finite, or ``n_reference`` is below 1.
    """
    ref = check_sorted_reference(reference_sorted)
    cur = np.sort(non_empty(clean_numeric(current), "current"))
    if n_reference is not None and (
        isinstance(n_reference, bool) or not isinstance(n_reference, int) or n_reference < 1
    ):
        raise InvalidArgumentError(f"n_reference must be a positive integer, got {n_reference!r}")
    return ks_from_sorted(ref, cur, n_reference)


def ks_from_sorted(
    reference_sorted: FloatArray, current_sorted: FloatArray, n_reference: int | None = None
) -> tuple[float, float]:
    """:func:`ks_test_sorted` of two samples already sorted, finite and non-empty (unchecked).

    For callers that hold both sorted (a fitted detector): nothing is copied or re-checked.
    """
    ref, cur = reference_sorted, current_sorted
    statistic = ks_statistic_sorted(ref, cur)
    if n_reference is None or n_reference == len(ref):
        n1, exact = len(ref), True
    else:
        n1, exact = n_reference, False
    if exact and max(n1, len(cur)) <= KS_EXACT_MAX_N and _exact_helper() is None:
        from scipy import stats  # scipy moved its private helper: use the public test

        result = stats.ks_2samp(ref, cur)
        return float(result.statistic), float(result.pvalue)
    return ks_pvalue(statistic, n1, len(cur), exact=exact)


def ks_statistic_sorted(reference_sorted: FloatArray, current_sorted: FloatArray) -> float:
    """The two-sided KS statistic of two sorted, finite, non-empty samples.

    ``F_ref - F_cur`` only rises at reference values and only falls at current values, so
    its maximum is found just left of a current value (or is 0 at the right end) and its
    minimum at a current value: two ``searchsorted`` passes of the current sample into the
    reference give both, from the same integer counts scipy divides.
    """
    n1, n2 = len(reference_sorted), len(current_sorted)
    below_ref = np.searchsorted(reference_sorted, current_sorted, side="left")
    upto_ref = np.searchsorted(reference_sorted, current_sorted, side="right")
    below_cur = np.searchsorted(current_sorted, current_sorted, side="left")
    upto_cur = np.searchsorted(current_sorted, current_sorted, side="right")
    rise = float(np.max(below_ref / n1 - below_cur / n2, initial=0.0))
    fall = float(np.max(upto_cur / n2 - upto_ref / n1, initial=0.0))
    return min(max(rise, fall), 1.0)


def ks_pvalue(
    statistic: float, n_reference: int, n_current: int, *, exact: bool = True
) -> tuple[float, float]:
    """The two-sided p-value of scipy's ``ks_2samp`` (``method="auto"``) for a statistic.

    Args:
        statistic: The KS statistic.
        n_reference: Reference sample size.
        n_current: Current sample size.
        exact: Allow the exact method (up to :data:`KS_EXACT_MAX_N` values per side). In the
            exact method scipy rounds the statistic to the lattice ``h / lcm(n1, n2)``; the
            rounded value is returned, as scipy does.

    Returns:
        ``(statistic, p_value)``.
    """
    from scipy.stats import distributions

    d = statistic
    helper = _exact_helper()
    if exact and max(n_reference, n_current) <= KS_EXACT_MAX_N and helper is not None:
        g = math.gcd(n_reference, n_current)
        success, d, prob = helper(n_reference, n_current, g, d, "two-sided")
        if success:
            return float(d), float(np.clip(prob, 0.0, 1.0))
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    en = m * n / (m + n)
    prob = distributions.kstwo.sf(d, np.round(en))
    return float(d), float(np.clip(prob, 0.0, 1.0))


@functools.cache
def _exact_helper() -> Any:
    """The private exact-distribution helper of scipy's ``ks_2samp``, or None if it moved.

    Looked up on first use: scipy is heavy (~0.4 s) and the CLI imports this module.
    """
    try:
        from scipy.stats._stats_py import _attempt_exact_2kssamp
    except ImportError:  # pragma: no cover - a scipy that moved it: ks_test_sorted falls back
        return None
    return _attempt_exact_2kssamp


def check_sorted_reference(reference_sorted: npt.ArrayLike) -> FloatArray:
    """``reference_sorted`` as a float array, checked to be non-empty, finite and ascending.

    Raises:
        InvalidArgumentError: It is empty, holds NaN or +-inf, or is not ascending.
    """
    ref = np.asarray(reference_sorted, dtype=np.float64).ravel()
    non_empty(ref, "reference")
    # sorted: NaN would sit at the end and +-inf at the ends, so the two ends say it all
    if not (math.isfinite(ref[0]) and math.isfinite(ref[-1])) or bool(np.any(ref[1:] < ref[:-1])):
        raise InvalidArgumentError(
            "the reference values are not sorted finite numbers",
            hint="pass np.sort(clean_numeric(reference)), or use ks_test on raw samples",
        )
    return ref


# chi-square ---------------------------------------------------------------------------------
def chi2_test(reference_counts: Counts, current_counts: Counts) -> tuple[float, float]:
    """Chi-square test of homogeneity of two categorical samples.

    The 2-by-k contingency table spans the union of both samples' categories; categories
    counted zero times in both are dropped. With a single category left there is nothing
    to compare, and the result is ``(0.0, 1.0)``. scipy's ``chi2_contingency`` applies
    Yates' continuity correction when the table is 2-by-2. (Evidently's ``chisquare`` test
    is a goodness-of-fit test that takes the reference shares as exact; the two agree
    when the reference is much larger than the current window.)

    Args:
        reference_counts: Count per category in the reference sample.
        current_counts: Count per category in the current sample.

    Returns:
        ``(statistic, p_value)``.

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    from scipy import stats  # heavy (~0.4 s): loaded on first test, not with the CLI

    _, ref, cur = aligned_counts(reference_counts, current_counts)
    keep = (ref + cur) > 0
    if int(keep.sum()) <= 1:
        return 0.0, 1.0
    result = stats.chi2_contingency(np.vstack([ref[keep], cur[keep]]))
    return float(result.statistic), float(result.pvalue)


# PSI ----------------------------------------------------------------------------------------
def psi_edges(reference: npt.ArrayLike | pd.Series[Any], *, bins: int = 10) -> FloatArray:
    """Inner bin edges for :func:`psi`: the reference's quantiles, deduplicated.

    The outer bins are open-ended (``(-inf, e0)`` and ``[e_last, inf)``), so current values
    outside the reference range still land in a bin. Ties in the reference (a column with
    few distinct values) merge quantiles, giving fewer than ``bins`` bins. When the largest
    reference value is itself an edge (a constant column, or a heavy tie at the top), one
    more edge just above it (the next float) separates "at the maximum" from "above it": a
    constant reference gets the three bins below / at / above the constant, so all 1.0 ->
    all 2.0 has a real PSI instead of 0.

    Raises:
        InvalidArgumentError: ``bins`` is below 1, or the reference has no finite value.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise InvalidArgumentError(f"bins must be a positive integer, got {bins!r}")
    return psi_edges_sorted(np.sort(non_empty(clean_numeric(reference), "reference")), bins)


def psi_edges_sorted(reference_sorted: FloatArray, bins: int) -> FloatArray:
    """:func:`psi_edges` of an ascending, finite, non-empty reference (unchecked)."""
    ref = reference_sorted
    quantiles = sorted_quantiles(ref, np.linspace(0.0, 1.0, bins + 1))
    edges = np.unique(quantiles[1:-1])
    top = float(ref[-1])
    if len(edges) and edges[-1] == top:
        edges = np.append(edges, np.nextafter(top, np.inf))
    return edges


def bin_proportions(values: FloatArray, edges: FloatArray) -> FloatArray:
    """The share of ``values`` in each bin of :func:`psi_edges` (``len(edges) + 1`` bins)."""
    index = np.searchsorted(edges, values, side="right")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(np.float64)
    return counts / max(len(values), 1)


def bin_proportions_sorted(values_sorted: FloatArray, edges: FloatArray) -> FloatArray:
    """:func:`bin_proportions` of ascending values: one search per edge, not per value.

    A value falls in bin ``k`` when exactly ``k`` edges are at or below it, so the values
    before bin ``k`` are those below ``edges[k - 1]``.
    """
    return bin_counts_sorted(values_sorted, edges).astype(np.float64) / max(len(values_sorted), 1)


def bin_counts_sorted(values_sorted: FloatArray, edges: FloatArray) -> npt.NDArray[np.intp]:
    """The count of ascending values in each bin of :func:`psi_edges` (``len(edges) + 1``)."""
    cut = np.searchsorted(values_sorted, edges, side="left").astype(np.intp)
    bounds = np.concatenate([np.zeros(1, np.intp), cut, np.full(1, len(values_sorted), np.intp)])
    counts: npt.NDArray[np.intp] = np.diff(bounds)
    return counts


def psi(
    reference: npt.ArrayLike | pd.Series[Any],
    current: npt.ArrayLike | pd.Series[Any],
    *,
    bins: int = 10,
) -> float:
    """Population stability index of a numeric column.

    Bins come from the reference quantiles (:func:`psi_edges`); each bin's proportion is
    floored at :data:`PSI_EPSILON`; PSI = sum((cur - ref) * ln(cur / ref)). Customary reading:
    below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift. PSI grows on small
    windows even when nothing changed (about ``(bins - 1) / n`` on ``n`` current values), which
    is why ``DriftDetector`` compares it with a noise floor.

    Raises:
        InvalidArgumentError: A sample has no finite value, or ``bins`` is below 1.
    """
    edges = psi_edges(reference, bins=bins)
    ref = bin_proportions(clean_numeric(reference), edges)
    cur = bin_proportions(non_empty(clean_numeric(current), "current"), edges)
    return psi_from_proportions(ref, cur)


def psi_categorical(reference_counts: Counts, current_counts: Counts) -> float:
    """Population stability index over category proportions (union of both samples).

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    _, ref, cur = aligned_counts(reference_counts, current_counts)
    return psi_from_proportions(ref / ref.sum(), cur / cur.sum())


def psi_from_proportions(reference: FloatArray, current: FloatArray) -> float:
    """PSI of two aligned proportion vectors, each floored at :data:`PSI_EPSILON`."""
    ref = np.maximum(reference, PSI_EPSILON)
    cur = np.maximum(current, PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


# helpers ------------------------------------------------------------------------------------
def aligned_counts(
    reference_counts: Counts, current_counts: Counts
) -> tuple[list[Any], FloatArray, FloatArray]:
    """Both count vectors over the union of categories (reference order first).

    Raises:
        InvalidArgumentError: A count is negative or not finite, or a side is empty.
    """
    ref_map, cur_map = dict(reference_counts.items()), dict(current_counts.items())
    categories = list(dict.fromkeys([*ref_map, *cur_map]))
    ref = np.array([float(ref_map.get(c, 0)) for c in categories], dtype=np.float64)
    cur = np.array([float(cur_map.get(c, 0)) for c in categories], dtype=np.float64)
    for label, counts in (("reference", ref), ("current", cur)):
        if (counts < 0).any() or not all(math.isfinite(c) for c in counts):
            raise InvalidArgumentError(f"{label} counts must be finite and non-negative")
        if counts.sum() <= 0:
            raise InvalidArgumentError(f"the {label} sample is empty")
    return categories, ref, cur


def non_empty(values: FloatArray, label: str) -> FloatArray:
    """``values``, or an error naming ``label`` when there are none.

    Raises:
        InvalidArgumentError: ``values`` is empty.
    """
    if len(values) == 0:
        raise InvalidArgumentError(
            f"the {label} sample has no finite value",
            hint="drift statistics need at least one observed finite value on each side",
        )
    return values
