"""The HTML page of a drift report: a Jinja2 template plus one plotly figure per feature.

The page is self-contained: plotly.js is inlined once (with the first figure), styles are
inline, nothing loads from the network (DESIGN: no network at run time). Every name that
comes from the user's data is escaped, by Jinja2's autoescape in the page and by
``html.escape`` inside plot labels (plotly renders a subset of HTML in text).
"""

from __future__ import annotations

import functools
import html
import itertools
import math
from typing import TYPE_CHECKING, Any

import jinja2

from closedloop.monitoring._rules import METHOD_NAMES

if TYPE_CHECKING:
    from closedloop.monitoring._report import DriftReport, FeatureDrift

__all__ = ["fmt_float", "fmt_p", "render_html"]

_TEMPLATE = "drift_report.html.j2"
_REFERENCE_COLOR = "#1f77b4"
_CURRENT_COLOR = "#d62728"


def fmt_float(value: float, spec: str = ".4f") -> str:
    """A number for tables; ``-`` for NaN."""
    return "-" if math.isnan(value) else format(value, spec)


def fmt_p(value: float) -> str:
    """A p-value for tables: ``-`` for NaN, ``< 1e-16`` below double precision's resolution."""
    if math.isnan(value):
        return "-"
    return "< 1e-16" if value < 1e-16 else format(value, ".3g")


def render_html(report: DriftReport, title: str) -> str:
    """The report as one HTML page (see ``DriftReport.to_html``)."""
    figures = [
        _figure_html(f, include_plotlyjs=i == 0, div_id=f"drift-plot-{i}")
        for i, f in enumerate(report.features)
    ]
    sections = [
        {"feature": f, "figure": fig, "summary": _summary_rows(f)}
        for f, fig in zip(report.features, figures, strict=True)
    ]
    template = _environment().get_template(_TEMPLATE)
    return template.render(title=title, report=report, sections=sections, method_names=METHOD_NAMES)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("closedloop.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_float
    env.filters["pvalue"] = fmt_p
    return env


def _summary_rows(feature: FeatureDrift) -> list[tuple[str, str, str]]:
    """``(statistic, reference, current)`` rows for the feature's small summary table."""
    share = feature.kind == "categorical"
    rows = [
        ("non-missing values", str(feature.reference_rows), str(feature.current_rows)),
        (
            "missing share",
            f"{feature.reference_missing_share:.1%}",
            f"{feature.current_missing_share:.1%}",
        ),
    ]
    if feature.reference_non_finite_share or feature.current_non_finite_share:
        rows.append(
            (
                "±inf share (left out)",
                f"{feature.reference_non_finite_share:.1%}",
                f"{feature.current_non_finite_share:.1%}",
            )
        )
    keys = list(dict.fromkeys([*feature.reference_summary, *feature.current_summary]))
    for key in keys:
        ref, cur = feature.reference_summary.get(key), feature.current_summary.get(key)
        rows.append(
            (
                f"share of {key!r}" if share else key,
                _cell(ref, share=share),
                _cell(cur, share=share),
            )
        )
    return rows


def _cell(value: float | None, *, share: bool) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.1%}" if share else f"{value:.4g}"


def _figure_html(feature: FeatureDrift, *, include_plotlyjs: bool, div_id: str) -> str:
    import plotly.graph_objects as go  # heavy: loaded only when a page is drawn

    dist = feature.distribution
    labels = [html.escape(label) for label in dist.labels]
    fig = go.Figure()
    sides = (
        ("reference", dist.reference, _REFERENCE_COLOR),
        ("current", dist.current, _CURRENT_COLOR),
    )
    if feature.kind == "numeric":
        edges = dist.edges
        centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        widths = [b - a for a, b in itertools.pairwise(edges)]
        for side, shares, color in sides:
            fig.add_trace(
                go.Bar(
                    x=centers,
                    y=list(shares),
                    width=widths,
                    name=side,
                    marker_color=color,
                    opacity=0.55,
                    hovertext=labels,
                    hovertemplate=f"%{{hovertext}}<br>%{{y:.1%}}<extra>{side}</extra>",
                )
            )
        fig.update_layout(barmode="overlay", bargap=0)
    else:
        for side, shares, color in sides:
            fig.add_trace(
                go.Bar(
                    x=labels,
                    y=list(shares),
                    name=side,
                    marker_color=color,
                    hovertemplate=f"%{{x}}<br>%{{y:.1%}}<extra>{side}</extra>",
                )
            )
        # category names such as "1", "2" must not turn the axis numeric
        fig.update_layout(barmode="group", xaxis_type="category")
    layout: dict[str, Any] = {
        "height": 340,
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "xaxis_title": html.escape(feature.name),
        "yaxis_title": "share of non-missing values",
        "yaxis_tickformat": ".0%",
        "legend": {"orientation": "h", "y": 1.08},
    }
    fig.update_layout(**layout)
    text: str = fig.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        div_id=div_id,
        config={"displaylogo": False},
    )
    return text
