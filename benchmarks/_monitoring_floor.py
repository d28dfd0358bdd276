"""The floor: the least numpy code that computes Evidently's ``DataDriftPreset`` column scores.

Evidently 0.7 picks a method per column (``get_stattest``'s default for a reference of more
than 1,000 rows): a numeric column with more than 5 distinct values (reference and current
together) gets the **normed Wasserstein distance** ``wasserstein_distance(ref, cur) /
max(std(ref), 0.001)`` (``std`` with ``ddof=0``); every other column the **Jensen-Shannon
distance** (natural log) between the shares of each value. Missing and infinite values
are dropped first; a column drifts when its score is at least 0.1. This module computes the
same numbers in one pass over the columns, single-threaded, with no per-row Python:

- Wasserstein: sort each side once; the distance is the integral of the gap between the
  two quantile functions, ``∫ |F_ref⁻¹(t) - F_cur⁻¹(t)| dt``, whose pieces lie between the
  merged step points ``i / n_ref`` and ``j / n_cur``. Those points are merged by integer
  arithmetic (no search and no third sort), so the cost is the two sorts plus a few linear
  passes, for any two sizes (no shortcut when ``n_ref == n_cur``, which real windows rarely
  are).
- Jensen-Shannon: one hash count per side (``value_counts``: numpy has no hash count)
  aligned on the union of the values.

``build_profile`` stores what scoring needs of the reference (its sorted finite values and
std per numeric column, its counts per categorical one) in an uncompressed ``.npz``;
``score_profile`` scores a current frame against it, so the floor of the profile row pays
only for the current side.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from _monitoring_data import Score

__all__ = [
    "THRESHOLD",
    "build_profile",
    "end_to_end",
    "jensenshannon",
    "score_profile",
    "wasserstein",
]

THRESHOLD = 0.1  # Evidently's default for both methods
_SMALL_REFERENCE = 1000  # at or below this, Evidently picks other tests (KS, chi-square, z)


def _finite_sorted(values: pd.Series) -> np.ndarray:
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(x)
    return np.sort(x if finite.all() else x[finite])


def wasserstein(ref: np.ndarray, cur: np.ndarray) -> float:
    """scipy's ``wasserstein_distance`` of two **sorted** samples, by merging step points.

    Scaled by ``n_ref * n_cur``, the quantile functions step at the integers ``k * n_cur``
    (reference) and ``l * n_ref`` (current); ``t`` lists both merged, and on the piece
    ending at ``t`` the quantiles are ``ref[(t - 1) // n_cur]`` and ``cur[(t - 1) // n_ref]``.
    """
    nu, nv = len(ref), len(cur)
    k = np.arange(1, nu + 1, dtype=np.int64)
    position = k - 1 + (k * nv - 1) // nu  # where the k-th reference step lands (ties first)
    is_ref = np.zeros(nu + nv, dtype=bool)
    is_ref[position] = True
    t = np.empty(nu + nv, dtype=np.int64)
    t[position] = k * nv
    t[~is_ref] = np.arange(1, nv + 1, dtype=np.int64) * nu
    width = np.diff(t, prepend=0)
    gap = np.abs(ref[(t - 1) // nv] - cur[(t - 1) // nu])
    return float(np.dot(gap, width) / (nu * nv))


def jensenshannon(ref_counts: pd.Series, cur_counts: pd.Series) -> float:
    """scipy's ``jensenshannon`` (natural log) of two count vectors, aligned by value."""
    keys = ref_counts.index.union(cur_counts.index)
    p = ref_counts.reindex(keys, fill_value=0).to_numpy(dtype=np.float64)
    q = cur_counts.reindex(keys, fill_value=0).to_numpy(dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    left = np.sum(p[p > 0] * np.log(p[p > 0] / m[p > 0]))
    right = np.sum(q[q > 0] * np.log(q[q > 0] / m[q > 0]))
    return float(np.sqrt(max(left + right, 0.0) / 2))


def _distinct(sorted_values: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(sorted_values))) + 1 if len(sorted_values) else 0


def _numeric(ref: np.ndarray, std: float, cur: pd.Series) -> Score:
    cur_sorted = _finite_sorted(cur)
    if _distinct(ref) <= 5:  # Evidently counts distinct values over both sides
        both = np.concatenate([ref, cur_sorted])
        if len(np.unique(both)) <= 5:
            value = jensenshannon(
                pd.Series(ref).value_counts(), pd.Series(cur_sorted).value_counts()
            )
            return Score("jensenshannon", value, value >= THRESHOLD)
    value = wasserstein(ref, cur_sorted) / max(std, 0.001)
    return Score("wasserstein", value, value >= THRESHOLD)


def _categorical(ref_counts: pd.Series, cur: pd.Series) -> Score:
    value = jensenshannon(ref_counts, cur.value_counts(sort=False, dropna=True))
    return Score("jensenshannon", value, value >= THRESHOLD)


def _check(ref_df: pd.DataFrame) -> None:
    if len(ref_df) <= _SMALL_REFERENCE:
        raise ValueError(f"the floor follows Evidently's choice for > {_SMALL_REFERENCE} rows")


def end_to_end(
    ref_df: pd.DataFrame, cur_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> dict[str, Score]:
    """Fit on ``ref_df`` and score ``cur_df``: one score per column."""
    _check(ref_df)
    scores: dict[str, Score] = {}
    for name in numeric:
        ref = _finite_sorted(ref_df[name])
        scores[name] = _numeric(ref, float(np.std(ref)), cur_df[name])
    for name in categorical:
        scores[name] = _categorical(ref_df[name].value_counts(sort=False), cur_df[name])
    return scores


def build_profile(
    ref_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], path: Path
) -> Path:
    """Store the reference's sorted values and std (numeric) and counts (categorical)."""
    _check(ref_df)
    arrays: dict[str, np.ndarray] = {
        "numeric": np.array(list(numeric), dtype=np.str_),
        "categorical": np.array(list(categorical), dtype=np.str_),
    }
    for i, name in enumerate(numeric):
        ref = _finite_sorted(ref_df[name])
        arrays[f"n{i}_values"], arrays[f"n{i}_std"] = ref, np.array(np.std(ref))
    for i, name in enumerate(categorical):
        counts = ref_df[name].value_counts(sort=False)
        arrays[f"c{i}_keys"] = counts.index.to_numpy(dtype=np.str_)
        arrays[f"c{i}_counts"] = counts.to_numpy(dtype=np.int64)
    with path.open("wb") as f:
        np.savez(f, allow_pickle=False, **arrays)
    return path


def score_profile(path: Path, cur_df: pd.DataFrame) -> dict[str, Score]:
    """Score ``cur_df`` against a profile of :func:`build_profile`."""
    scores: dict[str, Score] = {}
    with np.load(path, allow_pickle=False) as profile:
        for i, name in enumerate(profile["numeric"].tolist()):
            ref = profile[f"n{i}_values"]
            scores[name] = _numeric(ref, float(profile[f"n{i}_std"]), cur_df[name])
        for i, name in enumerate(profile["categorical"].tolist()):
            counts = pd.Series(profile[f"c{i}_counts"], index=profile[f"c{i}_keys"].astype(object))
            scores[name] = _categorical(counts, cur_df[name])
    return scores
