"""Profiles of a column: what a drift detector keeps of it, and what a report shows of it.

:class:`FittedColumn` is what ``DriftDetector`` learns of one reference column, from its
rows (``fit``) or from a stored summary (``from_profile``: anything shaped like
:class:`NumericProfile` / :class:`CategoricalProfile`). The summaries and shared-bin
distributions feed the tables and plots of a drift report; they take no part in the drift
decision.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd

from closedloop.monitoring._distances import wasserstein_scale
from closedloop.monitoring._report import Distribution
from closedloop.monitoring._rules import FeatureKind
from closedloop.monitoring._stats import (
    FloatArray,
    bin_proportions_sorted,
    psi_edges_sorted,
    sorted_quantiles,
)

__all__ = [
    "CategoricalProfile",
    "FittedColumn",
    "NumericProfile",
    "categorical_column",
    "categorical_distribution",
    "category_counts",
    "category_text",
    "column_from_profile",
    "numeric_column",
    "numeric_distribution",
    "numeric_summary",
    "top_shares",
]

_PLOT_MAX_BINS = 50  # numeric histogram bars in the HTML page
_PLOT_MAX_CATEGORIES = 30  # categorical bars; rarer categories share one bar
_SUMMARY_TOP = 5  # categories listed in a categorical summary
_QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


@runtime_checkable
class NumericProfile(Protocol):
    """A stored summary of a numeric reference column (``DriftDetector.from_profile``).

    ``values`` are the finite values sorted: all ``n`` of them, or a sketch (evenly spaced
    order statistics) of them; ``missing`` and ``nonfinite`` count what was left out;
    ``std`` is the standard deviation (``ddof=0``) of all ``n``.
    """

    @property
    def values(self) -> FloatArray: ...
    @property
    def n(self) -> int: ...
    @property
    def missing(self) -> int: ...
    @property
    def nonfinite(self) -> int: ...
    @property
    def std(self) -> float: ...


@runtime_checkable
class CategoricalProfile(Protocol):
    """A stored summary of a categorical reference column: counts per category (as text)."""

    @property
    def counts(self) -> Mapping[str, int]: ...
    @property
    def missing(self) -> int: ...


_EMPTY = np.empty(0, dtype=np.float64)


@dataclass(frozen=True)
class FittedColumn:
    """What a drift detector keeps of one reference column.

    What only some rules or only a report page use (PSI's bins, the summary) is derived
    from ``values`` or ``counts`` on first use and kept: a profile read back to score
    windows with one rule pays for that rule only.

    Attributes:
        kind: ``numeric`` or ``categorical``.
        label: The column's label in the reference frame (its name for a profile).
        n: Finite (numeric) or non-missing (categorical) reference values.
        values: Numeric: the finite values sorted, or a sketch of them; else empty.
        counts: Categorical: count per category; else empty.
        bins: Numeric: PSI's quantile bins (see :attr:`edges`).
        scale: Numeric: the normed Wasserstein divisor.
        missing_share: Share of reference rows missing.
        non_finite_share: Share of reference rows +-inf.
    """

    kind: FeatureKind
    label: Hashable
    n: int
    values: FloatArray = field(default_factory=lambda: _EMPTY)
    counts: Mapping[str, int] = field(default_factory=dict)
    bins: int = 0
    scale: float = 1.0
    missing_share: float = 0.0
    non_finite_share: float = 0.0

    @functools.cached_property
    def edges(self) -> FloatArray:
        """Numeric: PSI's inner bin edges (empty for a categorical or empty column)."""
        if self.kind != "numeric" or len(self.values) == 0:
            return _EMPTY
        return psi_edges_sorted(self.values, self.bins)

    @functools.cached_property
    def proportions(self) -> FloatArray:
        """Numeric: the reference's share per PSI bin."""
        if self.kind != "numeric" or len(self.values) == 0:
            return _EMPTY
        return bin_proportions_sorted(self.values, self.edges)

    @functools.cached_property
    def summary(self) -> Mapping[str, float]:
        """The reference side of the report's summary table."""
        if self.kind == "categorical":
            return top_shares(self.counts)
        return numeric_summary(self.values)


def numeric_column(
    label: Hashable,
    values_sorted: FloatArray,
    *,
    n: int | None = None,
    missing: float,
    non_finite: float,
    bins: int,
    std: float | None = None,
) -> FittedColumn:
    """A numeric column from its sorted finite values, or a sketch of ``n`` of them.

    Args:
        label: The column's label.
        values_sorted: Finite values, ascending.
        n: How many finite values they stand for; default ``len(values_sorted)``.
        missing: Share of rows missing.
        non_finite: Share of rows +-inf.
        bins: PSI's quantile bins.
        std: The values' standard deviation, when known exactly (a sketch's is not).
    """
    size = len(values_sorted) if n is None else n
    if len(values_sorted) == 0:
        return FittedColumn(
            "numeric",
            label,
            0,
            values_sorted,
            bins=bins,
            missing_share=missing,
            non_finite_share=non_finite,
        )
    constant = values_sorted[0] == values_sorted[-1]
    exact_std = std is not None and not constant and std > 0
    return FittedColumn(
        "numeric",
        label,
        size,
        values_sorted,
        bins=bins,
        scale=float(std) if exact_std and std is not None else wasserstein_scale(values_sorted),
        missing_share=missing,
        non_finite_share=non_finite,
    )


def categorical_column(label: Hashable, counts: Mapping[str, int], missing: int) -> FittedColumn:
    """A categorical column from its counts per category and its missing count."""
    kept = {str(k): int(v) for k, v in counts.items() if v}
    n = sum(kept.values())
    share = missing / max(n + missing, 1)
    return FittedColumn("categorical", label, n, counts=kept, missing_share=share)


def column_from_profile(
    name: str, summary: NumericProfile | CategoricalProfile, bins: int
) -> FittedColumn:
    """A column from its stored summary.

    Raises:
        TypeError: ``summary`` is neither kind of profile.
    """
    kind = _profile_kind(summary)
    if kind == "numeric":
        summary = cast(NumericProfile, summary)
        values = np.asarray(summary.values, dtype=np.float64)
        if len(values) > 1 and not bool(np.all(values[1:] >= values[:-1])):
            values = np.sort(values)  # a stored profile keeps them sorted already
        values = _finite_sorted(values)
        total = max(summary.n + summary.missing + summary.nonfinite, 1)
        return numeric_column(
            name,
            values,
            n=int(summary.n) if len(values) else 0,
            missing=summary.missing / total,
            non_finite=summary.nonfinite / total,
            bins=bins,
            std=float(summary.std),
        )
    if kind == "categorical":
        summary = cast(CategoricalProfile, summary)
        return categorical_column(name, summary.counts, int(summary.missing))
    raise TypeError(f"column {name!r}: a {type(summary).__name__} is not a column profile")


_KIND_OF_TYPE: dict[type, str] = {}


def _profile_kind(summary: object) -> str:
    """``numeric``, ``categorical`` or ``""``: which protocol ``summary`` meets.

    A runtime protocol check inspects every attribute (slow next to the column's own
    work); a slotted class cannot grow attributes, so its answer is kept per type.
    """
    kind = _KIND_OF_TYPE.get(type(summary))
    if kind is not None:
        return kind
    if isinstance(summary, NumericProfile):
        kind = "numeric"
    elif isinstance(summary, CategoricalProfile):
        kind = "categorical"
    else:
        kind = ""
    if hasattr(type(summary), "__slots__") and not hasattr(summary, "__dict__"):
        _KIND_OF_TYPE[type(summary)] = kind
    return kind


def category_counts(values: pd.Series[Any]) -> dict[str, int]:
    """Counts per category, missing values dropped; categories are compared as text.

    Text keeps ``3`` from a DataFrame equal to ``3`` read back from a JSON log, and a whole
    float (``3.0``, what an integer column with gaps becomes in pandas) equal to ``3``.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return _arrow_string_counts(values)
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


def _arrow_string_counts(values: pd.Series[Any]) -> dict[str, int]:
    """:func:`category_counts` of an Arrow-backed text column, counted by Arrow itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counted = pc.value_counts(pc.drop_null(pa.array(values.array)))
    keys = counted.field("values").to_pylist()
    return {k: int(n) for k, n in zip(keys, counted.field("counts").to_pylist(), strict=True) if n}


def category_text(value: Any) -> str:
    """The text a category value is compared as."""
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return str(int(value))
    return str(value)


def numeric_summary(values_sorted: FloatArray) -> dict[str, float]:
    """Mean, std, min, quantiles and max of finite values in ascending order."""
    if len(values_sorted) == 0:
        return {}
    quantiles = sorted_quantiles(values_sorted, list(_QUANTILES.values()))
    return {
        "mean": float(np.mean(values_sorted)),
        "std": float(np.std(values_sorted, ddof=1 if len(values_sorted) > 1 else 0)),
        "min": float(values_sorted[0]),
        **{key: float(q) for key, q in zip(_QUANTILES, quantiles, strict=True)},
        "max": float(values_sorted[-1]),
    }


def top_shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:_SUMMARY_TOP]
    return {k: v / total for k, v in top} if total else {}


