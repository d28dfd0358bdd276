"""What a drift check found: one frozen ``DriftReport`` of per-feature ``FeatureDrift`` rows.

A report is a snapshot: it holds the numbers, small summaries and the binned distributions
its HTML page plots, never the data itself, so it can be rendered long after the check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

from closedloop.errors import NotFoundError
from closedloop.monitoring._html import fmt_float, fmt_p, render_html

__all__ = ["Distribution", "DriftReport", "FeatureDrift", "FeatureKind", "TestName"]

FeatureKind = Literal["numeric", "categorical"]
TestName = Literal["ks", "chi2"]


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
    """The drift test of one feature.

    Attributes:
        name: Column name.
        kind: ``numeric`` (integer and float columns) or ``categorical`` (everything else).
        test: ``ks`` (two-sample Kolmogorov-Smirnov) or ``chi2`` (chi-square on the 2-by-k
            contingency table of category counts).
        statistic: The test statistic (NaN when a side has no observed value).
        p_value: The test's p-value (NaN when a side has no observed value).
        psi: Population stability index (NaN when a side has no observed value).
        drifted: ``p_value < alpha`` and ``psi >= psi_threshold``.
        reference_rows: Non-missing reference values the test used.
        current_rows: Non-missing current values the test used.
        reference_missing_share: Share of reference rows missing (or unreadable) here.
        current_missing_share: Share of current rows missing (or unreadable) here.
        reference_summary: Numeric: mean, std, min, p05, p25, p50, p75, p95, max.
            Categorical: the share of each of the most frequent categories.
        current_summary: The same for the current data.
        distribution: Shared-bin shares for the plot.
    """

    name: str
    kind: FeatureKind
    test: TestName
    statistic: float
    p_value: float
    psi: float
    drifted: bool
    reference_rows: int
    current_rows: int
    reference_missing_share: float
    current_missing_share: float
    reference_summary: Mapping[str, float] = field(default_factory=dict)
    current_summary: Mapping[str, float] = field(default_factory=dict)
    distribution: Distribution = field(default_factory=lambda: Distribution((), (), (), ()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes ``None``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "psi": _finite(self.psi),
            "drifted": self.drifted,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "reference_missing_share": self.reference_missing_share,
            "current_missing_share": self.current_missing_share,
            "reference_summary": {k: _finite(v) for k, v in self.reference_summary.items()},
            "current_summary": {k: _finite(v) for k, v in self.current_summary.items()},
            "distribution": self.distribution.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The outcome of ``DriftDetector.compare``: one row per feature, and the rule applied.

    Attributes:
        features: Per-feature results, in column order.
        alpha: Significance level of the tests.
        psi_threshold: Smallest PSI that counts as a meaningful shift.
        reference_rows: Rows of the reference frame.
        current_rows: Rows of the current frame.
    """

    features: tuple[FeatureDrift, ...]
    alpha: float
    psi_threshold: float
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
    def rule(self) -> str:
        """The drift rule in words, as shown under tables."""
        return (
            f"drifted when p-value < {self.alpha:g} (KS for numeric, chi-square for "
            f"categorical features) and PSI ≥ {self.psi_threshold:g}"
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
            "psi_threshold": self.psi_threshold,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "share_drifted": self.share_drifted,
            "drifted_features": list(self.drifted_features),
            "features": [f.to_dict() for f in self.features],
        }

    def render(self) -> Table:
        """A rich table: one row per feature, drifted ones highlighted, the rule as caption."""
        table = Table(
            title=f"Drift: {len(self.drifted_features)} of {len(self.features)} feature(s) "
            f"drifted ({self.current_rows} current vs {self.reference_rows} reference rows)",
            caption=self.rule,
            header_style="bold",
        )
        for col in ("feature", "kind", "test"):
            table.add_column(col, no_wrap=True)
        for col in ("statistic", "p-value", "PSI", "missing"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("drift", no_wrap=True)
        for f in self.features:
            table.add_row(
                # Text, not str: a column name is never read as rich markup
                Text(f.name, style="bold red" if f.drifted else ""),
                f.kind,
                f.test,
                fmt_float(f.statistic, ".4g"),
                fmt_p(f.p_value),
                fmt_float(f.psi),
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
