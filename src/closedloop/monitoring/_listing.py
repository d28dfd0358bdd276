"""Reading what monitoring stored: windows and their summaries, merged windows.

:func:`list_windows` returns a version's stored windows with their opened summaries
(``monitor.read``). :func:`merge_windows` adds up the sketches of consecutive windows (a
day of hourly windows, a month of daily ones) and scores the merged sketch against the
reference profile's bins, without reading a logged row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from closedloop.core import ModelVersion
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._profiles import reference_profile
from closedloop.monitoring._reference import NumericReference
from closedloop.monitoring._run import WindowResult, open_window
from closedloop.monitoring._sketch import CategoricalSketch, NumericSketch, WindowSketch
from closedloop.workspace import Actions, Workspace

__all__ = ["MergedWindows", "list_windows", "merge_windows"]


def _version(ws: Workspace, model: str | ModelVersion) -> ModelVersion:
    return model if isinstance(model, ModelVersion) else ws.metadata.models.get_version(model)


def list_windows(
    ws: Workspace,
    model: str | ModelVersion,
    monitor: str | None = None,
    *,
    since: int | None = None,
    until: int | None = None,
    complete: bool | None = None,
    limit: int | None = None,
) -> list[WindowResult]:
    """A version's stored windows, oldest first, with their summaries.

    Args:
        ws: The workspace.
        model: The model version (reference or object).
        monitor: Only windows of this spec (``count:1000``); default: every spec.
        since: Only windows starting at or after this time (epoch ms).
        until: Only windows starting before this time (epoch ms).
        complete: Only complete (``True``) or filling (``False``) windows.
        limit: At most this many (the oldest).
    """
    version = _version(ws, model)
    with ws.action(Actions.MONITOR_READ, f"model:{version.id}", monitor=monitor) as act:
        stored = ws.metadata.monitoring.list_windows(
            version.id, monitor, since=since, until=until, complete=complete, limit=limit
        )
        out = [WindowResult(w, open_window(ws, w)) for w in stored]
        act.update(windows=len(out))
    return out


@dataclass(frozen=True, slots=True)
class MergedWindows:
    """Consecutive windows added up and scored from their sketches.

    Attributes:
        model_version_id: The version.
        monitor: The window spec merged.
        start: Start of the first window (epoch ms).
        end: End of the last window (epoch ms).
        n_windows: Windows merged.
        n_rows: Rows in them.
        sketch: The merged sketch.
        columns: Per column: ``method`` and ``statistic`` computed on the merged bins
            (numeric: normed Wasserstein and KS on the reference's percentile bins;
            categorical: Jensen-Shannon), with ``mean`` / ``missing_share``.
    """

    model_version_id: str
    monitor: str
    start: int
    end: int
    n_windows: int
    n_rows: int
    sketch: WindowSketch
    columns: dict[str, dict[str, Any]]


def _grid(ref: NumericReference, current: NumericSketch) -> np.ndarray:
    """The profile's open-ended bins closed by the smallest and largest values seen."""
    inner = ref.edges
    lo = min(float(ref.values[0]), current.minimum)
    hi = max(float(ref.values[-1]), current.maximum)
    lo = min(lo, float(np.nextafter(inner[0], -math.inf)))
    hi = max(hi, float(np.nextafter(inner[-1], math.inf)))
    return np.concatenate([[lo], inner, [hi]])


def merge_windows(
    ws: Workspace,
    model: str | ModelVersion,
    monitor: str,
    *,
    since: int | None = None,
    until: int | None = None,
) -> MergedWindows:
    """Merge the complete windows of ``monitor`` starting in ``[since, until)``.

    Overlapping (sliding) windows would count rows twice, so only tumbling specs merge.

    Raises:
        InvalidArgumentError: A sliding spec, or no complete window in the span.
    """
    from closedloop.monitoring._distances import (
        binned_jensenshannon,
        binned_ks,
        binned_wasserstein,
    )
    from closedloop.monitoring._windows import WindowSpec

    if not WindowSpec.parse(monitor).tumbling:
        raise InvalidArgumentError(
            f"windows of {monitor} overlap; merging them would count rows twice",
            hint="merge the windows of a tumbling spec (e.g. count:1000 or time:1h)",
        )
    version = _version(ws, model)
    results = list_windows(ws, version, monitor, since=since, until=until, complete=True)
    if not results:
        raise InvalidArgumentError(
            f"{version.id} has no complete {monitor} window in that span",
            hint="run closedloop monitor run first, or widen --since/--until",
        )
    sketch = results[0].summary.sketch
    for r in results[1:]:
        sketch = sketch.merge(r.summary.sketch)
    profile = reference_profile(ws, version)
    columns: dict[str, dict[str, Any]] = {}
    for name, ref in profile.columns.items():
        current = sketch.columns.get(name)
        if isinstance(ref, NumericReference) and isinstance(current, NumericSketch):
            stat = math.nan
            ks = math.nan
            if current.n and ref.n:
                grid = _grid(ref, current)
                scale = ref.std if ref.std > 0 else (abs(ref.mean) or 1.0)
                stat = binned_wasserstein(grid, ref.counts, current.counts, scale=scale)
                ks = binned_ks(grid, ref.counts, current.counts)
            columns[name] = {
                "method": "wasserstein",
                "statistic": float(stat),
                "ks_statistic": float(ks),
                "mean": current.mean,
                "missing_share": current.missing / max(current.n + current.missing, 1),
            }
        elif isinstance(current, CategoricalSketch) and not isinstance(ref, NumericReference):
            categories = sorted(set(ref.counts) | set(current.counts))
            ref_n = np.array([ref.counts.get(k, 0) for k in categories], dtype=np.float64)
            cur_n = np.array([current.counts.get(k, 0) for k in categories], dtype=np.float64)
            stat = (
                binned_jensenshannon(np.arange(len(categories) + 1, dtype=float), ref_n, cur_n)
                if ref_n.sum() and cur_n.sum()
                else math.nan
            )
            columns[name] = {
                "method": "jensenshannon",
                "statistic": float(stat),
                "missing_share": current.missing / max(current.n + current.missing, 1),
            }
    return MergedWindows(
        version.id,
        monitor,
        results[0].window.start,
        results[-1].window.end,
        len(results),
        sum(r.window.n_rows for r in results),
        sketch,
        columns,
    )
