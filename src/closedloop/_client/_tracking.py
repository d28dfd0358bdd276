"""The tracking areas of the SDK: ``client.runs`` and ``client.experiments``.

Each method is the verb of :mod:`closedloop.tracking` it names, with the same parameters,
bound to the client's workspace.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from closedloop import tracking
from closedloop.core import ArtifactRef, Experiment, Metric, Run, RunPage
from closedloop.tracking import ActiveRun, DeleteReport, RunComparison
from closedloop.workspace import Workspace

__all__ = ["Area", "ExperimentsClient", "RunsClient"]


class Area:
    """One area of the SDK: verbs bound to a workspace.

    Args:
        workspace: The workspace the verbs act on (a client's, or a principal's view of it).
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace


class RunsClient(Area):
    """Runs: start, read, search, compare, delete, metric histories and artifacts.

    Example:
        >>> with client.runs.start("churn", params={"model": "rf"}) as run:
        ...     run.log_metric("auc", 0.91)
        >>> client.runs.search("metrics.auc > 0.9").runs
    """

    def start(
        self,
        experiment: str = "default",
        *,
        project: str = "default",
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        synchronous: bool | None = None,
    ) -> ActiveRun:
        """Start a run; see :func:`closedloop.tracking.start_run`."""
        return tracking.start_run(
            self.workspace,
            experiment,
            project=project,
            name=name,
            params=params,
            tags=tags,
            synchronous=synchronous,
        )

    def get(self, run_id: str) -> Run:
        """One run, by its full id."""
        return tracking.get_run(self.workspace, run_id)

    def resolve_id(self, prefix: str) -> str:
        """The full id of the single run whose id starts with ``prefix``."""
        return tracking.resolve_run_id(self.workspace, prefix)

    def search(
        self,
        filter: str | None = None,
        *,
        project: str | None = None,
        experiment: str | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        """Find runs; see :func:`closedloop.tracking.search_runs`."""
        return tracking.search_runs(
            self.workspace,
            filter,
            project=project,
            experiment=experiment,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def compare(self, run_ids: Sequence[str]) -> RunComparison:
        """Line up runs' params and metrics."""
        return tracking.compare_runs(self.workspace, run_ids)

    def delete(self, run_id: str) -> DeleteReport:
        """Delete a run and free the artifacts only it used."""
        return tracking.delete_run(self.workspace, run_id)

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric series of a run."""
        return tracking.get_metric_history(self.workspace, run_id, key)

    def plot(self, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> str:
        """A self-contained HTML page plotting the runs' metric series by step."""
        return tracking.plot_metric_history(self.workspace, run_ids, keys)

    def artifacts(self, run_id: str) -> list[ArtifactRef]:
        """A run's artifacts."""
        return tracking.list_artifacts(self.workspace, run_id)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's verified content."""
        return tracking.read_artifact(self.workspace, run_id, path)

    def download_artifact(self, run_id: str, path: str, dest: str | Path | None = None) -> Path:
        """Write an artifact to a file (``dest``, or its own name in the current folder)."""
        return tracking.download_artifact(self.workspace, run_id, path, dest)


class ExperimentsClient(Area):
    """Experiments: the named groups runs belong to, inside projects."""

    def list(self, project: str | None = None) -> builtins.list[Experiment]:
        """Experiments of one project (or of all)."""
        return tracking.list_experiments(self.workspace, project)

    def get(self, experiment_id: int) -> Experiment:
        """One experiment by id."""
        return tracking.get_experiment(self.workspace, experiment_id)
