"""``Client``: the SDK's front door, one object over an open workspace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from closedloop import tracking
from closedloop.config import Settings, load_settings
from closedloop.core import (
    ArtifactRef,
    AuditEvent,
    DatasetVersion,
    Experiment,
    Metric,
    ModelVersion,
    Run,
    RunPage,
)
from closedloop.tracking import ActiveRun, DeleteReport, RunComparison
from closedloop.workspace import GcReport, InitReport, Workspace

__all__ = ["Client", "init", "search_runs", "start_run"]


class Client:
    """Work with one workspace.

    Args:
        workspace: A workspace folder, a metadata database URI, or an open ``Workspace``.
            ``None`` finds the workspace from the current directory (like git) or from
            ``CLOSEDLOOP_WORKSPACE``.
        settings: Settings to use instead of loading them from file and environment.

    Example:
        >>> client = closedloop.Client()
        >>> with client.start_run("churn", params={"model": "rf"}) as run:
        ...     run.log_metric("auc", 0.91)
        >>> client.search_runs("metrics.auc > 0.9").runs
    """

    def __init__(
        self,
        workspace: str | Path | Workspace | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        if isinstance(workspace, Workspace):
            self.workspace = workspace
        else:
            self.workspace = Workspace.open(workspace, settings=settings)

    def close(self) -> None:
        """Close the workspace."""
        self.workspace.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # runs --------------------------------------------------------------------------------------
    def start_run(
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

    def get_run(self, run_id: str) -> Run:
        """One run."""
        return tracking.get_run(self.workspace, run_id)

    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the single run whose id starts with ``prefix``."""
        return tracking.resolve_run_id(self.workspace, prefix)

    def search_runs(
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

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        """Line up runs' params and metrics."""
        return tracking.compare_runs(self.workspace, run_ids)

    def delete_run(self, run_id: str) -> DeleteReport:
        """Delete a run and free the artifacts only it used."""
        return tracking.delete_run(self.workspace, run_id)

    def list_experiments(self, project: str | None = None) -> list[Experiment]:
        """Experiments of one project (or all)."""
        return tracking.list_experiments(self.workspace, project)

    def get_experiment(self, experiment_id: int) -> Experiment:
        """One experiment by id."""
        return tracking.get_experiment(self.workspace, experiment_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric series."""
        return tracking.get_metric_history(self.workspace, run_id, key)

    def plot_metric_history(self, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> str:
        """A self-contained HTML page plotting the runs' metric series by step."""
        return tracking.plot_metric_history(self.workspace, run_ids, keys)

    # artifacts ---------------------------------------------------------------------------------
    def list_artifacts(self, run_id: str) -> list[ArtifactRef]:
        """A run's artifacts."""
        return tracking.list_artifacts(self.workspace, run_id)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """An artifact's verified content."""
        return tracking.read_artifact(self.workspace, run_id, path)

    def download_artifact(self, run_id: str, path: str, dest: str | Path | None = None) -> Path:
        """Write an artifact to a file."""
        return tracking.download_artifact(self.workspace, run_id, path, dest)

    # data and models (their packages load on first use: they import pandas/scikit-learn) ----
    def ingest(self, source: str | Path, dataset: str, **options: Any) -> DatasetVersion:
        """Ingest a CSV/Parquet/JSON file as an immutable dataset version.

        Keyword arguments go to :func:`closedloop.data.ingest` (``format``, ``options``,
        ``schema``, ``parents``, ``progress``). The same content always gives the same
        version. What ingest accepted but you should know (a detected delimiter, a fallback
        encoding, a column without a name) is issued as a :class:`~closedloop.errors.DataWarning`.
        """
        import warnings

        from closedloop import data
        from closedloop.errors import DataWarning

        result = data.ingest(self.workspace, source, dataset, **options)
        for warning in result.warnings:
            warnings.warn(str(warning), DataWarning, stacklevel=2)
        return result.version

    def load_dataset(self, ref: str | DatasetVersion) -> Any:
        """A dataset version as a pandas DataFrame (``name@latest``, ``name/2``, …)."""
        from closedloop import data

        return data.load(self.workspace, ref)

    def register_model(self, name: str, model: Any, **details: Any) -> ModelVersion:
        """Register a fitted model; see :func:`closedloop.registry.register_model`."""
        from closedloop import registry

        return registry.register_model(self.workspace, name, model, **details)

    def load_model(self, ref: str) -> Any:
        """The estimator registered as ``ref`` (``name@champion``, ``name/3``)."""
        from closedloop import registry

        return registry.load_model(self.workspace, ref).model

    def get_model_version(self, ref: str) -> ModelVersion:
        """A registered model version with its signature, lineage and aliases."""
        from closedloop import registry

        return registry.get_model_version(self.workspace, ref)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point an alias (``champion``) at a version: promotion and rollback."""
        from closedloop import registry

        return registry.set_alias(self.workspace, name, alias, version)

    # maintenance -------------------------------------------------------------------------------
    def gc(self, *, dry_run: bool = False, grace: timedelta | None = None) -> GcReport:
        """Remove blobs nothing references."""
        return self.workspace.gc(dry_run=dry_run, grace=grace)

    def audit_events(
        self, *, actor: str | None = None, action: str | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """Recent audit events, newest first."""
        return self.workspace.metadata.list_audit_events(actor=actor, action=action, limit=limit)


def init(path: str | Path | None = None, **settings: Any) -> Client:
    """Create (or complete) a workspace at ``path`` (default: the current folder), open it.

    Keyword arguments are settings (``metadata_uri=…``, ``artifact_uri=…``).
    """
    folder = str(Path(path or ".").resolve())
    resolved = load_settings({**settings, "workspace": folder})
    report: InitReport = Workspace.init(folder, settings=resolved)
    return Client(settings=load_settings({**settings, "workspace": str(report.location.root)}))


def start_run(
    experiment: str = "default",
    *,
    workspace: str | Path | None = None,
    **kwargs: Any,
) -> ActiveRun:
    """Start a run in the workspace found from the current folder (or ``workspace``).

    The run owns the workspace it opened and closes it when the run ends::

        with closedloop.start_run("churn", params={"model": "rf"}) as run:
            run.log_metric("auc", 0.91)
    """
    ws = Workspace.open(workspace)
    try:
        return tracking.start_run(ws, experiment, owns_workspace=True, **kwargs)
    except BaseException:
        ws.close()
        raise


def search_runs(
    filter: str | None = None, *, workspace: str | Path | None = None, **kwargs: Any
) -> RunPage:
    """Search runs in the workspace found from the current folder (or ``workspace``)."""
    with Client(workspace) as client:
        return client.search_runs(filter, **kwargs)