def numeric_distribution(ref: FloatArray, cur: FloatArray) -> Distribution:
    """Shares of both samples over one set of histogram bins spanning both.

    Both samples are ascending (a fitted reference, a sorted window). Non-finite values
    (+-inf, NaN) are left out: the statistics exclude them too, and a bin edge at infinity
    has no width to draw. The bins are numpy's ``bins="auto"`` over both samples together,
    the counts ``np.histogram``'s, both read off the sorted samples without merging them.
    """
    ref, cur = _finite_sorted(ref), _finite_sorted(cur)
    if len(ref) + len(cur) == 0:
        return Distribution((), (), (), ())
    edges = _plot_edges(ref, cur)
    shares = [_histogram_sorted(side, edges) / max(len(side), 1) for side in (ref, cur)]
    labels = [f"[{a:.4g}, {b:.4g})" for a, b in itertools.pairwise(edges)]
    labels[-1] = labels[-1][:-1] + "]"  # numpy's last bin includes its right edge
    return Distribution(
        labels=tuple(labels),
        edges=tuple(float(e) for e in edges),
        reference=tuple(float(s) for s in shares[0]),
        current=tuple(float(s) for s in shares[1]),
    )


def _finite_sorted(values: FloatArray) -> FloatArray:
    """Ascending values without NaN (sorted last) and +-inf (sorted at the ends)."""
    if len(values) == 0 or (math.isfinite(values[0]) and math.isfinite(values[-1])):
        return values
    return values[np.isfinite(values)]


