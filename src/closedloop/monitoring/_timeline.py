"""The HTML page of a model version's monitoring over time, and its JSON.

One line per monitored input column (its drift statistic window after window, with its
threshold as a dashed line; a test's p-value on a log axis with its level), the dataset's
drift share, the quality rates, and the accuracy — realised where labels arrived, estimated
from the served probabilities everywhere, with the estimate's band — so a reader sees when
a change began and whether performance followed. Self-contained: plotly.js is inlined once,
nothing is fetched; names from the data are escaped (autoescape, and ``html.escape`` in plot
labels).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from closedloop.core import ms_to_datetime
from closedloop.monitoring._run import WindowResult

__all__ = ["timeline_doc", "timeline_html"]


def _time(ms: int) -> str:
    dt = ms_to_datetime(ms)
    return "?" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S")


def timeline_doc(model_version_id: str, results: Sequence[WindowResult]) -> dict[str, Any]:
    """The windows as a JSON-ready document (what ``monitor windows --json`` prints)."""
    windows = []
    for r in results:
        w, s = r.window, r.summary
        windows.append(
            {
                "id": w.id,
                "monitor": w.monitor,
                "start": _time(w.start),
                "end": _time(w.end),
                "start_ms": w.start,
                "end_ms": w.end,
                "rows": w.n_rows,
                "requests": w.n_requests,
                "complete": w.complete,
                "drifted": w.drifted,
                "drift_share": s.drift.get("share_drifted"),
                "drifted_features": [
                    f["name"] for f in s.drift.get("features", []) if f.get("drifted")
                ],
                "values": {k: v for k, v in s.values.items() if math.isfinite(v)},
            }
        )
    return {"model_version": model_version_id, "windows": windows}


def _series(results: Sequence[WindowResult], key: str) -> list[float | None]:
    out: list[float | None] = []
    for r in results:
        v = r.summary.values.get(key)
        out.append(v if v is not None and math.isfinite(v) else None)
    return out


def _figure(fig: Any, div_id: str, first: bool) -> str:
    text: str = fig.to_html(
        full_html=False, include_plotlyjs=first, div_id=div_id, config={"displaylogo": False}
    )
    return text


def timeline_html(model_version_id: str, results: Sequence[WindowResult], title: str) -> str:
    """The page (see the module docstring)."""
    import jinja2
    import plotly.graph_objects as go

    x = [_time(r.window.start) for r in results]
    figures: list[tuple[str, str]] = []

    def add(name: str, fig: Any) -> None:
        fig.update_layout(
            height=300,
            template="plotly_white",
            margin={"l": 60, "r": 20, "t": 40, "b": 40},
            title={"text": html.escape(name), "font": {"size": 14}},
            legend={"orientation": "h", "y": -0.2},
        )
        figures.append((name, _figure(fig, f"timeline-{len(figures)}", not figures)))

    features: dict[str, dict[str, Any]] = {}
    for r in results:
        for f in r.summary.drift.get("features", []):
            features.setdefault(f["name"], f)
    for name, first in features.items():
        fig = go.Figure()
        stats: list[float | None] = []
        thresholds: list[Any] = []
        methods: list[str] = []
        for r in results:
            found = next(
                (f for f in r.summary.drift.get("features", []) if f["name"] == name), None
            )
            if found is None:
                stats.append(None)
                thresholds.append(None)
                methods.append("")
                continue
            is_test = found.get("method") in ("ks", "chi2")
            value = found.get("p_value") if is_test else found.get("statistic")
            stats.append(value if isinstance(value, int | float) and math.isfinite(value) else None)
            thresholds.append(found.get("threshold"))
            methods.append(str(found.get("method")))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=stats,
                mode="lines+markers",
                name="statistic",
                text=methods,
                hovertemplate="%{x}<br>%{text}: %{y:.4g}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=thresholds,
                mode="lines",
                name="threshold",
                line={"dash": "dash", "color": "#d62728"},
            )
        )
        if first.get("method") in ("ks", "chi2"):
            fig.update_yaxes(type="log", title="p-value")
        else:
            fig.update_yaxes(title="distance")
        add(f"{name} ({first.get('kind', '')})", fig)
    share = go.Figure(
        go.Scatter(x=x, y=_series(results, "drift.share"), mode="lines+markers", name="drift share")
    )
    share.update_yaxes(range=[0, 1], tickformat=".0%")
    add("share of drifted columns", share)
    quality = go.Figure()
    for key, label in (
        ("quality.missing_rate", "missing"),
        ("quality.out_of_range_rate", "out of range"),
        ("quality.unseen_rate", "unseen category"),
        ("quality.refused_rate", "refused requests"),
    ):
        quality.add_trace(
            go.Scatter(x=x, y=_series(results, key), mode="lines+markers", name=label)
        )
    quality.update_yaxes(tickformat=".1%")
    add("data quality", quality)
    estimated = _series(results, "estimated.accuracy")
    realised = _series(results, "performance.accuracy")
    if any(v is not None for v in estimated + realised):
        perf = go.Figure()
        se = _series(results, "estimated.accuracy_standard_error")
        upper = [
            None if e is None or s is None else e + 1.96 * s
            for e, s in zip(estimated, se, strict=True)
        ]
        lower = [
            None if e is None or s is None else e - 1.96 * s
            for e, s in zip(estimated, se, strict=True)
        ]
        perf.add_trace(go.Scatter(x=x, y=upper, mode="lines", line={"width": 0}, showlegend=False))
        perf.add_trace(
            go.Scatter(
                x=x,
                y=lower,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(31,119,180,0.15)",
                name="estimate ±1.96 se",
            )
        )
        perf.add_trace(go.Scatter(x=x, y=estimated, mode="lines+markers", name="estimated"))
        perf.add_trace(go.Scatter(x=x, y=realised, mode="lines+markers", name="realised (labels)"))
        add("accuracy", perf)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("closedloop.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    doc = timeline_doc(model_version_id, results)
    return env.get_template("monitor_timeline.html.j2").render(
        title=title, figures=figures, windows=doc["windows"]
    )
