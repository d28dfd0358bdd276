"""Distances between two distributions: pure functions, no state, no I/O.

Sample-based distances take raw numeric samples (missing values dropped, +-inf left out:
see :mod:`closedloop.monitoring._stats`) or aligned category counts. Their definitions are
Evidently's (0.7, ``evidently.legacy.calculations.stattests``), so the numbers agree:

* **Jensen-Shannon distance** (:func:`jensenshannon_categorical`,
  :func:`jensenshannon_numeric`): ``scipy.spatial.distance.jensenshannon`` (natural log, so
  it lies in ``[0, sqrt(ln 2)]``) of the two share vectors. Categorical: shares over the
  union of categories. Numeric: when the reference has more than
  :data:`JS_DISTINCT_LIMIT` distinct values, the shares of ``np.histogram`` over
  ``np.histogram_bin_edges(both samples, bins="sturges")``, i.e. ``ceil(log2(n_ref + n_cur)
  + 1)`` equal-width bins spanning both samples; otherwise the shares of each distinct value.
* **Normed Wasserstein distance** (:func:`wasserstein_norm`): ``scipy.stats.
  wasserstein_distance(ref, cur) / np.std(ref)``, in units of the reference's standard
  deviation. A constant reference has no spread to norm by: its scale is then ``|c|`` (the
  constant), or 1 when the constant is 0, so all 1.0 -> all 2.0 gives 1.0. (Evidently floors
  the standard deviation at 0.001 instead, a floor in the data's own unit; the two agree
  whenever the reference's standard deviation is at least 0.001.)
* **Total variation** (:func:`total_variation`): half the L1 distance of the shares.
* **Hellinger** (:func:`hellinger`): ``sqrt(1 - sum(sqrt(p * q)))``, the Bhattacharyya
  coefficient clipped to ``[0, 1]``.

The ``*_rows`` functions compute a distance from one reference share vector to many
candidate share vectors at once (one per row); the noise floor of
:mod:`closedloop.monitoring._rules` draws its resamples through them.

Binned forms (:func:`binned_ks`, :func:`binned_wasserstein`, :func:`binned_jensenshannon`,
:func:`binned_psi`) score two histograms over shared edges, so they work on mergeable
sketches: add up a month of window histograms and score the sum.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._stats import (
    PSI_EPSILON,
    Counts,
    FloatArray,
    aligned_counts,
    check_sorted_reference,
    clean_numeric,
    distinct_sorted,
    non_empty,
)

__all__ = [
    "JS_DISTINCT_LIMIT",
    "binned_jensenshannon",
    "binned_ks",
    "binned_psi",
    "binned_wasserstein",
    "hellinger",
    "hellinger_rows",
    "histogram_counts",
    "jensenshannon_categorical",
    "jensenshannon_numeric",
    "jensenshannon_rows",
    "jensenshannon_sorted",
    "numeric_shares",
    "psi_rows",
    "sturges_edges",
    "total_variation",
    "total_variation_rows",
    "wasserstein_norm",
    "wasserstein_norm_sorted",
    "wasserstein_scale",
    "wasserstein_sorted",
]

JS_DISTINCT_LIMIT = 20
"""A numeric reference with at most this many distinct values is compared value by value."""

Sample = npt.ArrayLike | pd.Series


# distances of share vectors, row-wise -------------------------------------------------------
def jensenshannon_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    """JS distance of ``reference`` to each row of ``current`` (scipy's formula, natural log).

    Both are normalised to sum to 1 along the last axis first, as scipy does.
    """
    from scipy.special import rel_entr

    p = reference / np.sum(reference, axis=-1, keepdims=True)
    q = current / np.sum(current, axis=-1, keepdims=True)
    m = (p + q) / 2.0
    js = (np.sum(rel_entr(p, m), axis=-1) + np.sum(rel_entr(q, m), axis=-1)) / 2.0
    out: FloatArray = np.sqrt(np.maximum(js, 0.0))
    return out


def total_variation_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    """Total variation distance of share vector ``reference`` to each row of ``current``."""
    out: FloatArray = 0.5 * np.sum(np.abs(reference - current), axis=-1)
    return out


def hellinger_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    """Hellinger distance of share vector ``reference`` to each row of ``current``."""
    coefficient = np.clip(np.sum(np.sqrt(reference * current), axis=-1), 0.0, 1.0)
    out: FloatArray = np.sqrt(1.0 - coefficient)
    return out


def psi_rows(reference: FloatArray, current: FloatArray) -> FloatArray:
    """PSI of share vector ``reference`` to each row of ``current`` (shares floored)."""
    ref = np.maximum(reference, PSI_EPSILON)
    cur = np.maximum(current, PSI_EPSILON)
    out: FloatArray = np.sum((cur - ref) * np.log(cur / ref), axis=-1)
    return out


# categorical --------------------------------------------------------------------------------
def jensenshannon_categorical(reference_counts: Counts, current_counts: Counts) -> float:
    """Jensen-Shannon distance of two categorical samples' shares (union of categories).

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    _, ref, cur = aligned_counts(reference_counts, current_counts)
    return float(jensenshannon_rows(ref, cur))


def total_variation(reference_counts: Counts, current_counts: Counts) -> float:
    """Total variation distance, ``0.5 * sum(|p - q|)``, of two categorical samples.

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    _, ref, cur = aligned_counts(reference_counts, current_counts)
    return float(total_variation_rows(ref / ref.sum(), cur / cur.sum()))


def hellinger(reference_counts: Counts, current_counts: Counts) -> float:
    """Hellinger distance, ``sqrt(1 - sum(sqrt(p * q)))``, of two categorical samples.

    Raises:
        InvalidArgumentError: A sample is empty or a count is negative.
    """
    _, ref, cur = aligned_counts(reference_counts, current_counts)
    return float(hellinger_rows(ref / ref.sum(), cur / cur.sum()))


# numeric: Jensen-Shannon on bins ------------------------------------------------------------
def jensenshannon_numeric(reference: Sample, current: Sample) -> float:
    """Jensen-Shannon distance of two numeric samples on Evidently's bins (module docstring).

    Raises:
        InvalidArgumentError: A sample has no finite value.
    """
    ref = np.sort(non_empty(clean_numeric(reference), "reference"))
    return jensenshannon_sorted(ref, current)


def jensenshannon_sorted(reference_sorted: FloatArray, current: Sample) -> float:
    """:func:`jensenshannon_numeric` from an already sorted, finite reference.

    Raises:
        InvalidArgumentError: A sample has no finite value, or the reference is not sorted.
    """
    ref = check_sorted_reference(reference_sorted)
    cur = np.sort(non_empty(clean_numeric(current), "current"))
    ref_shares, cur_shares = numeric_shares(ref, cur)
    return float(jensenshannon_rows(ref_shares, cur_shares))


def numeric_shares(reference_sorted: FloatArray, current_sorted: FloatArray) -> tuple[Any, Any]:
    """Both samples' shares on the bins of :func:`jensenshannon_numeric` (sorted inputs).

    Up to :data:`JS_DISTINCT_LIMIT` distinct reference values, one bin per distinct value
    of either sample; beyond, Sturges' equal-width bins over both samples.
    """
    ref, cur = reference_sorted, current_sorted
    distinct = distinct_sorted(ref)[0]
    if len(distinct) > JS_DISTINCT_LIMIT:
        edges = sturges_edges(min(ref[0], cur[0]), max(ref[-1], cur[-1]), len(ref) + len(cur))
        return _sorted_histogram(ref, edges) / len(ref), _sorted_histogram(cur, edges) / len(cur)
    keys = np.union1d(distinct, distinct_sorted(cur)[0])
    shares = []
    for side in (ref, cur):
        counts = np.searchsorted(side, keys, side="right") - np.searchsorted(side, keys, "left")
        shares.append(counts / len(side))
    return shares[0], shares[1]


def sturges_edges(low: float, high: float, size: int) -> FloatArray:
    """``np.histogram_bin_edges(x, bins="sturges")`` of a float sample from its range and size.

    Mirrors numpy: a zero range widens to ``low - 0.5 .. high + 0.5`` with one bin; otherwise
    ``ceil(range / width)`` bins of width ``range / (log2(size) + 1)``. (numpy floors the
    width at 1 for integer dtypes; samples here are floats.)
    """
    first, last = float(low), float(high)
    width = (last - first) / (np.log2(size) + 1.0)
    if first == last:
        first, last = first - 0.5, last + 0.5
    n_bins = int(np.ceil((last - first) / width)) if width else 1
    edges: FloatArray = np.linspace(first, last, n_bins + 1, endpoint=True)
    return edges


def _sorted_histogram(values_sorted: FloatArray, edges: FloatArray) -> FloatArray:
    """``np.histogram(values, edges)[0]`` of sorted values (last bin closed), as floats."""
    cut = np.searchsorted(values_sorted, edges[:-1], side="left")
    cut = np.append(cut, np.searchsorted(values_sorted, edges[-1], side="right"))
    return np.diff(cut).astype(np.float64)


# numeric: Wasserstein -----------------------------------------------------------------------
def wasserstein_scale(reference_sorted: FloatArray) -> float:
    """What :func:`wasserstein_norm` divides by: ``np.std(ref)``, or the constant's scale.

    A constant reference (first == last sorted value; not a float ``std`` that rounding
    left at 1e-17) has scale ``|c|``, or 1 when ``c`` is 0.
    """
    ref = reference_sorted
    if ref[0] == ref[-1]:
        return abs(float(ref[0])) or 1.0
    return float(np.std(ref))


def wasserstein_norm(reference: Sample, current: Sample) -> float:
    """Normed Wasserstein distance: ``wasserstein_distance(ref, cur) / np.std(ref)``.

    See the module docstring for the scale of a constant reference.

    Raises:
        InvalidArgumentError: A sample has no finite value.
    """
    ref = np.sort(non_empty(clean_numeric(reference), "reference"))
    return wasserstein_norm_sorted(ref, current)


def wasserstein_norm_sorted(
    reference_sorted: FloatArray, current: Sample, *, scale: float | None = None
) -> float:
    """:func:`wasserstein_norm` from an already sorted, finite reference.

    Args:
        reference_sorted: The finite reference values in ascending order.
        current: The current sample (missing and non-finite values dropped).
        scale: The divisor, when already known (:func:`wasserstein_scale` of the reference,
            computed once at fit); default: computed here.

    Raises:
        InvalidArgumentError: A sample has no finite value, the reference is not sorted, or
            ``scale`` is not positive.
    """
    ref = check_sorted_reference(reference_sorted)
    cur = np.sort(non_empty(clean_numeric(current), "current"))
    divisor = wasserstein_scale(ref) if scale is None else float(scale)
    if not divisor > 0:
        raise InvalidArgumentError(f"scale must be positive, got {scale!r}")
    return wasserstein_sorted(ref, cur) / divisor


def wasserstein_sorted(reference_sorted: FloatArray, current_sorted: FloatArray) -> float:
    """``scipy.stats.wasserstein_distance`` of two sorted samples, without re-sorting either.

    The distance is the integral of the gap between the two quantile functions. Scaled by
    ``n_ref * n_cur``, the reference's quantile function steps at ``k * n_cur`` and the
    current's at ``l * n_ref``; the pieces between consecutive step points are summed per
    side without merging the two: the piece ending at the reference's ``k``-th step starts
    at the later of its previous step and the last current step strictly before it, and
    the current's ``l``-th piece at the later of its previous step and the last reference
    step at or before it (a tie is the reference's, the current piece gets width 0). Every
    index comes from integer division by a constant (exact; no search, no merge), in blocks
    that stay in the CPU cache, so the cost is a few linear passes over each side.
    """
    nu, nv = len(reference_sorted), len(current_sorted)
    if nv % nu == 0:
        return _wasserstein_multiple(reference_sorted, current_sorted)
    if nu % nv == 0:
        return _wasserstein_multiple(current_sorted, reference_sorted)
    total = _pieces(reference_sorted, current_sorted, tie_is_mine=True)
    total += _pieces(current_sorted, reference_sorted, tie_is_mine=False)
    return total / (float(nu) * float(nv))


_BLOCK = 1 << 14  # values per block of wasserstein_sorted: its temporaries fit in L2


def _wasserstein_multiple(short: FloatArray, long: FloatArray) -> float:
    """:func:`wasserstein_sorted` when ``len(long)`` is ``k * len(short)`` (equal sizes: 1).

    Every step of the short side's quantile function is then a step of the long side's,
    and on the long side's ``j``-th piece (width ``1 / len(long)``) the short side's value
    is ``short[j // k]``: the distance is the mean of ``|long[j] - short[j // k]|``, one
    broadcast subtraction per block with no index arrays at all.
    """
    k = len(long) // len(short)
    rows = max(1, _BLOCK // k)
    total = 0.0
    for start in range(0, len(short), rows):
        stop = min(len(short), start + rows)
        block = long[start * k : stop * k].reshape(stop - start, k)
        total += float(np.abs(block - short[start:stop, None]).sum())
    return total / len(long)


def _pieces(mine: FloatArray, other: FloatArray, *, tie_is_mine: bool) -> float:
    """Sum of ``gap * width`` over the pieces ending at the steps of ``mine`` (scaled)."""
    n_mine, n_other = len(mine), len(other)
    if n_mine <= _PLAN_MAX_VALUES:
        # the indices depend on the sizes only: every column of a window shares them
        at, width = _piece_plan(n_mine, n_other, tie_is_mine)
        return float(np.einsum("i,i->", np.abs(mine - other[at]), width))
    total = 0.0
    for start in range(0, n_mine, _BLOCK):
        stop = min(n_mine, start + _BLOCK)
        at, width = _plan_block(start, stop, n_mine, n_other, tie_is_mine)
        gaps = np.abs(mine[start:stop] - other[at])
        # einsum, not np.dot: BLAS may spread one dot product over threads, which costs
        # far more than it saves on a block this size (100x on a busy 2-core machine)
        total += float(np.einsum("i,i->", gaps, width))
    return total


_PLAN_MAX_VALUES = 1 << 18  # sides up to this size keep their piece plan (4 MiB each)


@functools.lru_cache(maxsize=8)
def _piece_plan(n_mine: int, n_other: int, tie_is_mine: bool) -> tuple[Any, Any]:
    at, width = _plan_block(0, n_mine, n_mine, n_other, tie_is_mine)
    at.flags.writeable = False
    width.flags.writeable = False
    return at, width


def _plan_block(
    start: int, stop: int, n_mine: int, n_other: int, tie_is_mine: bool
) -> tuple[Any, FloatArray]:
    """For the steps ``start:stop`` of one side: the other's index and each piece's width."""
    end = np.arange(start + 1, stop + 1, dtype=np.int64) * n_other
    at = (end - 1) // n_mine  # the other's quantile index on the piece ending at ``end``
    # the other's last step before the piece's end: strictly before when a tie is mine, at
    # or before when it is the other's (and then this piece may be empty)
    other_step = (at if tie_is_mine else end // n_mine) * n_mine
    width = end - np.maximum(end - n_other, other_step)
    if not tie_is_mine:
        np.maximum(width, 0, out=width)
    return at, width.astype(np.float64)


# binned forms -------------------------------------------------------------------------------
def histogram_counts(values: Sample, edges: npt.ArrayLike) -> FloatArray:
    """Counts of ``values`` in the bins of ``edges`` (``len(edges) - 1`` bins).

    Bins are ``[e_i, e_{i+1})``, the last one closed; values below the first edge count in
    the first bin and values above the last edge in the last (so counts of windows that
    stray outside the reference range still add up). Missing and non-finite values are
    dropped.

    Raises:
        InvalidArgumentError: The edges are fewer than two, not finite or not increasing.
    """
    grid = _check_edges(edges)
    x = clean_numeric(values)
    index = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
    return np.bincount(index, minlength=len(grid) - 1).astype(np.float64)


def binned_ks(edges: npt.ArrayLike, reference_counts: Any, current_counts: Any) -> float:
    """KS statistic evaluated at the bin edges: ``max |F_ref(e) - F_cur(e)|``.

    A lower bound of the KS statistic of the underlying samples; it falls short by at most
    the largest share a single bin holds in either sample (inside a bin both CDFs move by
    at most their bin's share).

    Raises:
        InvalidArgumentError: Edges or counts are invalid (see :func:`histogram_counts`).
    """
    _, ref, cur = _binned(edges, reference_counts, current_counts)
    return float(np.max(np.abs(np.cumsum(ref) - np.cumsum(cur))))


def binned_wasserstein(
    edges: npt.ArrayLike,
    reference_counts: Any,
    current_counts: Any,
    *,
    scale: float | None = None,
) -> float:
    """Wasserstein distance of two histograms, each bin's mass put at the bin's midpoint.

    Approximation: moving a sample's values to their bin midpoints moves it by at most
    ``sum(share_i * width_i) / 2`` in Wasserstein distance, so the result differs from the
    distance of the underlying samples by at most ``sum((p_i + q_i) * width_i) / 2`` (before
    dividing by ``scale``), never more than the widest bin.

    Args:
        edges: Shared finite, increasing bin edges.
        reference_counts: Reference count per bin.
        current_counts: Current count per bin.
        scale: Divisor that makes it a normed distance, e.g. the reference's standard
            deviation kept from the raw data. ``None``: the standard deviation of the
            reference histogram (mass at midpoints), with a constant histogram's scale as in
            :func:`wasserstein_scale`. Pass 1.0 for the raw distance.

    Raises:
        InvalidArgumentError: Edges, counts or ``scale`` are invalid.
    """
    grid, ref, cur = _binned(edges, reference_counts, current_counts)
    mids = (grid[:-1] + grid[1:]) / 2
    raw = float(np.dot(np.abs(np.cumsum(ref) - np.cumsum(cur))[:-1], np.diff(mids)))
    if scale is None:
        mean = float(np.dot(ref, mids))
        std = float(np.sqrt(np.dot(ref, (mids - mean) ** 2)))
        occupied = mids[ref > 0]
        scale = std if occupied[0] != occupied[-1] else (abs(float(occupied[0])) or 1.0)
    if not (isinstance(scale, float | int) and scale > 0):
        raise InvalidArgumentError(f"scale must be positive, got {scale!r}")
    return raw / float(scale)


def binned_jensenshannon(edges: npt.ArrayLike, reference_counts: Any, current_counts: Any) -> float:
    """Jensen-Shannon distance of two histograms over shared edges.

    Raises:
        InvalidArgumentError: Edges or counts are invalid.
    """
    _, ref, cur = _binned(edges, reference_counts, current_counts)
    return float(jensenshannon_rows(ref, cur))


def binned_psi(edges: npt.ArrayLike, reference_counts: Any, current_counts: Any) -> float:
    """PSI of two histograms over shared edges (shares floored as in ``psi``).

    Raises:
        InvalidArgumentError: Edges or counts are invalid.
    """
    _, ref, cur = _binned(edges, reference_counts, current_counts)
    return float(psi_rows(ref, cur))


def _check_edges(edges: npt.ArrayLike) -> FloatArray:
    grid = np.asarray(edges, dtype=np.float64).ravel()
    if len(grid) < 2 or not np.all(np.isfinite(grid)) or bool(np.any(np.diff(grid) <= 0)):
        raise InvalidArgumentError(
            "bin edges must be at least two finite, strictly increasing numbers",
            hint="e.g. np.quantile(reference, np.linspace(0, 1, 51)) deduplicated",
        )
    return grid


def _binned(
    edges: npt.ArrayLike, reference_counts: Any, current_counts: Any
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Edges and both count vectors as shares, validated."""
    grid = _check_edges(edges)
    shares = []
    for label, counts in (("reference", reference_counts), ("current", current_counts)):
        arr = np.asarray(counts, dtype=np.float64).ravel()
        if len(arr) != len(grid) - 1:
            raise InvalidArgumentError(
                f"{label} counts have {len(arr)} bins but the edges make {len(grid) - 1}",
                hint="give one count per bin: len(counts) == len(edges) - 1",
            )
        if not np.all(np.isfinite(arr)) or bool(np.any(arr < 0)) or arr.sum() <= 0:
            raise InvalidArgumentError(
                f"{label} counts must be finite, non-negative and not all zero"
            )
        shares.append(arr / arr.sum())
    return grid, shares[0], shares[1]
