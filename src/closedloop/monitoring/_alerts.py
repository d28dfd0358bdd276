"""Alerts: rules judged on each window's monitored values, de-duplicated, sent to sinks.

:func:`evaluate_rules` is the part of a monitor run (``monitor.run``) that turns a window's
values into alerts. Per rule and matching key (its subject: a column, ``dataset``, …) the
alert's de-duplication key is ``<model version>|<rule>|<subject>`` (with the monitor spec
when one is given), and:

* the condition holds and no alert with that key is open: a new ``firing`` alert is stored
  with its evidence sealed, and handed to the sinks;
* it holds and one is open: the alert counts the repeat (``count``, ``last_seen``, the
  latest ``value`` and ``window_id``); a ``firing`` alert is re-notified (event
  ``reminder``) at most once per cool-down period counted from when it fired, an
  ``acknowledged`` one never;
* it no longer holds and one is open: the alert is ``resolved`` and the sinks are told.

A NaN value, a missing key or a window smaller than the rule's ``min_rows`` says nothing:
no alert fires and none resolves. "Now" is the window's end, so replaying past windows
gives the alerts a live run would have given. Each change is one audited store write.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from closedloop.core import ALERT_STATES, Alert
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.metadata import MonitoringStore
from closedloop.monitoring._alert_rules import AlertRule, default_rules, derived_values
from closedloop.monitoring._sealed import open_record, seal_record
from closedloop.monitoring._sinks import Notice, Sink, default_sinks, record_deliveries, wants
from closedloop.workspace import Actions, Workspace

__all__ = [
    "AlertOutcome",
    "acknowledge_alert",
    "alert_evidence",
    "dedup_key",
    "evaluate_rules",
    "get_alert",
    "list_alerts",
    "resolve_alert",
]

_LOG = logging.getLogger("closedloop.monitoring.alerts")
_MAX_EVIDENCE_VALUES = 200
_MAX_SUBJECT = 255
_MAX_DEDUP = 600


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What :func:`evaluate_rules` did, each alert as stored after the change.

    Attributes:
        fired: New alerts.
        repeated: Open alerts seen again.
        resolved: Alerts resolved because their condition cleared.
        renotified: Of ``repeated``, those sent to the sinks again (past their cool-down).
    """

    fired: list[Alert] = field(default_factory=list)
    repeated: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    renotified: list[Alert] = field(default_factory=list)

    def merge(self, other: AlertOutcome) -> AlertOutcome:
        """This outcome followed by ``other`` (of a later window), list by list."""
        return AlertOutcome(
            self.fired + other.fired,
            self.repeated + other.repeated,
            self.resolved + other.resolved,
            self.renotified + other.renotified,
        )


def evaluate_rules(
    ws: Workspace,
    model_version_id: str,
    values: Mapping[str, float],
    *,
    window_id: int | None,
    window_end: int,
    rules: Sequence[AlertRule] | None = None,
    evidence: Mapping[str, Any] | None = None,
    sinks: Sequence[Sink] | None = None,
    monitor: str | None = None,
    subject_evidence: Mapping[str, Any] | None = None,
) -> AlertOutcome:
    """Judge ``rules`` on one window's monitored values; fire, count and resolve alerts.

    Args:
        ws: The workspace.
        model_version_id: The model version the window belongs to.
        values: The window's monitored values (see :mod:`closedloop.monitoring._alert_rules`
            for the keys; missing ``*_drop`` values are derived from ``reference.*``).
        window_id: The stored window the values come from (the alerts link to it).
        window_end: The window's end, epoch ms: the alerts' "now".
        rules: The rules (default :func:`default_rules`).
        evidence: Facts of the window sealed with every new alert (MessagePack-able), such
            as the monitor spec or the drifted columns.
        sinks: Where alerts go (default: one log sink). A failing sink never stops this.
        monitor: The window spec (``count:1000``); part of the de-duplication key, so two
            monitors of one version keep their own alerts.
        subject_evidence: Facts per subject (say a column's distributions): a new alert
            on subject ``s`` seals ``subject_evidence[s]`` too.

    Returns:
        The alerts fired, repeated (and re-notified) and resolved.

    Raises:
        InvalidArgumentError: Two rules share a name, or a value is not a number.
    """
    rules = default_rules() if rules is None else list(rules)
    sinks = default_sinks() if sinks is None else list(sinks)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise InvalidArgumentError(
            "two alert rules share a name", hint="give each rule its own name"
        )
    judged = derived_values(values)
    context = _Context(
        ws,
        model_version_id,
        window_id,
        window_end,
        dict(evidence or {}),
        subject_evidence or {},
        sinks,
        monitor,
    )
    open_alerts = _open_alerts(ws.metadata.monitoring, model_version_id)
    outcome = AlertOutcome()
    for rule in rules:
        for key, subject in rule.matches(judged):
            value = judged[key]
            if math.isnan(value) or not rule.judged(key, judged):
                continue
            current = open_alerts.get(dedup_key(model_version_id, rule.name, subject, monitor))
            if rule.holds(value):
                if current is None:
                    outcome.fired.append(context.fire(rule, key, subject, value, judged))
                else:
                    alert, notified = context.repeat(rule, current, key, value)
                    outcome.repeated.append(alert)
                    if notified:
                        outcome.renotified.append(alert)
            elif current is not None:
                outcome.resolved.append(context.resolve(current, value))
    return outcome