def _histogram_sorted(values_sorted: FloatArray, edges: FloatArray) -> FloatArray:
    """``np.histogram(values, bins=edges)[0]`` of ascending values inside the edges."""
    cut = np.searchsorted(values_sorted, edges, side="left")
    cut[-1] = np.searchsorted(values_sorted, edges[-1], side="right")
    return np.diff(cut).astype(np.float64)


def _whole(values: FloatArray) -> bool:
    """Whether every value is a whole number (a spread-out sample is checked first)."""
    if len(values) == 0:
        return True
    sample = values[:: max(1, len(values) // 1024)]
    if not np.array_equal(sample, np.round(sample)):
        return False
    return bool(np.array_equal(values, np.round(values)))


def _plot_edges(ref: FloatArray, cur: FloatArray) -> FloatArray:
    ends = [a[i] for a in (ref, cur) if len(a) for i in (0, -1)]
    lo, hi = float(min(ends)), float(max(ends))
    if lo == hi:
        return np.array([lo - 0.5, hi + 0.5])
    n_bins = _auto_bins(ref, cur, hi - lo)
    if _whole(ref) and _whole(cur):
        # whole numbers (ages, counts): bins of a whole width centred on them, or bars
        # alternately holding two and three values make a comb out of a smooth shape
        width = max(1.0, math.ceil((hi - lo + 1) / n_bins))
        return np.arange(lo - 0.5, hi + 0.5 + width, width)
    return np.linspace(lo, hi, n_bins + 1)


def _auto_bins(ref: FloatArray, cur: FloatArray, span: float) -> int:
    """The bin count of numpy's ``bins="auto"`` (larger of Sturges and Freedman-Diaconis), capped.

    Computed here rather than by ``np.histogram_bin_edges``, which would first build every
    edge: a narrow interquartile range under a few far outliers asks for billions.
    """
    n = len(ref) + len(cur)
    sturges = math.ceil(span / (span / (math.log2(n) + 1.0)))
    q25, q75 = (_union_quantile(ref, cur, q) for q in (0.25, 0.75))
    iqr = q75 - q25
    fd = math.ceil(span / (2.0 * iqr * n ** (-1.0 / 3.0))) if iqr > 0 else 0
    return max(1, min(max(sturges, fd), _PLOT_MAX_BINS))


def _union_quantile(a: FloatArray, b: FloatArray, q: float) -> float:
    """``np.quantile(np.concatenate([a, b]), q)`` of two ascending arrays, without merging."""
    virtual = (len(a) + len(b) - 1) * q
    below = math.floor(virtual)
    gamma = virtual - below
    lo = _kth_of_union(a, b, below)
    hi = _kth_of_union(a, b, min(below + 1, len(a) + len(b) - 1))
    diff = hi - lo
    return hi - diff * (1 - gamma) if gamma >= 0.5 else lo + diff * gamma


def _kth_of_union(a: FloatArray, b: FloatArray, k: int) -> float:
    """The ``k``-th smallest (from 0) of the values of two ascending arrays."""
    # take i values from a and k + 1 - i from b: the smallest i whose next a is not
    # below the last b taken
    lo, hi = max(0, k + 1 - len(b)), min(k + 1, len(a))
    while lo < hi:
        i = (lo + hi) // 2
        if a[i] < b[k - i]:
            lo = i + 1
        else:
            hi = i
    i, j = lo, k + 1 - lo
    return float(max(a[i - 1] if i else -math.inf, b[j - 1] if j else -math.inf))


def categorical_distribution(ref: Mapping[str, int], cur: Mapping[str, int]) -> Distribution:
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
