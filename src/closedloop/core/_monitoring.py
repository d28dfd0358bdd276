"""Records of continuous monitoring: reference profiles, windows, alerts, refused requests.

The metadata database keeps, in the clear, what must stay queryable (ids, times, versions,
row counts, an alert's rule and value); what describes the data itself (a profile's bins and
category frequencies, a window's sketches and results, an alert's evidence) is a sealed
``payload`` (``key_id`` names the workspace key; ``None``: stored plain in a workspace
without keys) or, for a profile, an encrypted blob in the artifact store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ALERT_STATES", "Alert", "MonitorWindow", "ProfileRecord", "Refusal"]

#: An alert is ``firing`` until its condition clears (``resolved``) or someone
#: acknowledges it (``acknowledged``).
ALERT_STATES = ("firing", "acknowledged", "resolved")


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """Where a model version's stored reference profile is.

    Attributes:
        model_version_id: The model version it describes.
        name: ``default`` (built from the version's training data) or a name the user gave.
        source: What it was built from: ``dataset:<version id>`` or ``window:<id>``.
        digest: The profile blob in the artifact store.
        n_rows: Reference rows it summarises.
        created_at: Epoch milliseconds.
    """

    model_version_id: str
    name: str
    source: str
    digest: str
    n_rows: int
    created_at: int


@dataclass(frozen=True, slots=True)
class MonitorWindow:
    """One window of a model version's logged traffic, summarised.

    Attributes:
        id: The store's id (``0`` before it is stored).
        model_version_id: The model version whose rows it holds.
        monitor: The window spec it belongs to, e.g. ``count:1000`` or ``time:1h/15m``.
        start: First time it covers (epoch ms, inclusive).
        end: End of the time it covers (epoch ms, exclusive).
        first_position: The first log position (``LoggedRequest.position``) it holds.
        last_position: The last log position it holds.
        n_rows: Logged rows in it.
        n_requests: Logged requests in it.
        drifted: Whether its inputs drifted (kept in the clear to list and plot).
        complete: ``False`` while the window is still filling (the last one of a stream).
        updated_at: When its summary was last written (labels arrive later).
        key_id: The key that sealed ``payload`` (``None``: plain).
        payload: Its sketches and results (MessagePack), sealed.
    """

    id: int
    model_version_id: str
    monitor: str
    start: int
    end: int
    first_position: int
    last_position: int
    n_rows: int
    n_requests: int
    drifted: bool
    complete: bool
    updated_at: int
    key_id: str | None
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Alert:
    """A monitored value that crossed its rule.

    Attributes:
        id: The store's id (``0`` before it is stored).
        time: When it fired (epoch ms).
        model_version_id: The model version it is about.
        rule: The rule's name.
        subject: What the value belongs to: a column, ``dataset`` or a metric name.
        dedup_key: Alerts with one key are one alert: a repeat within its cool-down only
            updates ``last_seen`` and ``count``.
        severity: ``info``, ``warning`` or ``critical``.
        value: The monitored value.
        threshold: The rule's threshold.
        window_id: The window the value came from (``None``: not from a window).
        status: One of :data:`ALERT_STATES`.
        count: How many times it fired while open.
        last_seen: When it last fired (epoch ms).
        message: One line for people.
        deliveries: Per sink: its state (``sent``, ``failed: …``, ``pending``).
        key_id: The key that sealed ``payload``.
        payload: Its evidence (MessagePack), sealed.
    """

    id: int
    time: int
    model_version_id: str
    rule: str
    subject: str
    dedup_key: str
    severity: str
    value: float
    threshold: float
    window_id: int | None
    status: str
    count: int
    last_seen: int
    message: str
    deliveries: dict[str, str]
    key_id: str | None
    payload: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A scoring request the server refused (bad input), counted for data quality.

    Attributes:
        time: When it was refused (epoch ms).
        endpoint: The endpoint it was sent to.
        model_version_id: The version it was meant for, when known.
        protocol: ``native``, ``mlflow`` or ``v2``.
        status: The HTTP status answered (400, 413, 422).
        reason: The error's code, e.g. ``invalid_argument``.
    """

    time: int
    endpoint: str
    model_version_id: str | None
    protocol: str
    status: int
    reason: str
