"""``SqlMetadataStore``: the metadata store on SQLAlchemy Core (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

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
    now_ms,
    parse_filter,
    parse_order_by,
)
from closedloop.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from closedloop.metadata._domain import BlobReference, DomainStore
from closedloop.metadata._sql import _engine
from closedloop.metadata._sql._db import Database
from closedloop.metadata._sql._rows import check_name, check_pairs, hydrate_runs, pair_rows
from closedloop.metadata._sql._run_writes import RunWrites, require_running
from closedloop.metadata._sql._search import (
    compile_filter,
    decode_page_token,
    encode_page_token,
    order_clauses,
)
from closedloop.metadata._sql.artifacts import SqlRunArtifacts
from closedloop.metadata._sql.audit import SqlAuditLog
from closedloop.metadata._sql.datasets import SqlDatasetStore
from closedloop.metadata._sql.decisions import SqlDecisionStore
from closedloop.metadata._sql.endpoints import SqlEndpointStore
from closedloop.metadata._sql.models import SqlModelStore
from closedloop.metadata._sql.monitoring import SqlMonitoringStore
from closedloop.metadata._sql.predictions import SqlPredictionLog
from closedloop.metadata._sql.tables import (
    experiments,
    latest_metrics,
    metrics,
    params,
    projects,
    run_artifacts,
    run_inputs,
    runs,
    tags,
)

__all__ = ["SqlMetadataStore"]

_NAN = float("nan")
# Aliases: methods take arguments called ``params`` and ``tags`` that shadow the tables.
_PARAMS, _TAGS = params, tags
_MAX_RESULTS = 10_000


class SqlMetadataStore:
    """Metadata store on any SQLAlchemy database closedloop supports.

    Args:
        uri: ``sqlite:///path/to/closedloop.db`` or ``postgresql+psycopg://user@host/db``.
        check_schema: Verify on open that the schema is at the head revision (raises
            ``SchemaVersionError`` with the upgrade command otherwise).
    """

    def __init__(self, uri: str, *, check_schema: bool = True) -> None:
        self._uri = uri
        self._engine = _engine.create_store_engine(uri)
        self._db = Database(self._engine, uri)
        self._dialect = self._db.dialect
        self.datasets = SqlDatasetStore(self._db)
        self.models = SqlModelStore(self._db)
        self.predictions = SqlPredictionLog(self._db)
        self.decisions = SqlDecisionStore(self._db)
        self.endpoints = SqlEndpointStore(self._db)
        self.monitoring = SqlMonitoringStore(self._db)
        self._artifacts = SqlRunArtifacts(self._db)
        self._audit_log = SqlAuditLog(self._db)
        self._run_writes = RunWrites(self._db)
        self._domains: list[DomainStore] = [
            self._artifacts,
            self.datasets,
            self.models,
            self.predictions,
            self.decisions,
            self.endpoints,
            self.monitoring,
        ]
        # Experiments are never deleted or renamed, so a found one can be remembered.
        self._experiments: dict[tuple[str, str], Experiment] = {}
        if check_schema:
            try:
                _engine.check_schema(self._engine, uri)
            except BaseException:
                self._engine.dispose()  # a refused store leaves no connection open
                raise

    # lifecycle -------------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        """The database URI with any password masked."""
        return _engine.mask_uri(self._uri)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._dialect

    def close(self) -> None:
        """Dispose of the connection pool."""
        self._engine.dispose()

    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate the schema to the head revision; returns the revisions before and after."""
        return _engine.upgrade_schema(self._engine)

    def schema_revision(self) -> str | None:
        """The schema revision the database is at."""
        return _engine.current_revision(self._engine)

    # projects and experiments ----------------------------------------------------------------
    def get_or_create_experiment(self, project: str, name: str) -> Experiment:
        """Return ``project/name``, creating the project and experiment if needed."""
        check_name("project", project)
        check_name("experiment", name)
        found = self.find_experiment(project, name)
        if found is not None:
            return found
        with self._db.write() as conn:
            now = now_ms()
            conn.execute(
                self._db.insert(projects)
                .values(name=project, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            project_id = conn.execute(
                select(projects.c.id).where(projects.c.name == project)
            ).scalar_one()
            conn.execute(
                self._db.insert(experiments)
                .values(project_id=project_id, name=name, created_at=now)
                .on_conflict_do_nothing(index_elements=["project_id", "name"])
            )
        found = self.find_experiment(project, name)
        assert found is not None
        return found

    def _experiment_query(self) -> Any:
        return select(
            experiments.c.id,
            experiments.c.project_id,
            projects.c.name.label("project"),
            experiments.c.name,
            experiments.c.created_at,
        ).join(projects, projects.c.id == experiments.c.project_id)

    def get_experiment(self, experiment_id: int) -> Experiment:
        """Return an experiment by id."""
        with self._db.read() as conn:
            row = conn.execute(
                self._experiment_query().where(experiments.c.id == experiment_id)
            ).first()
        if row is None:
            raise NotFoundError(f"no experiment with id {experiment_id}")
        return Experiment(*row)

    def find_experiment(self, project: str, name: str) -> Experiment | None:
        """Return ``project/name`` or ``None``."""
        cached = self._experiments.get((project, name))
        if cached is not None:
            return cached
        with self._db.read() as conn:
            row = conn.execute(
                self._experiment_query().where(
                    projects.c.name == project, experiments.c.name == name
                )
            ).first()
        if row is None:
            return None
        found = self._experiments[(project, name)] = Experiment(*row)
        return found

    def list_projects(self) -> list[Project]:
        """All projects by name."""
        with self._db.read() as conn:
            rows = conn.execute(select(projects).order_by(projects.c.name)).all()
        return [Project(*r) for r in rows]

    def list_experiments(self, project: str | None = None) -> list[Experiment]:
        """Experiments, by project then name."""
        q = self._experiment_query().order_by(projects.c.name, experiments.c.name)
        if project is not None:
            q = q.where(projects.c.name == project)
        with self._db.read() as conn:
            return [Experiment(*r) for r in conn.execute(q).all()]

    # runs --------------------------------------------------------------------------------------
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
        """Insert a running run with its initial params and tags."""
        run_id = run_id or uuid.uuid4().hex
        p = check_pairs("param", params or {})
        t = check_pairs("tag", tags or {})
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(runs).values(
                        id=run_id,
                        experiment_id=experiment_id,
                        name=name,
                        status=RunStatus.RUNNING.value,
                        user=user,
                        start_time=start_time,
                        end_time=None,
                    )
                )
                if p:
                    conn.execute(insert(_PARAMS), pair_rows(run_id, p))
                if t:
                    conn.execute(insert(_TAGS), pair_rows(run_id, t))
                self._db.audit(conn, audit)
        except AlreadyExistsError as e:
            if self.find_experiment_by_id(experiment_id) is None:
                raise NotFoundError(f"no experiment with id {experiment_id}") from e
            raise AlreadyExistsError(f"a run with id {run_id} already exists") from e
        return Run(
            id=run_id,
            experiment_id=experiment_id,
            name=name,
            status=RunStatus.RUNNING,
            user=user,
            start_time=start_time,
            end_time=None,
            params=dict(p),
            tags=dict(t),
        )

    def find_experiment_by_id(self, experiment_id: int) -> Experiment | None:
        """Return an experiment by id or ``None``."""
        try:
            return self.get_experiment(experiment_id)
        except NotFoundError:
            return None

    def get_run(self, run_id: str) -> Run:
        """Return one run with everything recorded on it."""
        return self.get_runs([run_id])[0]

    def get_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Return runs in the order asked."""
        with self._db.read() as conn:
            rows = conn.execute(select(runs).where(runs.c.id.in_(list(run_ids)))).all()
            by_id = {r.id: r for r in rows}
            missing = [i for i in run_ids if i not in by_id]
            if missing:
                raise NotFoundError(
                    f"no run with id {missing[0]}",
                    hint="list runs with `closedloop runs list`",
                )
            return hydrate_runs(conn, [by_id[i] for i in run_ids])

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
        """Append metrics and set params/tags (and optionally the status) atomically."""
        p = check_pairs("param", params or {})
        t = check_pairs("tag", tags or {})
        for mt in metrics:
            check_name("metric", mt.key)
        with self._db.write() as conn:
            require_running(conn, run_id)
            if p:
                self._run_writes.set_params(conn, run_id, p)
            if t:
                self._run_writes.set_tags(conn, run_id, t)
            if metrics:
                self._run_writes.insert_metrics(conn, run_id, metrics)
            if status is not None:
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id)
                    .values(status=status.value, end_time=end_time if status.is_terminal else None)
                )
            self._db.audit(conn, audit)

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        end_time: int | None,
        *,
        audit: Audit | None = None,
    ) -> None:
        """Set the status; a terminal status records ``end_time``."""
        with self._db.write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(status=status.value, end_time=end_time if status.is_terminal else None)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no run with id {run_id}")
            self._db.audit(conn, audit)

    def delete_run(self, run_id: str) -> list[str]:
        """Delete a run; return the digests nothing references any more."""
        with self._db.write() as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise NotFoundError(f"no run with id {run_id}")
            digests = set(
                conn.execute(
                    select(run_artifacts.c.digest).where(run_artifacts.c.run_id == run_id)
                ).scalars()
            )
            for table in (metrics, latest_metrics, params, tags, run_artifacts, run_inputs):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(runs).where(runs.c.id == run_id))
            still = set(
                conn.execute(
                    select(run_artifacts.c.digest).where(run_artifacts.c.digest.in_(digests))
                ).scalars()
            )
        return sorted(digests - still)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """All points of ``key`` for the run."""
        with self._db.read() as conn:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise NotFoundError(f"no run with id {run_id}")
            rows = conn.execute(
                select(metrics.c.key, metrics.c.value, metrics.c.step, metrics.c.timestamp)
                .where(metrics.c.run_id == run_id, metrics.c.key == key)
                .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
            ).all()
        return [Metric(k, _NAN if v is None else v, st, ts) for k, v, st, ts in rows]

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        """Filter, sort and page runs."""
        if not 1 <= max_results <= _MAX_RESULTS:
            raise InvalidArgumentError(
                f"max_results must be between 1 and {_MAX_RESULTS}, got {max_results}"
            )
        where = compile_filter(parse_filter(filter_string))
        order = parse_order_by(order_by)
        offset = decode_page_token(page_token)
        stmt = select(runs).where(where)
        if experiment_ids is not None:
            stmt = stmt.where(runs.c.experiment_id.in_(list(experiment_ids)))
        stmt = order_clauses(stmt, order).limit(max_results + 1).offset(offset)
        with self._db.read() as conn:
            rows = conn.execute(stmt).all()
            more = len(rows) > max_results
            found = hydrate_runs(conn, rows[:max_results])
        return RunPage(found, encode_page_token(offset + max_results) if more else None)

    # artifacts and inputs ----------------------------------------------------------------------
    def add_artifact(self, run_id: str, path: str, digest: str, size: int) -> ArtifactRef:
        """Attach a blob to a run under ``path`` (replacing what was there)."""
        return self._artifacts.add_artifact(run_id, path, digest, size)

    def list_artifacts(self, run_id: str) -> list[ArtifactRef]:
        """A run's artifacts by path."""
        return self._artifacts.list_artifacts(run_id)

    def get_artifact(self, run_id: str, path: str) -> ArtifactRef:
        """One artifact reference."""
        return self._artifacts.get_artifact(run_id, path)

    def add_run_input(self, run_id: str, run_input: RunInput) -> None:
        """Record an input of the run (idempotent)."""
        self._artifacts.add_run_input(run_id, run_input)

    # blobs, asked of every domain ----------------------------------------------------------------
    def register_domain(self, store: DomainStore) -> None:
        """Add a domain store whose blob references gc and verify must see."""
        if all(store is not known for known in self._domains):
            self._domains.append(store)

    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """Every digest still referenced by any domain (only those in ``among`` if given)."""
        found: set[str] = set()
        for domain in self._domains:
            found |= domain.referenced_digests(among)
        return found

    def blob_references(self) -> list[BlobReference]:
        """Every record of any domain that points at a blob, sorted by digest."""
        return sorted(ref for domain in self._domains for ref in domain.blob_references())

    # audit ---------------------------------------------------------------------------------------
    def append_audit_events(self, events: Iterable[AuditEvent]) -> None:
        """Append audit events."""
        self._audit_log.append(events)

    def list_audit_events(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Most recent first."""
        return self._audit_log.list(actor=actor, action=action, since=since, limit=limit)


if TYPE_CHECKING:
    from closedloop.metadata._protocol import MetadataStore

    _conforms: MetadataStore = SqlMetadataStore("sqlite://")
