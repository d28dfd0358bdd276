from __future__ import annotations

import re

import pytest

from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.tracking import plot_metric_history, start_run
from closedloop.workspace import Workspace


def _runs(ws: Workspace) -> list[str]:
    ids = []
    for name, rate in (("slow", 0.5), ("fast", 0.9)):
        with start_run(ws, "plot", name=name) as run:
            for step in range(5):
                run.log_metric("loss", rate**step)
            run.log_metric("auc", rate)
        ids.append(run.id)
    return ids


def test_plot_draws_every_series_offline(workspace: Workspace) -> None:
    ids = _runs(workspace)
    page = plot_metric_history(workspace, ids)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js is inlined, nothing fetched
    assert "slow" in page
    assert "fast" in page
    assert '"loss"' in page  # the series panel
    assert "0.9" in page  # the table of last values
    # single-point metrics are not drawn as series by default
    assert "auc (last)" not in page


def test_plot_named_metric_and_errors(workspace: Workspace) -> None:
    ids = _runs(workspace)
    assert "auc (last)" in plot_metric_history(workspace, ids, ["auc"])
    with pytest.raises(NotFoundError, match="nope"):
        plot_metric_history(workspace, ids, ["nope"])
    with pytest.raises(InvalidArgumentError):
        plot_metric_history(workspace, [])
    with start_run(workspace, "plot") as single:
        single.log_metric("x", 1.0)
    with pytest.raises(InvalidArgumentError, match="more than one point"):
        plot_metric_history(workspace, [single.id])
