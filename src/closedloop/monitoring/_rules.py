"""When a column counts as drifted: the automatic rule, per-column rules, the noise floor.

The automatic rule
------------------
It mirrors Evidently's default (``evidently.legacy.calculations.stattests.registry.
_get_default_stattest``): a statistical test on small samples, a distance on large ones.

* numeric column: the two-sample **Kolmogorov-Smirnov** test (drifted when ``p < alpha``,
  default 0.05) when the current sample has at most :data:`AUTO_TEST_MAX_N` (1,000) finite
  values, else the **normed Wasserstein distance** (drifted when >= 0.1);
* categorical column: the **chi-square** homogeneity test (``p < alpha``) up to 1,000 values,
  else the **Jensen-Shannon distance** (>= 0.1).

A test measures evidence, which grows with the sample: on a million rows KS calls a shift
of a hundredth of a standard deviation significant. A distance measures the size of the
change, which does not grow with the sample: a +0.3 standard deviation shift is a normed
Wasserstein distance of 0.3 at any size. So a test decides where evidence is scarce and a
distance where it is plentiful. Two differences from Evidently: the switch looks at the
*current* sample (Evidently's looks at the reference), since the window is what varies
from check to check and a small window is what makes a distance noisy; and numeric columns
with five distinct values or fewer still use KS / Wasserstein (Evidently moves them to
chi-square / Jensen-Shannon).

A :class:`ColumnRule` picks one method (and threshold) for a column instead:
``ks``, ``chi2`` (tests), ``psi``, ``jensenshannon``, ``wasserstein``, ``tv`` (total
variation), ``hellinger`` (distances). Numeric columns accept all but ``chi2``; categorical
ones all but ``ks`` and ``wasserstein``. Default thresholds: :data:`DEFAULT_THRESHOLDS`.

The noise floor of a distance
-----------------------------
A distance between two samples is positive even when both come from one distribution, and
the smaller the current window, the larger it is: PSI over 40 categories is about 0.04 on
3,000 rows of pure noise, a Jensen-Shannon distance over 40 categories about 0.1 on 500.
A fixed threshold therefore flags small windows of unchanged data. So each distance is also
compared with its **noise floor**: the ``1 - alpha`` quantile of the distance between the
reference's bin shares ``p`` and ``B`` multinomial samples of size ``n`` drawn from
``p``, i.e. what the distance looks like on a window of that size when nothing changed.
``n`` is the effective size ``n_ref * n_cur / (n_ref + n_cur)``: the reference is a sample
too, and for these distances the noise of two samples adds up like the noise of one sample
of that size (about ``n_cur`` when the reference is much larger). That calibrates the
false-positive rate over references; for one given reference not much larger than the
window, its own sampling error is shared by every window, so the rate varies around
``alpha`` (a larger reference narrows it). A distance flags only
when it is at least the threshold **and** above the floor (strictly: distances of discrete
counts take repeated values, and ``>`` keeps the false-positive rate at most ``alpha``).
On large windows the floor is far below the threshold and changes nothing. ``B`` is 1,000
by default, fewer on wide columns (down to 200, keeping ``B * bins`` near two million):
the quantile of ``B`` draws is itself an estimate, and with 200 of them the rate a floor
achieves for one window size ranges from about 0.02 to 0.09 for ``alpha = 0.05``, with
1,000 from about 0.035 to 0.065 (windows of varying size each get their own floor, so this
noise also averages out over them). Resampling is
vectorised (one ``multinomial`` call), seeded (reproducible reports) and cached by the
detector per (column, method, window size). The bins are the ones the distance itself
uses: category shares; PSI's reference-quantile bins; Jensen-Shannon / TV / Hellinger on
numbers use the reference's distinct values (up to 20) or Sturges' bins over the reference
range for ``n_ref + n_cur`` values; Wasserstein uses 100 reference-quantile groups, each
at its mean, which slightly understates the noise inside a group.

The dataset
-----------
The dataset drifted when the share of drifted columns is at least ``drift_share`` (0.5 by
default, as in Evidently).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np

from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._distances import (
    JS_DISTINCT_LIMIT,
    hellinger_rows,
    jensenshannon_rows,
    psi_rows,
    sturges_edges,
    total_variation_rows,
)
from closedloop.monitoring._stats import FloatArray, distinct_sorted, sorted_quantiles

__all__ = [
    "AUTO_TEST_MAX_N",
    "CATEGORICAL_METHODS",
    "DEFAULT_ALPHA",
    "DEFAULT_DRIFT_SHARE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_THRESHOLDS",
    "EARLY_MARGIN",
    "EARLY_RESAMPLES",
    "METHODS",
    "METHOD_NAMES",
    "NUMERIC_METHODS",
    "TEST_METHODS",
    "ColumnRule",
    "FeatureKind",
    "FloorSampler",
    "Method",
    "MIN_RESAMPLES",
    "NullModel",
    "ResolvedMethod",
    "ResolvedRule",
    "auto_resamples",
    "check_alpha",
    "check_drift_share",
    "dataset_drift",
    "effective_size",
    "noise_floor",
    "null_model_categorical",
    "null_model_numeric",
    "parse_rule",
    "resolve_rule",
]

FeatureKind = Literal["numeric", "categorical"]
Method = Literal["auto", "ks", "chi2", "psi", "jensenshannon", "wasserstein", "tv", "hellinger"]
ResolvedMethod = Literal["ks", "chi2", "psi", "jensenshannon", "wasserstein", "tv", "hellinger"]
METHODS: tuple[str, ...] = get_args(Method)
TEST_METHODS = frozenset({"ks", "chi2"})
NUMERIC_METHODS = frozenset({"ks", "wasserstein", "psi", "jensenshannon", "tv", "hellinger"})
CATEGORICAL_METHODS = frozenset({"chi2", "psi", "jensenshannon", "tv", "hellinger"})
DEFAULT_ALPHA = 0.05
DEFAULT_DRIFT_SHARE = 0.5
DEFAULT_RESAMPLES = 1000
"""Resamples behind a noise floor, unless the column is wide (:func:`auto_resamples`)."""
MIN_RESAMPLES = 200
AUTO_TEST_MAX_N = 1000
"""The automatic rule tests windows up to this many values and measures larger ones."""
DEFAULT_THRESHOLDS = MappingProxyType(
    {
        "ks": DEFAULT_ALPHA,
        "chi2": DEFAULT_ALPHA,
        "psi": 0.2,
        "jensenshannon": 0.1,
        "wasserstein": 0.1,
        "tv": 0.1,
        "hellinger": 0.1,
    }
)
"""Per method: the p-value level of a test, the smallest distance that counts as drift."""
METHOD_NAMES = MappingProxyType(
    {
        "ks": "Kolmogorov-Smirnov",
        "chi2": "chi-square",
        "psi": "PSI",
        "jensenshannon": "Jensen-Shannon",
        "wasserstein": "Wasserstein (normed)",
        "tv": "total variation",
        "hellinger": "Hellinger",
    }
)
"""Display name of each method."""

#: Resamples a floor draws first; enough when the distance is far beyond all of them.
EARLY_RESAMPLES = 100
#: How far beyond the largest early resample a distance must be to stop there.
EARLY_MARGIN = 2.0
_WASSERSTEIN_GROUPS = 100  # reference-quantile groups of the Wasserstein noise floor
_CHUNK_CELLS = 4_000_000  # resample matrix cells per step: bounds memory on wide columns
_BUDGET_CELLS = 2_000_000  # resample matrix cells of a default floor: bounds its time


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """How one column is judged.

    Attributes:
        method: ``auto`` (the module's rule), a test (``ks``, ``chi2``: drifted when the
            p-value is below the threshold) or a distance (``psi``, ``jensenshannon``,
            ``wasserstein``, ``tv``, ``hellinger``: drifted when the distance is at least the
            threshold and above the noise floor).
        threshold: The test's significance level in (0, 1) or the distance's threshold
            (> 0); ``None``: :data:`DEFAULT_THRESHOLDS` (for tests, the detector's
            ``alpha``). ``auto`` takes no threshold, since it may pick either kind.
        noise_floor: Compare a distance with its small-sample noise floor too (``False``
            gives Evidently's plain threshold rule).

    Raises:
        InvalidArgumentError: An unknown method or an out-of-range threshold.
    """

    method: Method = "auto"
    threshold: float | None = None
    noise_floor: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidArgumentError(
                f"unknown drift method {self.method!r}",
                hint=f"use one of: {', '.join(METHODS)}",
            )
        if self.threshold is None:
            return
        value = self.threshold
        if (
            isinstance(value, bool)
            or not isinstance(value, float | int)
            or not math.isfinite(value)
        ):
            raise InvalidArgumentError(
                f"the threshold of {self.method!r} must be a finite number, got {value!r}",
                hint="leave it None for the method's default",
            )
        if self.method == "auto":
            raise InvalidArgumentError(
                "method 'auto' takes no threshold: it picks a test or a distance",
                hint="name the method (e.g. ColumnRule('wasserstein', 0.2)), or set the "
                "tests' level with DriftDetector(alpha=...)",
            )
        if self.method in TEST_METHODS and not 0 < value < 1:
            raise InvalidArgumentError(
                f"the threshold of test {self.method!r} is a p-value level in (0, 1), "
                f"got {value!r}",
                hint="e.g. 0.05 or 0.01",
            )
        if self.method not in TEST_METHODS and not value > 0:
            raise InvalidArgumentError(
                f"the threshold of distance {self.method!r} must be positive, got {value!r}",
                hint=f"the default is {DEFAULT_THRESHOLDS[self.method]}",
            )

    @property
    def spec(self) -> str:
        """The rule as ``METHOD[:THRESHOLD]``, what :func:`parse_rule` reads (sans floor flag)."""
        return self.method if self.threshold is None else f"{self.method}:{self.threshold:g}"


def parse_rule(text: str) -> tuple[str, ColumnRule]:
    """Read ``COLUMN=METHOD[:THRESHOLD]`` (e.g. ``age=psi:0.25``, ``city=jensenshannon``).

    Raises:
        InvalidArgumentError: The text is not of that form, or the rule is invalid.
    """
    column, sep, spec = text.partition("=")
    method, _, threshold = spec.strip().partition(":")
    if not sep or not column.strip() or not method:
        raise InvalidArgumentError(
            f"drift rule {text!r} is not COLUMN=METHOD[:THRESHOLD]",
            hint=f"e.g. age=psi:0.25 or city=jensenshannon; methods: {', '.join(METHODS)}",
        )
    value: float | None = None
    if threshold:
        try:
            value = float(threshold)
        except ValueError:
            raise InvalidArgumentError(
                f"the threshold in drift rule {text!r} is not a number",
                hint="e.g. age=psi:0.25",
            ) from None
    return column.strip(), ColumnRule(method.strip(), value)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    """The method and threshold that judge one column on one window."""

    method: ResolvedMethod
    threshold: float
    noise_floor: bool

    @property
    def is_test(self) -> bool:
        """A test (judged by its p-value), not a distance."""
        return self.method in TEST_METHODS

    def is_drifted(self, statistic: float, p_value: float, floor: float) -> bool:
        """Apply the rule; NaN (nothing to compare) is never drift.

        Args:
            statistic: The test statistic or the distance.
            p_value: The test's p-value (ignored for distances).
            floor: The distance's noise floor (NaN or ignored when not used).
        """
        if self.is_test:
            return bool(p_value < self.threshold)
        if not statistic >= self.threshold:
            return False
        # a tolerance of rounding: the same counts can give distances 1 ulp apart
        return not (self.noise_floor and math.isfinite(floor) and statistic <= floor * (1 + 1e-9))


def resolve_rule(
    kind: FeatureKind,
    n_current: int,
    rule: ColumnRule | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    column: str | None = None,
) -> ResolvedRule:
    """The method and threshold that judge a column of ``kind`` on ``n_current`` values.

    Args:
        kind: ``numeric`` or ``categorical``.
        n_current: Finite (numeric) or non-missing (categorical) values in the window.
        rule: The column's rule; default ``ColumnRule()`` (automatic).
        alpha: Level of the tests when the rule names none.
        column: Column name, for error messages.

    Returns:
        The resolved rule.

    Raises:
        InvalidArgumentError: The method does not apply to the column's kind.
    """
    rule = rule if rule is not None else ColumnRule()
    method: str = rule.method
    if method == "auto":
        small = n_current <= AUTO_TEST_MAX_N
        if kind == "numeric":
            method = "ks" if small else "wasserstein"
        else:
            method = "chi2" if small else "jensenshannon"
    allowed = NUMERIC_METHODS if kind == "numeric" else CATEGORICAL_METHODS
    if method not in allowed:
        name = f"column {column!r}" if column is not None else "the column"
        raise InvalidArgumentError(
            f"method {method!r} does not apply to {name}, which is {kind}",
            hint=f"{kind} columns take: auto, {', '.join(sorted(allowed))}",
        )
    if rule.threshold is not None:
        threshold = float(rule.threshold)
    else:
        threshold = float(alpha) if method in TEST_METHODS else DEFAULT_THRESHOLDS[method]
    resolved: ResolvedMethod = method  # type: ignore[assignment]  # checked against allowed
    return ResolvedRule(resolved, threshold, rule.noise_floor)


def dataset_drift(
    flags: Sequence[bool], *, drift_share: float = DEFAULT_DRIFT_SHARE
) -> tuple[float, bool]:
    """The share of drifted columns, and whether it reaches ``drift_share``.

    Raises:
        InvalidArgumentError: ``drift_share`` is not in (0, 1].
    """
    check_drift_share(drift_share)
    share = sum(map(bool, flags)) / len(flags) if flags else 0.0
    return share, bool(flags) and share >= drift_share


def check_alpha(alpha: object) -> None:
    """Refuse a significance level outside (0, 1).

    Raises:
        InvalidArgumentError: ``alpha`` is not a number in (0, 1).
    """
    if isinstance(alpha, bool) or not isinstance(alpha, float | int) or not 0 < alpha < 1:
        raise InvalidArgumentError(
            f"alpha must be between 0 and 1, got {alpha!r}", hint="e.g. 0.05 or 0.01"
        )


def check_drift_share(drift_share: object) -> None:
    """Refuse a dataset drift share outside (0, 1].

    Raises:
        InvalidArgumentError: ``drift_share`` is not a number in (0, 1].
    """
    if (
        isinstance(drift_share, bool)
        or not isinstance(drift_share, float | int)
        or not 0 < drift_share <= 1
    ):
        raise InvalidArgumentError(
            f"drift_share must be in (0, 1], got {drift_share!r}",
            hint="the share of drifted columns that makes the dataset drifted, e.g. 0.5",
        )


# the noise floor ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class NullModel:
    """What a distance's noise floor resamples from.

    Attributes:
        method: The distance.
        shares: The reference's share per bin (sums to 1).
        support: Wasserstein: each bin's value (ascending); empty for other distances.
        scale: Wasserstein: the divisor of the normed distance; 1 otherwise.
    """

    method: ResolvedMethod
    shares: FloatArray
    support: FloatArray
    scale: float = 1.0


def null_model_categorical(method: ResolvedMethod, counts: Sequence[float]) -> NullModel:
    """The null model of a categorical distance: the reference's category shares."""
    arr = np.asarray(counts, dtype=np.float64)
    return NullModel(method, arr / arr.sum(), np.empty(0))


def null_model_numeric(
    method: ResolvedMethod,
    reference_sorted: FloatArray,
    *,
    n_current: int,
    psi_edges: FloatArray,
    scale: float,
) -> NullModel:
    """The null model of a numeric distance on the bins the distance itself uses.

    Args:
        method: ``psi``, ``jensenshannon``, ``tv``, ``hellinger`` or ``wasserstein``.
        reference_sorted: The finite reference values, ascending.
        n_current: The window size (Sturges' bins depend on ``n_ref + n_cur``).
        psi_edges: PSI's inner bin edges (``psi_edges``).
        scale: Wasserstein's divisor (``wasserstein_scale``).
    """
    ref = reference_sorted
    empty = np.empty(0)
    if method == "psi":
        index = np.searchsorted(psi_edges, ref, side="right")
        counts = np.bincount(index, minlength=len(psi_edges) + 1)
        return NullModel(method, counts / len(ref), empty)
    if method == "wasserstein":
        inner = np.unique(sorted_quantiles(ref, np.linspace(0, 1, _WASSERSTEIN_GROUPS + 1))[1:-1])
        # group g holds the values with g inner edges at or below them: sorted, the groups
        # are runs cut where each edge starts
        bounds = np.concatenate([[0], np.searchsorted(ref, inner, side="left"), [len(ref)]])
        counts = np.diff(bounds).astype(np.float64)
        keep = counts > 0
        sums = np.add.reduceat(ref, bounds[:-1][keep])
        return NullModel(method, counts[keep] / len(ref), sums / counts[keep], scale)
    distinct, counts = distinct_sorted(ref)
    if len(distinct) <= JS_DISTINCT_LIMIT:
        return NullModel(method, counts / len(ref), empty)
    edges = sturges_edges(ref[0], ref[-1], len(ref) + n_current)
    cut = np.searchsorted(ref, edges[:-1], side="left")
    cut = np.append(cut, len(ref))
    return NullModel(method, np.diff(cut) / len(ref), empty)


def effective_size(n_reference: int, n_current: int) -> int:
    """``n_ref * n_cur / (n_ref + n_cur)``, rounded, at least 1: the floor's resample size."""
    return max(1, round(n_reference * n_current / (n_reference + n_current)))


def auto_resamples(n_bins: int) -> int:
    """The default resample count: :data:`DEFAULT_RESAMPLES`, fewer on wide columns.

    Keeps ``resamples * n_bins`` near two million (about 0.1 s) but never goes below
    :data:`MIN_RESAMPLES`.
    """
    return max(MIN_RESAMPLES, min(DEFAULT_RESAMPLES, _BUDGET_CELLS // max(n_bins, 1)))


def noise_floor(
    null: NullModel,
    n: int,
    *,
    alpha: float = DEFAULT_ALPHA,
    resamples: int | None = None,
    seed: int | Sequence[int] = 0,
) -> float:
    """The ``1 - alpha`` quantile of the distance from ``null`` to samples of size ``n`` of it.

    Args:
        null: The reference's shares (and support) on the distance's bins.
        n: The resample size (see :func:`effective_size`).
        alpha: The false-positive rate the floor allows.
        resamples: Multinomial resamples drawn; default :func:`auto_resamples`.
        seed: Seed of the random generator (results are reproducible).

    Returns:
        The floor (the ``higher`` order statistic, so ties do not lower it).

    Raises:
        InvalidArgumentError: ``n`` or ``resamples`` is below 1.
    """
    return FloorSampler(null, n, alpha=alpha, resamples=resamples, seed=seed).floor()


class FloorSampler:
    """The resampled null distances behind a noise floor, drawn as far as a verdict needs.

    :meth:`floor` without a statistic draws every resample and equals :func:`noise_floor`.
    Given the distance it has to judge, it first draws :data:`EARLY_RESAMPLES`: when the
    distance is beyond :data:`EARLY_MARGIN` times the largest of them it is far above any
    floor, and the floor is the quantile of those first draws; otherwise every resample is
    drawn. The first draws are the start of the same seeded sequence, so a floor does not
    depend on which distance asked first.

    Args:
        null: As in :func:`noise_floor`.
        n: As in :func:`noise_floor`.
        alpha: As in :func:`noise_floor`.
        resamples: As in :func:`noise_floor`.
        seed: As in :func:`noise_floor`.

    Raises:
        InvalidArgumentError: ``n`` or ``resamples`` is below 1.
    """

    def __init__(
        self,
        null: NullModel,
        n: int,
        *,
        alpha: float = DEFAULT_ALPHA,
        resamples: int | None = None,
        seed: int | Sequence[int] = 0,
    ) -> None:
        self.null, self.n, self.alpha = null, n, alpha
        self._shares = null.shares / null.shares.sum()
        total = auto_resamples(len(self._shares)) if resamples is None else resamples
        if n < 1 or total < 1:
            raise InvalidArgumentError(f"n and resamples must be positive, got {n} and {total}")
        self.resamples = total
        self._rng = np.random.default_rng(seed)
        self._drawn: list[FloatArray] = []
        self._count = 0

    def _draws(self, count: int) -> FloatArray:
        rows = max(1, _CHUNK_CELLS // max(len(self._shares), 1))
        while self._count < count:
            size = min(rows, count - self._count)
            drawn = self._rng.multinomial(self.n, self._shares, size=size) / self.n
            self._drawn.append(_distance_rows(self.null, self._shares, drawn))
            self._count += size
        return np.concatenate(self._drawn)[:count]

    def _quantile(self, distances: FloatArray) -> float:
        return float(np.quantile(distances, 1 - self.alpha, method="higher"))

    def floor(self, statistic: float | None = None) -> float:
        """The floor, from the first draws when ``statistic`` is far beyond them."""
        if statistic is not None and self.resamples > EARLY_RESAMPLES:
            early = self._draws(EARLY_RESAMPLES)
            if statistic > EARLY_MARGIN * float(early.max()):
                return self._quantile(early)
        return self._quantile(self._draws(self.resamples))


def _distance_rows(null: NullModel, shares: FloatArray, drawn: FloatArray) -> FloatArray:
    if null.method == "psi":
        return psi_rows(shares, drawn)
    if null.method == "jensenshannon":
        return jensenshannon_rows(shares, drawn)
    if null.method == "tv":
        return total_variation_rows(shares, drawn)
    if null.method == "hellinger":
        return hellinger_rows(shares, drawn)
    if null.method == "wasserstein":
        gaps = np.abs(np.cumsum(drawn, axis=1) - np.cumsum(shares))[:, :-1]
        out: FloatArray = np.einsum("ij,j->i", gaps, np.diff(null.support)) / null.scale
        return out
    raise InvalidArgumentError(f"{null.method!r} is a test, it has no noise floor")
