"""``Workspace``: binds the stores, keyring and acting principal; the choke point of actions.

Every SDK action passes through ``Workspace.action``: it records an audit event now, and is
where permission checks will go. Who acts is per call: ``as_principal`` gives a view of the
same workspace acting for someone else (an explicit object, no context variables), so a
server acts for each caller concurrently without changing shared state.
"""

from __future__ import annotations

import contextlib
import copy
import getpass
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from closedloop._fs import make_private_dirs, write_new_private_file
from closedloop.artifacts import ArtifactStore, get_artifact_store
from closedloop.config import CONFIG_FILE, Settings, load_settings
from closedloop.core import AuditEvent, Principal, ProgressCallback
from closedloop.crypto import Keyring, RecordSealer
from closedloop.errors import ClosedLoopError, InvalidArgumentError
from closedloop.metadata import MetadataStore, get_metadata_store, strip_password
from closedloop.workspace._actions import Access, Actions, is_audited, lookup_action
from closedloop.workspace._gate import Action
from closedloop.workspace._location import WorkspaceLocation, resolve_location
from closedloop.workspace._permissions import local_artifact_dir
from closedloop.workspace._verify import VerifyReport, verify_blobs

__all__ = ["GcReport", "InitReport", "Workspace", "current_actor"]

_CONFIG_TEMPLATE = """\
# closedloop workspace settings. Every key is optional; CLOSEDLOOP_<KEY> environment
# variables override this file. Relative paths are relative to the workspace folder.
#
# metadata_uri: postgresql+psycopg://user@host/closedloop   # team database
# artifact_uri: s3://bucket/closedloop                      # any fsspec URL
# key_file: .closedloop/keys/workspace.key
# encrypt_artifacts: true
# metric_flush_interval: 5.0      # seconds
# metric_buffer_size: 10000       # points
# synchronous_logging: false
# gc_grace_seconds: 3600
# serving_max_body_bytes: 16777216   # larger request bodies get 413
# serving_max_string_length: 1000    # longer text values get 422
# serving_out_of_range: warn         # or refuse: numbers outside the training range
# serving_unseen_categories: warn    # or refuse: categories not seen in training
# serving_reload_seconds: 2.0        # how often servers follow alias moves (0: never)
# serving_workers: 1                 # worker processes of `closedloop serve`
# audit_reads: data_and_models       # or all, or none: which reads the audit log records
# monitoring:                        # closedloop monitor run (see docs/monitoring.md)
#   windows: [count:1000, time:1d]   # window specs: count:N[/STEP], time:SIZE[/STEP]
#   columns: {age: wasserstein:0.2}  # per-column drift rules (default: automatic)
#   sensitive: [sex]                 # fairness per window by these input columns
#   alerts: [defaults]               # alert rules; sinks: [{type: webhook, url: ...}]
"""


@dataclass(frozen=True, slots=True)
class InitReport:
    """What ``Workspace.init`` created (``False`` where the piece already existed)."""

    location: WorkspaceLocation
    created_key: bool
    created_schema: bool
    created_config: bool


@dataclass(frozen=True, slots=True)
class GcReport:
    """What ``Workspace.gc`` found and did (with ``dry_run``: what it would do).

    Attributes:
        blobs_seen: Blobs in the store.
        blobs_deleted: Unreferenced blobs deleted (or that would be).
        bytes_freed: Stored bytes of those blobs.
        blobs_young: Unreferenced blobs kept because they are younger than the grace.
        temp_files_removed: Abandoned temp files removed (or that would be).
        dry_run: Whether nothing was changed.
    """

    blobs_seen: int
    blobs_deleted: int
    bytes_freed: int
    blobs_young: int
    temp_files_removed: int
    dry_run: bool


