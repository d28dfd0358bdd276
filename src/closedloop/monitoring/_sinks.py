"""Alert sinks: where fired, re-notified and resolved alerts are sent.

``monitoring.sinks`` in ``closedloop.yaml`` lists them (default: one log sink)::

    monitoring:
      sinks:
        - type: log                       # Python logging, at the alert's severity
        - type: webhook
          name: ops                       # default: webhook
          url: https://hooks.example.com/closedloop
          secret_env: CLOSEDLOOP_WEBHOOK_SECRET   # the variable that holds the secret
          min_severity: warning           # default: info (every alert)
          timeout: 5s                     # per attempt
          retries: 3                      # attempts after the first
          backoff: 1s                     # first wait; doubles per retry, with jitter

A sink never blocks the caller: the webhook sink queues the alert for its one background
thread (a full queue drops it, recorded as ``failed: queue full``), which POSTs it, retries
connection errors, 429 and 5xx answers with exponential back-off, and records the outcome
on the alert (``Alert.deliveries``: ``pending``, ``sent`` or ``failed: <why>``).

The webhook's body and signature are described in :mod:`closedloop.monitoring._webhook`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from closedloop.core import Alert
from closedloop.errors import ConfigurationError, NotFoundError
from closedloop.monitoring._alert_rules import SEVERITIES, check_severity, parse_duration
from closedloop.monitoring._webhook import WebhookSink

if TYPE_CHECKING:
    from closedloop.core import Audit
    from closedloop.metadata import MonitoringStore

__all__ = [
    "LogSink",
    "Notice",
    "Sink",
    "WebhookSink",
    "default_sinks",
    "record_deliveries",
    "sinks_from_config",
    "wants",
]

_LOG = logging.getLogger("closedloop.monitoring.alerts")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}
# Delivery threads and the monitor run both rewrite an alert's ``deliveries`` document
# (read, merge one sink's state, write); this lock keeps one process from losing a state.
_DELIVERY_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Notice:
    """One alert handed to a sink.

    Attributes:
        alert: The alert as stored after this change.
        event: ``fired`` (new), ``reminder`` (still open past its cool-down) or ``resolved``.
        record: Called as ``record(sink name, state)`` by a deferred sink once it knows the
            outcome (``sent``, ``failed: …``); ``None``: nothing records it.
    """

    alert: Alert
    event: str
    record: Callable[[str, str], None] | None = None


class Sink(Protocol):
    """Where alerts go. ``deliver`` never blocks for long and never raises.

    Attributes:
        name: Unique among the configured sinks; the key in ``Alert.deliveries``.
        min_severity: Alerts less severe than this are not handed to the sink.
        deferred: ``False``: delivery is done when :meth:`deliver` returns (its state is
            ``sent``); ``True``: the sink reports the outcome later through
            ``Notice.record``.
    """

    name: str
    min_severity: str
    deferred: bool

    def deliver(self, notice: Notice) -> None:
        """Send (or queue) one notice; never raises."""
        ...

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` seconds for queued notices; whether all were handled."""
        ...

    def close(self, timeout: float = 5.0) -> bool:
        """Flush, then stop; whether everything queued was handled."""
        ...


def wants(sink: Sink, severity: str) -> bool:
    """Whether ``sink`` takes alerts of ``severity``."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(sink.min_severity)


class LogSink:
    """Alerts as log records of ``closedloop.monitoring.alerts``, at the severity's level.

    A resolution is logged at INFO.

    Args:
        name: The sink's name.
        min_severity: The least severe alert it logs.
        logger: Log there instead.
    """

    deferred = False

    def __init__(
        self,
        name: str = "log",
        min_severity: str = "info",
        logger: logging.Logger | None = None,
    ) -> None:
        check_severity(min_severity, name)
        self.name, self.min_severity = name, min_severity
        self._logger = logger or _LOG

    def deliver(self, notice: Notice) -> None:
        """Log the notice."""
        a = notice.alert
        level = logging.INFO if notice.event == "resolved" else _LEVELS[a.severity]
        with contextlib.suppress(Exception):  # a broken handler must not stop the monitor
            self._logger.log(
                level,
                "alert %d %s (%s, %s): %s [window %s; closedloop monitor alerts --id %d]",
                a.id,
                notice.event,
                a.severity,
                a.model_version_id,
                a.message,
                a.window_id,
                a.id,
            )

    def flush(self, timeout: float = 5.0) -> bool:
        """Nothing is queued."""
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Nothing to stop."""
        return True

    def __repr__(self) -> str:
        return f"LogSink(name={self.name!r}, min_severity={self.min_severity!r})"


