"""Metric-history plots: one self-contained HTML page (plotly, script inlined, no CDN)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.tracking._api import get_metric_history, get_run
from closedloop.workspace import Workspace

__all__ = ["plot_metric_history"]


def plot_metric_history(
    workspace: Workspace,
    run_ids: Sequence[str],
    keys: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> str:
    """An HTML page plotting metric series by step, one panel per metric, one line per run.

    Args:
        workspace: Where the runs are.
        run_ids: The runs to draw.
        keys: Metrics to draw; by default every metric with more than one point in any run
            (single values are listed in a table under the plot instead).
        title: Page title.

    Raises:
        InvalidArgumentError: No run ids, or none of the runs has the requested metrics.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not run_ids:
        raise InvalidArgumentError("plot needs at least one run id")
    with workspace.read_batch() as batch:  # one audit write for all the reads, not N
        runs = [get_run(batch, r) for r in run_ids]
        histories = {
            (run.id, key): get_metric_history(batch, run.id, key)
            for run in runs
            for key in (keys or run.metrics)
            if key in run.metrics
        }
    if keys:
        missing = [k for k in keys if not any(k == key for _, key in histories)]
        if missing:
            raise NotFoundError(
                f"no run among those given has metric {missing[0]!r}",
                hint="see the run's metrics with `closedloop runs show`",
            )
        series_keys = list(keys)
    else:
        series_keys = sorted({key for (_, key), points in histories.items() if len(points) > 1})
    if not series_keys:
        raise InvalidArgumentError(
            "the runs have no metric series with more than one point to plot",
            hint="name metrics with --metric, or log a metric at several steps",
        )
    cols = 2 if len(series_keys) > 1 else 1
    rows = math.ceil(len(series_keys) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=series_keys)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
    for i, key in enumerate(series_keys):
        row, col = divmod(i, cols)
        for j, run in enumerate(runs):
            points = histories.get((run.id, key), [])
            if not points:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[p.step for p in points],
                    y=[p.value for p in points],
                    mode="lines+markers" if len(points) < 50 else "lines",
                    name=f"{run.name} ({run.id[:8]})",
                    legendgroup=run.id,
                    showlegend=i == 0,
                    line={"color": palette[j % len(palette)]},
                ),
                row=row + 1,
                col=col + 1,
            )
        fig.update_xaxes(title_text="step", row=row + 1, col=col + 1)
    page_title = title or "Metric history: " + ", ".join(r.name for r in runs)
    fig.update_layout(title=page_title, height=320 * rows + 120, template="plotly_white")
    body = fig.to_html(full_html=False, include_plotlyjs=True)
    finals = "".join(
        f"<tr><td>{html.escape(run.name)}</td><td><code>{run.id}</code></td>"
        + "".join(
            f"<td>{run.metrics[k].value:.6g}</td>" if k in run.metrics else "<td>-</td>"
            for k in series_keys
        )
        + "</tr>"
        for run in runs
    )
    header = "".join(f"<th>{html.escape(k)} (last)</th>" for k in series_keys)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(page_title)}</title>"
        "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"{body}<table><tr><th>run</th><th>id</th>{header}</tr>{finals}</table></body></html>"
    )
