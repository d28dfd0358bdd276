"""Two-sample statistics behind drift detection: pure functions, no state, no I/O.

Numeric samples are one-dimensional arrays (or Series); missing values (NaN, None, ``pd.NA``)
are dropped before any test, and :func:`missing_share` reports how many there were.
Categorical samples are given as counts per category (a mapping or a ``value_counts()``
Series); they carry no missing values by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from closedloop.errors import InvalidArgumentError

__all__ = [
    "PSI_EPSILON",
    "FloatArray",
    "bin_proportions",
    "chi2_test",
    "clean_numeric",
    "ks_test",
    "missing_share",
    "psi",
    "psi_categorical",
    "psi_edges",
    "psi_from_proportions",
]

PSI_EPSILON = 1e-4
"""Floor of a bin's proportion in PSI, so an empty bin gives a large but finite term."""

FloatArray = npt.NDArray[np.float64]


def clean_numeric(values: npt.ArrayLike | pd.Series[Any]) -> FloatArray:
    """``values`` as a float array without its missing values.

    Values that cannot be read as numbers count as missing.
    """
    if isinstance(values, pd.Series):
        series = pd.to_numeric(values, errors="coerce")
    else:
        series = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce")
    arr: FloatArray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return arr[~np.isnan(arr)]


def missing_share(values: pd.Series[Any]) -> float:
    """The share of missing values in ``values`` (0 for an empty series)."""
    return float(values.isna().mean()) if len(values) else 0.0


def ks_test(
    reference: npt.ArrayLike | pd.Series[Any], current: npt.ArrayLike | pd.Series[Any]
) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test (two-sided, scipy's ``ks_2samp``).

    Args:
        reference: The reference sample.
        current: The current sample.

    Returns:
        ``(statistic, p_value)``: the largest gap between the two empirical CDFs, and the
        probability of a gap at least that large if both samples came from one distribution.

    Raises:
        InvalidArgumentError: A sample has no non-missing value.
    """
    from scipy import stats  # heavy (~0.4 s): loaded on first test, not with the CLI

    ref = _non_empty(clean_numeric(reference), "reference")
    cur = _non_empty(clean_numeric(current), "current")
    result = stats.ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def chi2_test(
    reference_counts: Mapping[Any, float] | pd.Series[Any],
    current_counts: Mapping[Any, float] | pd.Series[Any],
) -> tuple[float, float]:
    """Chi-square test of homogeneity of two categorical samples.

    The 2-by-k contingency table spans the union of both samples' categories; categories
    counted zero times in both are dropped. With a single category left there is nothing
    to compare, and the result is ``(0.0, 1.0)``. scipy's ``chi2_contingency`` applies
    Yates' continuity correction when the table is 2-by-2.

    Args:
        reference_counts: Count per category in the reference sample.
        current_counts: Count per category in the current sample.

    Returns:
        ``(statistic, p_value)``.

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    from scipy import stats  # heavy: see ks_test

    _, ref, cur = _aligned_counts(reference_counts, current_counts)
    keep = (ref + cur) > 0
    if int(keep.sum()) <= 1:
        return 0.0, 1.0
    result = stats.chi2_contingency(np.vstack([ref[keep], cur[keep]]))
    return float(result.statistic), float(result.pvalue)


def psi_edges(reference: npt.ArrayLike | pd.Series[Any], *, bins: int = 10) -> FloatArray:
    """Inner bin edges for :func:`psi`: the reference's quantiles, deduplicated.

    The outer bins are open-ended (``(-inf, e0)`` and ``[e_last, inf)``), so current values
    outside the reference range still land in a bin. Ties in the reference (a column with
    few distinct values) merge quantiles, giving fewer than ``bins`` bins.

    Raises:
        InvalidArgumentError: ``bins`` is below 1, or the reference is empty.
    """
    if bins < 1:
        raise InvalidArgumentError(f"bins must be at least 1, got {bins}")
    ref = _non_empty(clean_numeric(reference), "reference")
    quantiles = np.quantile(ref, np.linspace(0.0, 1.0, bins + 1))
    return np.unique(quantiles[1:-1])


def bin_proportions(values: FloatArray, edges: FloatArray) -> FloatArray:
    """The share of ``values`` in each bin of :func:`psi_edges` (``len(edges) + 1`` bins)."""
    index = np.searchsorted(edges, values, side="right")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(np.float64)
    return counts / max(len(values), 1)


def psi(
    reference: npt.ArrayLike | pd.Series[Any],
    current: npt.ArrayLike | pd.Series[Any],
    *,
    bins: int = 10,
) -> float:
    """Population stability index of a numeric column.

    Bins come from the reference quantiles (:func:`psi_edges`); each bin's proportion is
    floored at :data:`PSI_EPSILON`; PSI = sum((cur - ref) * ln(cur / ref)). Customary reading:
    below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift.

    Raises:
        InvalidArgumentError: A sample has no non-missing value, or ``bins`` is below 1.
    """
    edges = psi_edges(reference, bins=bins)
    ref = bin_proportions(clean_numeric(reference), edges)
    cur = bin_proportions(_non_empty(clean_numeric(current), "current"), edges)
    return psi_from_proportions(ref, cur)


def psi_categorical(
    reference_counts: Mapping[Any, float] | pd.Series[Any],
    current_counts: Mapping[Any, float] | pd.Series[Any],
) -> float:
    """Population stability index over category proportions (union of both samples).

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    _, ref, cur = _aligned_counts(reference_counts, current_counts)
    return psi_from_proportions(ref / ref.sum(), cur / cur.sum())


def psi_from_proportions(reference: FloatArray, current: FloatArray) -> float:
    """PSI of two aligned proportion vectors, each floored at :data:`PSI_EPSILON`."""
    ref = np.maximum(reference, PSI_EPSILON)
    cur = np.maximum(current, PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _aligned_counts(
    reference_counts: Mapping[Any, float] | pd.Series[Any],
    current_counts: Mapping[Any, float] | pd.Series[Any],
) -> tuple[list[Any], FloatArray, FloatArray]:
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


def _non_empty(values: FloatArray, label: str) -> FloatArray:
    if len(values) == 0:
        raise InvalidArgumentError(
            f"the {label} sample has no non-missing value",
            hint="drift tests need at least one observed value on each side",
        )
    return values
