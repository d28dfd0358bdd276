"""``Client``: the SDK's front door, one object over an open workspace, in areas.

The client holds no logic of its own: each area (``client.runs``, ``client.datasets``, …)
is a small object whose methods are the verbs of that area bound to the workspace. The CLI
and a later REST API call the same verbs, so there is one path from a caller to the gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from closedloop import tracking
from closedloop._client._endpoints import EndpointsClient
from closedloop._client._lifecycle import (
    DatasetsClient,
    DecisionsClient,
    ModelsClient,
    PredictionsClient,
)
from closedloop._client._tracking import Area, ExperimentsClient, RunsClient
from closedloop.config import Settings, load_settings
from closedloop.core import AuditEvent, Principal, RunPage
from closedloop.tracking import ActiveRun
from closedloop.workspace import Actions, GcReport, InitReport, Workspace, list_audit_events

__all__ = ["AuditClient", "Client", "init", "search_runs", "start_run"]


class AuditClient(Area):
    """The audit log: who did what, to what, with which outcome."""

    def list(
        self,
        *,
        actor: str | None = None,
        action: Actions | str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Recent audit events, newest first; see :func:`closedloop.workspace.list_audit_events`."""
        return list_audit_events(
            self.workspace, actor=actor, action=action, since=since, limit=limit
        )


class Client:
    """Work with one workspace, area by area.

    Args:
        workspace: A workspace folder, a metadata database URI, or an open ``Workspace``
            (the client then closes it when it is closed).
        settings: Settings to use instead of loading them from file and environment.

    Attributes:
        workspace: The open workspace.
        runs: Start, read, search, compare and delete runs; metric histories; artifacts.
        experiments: List and read experiments.
        datasets: Ingest, load, list, read and validate dataset versions.
        models: Register, read, list and load model versions; aliases and their history;
            descriptions and tags.
        predictions: Count and list the prediction log.
        decisions: List the loop's champion/challenger decisions.
        endpoints: Create, update, read, list, delete and resolve endpoints.
        audit: List audit events.

    Example:
        >>> client = closedloop.Client()
        >>> with client.start_run("churn", params={"model": "rf"}) as run:
        ...     run.log_metric("auc", 0.91)
        >>> client.runs.search("metrics.auc > 0.9").runs
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
        self.runs = RunsClient(self.workspace)
        self.experiments = ExperimentsClient(self.workspace)
        self.datasets = DatasetsClient(self.workspace)
        self.models = ModelsClient(self.workspace)
        self.predictions = PredictionsClient(self.workspace)
        self.decisions = DecisionsClient(self.workspace)
        self.endpoints = EndpointsClient(self.workspace)
        self.audit = AuditClient(self.workspace)

    def close(self) -> None:
        """Close the workspace (a principal's view leaves the stores open)."""
        self.workspace.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def as_principal(self, principal: Principal) -> Client:
        """A client whose every call acts for ``principal`` (a server's caller, say).

        It works on :meth:`Workspace.as_principal`'s view: the same stores, audited under
        ``principal``; closing it leaves this client's workspace open.
        """
        return Client(self.workspace.as_principal(principal))

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
        """Start a run: the shortcut for :meth:`RunsClient.start` (``client.runs.start``)."""
        return self.runs.start(
            experiment,
            project=project,
            name=name,
            params=params,
            tags=tags,
            synchronous=synchronous,
        )

    def gc(self, *, dry_run: bool = False, grace: timedelta | None = None) -> GcReport:
        """Remove blobs nothing references; see :meth:`Workspace.gc`."""
        return self.workspace.gc(dry_run=dry_run, grace=grace)


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
    project: str = "default",
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    synchronous: bool | None = None,
) -> ActiveRun:
    """Start a run in the workspace found from the current folder (or ``workspace``).

    The run owns the workspace it opened and closes it when the run ends::

        with closedloop.start_run("churn", params={"model": "rf"}) as run:
            run.log_metric("auc", 0.91)
    """
    ws = Workspace.open(workspace)
    try:
        return tracking.start_run(
            ws,
            experiment,
            project=project,
            name=name,
            params=params,
            tags=tags,
            synchronous=synchronous,
            owns_workspace=True,
        )
    except BaseException:
        ws.close()
        raise


def search_runs(
    filter: str | None = None,
    *,
    workspace: str | Path | None = None,
    project: str | None = None,
    experiment: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> RunPage:
    """Search runs in the workspace found from the current folder (or ``workspace``)."""
    with Client(workspace) as client:
        return client.runs.search(
            filter,
            project=project,
            experiment=experiment,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )
