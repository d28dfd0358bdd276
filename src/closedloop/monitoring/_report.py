"""What a drift check found: one frozen ``DriftReport`` of per-feature ``FeatureDrift`` rows.

A report is a snapshot: it holds the numbers, small summaries and the binned distributions
its HTML page plots, never the data itself, so it can be rendered long after the check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from closedloop.errors import NotFoundError
from closedloop.monitoring._html import fmt_float, fmt_p, render_html
from closedloop.monitoring._rules import AUTO_TEST_MAX_N, FeatureKind, ResolvedMethod

__all__ = ["Distribution", "DriftReport", "FeatureDrift", "FeatureKind"]


@dataclass(frozen=True, slots=True)
class Distribution:
    """Reference and current shares over shared bins, as plotted in the HTML report.

    Attributes:
        labels: One label per bin: ``[low, high)`` ranges for a numeric feature, category
            names for a categorical one (the rarest categories may be merged into one bin).
        edges: Numeric bin edges (``len(labels) + 1`` values); empty for a categorical
            feature.
        reference: Share of the reference's non-missing values in each bin.
        current: Share of the current non-missing values in each bin.
    """

    labels: tuple[str, ...]
    edges: tuple[float, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "labels": list(self.labels),
            "edges": list(self.edges),
            "reference": list(self.reference),
            "current": list(self.current),
        }


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """The drift check of one feature.

    Attributes:
        name: Column name.
        kind: ``numeric`` (integer and float columns) or ``categorical`` (everything else).
        method: The method that judged it (see ``closedloop.monitoring._rules``): a test
            (``ks``, ``chi2``) or a distance (``psi``, ``jensenshannon``, ``wasserstein``,
            ``tv``, ``hellinger``).
        statistic: The test statistic or the distance (NaN when a side has no value).
        p_value: The test's p-value; NaN for a distance (and when a side has no value).
        threshold: The test's significance level or the distance's threshold.
        noise_floor: The distance's small-sample noise floor; NaN for a test, when it is
            not used, and when the distance is below its threshold (the floor cannot
            change that verdict, so it is not computed).
        drifted: A test: ``p_value < threshold``. A distance: ``statistic >= threshold`` and
            ``statistic > noise_floor``.
        reference_rows: Reference values the statistic used (finite numbers, or non-missing
            categories).
        current_rows: Current values the statistic used.
        reference_missing_share: Share of reference rows missing (or unreadable) here.
        current_missing_share: Share of current rows missing (or unreadable) here.
        reference_non_finite_share: Share of reference rows that are +-inf (numeric; left
            out of the statistic).
        current_non_finite_share: The same for the current rows.
        reference_summary: Numeric: mean, std, min, p05, p25, p50, p75, p95, max.
            Categorical: the share of each of the most frequent categories.
        current_summary: The same for the current data.
        distribution: Shared-bin shares for the plot.
    """

    name: str
    kind: FeatureKind
    method: ResolvedMethod
    statistic: float
    p_value: float
    threshold: float
    noise_floor: float
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_missing_share: float
    current_missing_share: float
    reference_non_finite_share: float = 0.0
    current_non_finite_share: float = 0.0
    reference_summary: Mapping[str, float] = field(default_factory=dict)
    current_summary: Mapping[str, float] = field(default_factory=dict)
    distribution: Distribution = field(default_factory=lambda: Distribution((), (), (), ()))

    @property
    def is_test(self) -> bool:
        """Judged by a test's p-value, not by a distance."""
        return self.method in ("ks", "chi2")

    @property
    def verdict(self) -> str:
        """The comparison that decided, in words (e.g. ``p 0.003 < 0.05``)."""
        if math.isnan(self.statistic):
            return "no value to compare"
        if self.is_test:
            sign = "<" if self.drifted else "≥"
            return f"p {fmt_p(self.p_value)} {sign} {self.threshold:g}"
        bar = self.threshold
        if math.isfinite(self.noise_floor) and self.noise_floor >= bar:
            return f"{self.statistic:.4g} {'>' if self.drifted else '≤'} noise floor " + (
                f"{self.noise_floor:.4g}"
            )
        return f"{self.statistic:.4g} {'≥' if self.drifted else '<'} {bar:g}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes ``None``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "method": self.method,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "threshold": self.threshold,
            "noise_floor": _finite(self.noise_floor),
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "reference_missing_share": self.reference_missing_share,
            "current_missing_share": self.current_missing_share,
            "reference_non_finite_share": self.reference_non_finite_share,
            "current_non_finite_share": self.current_non_finite_share,
            "reference_summary": {k: _finite(v) for k, v in self.reference_summary.items()},
            "current_summary": {k: _finite(v) for k, v in self.current_summary.items()},
            "distribution": self.distribution.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The outcome of ``DriftDetector.compare``: one row per feature, and the rule applied.

    Attributes:
        features: Per-feature results, in column order.
        alpha: Level of the tests (when a rule names none) and false-positive rate of the
            distances' noise floor.
        drift_share: Share of drifted features at which the dataset counts as drifted.
        reference_rows: Rows of the reference frame.
        current_rows: Rows of the current frame.
    """

    features: tuple[FeatureDrift, ...]
    alpha: float
    drift_share: float
    reference_rows: int
    current_rows: int

    @property
    def drifted_features(self) -> tuple[str, ...]:
        """Names of the drifted features, in column order."""
        return tuple(f.name for f in self.features if f.drifted)

    @property
    def share_drifted(self) -> float:
        """Drifted features over all features (0 when there are none)."""
        return len(self.drifted_features) / len(self.features) if self.features else 0.0

    @property
    def dataset_drifted(self) -> bool:
        """At least ``drift_share`` of the features drifted."""
        return bool(self.features) and self.share_drifted >= self.drift_share

    @property
    def rule(self) -> str:
        """The drift rule in words, as shown under tables."""
        return (
            f"auto rule: up to {AUTO_TEST_MAX_N} current values a test (KS for numeric, "
            f"chi-square for categorical features; drifted when p < {self.alpha:g}), beyond "
            "it a distance (normed Wasserstein, Jensen-Shannon; drifted when ≥ 0.1 and above "
            "its noise floor); per-feature methods and thresholds in the table; dataset "
            f"drifted when ≥ {self.drift_share:.0%} of features drift"
        )

    def feature(self, name: str) -> FeatureDrift:
        """The result of feature ``name``.

        Raises:
            NotFoundError: No feature of that name was tested.
        """
        for f in self.features:
            if f.name == name:
                return f
        raise NotFoundError(
            f"no feature {name!r} in the drift report",
            hint=f"features: {[f.name for f in self.features]}",
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "alpha": self.alpha,
            "drift_share": self.drift_share,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "share_drifted": self.share_drifted,
            "dataset_drifted": self.dataset_drifted,
            "drifted_features": list(self.drifted_features),
            "features": [f.to_dict() for f in self.features],
        }

    def render(self) -> Table:
        """A rich table: one row per feature, drifted ones highlighted, the rule as caption."""
        verdict = "DATASET DRIFT" if self.dataset_drifted else "no dataset drift"
        table = Table(
            title=f"Drift: {len(self.drifted_features)} of {len(self.features)} feature(s) "
            f"drifted, {verdict} ({self.current_rows} current vs {self.reference_rows} "
            "reference rows)",
            caption=self.rule,
            header_style="bold",
        )
        for col in ("feature", "kind", "method"):
            table.add_column(col, no_wrap=True)
        for col in ("statistic", "p-value", "threshold", "noise floor", "missing"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("drift", no_wrap=True)
        for f in self.features:
            table.add_row(
                # Text, not str: a column name is never read as rich markup
                Text(f.name, style="bold red" if f.drifted else ""),
                f.kind,
                f.method,
                fmt_float(f.statistic, ".4g"),
                fmt_p(f.p_value),
                f"{f.threshold:g}",
                fmt_float(f.noise_floor, ".4g"),
                f"{f.current_missing_share:.1%}",
                Text("DRIFT", style="bold red") if f.drifted else Text("ok", style="green"),
            )
        return table

    def to_html(self, title: str = "Drift report") -> str:
        """One self-contained HTML page: the summary table and a plot per feature.

        plotly.js is inlined once; the page loads nothing from the network.
        """
        return render_html(self, title)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