def dedup_key(model_version_id: str, rule: str, subject: str, monitor: str | None = None) -> str:
    """The de-duplication key of a rule's alerts on ``subject`` (at most 600 characters)."""
    key = "|".join([model_version_id, *([monitor] if monitor else []), rule, subject])
    if len(key) <= _MAX_DEDUP:
        return key
    return f"{model_version_id}|{rule}|#{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass(frozen=True, slots=True)
class _Context:
    """One call of :func:`evaluate_rules`: what every change needs."""

    ws: Workspace
    version: str
    window_id: int | None
    now: int
    evidence: dict[str, Any]
    subject_evidence: Mapping[str, Any]
    sinks: Sequence[Sink]
    monitor: str | None

    def fire(
        self, rule: AlertRule, key: str, subject: str, value: float, values: Mapping[str, float]
    ) -> Alert:
        targets = self._targets(rule.severity)
        dedup = dedup_key(self.version, rule.name, subject, self.monitor)
        document: dict[str, Any] = {
            "rule": rule.describe(),
            "key": key,
            "subject": subject,
            "value": value,
            "window_id": self.window_id,
            "window_end": self.now,
            "monitor": self.monitor,
            "values": _relevant(values, key, subject, rule),
        }
        if self.evidence:
            document["evidence"] = self.evidence
        if subject in self.subject_evidence:
            document["subject_evidence"] = self.subject_evidence[subject]
        key_id, payload = seal_record(self.ws, document, _associated(self.version, dedup, self.now))
        alert = Alert(
            id=0,
            time=self.now,
            model_version_id=self.version,
            rule=rule.name,
            subject=subject[:_MAX_SUBJECT],
            dedup_key=dedup,
            severity=rule.severity,
            value=value,
            threshold=rule.threshold,
            window_id=self.window_id,
            status="firing",
            count=1,
            last_seen=self.now,
            message=f"{rule.name}: {key} is {value:.4g} ({rule.op} {rule.threshold:g})",
            deliveries=_initial(targets),
            key_id=key_id,
            payload=payload,
        )
        with self.ws.action(
            Actions.MONITOR_RUN, f"model:{self.version}", **self._fact("fired", rule.name, subject)
        ) as act:
            stored = self.ws.metadata.monitoring.add_alert(alert, audit=act)
        self._notify(stored, "fired", targets)
        return stored

    def repeat(self, rule: AlertRule, current: Alert, key: str, value: float) -> tuple[Alert, bool]:
        same_window = self.window_id is not None and current.window_id == self.window_id
        later = self.now > current.last_seen
        notify = current.status == "firing" and not same_window and later
        if notify and rule.cooldown > 0:
            period = rule.cooldown * 1000
            notify = (self.now - current.time) // period > (
                current.last_seen - current.time
            ) // period
        targets = self._targets(current.severity) if notify else []
        event = "reminder" if notify else "repeated"
        with self.ws.action(
            Actions.MONITOR_RUN,
            f"model:{self.version}",
            **self._fact(event, current.rule, current.subject),
        ) as act:
            stored = record_deliveries(
                self.ws.metadata.monitoring,
                current.id,
                _initial(targets),
                count=current.count if same_window else current.count + 1,
                last_seen=max(current.last_seen, self.now),
                value=value,
                window_id=self.window_id,
                audit=act,
            )
        if notify:
            self._notify(stored, "reminder", targets)
        return stored, notify

    def resolve(self, current: Alert, value: float) -> Alert:
        targets = self._targets(current.severity)
        with self.ws.action(
            Actions.MONITOR_RUN,
            f"model:{self.version}",
            **self._fact("resolved", current.rule, current.subject),
        ) as act:
            stored = record_deliveries(
                self.ws.metadata.monitoring,
                current.id,
                _initial(targets),
                status="resolved",
                last_seen=max(current.last_seen, self.now),
                value=value,
                window_id=self.window_id,
                audit=act,
            )
        self._notify(stored, "resolved", targets)
        return stored

    def _fact(self, event: str, rule: str, subject: str) -> dict[str, Any]:
        return {"alert": event, "rule": rule, "subject": subject, "window_id": self.window_id}

    def _targets(self, severity: str) -> list[Sink]:
        return [s for s in self.sinks if wants(s, severity)]

    def _notify(self, alert: Alert, event: str, targets: Iterable[Sink]) -> None:
        store = self.ws.metadata.monitoring

        def record(sink: str, state: str) -> None:
            record_deliveries(store, alert.id, {sink: state})

        notice = Notice(alert, event, record)
        for sink in targets:
            try:
                sink.deliver(notice)
            except Exception:  # a sink must not break the monitor run
                _LOG.exception("sink %s failed on alert %d", sink.name, alert.id)