def record_deliveries(
    store: MonitoringStore,
    alert_id: int,
    states: Mapping[str, str],
    *,
    status: str | None = None,
    count: int | None = None,
    last_seen: int | None = None,
    value: float | None = None,
    window_id: int | None = None,
    audit: Audit | None = None,
) -> Alert:
    """Merge sinks' ``states`` into an alert's deliveries (with other changes); returns it.

    Raises:
        NotFoundError: No alert has that id.
    """
    with _DELIVERY_LOCK:
        current = store.get_alert(alert_id)
        if current is None:
            raise NotFoundError(f"alert {alert_id} does not exist")
        merged = {**current.deliveries, **states}
        return store.update_alert(
            alert_id,
            status=status,
            count=count,
            last_seen=last_seen,
            value=value,
            window_id=window_id,
            deliveries=merged if states else None,
            audit=audit,
        )


def default_sinks() -> list[Sink]:
    """The sinks used when ``monitoring.sinks`` is not set: one :class:`LogSink`."""
    return [LogSink()]


def sinks_from_config(config: Any, environ: Mapping[str, str] | None = None) -> list[Sink]:
    """The sinks of ``monitoring.sinks`` (``None``: :func:`default_sinks`; ``[]``: none).

    Args:
        config: A list of mappings, each with ``type`` (``log`` or ``webhook``).
        environ: Where ``secret_env`` is looked up (default ``os.environ``).

    Raises:
        ConfigurationError: Not a list, an unknown type or key, a webhook without a secret
            (or with one written in the file), or two sinks with one name.
    """
    if config is None:
        return default_sinks()
    if not isinstance(config, list | tuple):
        raise ConfigurationError(
            f"monitoring.sinks is {type(config).__name__}, not a list of sinks",
            hint="write monitoring.sinks as a YAML list, e.g. [{type: log}]",
        )
    env = os.environ if environ is None else environ
    sinks = [_sink(entry, env) for entry in config]
    names = [s.name for s in sinks]
    for name in names:
        if names.count(name) > 1:
            raise ConfigurationError(
                f"two sinks are named {name!r}", hint="give each sink its own name (name: ops)"
            )
    return sinks


_KEYS = {
    "log": ("type", "name", "min_severity"),
    "webhook": (
        "type",
        "name",
        "min_severity",
        "url",
        "secret_env",
        "timeout",
        "retries",
        "backoff",
        "queue_size",
    ),
}


def _sink(entry: Any, env: Mapping[str, str]) -> Sink:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(
            f"an entry of monitoring.sinks is {type(entry).__name__}, not a mapping",
            hint="write each sink as a mapping with a type: log or webhook",
        )
    kind = entry.get("type")
    name = str(entry.get("name", kind))
    if kind not in _KEYS:
        raise ConfigurationError(
            f"sink {name!r}: type is {kind!r}, not log or webhook", hint="write type: webhook"
        )
    if "secret" in entry:
        raise ConfigurationError(
            f"sink {name!r}: the webhook secret must not be written in closedloop.yaml",
            hint="put it in an environment variable and name that with secret_env",
        )
    unknown = sorted(str(k) for k in entry if k not in _KEYS[kind])
    if unknown:
        raise ConfigurationError(
            f"sink {name!r}: unknown key {', '.join(repr(k) for k in unknown)}",
            hint=f"a {kind} sink takes {', '.join(_KEYS[kind])}",
        )
    severity = entry.get("min_severity", "info")
    if kind == "log":
        return LogSink(name, severity)
    variable = entry.get("secret_env")
    if not variable:
        raise ConfigurationError(
            f"sink {name!r}: the webhook has no secret_env",
            hint="set secret_env: CLOSEDLOOP_WEBHOOK_SECRET and export that variable",
        )
    secret = env.get(str(variable), "")
    if not secret:
        raise ConfigurationError(
            f"sink {name!r}: the environment variable {variable} that holds the webhook "
            "secret is not set",
            hint=f"export {variable}=<a long random secret shared with the receiver>",
        )
    durations: dict[str, float] = {}
    for key, default in (("timeout", 5.0), ("backoff", 1.0)):
        try:
            durations[key] = parse_duration(entry.get(key, default))
        except ConfigurationError as e:
            raise ConfigurationError(f"sink {name!r}: {key!r}: {e.message}", hint=e.hint) from None
    return WebhookSink(
        str(entry.get("url", "")),
        secret,
        durations["timeout"],
        entry.get("retries", 3),
        durations["backoff"],
        name=name,
        min_severity=severity,
        queue_size=entry.get("queue_size", 1000),
    )
