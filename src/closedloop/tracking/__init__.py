"""Run tracking: start runs, log to them, search, compare and delete them."""

from closedloop.tracking._api import (
    DeleteReport,
    RunComparison,
    compare_runs,
    delete_run,
    download_artifact,
    get_experiment,
    get_metric_history,
    get_run,
    list_artifacts,
    list_experiments,
    read_artifact,
    resolve_run_id,
    search_runs,
    start_run,
)
from closedloop.tracking._plot import plot_metric_history
from closedloop.tracking._run import ActiveRun

__all__ = [
    "ActiveRun",
    "DeleteReport",
    "RunComparison",
    "compare_runs",
    "delete_run",
    "download_artifact",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "plot_metric_history",
    "read_artifact",
    "resolve_run_id",
    "search_runs",
    "start_run",
]