def get_alert(ws: Workspace, alert_id: int) -> Alert:
    """One alert by id.

    Raises:
        NotFoundError: No alert has that id.
    """
    found = ws.metadata.monitoring.get_alert(alert_id)
    with ws.action(Actions.MONITOR_READ, _resource(found), alert_id=alert_id):
        return _existing(found, alert_id)


def list_alerts(
    ws: Workspace,
    model_ref: str | None = None,
    status: str | None = None,
    since: int | datetime | None = None,
    limit: int | None = 100,
) -> list[Alert]:
    """Alerts, newest first.

    Args:
        ws: The workspace.
        model_ref: Only this model version's (``name/<n>``, ``name@alias``); default all.
        status: Only ``firing``, ``acknowledged`` or ``resolved`` ones.
        since: Only those fired at or after this time (epoch ms or an aware datetime).
        limit: At most this many (``None``: all).

    Raises:
        NotFoundError: No such model version.
        InvalidArgumentError: An unknown status or a limit below 1.
    """
    if status is not None and status not in ALERT_STATES:
        raise InvalidArgumentError(
            f"alert status {status!r} is not one of {', '.join(ALERT_STATES)}",
            hint="use firing, acknowledged or resolved",
        )
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise InvalidArgumentError(f"limit must be 1 or more, got {limit!r}")
    if isinstance(since, datetime):
        since = int(since.timestamp() * 1000)
    with ws.action(Actions.MONITOR_READ, f"model:{model_ref or '*'}", alerts=status or "all"):
        version = None if model_ref is None else ws.metadata.models.get_version(model_ref).id
        return ws.metadata.monitoring.list_alerts(version, status=status, since=since, limit=limit)


def acknowledge_alert(ws: Workspace, alert_id: int) -> Alert:
    """Mark an alert as seen: it stops re-notifying and still resolves when it clears.

    Raises:
        NotFoundError: No alert has that id.
        InvalidArgumentError: The alert is already resolved.
    """
    return _set_status(ws, alert_id, "acknowledged")


