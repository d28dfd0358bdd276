"""``SqlMonitoringStore``: reference profiles, summarised windows and alerts.

Payloads (a window's sketches and results, an alert's evidence) arrive sealed; this store
never sees them in the clear.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, insert, select, update

from closedloop.core import Alert, Audit, MonitorWindow, ProfileRecord
from closedloop.errors import NotFoundError
from closedloop.metadata._domain import BlobReference
from closedloop.metadata._sql._db import Database, dumps
from closedloop.metadata._sql.tables import monitor_alerts, monitor_profiles, monitor_windows

__all__ = ["SqlMonitoringStore"]


class SqlMonitoringStore:
    """Monitoring records on a SQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # profiles ------------------------------------------------------------------------------
    def put_profile(self, record: ProfileRecord, *, audit: Audit | None = None) -> None:
        """Store (or replace) a model version's named reference profile."""
        t = monitor_profiles.c
        with self._db.write() as conn:
            conn.execute(
                delete(monitor_profiles).where(
                    (t.model_version_id == record.model_version_id) & (t.name == record.name)
                )
            )
            conn.execute(
                insert(monitor_profiles).values(
                    model_version_id=record.model_version_id,
                    name=record.name,
                    source=record.source,
                    digest=record.digest,
                    n_rows=record.n_rows,
                    created_at=record.created_at,
                )
            )
            self._db.audit(conn, audit)

    def get_profile(self, model_version_id: str, name: str = "default") -> ProfileRecord | None:
        """The named profile of a model version, or ``None``."""
        t = monitor_profiles.c
        q = select(monitor_profiles).where(
            (t.model_version_id == model_version_id) & (t.name == name)
        )
        with self._db.read() as conn:
            row = conn.execute(q).first()
        return None if row is None else _profile(row)

    def list_profiles(self, model_version_id: str | None = None) -> builtins.list[ProfileRecord]:
        """Profiles, by model version then name."""
        t = monitor_profiles.c
        q = select(monitor_profiles).order_by(t.model_version_id, t.name)
        if model_version_id is not None:
            q = q.where(t.model_version_id == model_version_id)
        with self._db.read() as conn:
            return [_profile(r) for r in conn.execute(q)]

    # windows -------------------------------------------------------------------------------
    def put_window(self, window: MonitorWindow, *, audit: Audit | None = None) -> MonitorWindow:
        """Store a window, or replace the one with its version, monitor and first position."""
        t = monitor_windows.c
        values = {
            "model_version_id": window.model_version_id,
            "monitor": window.monitor,
            "start": window.start,
            "end": window.end,
            "first_position": window.first_position,
            "last_position": window.last_position,
            "n_rows": window.n_rows,
            "n_requests": window.n_requests,
            "drifted": int(window.drifted),
            "complete": int(window.complete),
            "updated_at": window.updated_at,
            "key_id": window.key_id,
            "payload": window.payload,
        }
        key = (
            (t.model_version_id == window.model_version_id)
            & (t.monitor == window.monitor)
            & (t.first_position == window.first_position)
        )
        with self._db.write() as conn:
            found = conn.execute(select(t.id).where(key)).scalar()
            if found is None:
                result = conn.execute(insert(monitor_windows).values(**values))
                primary = result.inserted_primary_key
                assert primary is not None
                window_id = int(primary[0])
            else:
                window_id = int(found)
                conn.execute(update(monitor_windows).where(t.id == window_id).values(**values))
            self._db.audit(conn, audit, window_id=window_id)
            row = conn.execute(select(monitor_windows).where(t.id == window_id)).one()
        return _window(row)

    def get_window(self, window_id: int) -> MonitorWindow | None:
        """One window by id, or ``None``."""
        q = select(monitor_windows).where(monitor_windows.c.id == window_id)
        with self._db.read() as conn:
            row = conn.execute(q).first()
        return None if row is None else _window(row)

    def list_windows(
        self,
        model_version_id: str,
        monitor: str | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
        complete: bool | None = None,
        limit: int | None = None,
    ) -> builtins.list[MonitorWindow]:
        """Windows oldest first (``since``/``until`` filter their start, in ms)."""
        t = monitor_windows.c
        q = select(monitor_windows).where(t.model_version_id == model_version_id)
        if monitor is not None:
            q = q.where(t.monitor == monitor)
        if since is not None:
            q = q.where(t.start >= since)
        if until is not None:
            q = q.where(t.start < until)
        if complete is not None:
            q = q.where(t.complete == int(complete))
        q = q.order_by(t.start, t.first_position, t.id)
        if limit is not None:
            q = q.limit(limit)
        with self._db.read() as conn:
            return [_window(r) for r in conn.execute(q)]

    def last_window(self, model_version_id: str, monitor: str) -> MonitorWindow | None:
        """The window of ``monitor`` that holds the latest log positions, or ``None``."""
        t = monitor_windows.c
        q = (
            select(monitor_windows)
            .where((t.model_version_id == model_version_id) & (t.monitor == monitor))
            .order_by(t.last_position.desc(), t.id.desc())
            .limit(1)
        )
        with self._db.read() as conn:
            row = conn.execute(q).first()
        return None if row is None else _window(row)

    def monitors(self, model_version_id: str) -> builtins.list[str]:
        """The window specs that have windows for a model version."""
        t = monitor_windows.c
        q = (
            select(t.monitor)
            .where(t.model_version_id == model_version_id)
            .distinct()
            .order_by(t.monitor)
        )
        with self._db.read() as conn:
            return [str(r[0]) for r in conn.execute(q)]

    # alerts --------------------------------------------------------------------------------
    def add_alert(self, alert: Alert, *, audit: Audit | None = None) -> Alert:
        """Store a new alert; returns it with its id."""
        with self._db.write() as conn:
            result = conn.execute(
                insert(monitor_alerts).values(
                    time=alert.time,
                    model_version_id=alert.model_version_id,
                    rule=alert.rule,
                    subject=alert.subject,
                    dedup_key=alert.dedup_key,
                    severity=alert.severity,
                    value=alert.value,
                    threshold=alert.threshold,
                    window_id=alert.window_id,
                    status=alert.status,
                    count=alert.count,
                    last_seen=alert.last_seen,
                    message=alert.message,
                    deliveries=dumps(dict(alert.deliveries)),
                    key_id=alert.key_id,
                    payload=alert.payload,
                )
            )
            primary = result.inserted_primary_key
            assert primary is not None
            alert_id = int(primary[0])
            self._db.audit(conn, audit, alert_id=alert_id)
            row = conn.execute(select(monitor_alerts).where(monitor_alerts.c.id == alert_id)).one()
        return _alert(row)

    def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id, or ``None``."""
        q = select(monitor_alerts).where(monitor_alerts.c.id == alert_id)
        with self._db.read() as conn:
            row = conn.execute(q).first()
        return None if row is None else _alert(row)

    def open_alert(self, dedup_key: str) -> Alert | None:
        """The newest alert with ``dedup_key`` that is not resolved, or ``None``."""
        t = monitor_alerts.c
        q = (
            select(monitor_alerts)
            .where((t.dedup_key == dedup_key) & (t.status != "resolved"))
            .order_by(t.id.desc())
            .limit(1)
        )
        with self._db.read() as conn:
            row = conn.execute(q).first()
        return None if row is None else _alert(row)

    def update_alert(
        self,
        alert_id: int,
        *,
        status: str | None = None,
        count: int | None = None,
        last_seen: int | None = None,
        value: float | None = None,
        window_id: int | None = None,
        deliveries: Mapping[str, str] | None = None,
        audit: Audit | None = None,
    ) -> Alert:
        """Change an alert's state; returns it."""
        changes: dict[str, Any] = {}
        for name, given in (
            ("status", status),
            ("count", count),
            ("last_seen", last_seen),
            ("value", value),
            ("window_id", window_id),
        ):
            if given is not None:
                changes[name] = given
        if deliveries is not None:
            changes["deliveries"] = dumps(dict(deliveries))
        t = monitor_alerts.c
        with self._db.write() as conn:
            if changes:
                conn.execute(update(monitor_alerts).where(t.id == alert_id).values(**changes))
            row = conn.execute(select(monitor_alerts).where(t.id == alert_id)).first()
            if row is None:
                raise NotFoundError(f"alert {alert_id} does not exist")
            self._db.audit(conn, audit, alert_id=alert_id)
        return _alert(row)

    def list_alerts(
        self,
        model_version_id: str | None = None,
        *,
        status: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> builtins.list[Alert]:
        """Alerts newest first."""
        t = monitor_alerts.c
        q = select(monitor_alerts).order_by(t.id.desc())
        if model_version_id is not None:
            q = q.where(t.model_version_id == model_version_id)
        if status is not None:
            q = q.where(t.status == status)
        if since is not None:
            q = q.where(t.time >= since)
        if limit is not None:
            q = q.limit(limit)
        with self._db.read() as conn:
            return [_alert(r) for r in conn.execute(q)]

    # blobs ---------------------------------------------------------------------------------
    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        """The profile blobs."""
        q = select(monitor_profiles.c.digest)
        if among is not None:
            wanted = list(among)
            if not wanted:
                return set()
            q = q.where(monitor_profiles.c.digest.in_(wanted))
        with self._db.read() as conn:
            return {str(r[0]) for r in conn.execute(q)}

    def blob_references(self) -> builtins.list[BlobReference]:
        """Every stored profile."""
        return [
            BlobReference(p.digest, "reference profile", f"{p.model_version_id}:{p.name}")
            for p in self.list_profiles()
        ]


def _profile(r: Any) -> ProfileRecord:
    return ProfileRecord(
        model_version_id=r.model_version_id,
        name=r.name,
        source=r.source,
        digest=r.digest,
        n_rows=int(r.n_rows),
        created_at=int(r.created_at),
    )


def _window(r: Any) -> MonitorWindow:
    return MonitorWindow(
        id=int(r.id),
        model_version_id=r.model_version_id,
        monitor=r.monitor,
        start=int(r.start),
        end=int(r.end),
        first_position=int(r.first_position),
        last_position=int(r.last_position),
        n_rows=int(r.n_rows),
        n_requests=int(r.n_requests),
        drifted=bool(r.drifted),
        complete=bool(r.complete),
        updated_at=int(r.updated_at),
        key_id=r.key_id,
        payload=bytes(r.payload),
    )


def _alert(r: Any) -> Alert:
    return Alert(
        id=int(r.id),
        time=int(r.time),
        model_version_id=r.model_version_id,
        rule=r.rule,
        subject=r.subject,
        dedup_key=r.dedup_key,
        severity=r.severity,
        value=float(r.value),
        threshold=float(r.threshold),
        window_id=None if r.window_id is None else int(r.window_id),
        status=r.status,
        count=int(r.count),
        last_seen=int(r.last_seen),
        message=r.message,
        deliveries={str(k): str(v) for k, v in json.loads(r.deliveries).items()},
        key_id=r.key_id,
        payload=bytes(r.payload),
    )