class Workspace:
    """An open workspace.

    Build one with :meth:`open` (or :meth:`init` for a new one); close it when done, or use
    it as a context manager. It is safe to share across threads. :meth:`as_principal` and
    :meth:`read_batch` return views: the same stores and settings, another principal or a
    batch of read events; a view's ``close`` leaves the stores to the workspace it came from.

    Args:
        metadata: The metadata store.
        artifacts: The artifact store.
        settings: The settings it was opened with.
        location: Where its pieces live (``None`` for injected in-memory stores).
        principal: Who acts; defaults to the operating-system user (kind ``os``).
        keyring: The workspace keys (``None`` for injected stores without keys: records
            that would be sealed are then stored plain).
    """

    def __init__(
        self,
        metadata: MetadataStore,
        artifacts: ArtifactStore,
        *,
        settings: Settings | None = None,
        location: WorkspaceLocation | None = None,
        principal: Principal | None = None,
        keyring: Keyring | None = None,
    ) -> None:
        self.metadata = metadata
        self.keyring = keyring
        self._sealers: dict[bytes, RecordSealer] = {}
        self.artifacts = artifacts
        self.settings = settings or Settings()
        self.location = location
        self._principal = principal or Principal("os", current_actor())
        self._batch: list[AuditEvent] | None = None  # buffered read events of a read batch
        self._owner = True  # closes the stores (a view does not)

    # who acts ----------------------------------------------------------------------------------
    @property
    def principal(self) -> Principal:
        """Who acts through this workspace (object)."""
        return self._principal

    @property
    def actor(self) -> str:
        """The principal's name as the audit log records it (the run's ``user`` too)."""
        return self._principal.actor

    @actor.setter
    def actor(self, name: str) -> None:
        self._principal = Principal(
            self._principal.kind, name, self._principal.roles, self._principal.source
        )

    def as_principal(self, principal: Principal) -> Workspace:
        """A view of this workspace that acts for ``principal``.

        The view shares the stores, settings and any open read batch; nothing of this
        workspace changes, so one view per request serves concurrent callers. It is cheap
        (a shallow copy); closing it does not close the stores.
        """
        view = copy.copy(self)
        view._principal, view._owner = principal, False
        return view

    @contextlib.contextmanager
    def read_batch(self) -> Iterator[Workspace]:
        """A view whose audited reads are written together, in one transaction, at the end.

        A plot or a listing that reads N runs then costs one audit write, not N. Writes
        inside are recorded at once, as always. The events are written when the block ends,
        with an exception too; if they cannot be, the block fails (a read that cannot be
        audited does not count as done). Nested batches join the outer one.
        """
        if self._batch is not None:
            yield self
            return
        view = copy.copy(self)
        view._batch, view._owner = [], False
        try:
            yield view
        except BaseException:
            self._flush(view._batch, raise_errors=False)
            raise
        self._flush(view._batch, raise_errors=True)

    def _flush(self, events: list[AuditEvent], *, raise_errors: bool) -> None:
        if events:
            batch = list(events)
            events.clear()
            self._write_events(batch, raise_errors=raise_errors)

    def record_sealer(self, purpose: bytes) -> RecordSealer | None:
        """The sealer of records for ``purpose`` (``None`` when the workspace has no keys)."""
        if self.keyring is None:
            return None
        sealer = self._sealers.get(purpose)
        if sealer is None:
            sealer = self._sealers.setdefault(purpose, RecordSealer(self.keyring, purpose))
        return sealer

    # construction ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls, workspace: str | Path | None = None, *, settings: Settings | None = None
    ) -> Workspace:
        """Open a workspace.

        It is the one named by ``workspace`` (a folder or a database URI), else by the
        settings, else found by walking up from the current directory.

        Raises:
            WorkspaceNotFoundError: None was named or found.
            SchemaVersionError: Its database needs ``closedloop db upgrade``.
        """
        if settings is None:
            settings = load_settings({"workspace": str(workspace) if workspace else None})
        elif workspace is not None:
            settings = settings.model_copy(update={"workspace": str(workspace)})
        location = resolve_location(settings)
        keyring = Keyring.load(location.key_file)
        metadata = get_metadata_store(location.metadata_uri)
        try:
            artifacts = get_artifact_store(
                location.artifact_uri,
                keyring=keyring,
                encrypt=settings.encrypt_artifacts,
                storage_options=settings.storage_options or None,
            )
        except BaseException:
            metadata.close()
            raise
        return cls(metadata, artifacts, settings=settings, location=location, keyring=keyring)

    @classmethod
    def init(
        cls, path: str | Path | None = None, *, settings: Settings | None = None
    ) -> InitReport:
        """Create (or complete) a workspace: folders, key file, config file, database schema.

        Never overwrites an existing key. Safe to run again on an existing workspace. What
        it creates locally is owner-only: folders 0700, files (database, key, config) 0600;
        it leaves the permissions of what exists alone (``closedloop doctor`` reports them).

        Raises:
            SchemaVersionError: The database exists at an older schema (run `db upgrade`).
        """
        if settings is None:
            settings = load_settings({"workspace": str(Path(path or ".").resolve())})
        location = resolve_location(settings, must_exist=False)
        created_config = False
        if location.state_dir is not None:
            location.state_dir.parent.mkdir(parents=True, exist_ok=True)
            make_private_dirs(location.state_dir)
            config = location.state_dir / CONFIG_FILE
            if not config.exists():
                text = _CONFIG_TEMPLATE + _chosen(settings)
                write_new_private_file(config, text.encode("utf-8"))
                created_config = True
        artifact_dir = local_artifact_dir(location.artifact_uri)
        if artifact_dir is not None:
            make_private_dirs(artifact_dir)
        created_key = False
        if not location.key_file.exists():
            Keyring.create(location.key_file)
            created_key = True
        store = get_metadata_store(location.metadata_uri, check_schema=False)
        try:
            created_schema = store.schema_revision() is None
            if created_schema:
                store.upgrade()
        finally:
            store.close()
        get_metadata_store(location.metadata_uri).close()  # an older schema says how to upgrade
        return InitReport(location, created_key, created_schema, created_config)

    def close(self) -> None:
        """Release the stores' resources (a view leaves them to its workspace)."""
        if self._owner:
            self.metadata.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the choke point ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def action(self, action: Actions | str, resource: str, **detail: Any) -> Iterator[Action]:
        """Run one action on behalf of ``principal`` and record it in the audit log.

        Every SDK verb that reads or writes data, models or runs enters here. The body may
        add small facts to the yielded ``Action`` (a dict); they are stored with the event.
        The outcome is ``ok`` or ``error:<code>``; the error still propagates. A body whose
        last store write takes the ``Action`` as its ``audit`` argument saves a transaction:
        the store builds the success event from the final detail when the data commits.

        Writes are always recorded; reads as the ``audit_reads`` setting says (see
        :func:`~closedloop.workspace._actions.is_audited`), at once or, inside
        :meth:`read_batch`, at the batch's end.

        Args:
            action: An entry of the catalog (or its dotted name, e.g. ``"run.create"``).
            resource: What is acted on, such as ``run:<id>``.
            **detail: Initial detail for the event.

        Raises:
            InvalidArgumentError: ``action`` is not in the catalog.
        """
        entry = lookup_action(action)
        act = Action(self._principal, entry, resource, detail)
        if not is_audited(entry, self.settings.audit_reads):
            yield act
            return
        try:
            yield act
        except ClosedLoopError as e:
            self._record(act, f"error:{e.code}", raise_errors=False)
            raise
        except BaseException as e:
            self._record(act, f"error:{type(e).__name__}", raise_errors=False)
            raise
        if not act.committed:
            self._record(act, "ok", raise_errors=True)

    def _record(self, act: Action, outcome: str, *, raise_errors: bool) -> None:
        event = act.event(outcome)
        if self._batch is not None and act.action.access is Access.READ:
            self._batch.append(event)
        else:
            self._write_events([event], raise_errors=raise_errors)

    def _write_events(self, events: list[AuditEvent], *, raise_errors: bool) -> None:
        try:
            self.metadata.append_audit_events(events)
        except ClosedLoopError:
            if raise_errors:  # an action that cannot be audited does not count as done
                raise

    # maintenance -------------------------------------------------------------------------------
    def gc(self, *, dry_run: bool = False, grace: timedelta | None = None) -> GcReport:
        """Delete blobs that no record references.

        Blobs younger than ``grace`` (default: the ``gc_grace_seconds`` setting) are kept, so
        a writer that has stored a blob but not yet recorded it never loses it; so are temp
        files of writes in progress. With ``dry_run`` nothing is removed and the report
        counts what would be.
        """
        grace = grace if grace is not None else timedelta(seconds=self.settings.gc_grace_seconds)
        if grace < timedelta(0):
            raise InvalidArgumentError(
                f"gc grace must not be negative, got {grace.total_seconds():g} s",
                hint="use 0 to collect every unreferenced blob, or leave the default",
            )
        with self.action(Actions.ARTIFACT_GC, "artifacts:*", dry_run=dry_run) as facts:
            referenced = self.metadata.referenced_digests()
            cutoff = datetime.now(UTC) - grace
            seen = deleted = young = freed = 0
            for blob in list(self.artifacts.iter_blobs()):
                seen += 1
                if blob.digest in referenced:
                    continue
                if blob.modified > cutoff:
                    young += 1
                    continue
                if dry_run or self.artifacts.delete(blob.digest):
                    deleted += 1
                    freed += blob.stored_size
            temp = self.artifacts.cleanup_tmp(grace, dry_run=dry_run)
            facts.update(deleted=deleted, bytes_freed=freed, temp_files=temp)
        return GcReport(seen, deleted, freed, young, temp, dry_run)

    def verify(self, *, progress: ProgressCallback | None = None) -> VerifyReport:
        """Read and authenticate every blob a record references; report what is broken.

        See :func:`closedloop.workspace._verify.verify_blobs`. A broken blob is repaired by
        storing the same content again (re-ingest the file, re-log the artifact): a put
        replaces a stored blob that fails verification.

        Args:
            progress: Called with a ``ProgressEvent`` per blob.
        """
        return verify_blobs(self, progress=progress)


def _chosen(settings: Settings) -> str:
    """The backends given at init, as YAML lines, so later commands find them (no password)."""
    lines = []
    if settings.metadata_uri:
        lines.append(f"metadata_uri: {json.dumps(strip_password(settings.metadata_uri))}")
    if settings.artifact_uri:
        lines.append(f"artifact_uri: {json.dumps(settings.artifact_uri)}")
    return "".join(f"{line}\n" for line in lines)


def current_actor() -> str:
    """The operating-system user: the default principal's name (CLI and SDK).

    The name is that of the process's real user id in the user database, never the
    ``USER``/``LOGNAME`` environment variables, which anyone can set. A uid with no entry
    (some containers) is given as its number. Off POSIX, the login name.
    """
    try:
        import pwd
    except ImportError:  # pragma: no cover - Windows has no uid
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "unknown"
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry
        return str(uid)
