"""The metadata store contract. Backends implement it; the contract suite checks them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from closedloop.core import (
    ArtifactRef,
    Audit,
    AuditEvent,
    Experiment,
    Metric,
    Project,
    Run,
    RunInput,
    RunPage,
    RunStatus,
)
from closedloop.metadata._datasets import DatasetStore
from closedloop.metadata._decisions import DecisionStore
from closedloop.metadata._domain import BlobReference, DomainStore
from closedloop.metadata._endpoints import EndpointStore
from closedloop.metadata._models import ModelStore
from closedloop.metadata._monitoring import MonitoringStore
from closedloop.metadata._predictions import PredictionLog

__all__ = ["BlobReference", "MetadataStore"]


class MetadataStore(Protocol):
    """Durable record of projects, experiments, runs, artifact references and audit events.

    Every method returns frozen snapshots from ``closedloop.core``. Implementations are safe
    to share across threads; several processes may use one database at once. Methods raise
    ``NotFoundError`` for unknown ids, ``InvalidArgumentError`` for bad input (nothing is
    written then), ``RunStateError`` for writes to a run that has ended, and ``StorageError``
    when the backend fails.
    """

    @property
    def datasets(self) -> DatasetStore:
        """Dataset versions."""
        ...

    @property
    def models(self) -> ModelStore:
        """Registered model versions and aliases."""
        ...

    @property
    def predictions(self) -> PredictionLog:
        """The prediction log."""
        ...

    @property
    def decisions(self) -> DecisionStore:
        """Loop decisions."""
        ...

    @property
    def endpoints(self) -> EndpointStore:
        """Endpoints: weighted routes and shadows over model versions."""
        ...

    @property
    def monitoring(self) -> MonitoringStore:
        """Reference profiles, monitoring windows and alerts."""
        ...

    @property
    def uri(self) -> str:
        """The database URI with any password masked."""
        ...

    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
        ...

    def schema_revision(self) -> str | None:
        """The schema revision the database is at (``None`` for an empty database)."""
        ...

    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate the schema to this version's head; returns the revisions before and after."""
        ...

    # projects and experiments -------------------------------------------------------------
    def get_or_create_experiment(self, project: str, name: str) -> Experiment:
        """Return the experiment ``project/name``, creating both if needed (race-safe)."""
        ...

    def get_experiment(self, experiment_id: int) -> Experiment:
        """Return an experiment by id, or raise ``NotFoundError``."""
        ...

    def find_experiment(self, project: str, name: str) -> Experiment | None:
        """Return the experiment ``project/name`` or ``None``."""
        ...

    def list_projects(self) -> list[Project]:
        """All projects, by name."""
        ...

    def list_experiments(self, project: str | None = None) -> list[Experiment]:
        """Experiments of one project (or all), by project then name."""
        ...

    # runs ---------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: int,
        *,
        name: str,
        user: str,
        start_time: int,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
        audit: Audit | None = None,
    ) -> Run:
        """Insert a ``RUNNING`` run and return it.

        ``audit``, when given, is appended to the audit log in the same transaction (so
        the record and its audit event commit or fail together); the same holds for the
        ``audit`` argument of ``log_batch``, ``set_run_status`` and the sub-stores'
        writes. It is a finished ``AuditEvent``, or a ``PendingAudit`` (the gate's action)
        whose ``commit_event`` the store calls inside that transaction, after its rows are
        written, so the event carries the action's final detail
        (``closedloop.core.commit_audit`` does both).
        """
        ...

    def get_run(self, run_id: str) -> Run:
        """Return a run with its params, latest metrics, tags and inputs."""
        ...

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Return several runs in the order asked; ``NotFoundError`` names any missing id."""
        ...

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        status: RunStatus | None = None,
        end_time: int | None = None,
        audit: Audit | None = None,
    ) -> None:
        """Append metric points and set params and tags in one transaction.

        With ``status``, the run also moves to that status in the same transaction (a
        terminal one records ``end_time``), so a run's last data and its end commit together.

        A param, once set, keeps its value: a different value raises
        ``InvalidArgumentError`` and nothing of the batch is written.
        """
        ...

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        end_time: int | None,
        *,
        audit: Audit | None = None,
    ) -> None:
        """Change a run's status (ending it when the status is terminal)."""
        ...

    def delete_run(self, run_id: str) -> list[str]:
        """Delete a run and everything recorded on it.

        Returns:
            The digests that the run referenced and nothing else references any more, so
            the caller can free those blobs.
        """
        ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric series, by step then time."""
        ...

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        """Runs matching the filter (see ``closedloop.core.parse_filter``), sorted and paged.

        The default order is newest first. ``page_token`` comes from the previous page.
        """
        ...

    # artifacts and inputs -----------------------------------------------------------------
    def add_artifact(self, run_id: str, path: str, digest: str, size: int) -> ArtifactRef:
        """Attach a stored blob to a run under a logical path (replacing that path)."""
        ...

    def list_artifacts(self, run_id: str) -> list[ArtifactRef]:
        """A run's artifacts by path."""
        ...

    def get_artifact(self, run_id: str, path: str) -> ArtifactRef:
        """One artifact reference, or ``NotFoundError``."""
        ...

    def add_run_input(self, run_id: str, run_input: RunInput) -> None:
        """Record that the run consumed ``run_input`` (idempotent)."""
        ...

    # blobs, asked of every domain store --------------------------------------------------
    def register_domain(self, store: DomainStore) -> None:
        """Add a domain store to those asked which blobs their records reference.

        The store's own domains (run artifacts, ``datasets``, ``models``, ``predictions``,
        ``decisions``, ``endpoints``) are registered when it opens; a new domain registers
        itself so that ``gc`` keeps and ``verify`` checks its blobs. Registering the same
        object again does nothing.
        """
        ...

    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """Every blob digest any record still points at (for garbage collection).

        The union of every registered domain's ``referenced_digests``; with ``among``, only
        those of the given digests that are still referenced.
        """
        ...

    def blob_references(self) -> list[BlobReference]:
        """Every record that points at a blob, sorted by digest.

        The records every registered domain reports, those :meth:`referenced_digests`
        covers; ``verify`` names them next to a broken blob.
        """
        ...

    # audit --------------------------------------------------------------------------------
    def append_audit_events(self, events: Iterable[AuditEvent]) -> None:
        """Append audit events in one transaction (a batch of reads is one write).

        The log is append-only.
        """
        ...

    def list_audit_events(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Most recent audit events first, optionally filtered."""
        ...