def resolve_alert(ws: Workspace, alert_id: int) -> Alert:
    """Close an alert by hand (a later window where the condition holds fires a new one).

    Raises:
        NotFoundError: No alert has that id.
    """
    return _set_status(ws, alert_id, "resolved")


def alert_evidence(ws: Workspace, alert: Alert | int) -> dict[str, Any]:
    """An alert's sealed evidence, opened.

    Returns:
        ``rule`` (the rule as configured then), ``key``, ``subject``, ``value``,
        ``window_id``, ``window_end``, ``monitor``, ``values`` (the monitored values that
        matter: the key's, its subject's and its family's), and ``evidence`` /
        ``subject_evidence`` when the monitor run gave them.

    Raises:
        NotFoundError: No alert has that id.
        ConfigurationError: The workspace was opened without its keys.
        CryptoError: The evidence was altered or moved from another alert.
    """
    found = ws.metadata.monitoring.get_alert(alert) if isinstance(alert, int) else alert
    alert_id = alert if isinstance(alert, int) else alert.id
    with ws.action(Actions.MONITOR_READ, _resource(found), alert_id=alert_id, evidence=True):
        a = _existing(found, alert_id)
        associated = _associated(a.model_version_id, a.dedup_key, a.time)
        document = open_record(ws, a.key_id, a.payload, associated)
    return dict(document)


def _set_status(ws: Workspace, alert_id: int, status: str) -> Alert:
    store = ws.metadata.monitoring
    found = store.get_alert(alert_id)
    with ws.action(Actions.ALERT_UPDATE, _resource(found), alert_id=alert_id, status=status) as act:
        current = _existing(found, alert_id)
        if current.status == "resolved" and status == "acknowledged":
            raise InvalidArgumentError(
                f"alert {alert_id} is resolved; there is nothing to acknowledge",
                hint="a new alert fires if its condition returns",
            )
        return store.update_alert(alert_id, status=status, audit=act)


def _open_alerts(store: MonitoringStore, model_version_id: str) -> dict[str, Alert]:
    """The version's open alerts by de-duplication key (the newest of each)."""
    found: dict[str, Alert] = {}
    for status in ("firing", "acknowledged"):
        for alert in store.list_alerts(model_version_id, status=status, limit=None):
            if alert.dedup_key not in found or alert.id > found[alert.dedup_key].id:
                found[alert.dedup_key] = alert
    return found


def _relevant(
    values: Mapping[str, float], key: str, subject: str, rule: AlertRule
) -> dict[str, float]:
    """The values worth keeping with an alert on ``key``.

    ``key`` itself; with one glob, every value of the subject (``drift.column.age.*``); the
    family's own values (``performance.accuracy``, ``performance.rows``); the reference
    values and ``window.*``.
    """
    family = key.split(".", 1)[0]
    heads = rule.metric.split("*")
    subject_prefix = heads[0] + subject + "." if len(heads) == 2 else None
    chosen = {key: values[key]}
    for k in sorted(values):
        if len(chosen) >= _MAX_EVIDENCE_VALUES:
            break
        first, _, rest = k.partition(".")
        if (
            (subject_prefix is not None and k.startswith(subject_prefix))
            or (first == family and "." not in rest)
            or first in ("reference", "window", "rows")
        ):
            chosen[k] = values[k]
    return chosen


def _initial(targets: Iterable[Sink]) -> dict[str, str]:
    """Delivery states before delivery: deferred sinks report later."""
    return {s.name: "pending" if s.deferred else "sent" for s in targets}


def _associated(model_version_id: str, dedup: str, time: int) -> str:
    """The associated data that binds sealed evidence to its alert (fields never updated)."""
    return f"alert|{model_version_id}|{dedup}|{time}"


def _resource(found: Alert | None) -> str:
    return f"model:{found.model_version_id}" if found is not None else "model:*"


def _existing(found: Alert | None, alert_id: int) -> Alert:
    if found is None:
        raise NotFoundError(
            f"alert {alert_id} does not exist",
            hint="list alerts with closedloop monitor alerts",
        )
    return found
