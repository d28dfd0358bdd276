"""Profiles of a column for reports: small summaries and shared-bin distributions.

These feed the tables and plots of a drift report; they take no part in the drift decision.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from closedloop.monitoring._report import Distribution
from closedloop.monitoring._stats import FloatArray

__all__ = [
    "categorical_distribution",
    "category_counts",
    "category_text",
    "numeric_distribution",
    "numeric_summary",
    "top_shares",
]

_PLOT_MAX_BINS = 50  # numeric histogram bars in the HTML page
_PLOT_MAX_CATEGORIES = 30  # categorical bars; rarer categories share one bar
_SUMMARY_TOP = 5  # categories listed in a categorical summary
_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


def category_counts(values: pd.Series[Any]) -> dict[str, int]:
    """Counts per category, missing values dropped; categories are compared as text.

    Text keeps ``3`` from a DataFrame equal to ``3`` read back from a JSON log, and a whole
    float (``3.0``, what an integer column with gaps becomes in pandas) equal to ``3``.
    """
    present = values.dropna()
    try:
        raw = present.value_counts(sort=False)
    except TypeError:  # unhashable values (lists, dicts) in a logged input
        raw = present.astype(str).value_counts(sort=False)
    counts: dict[str, int] = {}
    for key, n in raw.items():
        if n:
            text = category_text(key)
            counts[text] = counts.get(text, 0) + int(n)
    return counts


def category_text(value: Any) -> str:
    """The text a category value is compared as."""
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def numeric_summary(values: FloatArray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    quantiles = np.quantile(values, list(_QUANTILES.values()))
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values, ddof=1 if len(values) > 1 else 0)),
        "min": float(values.min()),
        **{key: float(q) for key, q in zip(_QUANTILES, quantiles, strict=True)},
        "max": float(values.max()),
    }


def top_shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:_SUMMARY_TOP]
    return {k: v / total for k, v in top} if total else {}


def numeric_distribution(ref: FloatArray, cur: FloatArray) -> Distribution:
    """Shares of both samples over one set of histogram bins spanning both."""
    both = np.concatenate([ref, cur])
    if len(both) == 0:
        return Distribution((), (), (), ())
    edges = _plot_edges(both)
    shares = [np.histogram(side, bins=edges)[0] / max(len(side), 1) for side in (ref, cur)]
    labels = [f"[{a:.4g}, {b:.4g})" for a, b in itertools.pairwise(edges)]
    labels[-1] = labels[-1][:-1] + "]"  # numpy's last bin includes its right edge
    return Distribution(
        labels=tuple(labels),
        edges=tuple(float(e) for e in edges),
        reference=tuple(float(s) for s in shares[0]),
        current=tuple(float(s) for s in shares[1]),
    )


def _plot_edges(values: FloatArray) -> FloatArray:
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    n_bins = min(len(np.histogram_bin_edges(values, bins="auto")) - 1, _PLOT_MAX_BINS)
    if np.all(values == np.round(values)):
        # whole numbers (ages, counts): bins of a whole width centred on them, or bars
        # alternately holding two and three values make a comb out of a smooth shape
        width = max(1.0, math.ceil((hi - lo + 1) / n_bins))
        return np.arange(lo - 0.5, hi + 0.5 + width, width)
    return np.linspace(lo, hi, n_bins + 1)


def categorical_distribution(ref: dict[str, int], cur: dict[str, int]) -> Distribution:
    n_ref, n_cur = max(sum(ref.values()), 1), max(sum(cur.values()), 1)
    order = sorted(
        set(ref) | set(cur), key=lambda c: (-ref.get(c, 0) / n_ref, -cur.get(c, 0) / n_cur, c)
    )
    shown, rest = order[:_PLOT_MAX_CATEGORIES], order[_PLOT_MAX_CATEGORIES:]
    labels = list(shown)
    ref_shares = [ref.get(c, 0) / n_ref for c in shown]
    cur_shares = [cur.get(c, 0) / n_cur for c in shown]
    if rest:
        labels.append(f"{len(rest)} other categories")
        ref_shares.append(sum(ref.get(c, 0) for c in rest) / n_ref)
        cur_shares.append(sum(cur.get(c, 0) for c in rest) / n_cur)
    return Distribution(tuple(labels), (), tuple(ref_shares), tuple(cur_shares))
