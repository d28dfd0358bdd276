"""The HTML page of one monitoring window, and picking the window.

:func:`window_html` renders one stored window (:class:`~closedloop.monitoring._run.
WindowResult`): its facts (model version, monitor spec, log positions, time range, rows,
requests, label coverage), the drift table of its input columns (drifted first) with a
figure per column of the reference profile's distribution against the window's (numeric:
the reference's percentile bins, grouped into at most :data:`MAX_BARS` bars, with the shares
of the reference and of the window's sketch counts on them; categorical: the
:data:`TOP_CATEGORIES` most frequent categories, the others folded into one bar), the drift
of the model's score and label likewise, data quality per column, realised performance next
to the estimate, fairness by group, and the alerts linked to the window. Everything comes
from the stored summary and sketches and the stored profile: no logged row is read.

Self-contained like the other pages: plotly.js is inlined once, with the first figure; no
script or style is fetched. Names from the data are escaped (autoescape in the page,
``html.escape`` in plot labels, which plotly renders as HTML).

:func:`find_window` picks a version's window by id, by a log position it holds, or the
latest one (``closedloop monitor report --window-id/--position/--last``).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import numpy as np

from closedloop.core import Alert, ModelVersion, MonitorWindow
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.monitoring._html import _CURRENT_COLOR, _REFERENCE_COLOR, fmt_float, fmt_p
from closedloop.monitoring._reference import NumericReference, ReferenceProfile
from closedloop.monitoring._rules import METHOD_NAMES
from closedloop.monitoring._run import WindowResult, open_window
from closedloop.monitoring._sketch import OTHER, CategoricalSketch, NumericSketch
from closedloop.monitoring._timeline import _figure, _time
from closedloop.workspace import Actions, Workspace

__all__ = ["MAX_BARS", "TOP_CATEGORIES", "find_window", "window_html"]

#: Bars of a numeric column's figure (groups of adjacent reference percentile bins).
MAX_BARS = 20
#: Categories a categorical column's figure shows; the rest are folded into one bar.
TOP_CATEGORIES = 15
_TEMPLATE = "monitor_window.html.j2"
_COUNTS = frozenset({"n_rows", "n_labelled", "n_unknown_labels", "label_coverage"})


def find_window(
    ws: Workspace,
    model: str | ModelVersion,
    *,
    window_id: int | None = None,
    position: int | None = None,
    last: bool = False,
    monitor: str | None = None,
) -> WindowResult:
    """One stored window of a model version, with its summary.

    Give one of ``window_id``, ``position`` or ``last``.

    Args:
        ws: The workspace.
        model: The model version (``name/<n>``, ``name@alias``, ``name@latest``).
        window_id: The window's id (as ``closedloop monitor windows`` lists it).
        position: A log position: the window whose positions (first to last) include it.
            Overlapping (sliding) windows of one spec may all hold it: the one that starts
            latest is taken. Windows of two specs holding it need ``monitor``.
        last: The window that starts latest (complete or still filling).
        monitor: Only windows of this spec (``count:1000``).

    Raises:
        InvalidArgumentError: Not exactly one of the three, or a position held by windows
            of several specs without ``monitor``.
        NotFoundError: No such model version, or no such window.
    """
    if sum((window_id is not None, position is not None, bool(last))) != 1:
        raise InvalidArgumentError(
            "pick one window: by its id, by a log position it holds, or the last one",
            hint="give exactly one of --window-id N, --position N, --last",
        )
    version = model if isinstance(model, ModelVersion) else ws.metadata.models.get_version(model)
    with ws.action(Actions.MONITOR_READ, f"model:{version.id}", monitor=monitor) as act:
        chosen = _pick(ws, version.id, window_id, position, monitor)
        act.update(window=chosen.id)
        return WindowResult(chosen, open_window(ws, chosen))


def _pick(
    ws: Workspace, version: str, window_id: int | None, position: int | None, monitor: str | None
) -> MonitorWindow:
    store = ws.metadata.monitoring
    where = f" of {monitor}" if monitor else ""
    if window_id is not None:
        found = store.get_window(window_id)
        if (
            found is None
            or found.model_version_id != version
            or monitor
            not in (
                None,
                found.monitor,
            )
        ):
            raise NotFoundError(
                f"{version} has no monitoring window{where} with id {window_id}",
                hint=f"list its windows and their ids: closedloop monitor windows {version}",
            )
        return found
    windows = store.list_windows(version, monitor)
    if not windows:
        raise NotFoundError(
            f"{version} has no monitoring window{where} yet",
            hint=f"run closedloop monitor run {version} first",
        )
    if position is None:
        return windows[-1]
    holding = [w for w in windows if w.first_position <= position <= w.last_position]
    if not holding:
        raise NotFoundError(
            f"no monitoring window{where} of {version} holds log position {position}",
            hint=f"its windows hold positions {windows[0].first_position} to "
            f"{max(w.last_position for w in windows)}; see closedloop monitor windows {version}",
        )
    specs = sorted({w.monitor for w in holding})
    if len(specs) > 1:
        raise InvalidArgumentError(
            f"log position {position} of {version} is in windows of {len(specs)} specs",
            hint=f"name one with --window: {', '.join(specs)}",
        )
    return max(holding, key=lambda w: (w.first_position, w.start, w.id))


# figures -------------------------------------------------------------------------------------
class _Figures:
    """Numbered plotly divs; the first one carries plotly.js."""

    def __init__(self) -> None:
        self.count = 0

    def bars(
        self, title: str, labels: Sequence[str], reference: Sequence[float], window: Sequence[float]
    ) -> str:
        import plotly.graph_objects as go  # heavy: loaded only when a page is drawn

        names = [html.escape(label) for label in labels]
        fig = go.Figure()
        for side, shares, color in (
            ("reference", reference, _REFERENCE_COLOR),
            ("window", window, _CURRENT_COLOR),
        ):
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=list(shares),
                    name=side,
                    marker_color=color,
                    hovertemplate=f"%{{x}}<br>%{{y:.1%}}<extra>{side}</extra>",
                )
            )
        fig.update_layout(
            barmode="group",
            xaxis_type="category",  # category names such as "1" must not turn it numeric
            height=320,
            template="plotly_white",
            margin={"l": 60, "r": 20, "t": 40, "b": 60},
            title={"text": html.escape(title), "font": {"size": 14}},
            yaxis_title="share of non-missing values",
            yaxis_tickformat=".0%",
            legend={"orientation": "h", "y": 1.12},
        )
        text = _figure(fig, f"window-plot-{self.count}", self.count == 0)
        self.count += 1
        return text


def _edge_labels(edges: np.ndarray, groups: list[tuple[int, int]]) -> list[str]:
    """``< a``, ``[a, b)``, ``≥ b`` per group, precise enough to be distinct."""
    labels: list[str] = []
    for spec in (".4g", ".6g", ".10g", ".17g"):
        labels = []
        for a, b in groups:
            lo = format(float(edges[a - 1]), spec) if a > 0 else None
            hi = format(float(edges[b]), spec) if b < len(edges) else None
            labels.append(
                "all"
                if lo is None and hi is None
                else f"< {hi}"
                if lo is None
                else f"≥ {lo}"
                if hi is None
                else f"[{lo}, {hi})"
            )
        if len(set(labels)) == len(labels):
            break
    return labels


def numeric_bins(
    reference: NumericReference, window: NumericSketch, max_bars: int = MAX_BARS
) -> tuple[list[str], list[float], list[float]] | None:
    """Labels and reference / window shares on grouped reference bins (``None``: bins differ).

    The sketch counts on the profile's bins; a profile rebuilt since the window was stored
    has other bins, and nothing can be plotted.
    """
    ref = np.asarray(reference.counts, dtype=np.float64)
    cur = np.asarray(window.counts, dtype=np.float64)
    if len(ref) != len(cur) or len(ref) != len(reference.edges) + 1:
        return None
    parts = np.array_split(np.arange(len(ref)), min(max_bars, len(ref)))
    groups = [(int(p[0]), int(p[-1])) for p in parts]
    ref_n, cur_n = ref.sum(), cur.sum()
    return (
        _edge_labels(reference.edges, groups),
        [float(ref[a : b + 1].sum() / ref_n) if ref_n else 0.0 for a, b in groups],
        [float(cur[a : b + 1].sum() / cur_n) if cur_n else 0.0 for a, b in groups],
    )


def categorical_bins(
    reference: Mapping[str, int], window: Mapping[str, int], top: int = TOP_CATEGORIES
) -> tuple[list[str], list[float], list[float]]:
    """The most frequent categories (by the larger of their two shares), the rest folded."""
    ref_n, cur_n = sum(reference.values()), sum(window.values())

    def share(counts: Mapping[str, int], n: int, key: str) -> float:
        return counts.get(key, 0) / n if n else 0.0

    def shares(keys: Sequence[str]) -> tuple[float, float]:
        return (
            sum(share(reference, ref_n, k) for k in keys),
            sum(share(window, cur_n, k) for k in keys),
        )

    keys = (set(reference) | set(window)) - {OTHER}
    ranked = sorted(keys, key=lambda k: (-max(shares([k])), k))
    kept, rest = ranked[:top], [*ranked[top:], OTHER]
    pairs = [shares([k]) for k in kept]
    labels = list(kept)
    folded = [k for k in rest if k in reference or k in window]
    if folded:
        labels.append(f"other ({len(folded)} categor{'y' if len(folded) == 1 else 'ies'})")
        pairs.append(shares(folded))
    return labels, [p[0] for p in pairs], [p[1] for p in pairs]


def _column_figure(figures: _Figures, title: str, reference: Any, window: Any) -> str | None:
    if reference is None or window is None:
        return None
    if isinstance(reference, NumericReference):
        if not isinstance(window, NumericSketch):
            return None
        bins = numeric_bins(reference, window)
        if bins is None:
            return None
        return figures.bars(title + " (reference percentile bins)", *bins)
    if not isinstance(window, CategoricalSketch):
        return None
    return figures.bars(title, *categorical_bins(reference.counts, window.counts))


# the page ------------------------------------------------------------------------------------
def _num(value: Any, spec: str = ".4g") -> str:
    """A number for the tables; ``-`` for none (``None``, NaN or not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return fmt_float(float(value), spec)


def _pct(value: Any) -> str:
    return _num(value, ".1%")


def _pvalue(value: Any) -> str:
    return fmt_p(float(value)) if isinstance(value, int | float) else "-"


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("closedloop.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, pvalue=_pvalue, utc=_time)
    env.globals.update(method_names=METHOD_NAMES)
    return env


def _performance_rows(result: WindowResult) -> list[dict[str, Any]]:
    s = result.summary
    realised = {k: v for k, v in (s.performance or {}).items() if k not in _COUNTS}
    estimated = {
        k: v for k, v in (s.estimated or {}).items() if k not in _COUNTS and "standard" not in k
    }
    rows = []
    for name in dict.fromkeys([*estimated, *realised]):
        r, e = realised.get(name), estimated.get(name)
        both = isinstance(r, int | float) and isinstance(e, int | float)
        rows.append(
            {
                "metric": name,
                "realised": r,
                "estimated": e,
                "error": _num(e - r, "+.4g") if both else "-",  # type: ignore[operator]
                "reference": s.values.get(f"reference.{name}"),
            }
        )
    return rows


def window_alerts(ws: Workspace, window: MonitorWindow) -> list[tuple[Alert, str]]:
    """The alerts linked to a window: ``fired here``, ``seen again here``, ``resolved here``.

    An alert links to the last window it was judged on (``Alert.window_id``) and its sealed
    evidence names the window it fired on; an alert that fired here and was seen again in a
    later window is found by its evidence.
    """
    from closedloop.monitoring._alerts import alert_evidence, list_alerts

    out: list[tuple[Alert, str]] = []
    for a in list_alerts(ws, window.model_version_id, limit=None):
        if a.time == window.end and alert_evidence(ws, a).get("window_id") == window.id:
            out.append((a, "fired here"))
        elif a.window_id == window.id:
            out.append((a, "resolved here" if a.status == "resolved" else "seen again here"))
    return sorted(out, key=lambda pair: pair[0].id)


def _profile(ws: Workspace, version: str, name: str | None) -> ReferenceProfile | None:
    from closedloop.monitoring._config import MonitorConfig
    from closedloop.monitoring._profiles import reference_profile

    if name is None:
        name = MonitorConfig.from_settings(ws.settings.monitoring).profile
    try:
        return reference_profile(ws, version, name, build=False)
    except NotFoundError:
        return None


def _drifted_first(features: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted((dict(f) for f in features), key=lambda f: not f.get("drifted"))


def window_html(
    ws: Workspace, result: WindowResult, title: str | None = None, *, profile: str | None = None
) -> str:
    """The page of one window (see the module docstring).

    Args:
        ws: The workspace (the reference profile and the alerts are read from it).
        result: The window and its summary (:func:`find_window`, ``list_windows``).
        title: The page's title; default: names the window.
        profile: The reference profile the window was compared with; default: the
            ``monitoring.profile`` setting (``default``).
    """
    w, s = result.window, result.summary
    ref = _profile(ws, w.model_version_id, profile)
    figures = _Figures()
    drift = _drifted_first(s.drift.get("features", []))
    for f in drift:
        reference = None if ref is None else ref.columns.get(f["name"])
        f["figure"] = _column_figure(figures, f["name"], reference, s.sketch.columns.get(f["name"]))
    predicted = _drifted_first((s.prediction or {}).get("features", []))
    for f in predicted:
        reference = None if ref is None else getattr(ref, f["name"], None)
        window = getattr(s.sketch, f["name"], None)
        f["figure"] = _column_figure(figures, f"model {f['name']}", reference, window)
    acc = (s.estimated or {}).get("accuracy")
    se = (s.estimated or {}).get("accuracy_standard_error")
    band = None
    if isinstance(acc, int | float) and isinstance(se, int | float):
        band = f"{max(0.0, acc - 1.96 * se):.4g} to {min(1.0, acc + 1.96 * se):.4g}"
    page: str = (
        _env()
        .get_template(_TEMPLATE)
        .render(
            title=title or f"Window {w.id} of {w.model_version_id} ({w.monitor})",
            w=w,
            s=s,
            ref=ref,
            drift=drift,
            predicted=predicted,
            performance=_performance_rows(result),
            band=band,
            alerts=window_alerts(ws, w),
        )
    )
    return page
