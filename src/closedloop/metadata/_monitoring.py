"""The contract of the monitoring store (``MetadataStore.monitoring``)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Protocol

from closedloop.core import Alert, Audit, MonitorWindow, ProfileRecord
from closedloop.metadata._domain import DomainStore

__all__ = ["MonitoringStore"]


class MonitoringStore(DomainStore, Protocol):
    """Reference profiles, summarised windows and alerts of served model versions."""

    # profiles ------------------------------------------------------------------------------
    def put_profile(self, record: ProfileRecord, *, audit: Audit | None = None) -> None:
        """Store (or replace) a model version's named reference profile."""
        ...

    def get_profile(self, model_version_id: str, name: str = "default") -> ProfileRecord | None:
        """The named profile of a model version, or ``None``."""
        ...

    def list_profiles(self, model_version_id: str | None = None) -> builtins.list[ProfileRecord]:
        """Profiles, by model version then name."""
        ...

    # windows -------------------------------------------------------------------------------
    def put_window(self, window: MonitorWindow, *, audit: Audit | None = None) -> MonitorWindow:
        """Store a window, or replace the one with its version, monitor and first position.

        Returns:
            The stored window, with its id.
        """
        ...

    def get_window(self, window_id: int) -> MonitorWindow | None:
        """One window by id, or ``None``."""
        ...

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
        ...

    def last_window(self, model_version_id: str, monitor: str) -> MonitorWindow | None:
        """The window of ``monitor`` that holds the latest log positions, or ``None``."""
        ...

    def monitors(self, model_version_id: str) -> builtins.list[str]:
        """The window specs that have windows for a model version."""
        ...

    # alerts --------------------------------------------------------------------------------
    def add_alert(self, alert: Alert, *, audit: Audit | None = None) -> Alert:
        """Store a new alert; returns it with its id."""
        ...

    def get_alert(self, alert_id: int) -> Alert | None:
        """One alert by id, or ``None``."""
        ...

    def open_alert(self, dedup_key: str) -> Alert | None:
        """The newest alert with ``dedup_key`` that is not resolved, or ``None``."""
        ...

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
        """Change an alert's state; returns it.

        Raises:
            NotFoundError: No alert has that id.
        """
        ...

    def list_alerts(
        self,
        model_version_id: str | None = None,
        *,
        status: str | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> builtins.list[Alert]:
        """Alerts newest first."""
        ...
