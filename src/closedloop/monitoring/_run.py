"""``monitor_run``: one round of continuous monitoring of a served model version.

A round reads the version's prediction log from where each window spec's last complete
window started (nothing before it is read again), summarises every window it completes or
extends (:mod:`closedloop.monitoring._summary`), stores it (``monitor_windows``: clear
counts and times, sealed summary), refreshes the performance of stored windows whose rows
received labels since they were written, and evaluates the alert rules on each completed
or refreshed window. :func:`follow` repeats rounds at an interval until stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from closedloop.core import ModelVersion, MonitorWindow, ProgressCallback, now_ms, report_progress
from closedloop.errors import ClosedLoopError
from closedloop.monitoring._config import MonitorConfig
from closedloop.monitoring._profiles import reference_profile
from closedloop.monitoring._reference import ReferenceProfile
from closedloop.monitoring._sealed import open_record, seal_record
from closedloop.monitoring._summary import LABEL, SCORE, WindowSummary, summarize
from closedloop.monitoring._windows import RawWindow, WindowSpec, assemble
from closedloop.predictions._stream import concat_chunks, iter_log
from closedloop.workspace import Actions, Workspace

__all__ = ["MonitorRound", "WindowResult", "follow", "monitor_run", "open_window"]

#: Seconds a round waits for its alert deliveries (retries included) before it returns.
SINK_CLOSE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class WindowResult:
    """A stored window and its summary."""

    window: MonitorWindow
    summary: WindowSummary


@dataclass(frozen=True, slots=True)
class MonitorRound:
    """What one round did.

    Attributes:
        model_version_id: The version monitored.
        profile: The reference profile's source.
        windows: Windows written this round (completed, or the one still filling).
        refreshed: Stored windows whose performance was recomputed for new labels.
        alerts: The alert outcome (fired, repeated, resolved), or ``None`` without rules.
        rows_read: Logged rows read.
    """

    model_version_id: str
    profile: str
    windows: tuple[WindowResult, ...]
    refreshed: tuple[WindowResult, ...]
    alerts: Any
    rows_read: int

    @property
    def completed(self) -> tuple[WindowResult, ...]:
        """The windows that are complete."""
        return tuple(w for w in self.windows if w.window.complete)


def _associated(version_id: str, monitor: str, first_position: int) -> str:
    return f"window|{version_id}|{monitor}|{first_position}"


def open_window(ws: Workspace, window: MonitorWindow) -> WindowSummary:
    """The summary a stored window holds (opened with the workspace key).

    Raises:
        CryptoError: The payload was altered or moved from another window.
    """
    doc = open_record(
        ws,
        window.key_id,
        window.payload,
        _associated(window.model_version_id, window.monitor, window.first_position),
    )
    return WindowSummary.from_doc(doc)


def detectors(profile: ReferenceProfile, config: MonitorConfig) -> tuple[Any, Any | None]:
    """Drift detectors of the inputs and of the predictions, fitted from the profile."""
    from closedloop.monitoring._drift import DriftDetector

    inputs = DriftDetector.from_profile(
        profile.columns,
        profile.n_rows,
        rules=config.rules,
        alpha=config.alpha,
        drift_share=config.drift_share,
    )
    predicted: dict[str, Any] = {}
    if profile.score is not None:
        predicted[SCORE] = profile.score
    if profile.label is not None:
        predicted[LABEL] = profile.label
    outputs = (
        DriftDetector.from_profile(predicted, profile.n_rows, alpha=config.alpha)
        if predicted
        else None
    )
    return inputs, outputs


def _store(
    ws: Workspace, version: ModelVersion, raw: RawWindow, summary: WindowSummary, act: Any
) -> MonitorWindow:
    first = int(raw.rows.positions[0])
    key_id, payload = seal_record(
        ws, summary.to_doc(), _associated(version.id, raw.spec.name, first)
    )
    window = MonitorWindow(
        id=0,
        model_version_id=version.id,
        monitor=raw.spec.name,
        start=raw.start,
        end=raw.end,
        first_position=first,
        last_position=int(raw.rows.positions[-1]),
        n_rows=raw.n_rows,
        n_requests=raw.n_requests,
        drifted=summary.drifted,
        complete=raw.complete,
        updated_at=now_ms(),
        key_id=key_id,
        payload=payload,
    )
    return ws.metadata.monitoring.put_window(window)  # the round's event is the action's own


def monitor_run(
    ws: Workspace,
    model_ref: str | ModelVersion,
    *,
    config: MonitorConfig | None = None,
    windows: Sequence[str | WindowSpec] | None = None,
    sinks: Sequence[Any] | None = None,
    now: int | None = None,
    progress: ProgressCallback | None = None,
) -> MonitorRound:
    """Run one round of monitoring for a model version (see the module docstring).

    Args:
        ws: The workspace.
        model_ref: ``name/<number>``, ``name@alias``, ``name@latest`` or a version.
        config: The monitor's settings; default: ``closedloop.yaml``'s ``monitoring:``.
        windows: Window specs replacing the config's (``count:1000``, ``time:1h/15m``).
        sinks: Alert sinks replacing the config's (objects with ``deliver``).
        now: The current time in epoch ms (time windows end only once it is past them).
        progress: Called with the rows read so far.

    Returns:
        What the round wrote and fired.

    Raises:
        NotFoundError: No such model version.
        InvalidArgumentError: A bad window spec or drift rule; no reference to profile.
        ConfigurationError: The monitoring settings are invalid.
    """
    config = config or MonitorConfig.from_settings(ws.settings.monitoring)
    if windows is not None:
        config = config.with_options(windows=list(windows))
    version = (
        model_ref
        if isinstance(model_ref, ModelVersion)
        else ws.metadata.models.get_version(model_ref)
    )
    now = now_ms() if now is None else now
    profile = reference_profile(ws, version, config.profile)
    inputs, outputs = detectors(profile, config)
    rules, chosen_sinks = _alerting(config, sinks)
    owned = sinks is None  # sinks built here are flushed and closed when the round ends
    written: list[WindowResult] = []
    refreshed: list[WindowResult] = []
    outcomes: list[Any] = []
    read = 0
    with ws.action(Actions.MONITOR_RUN, f"model:{version.id}") as act:
        for spec in config.windows:
            last = ws.metadata.monitoring.list_windows(version.id, spec.name, complete=True)
            previous = last[-1] if last else None
            for raw in assemble(ws, version.id, spec, last=previous, now=now):
                read += raw.rows.n_rows
                report_progress(progress, f"monitor {version.id} {spec.name}", read, unit="rows")
                summary = summarize(ws, version, profile, raw, config, inputs, outputs)
                stored = _store(ws, version, raw, summary, act)
                written.append(WindowResult(stored, summary))
                if stored.complete and rules:
                    outcomes.append(_alert(ws, version, stored, summary, rules, chosen_sinks))
            for result in _refresh(ws, version, profile, spec, config, inputs, outputs, act):
                refreshed.append(result)
                if rules:
                    outcomes.append(
                        _alert(ws, version, result.window, result.summary, rules, chosen_sinks)
                    )
        act.update(
            windows=len(written), refreshed=len(refreshed), rows=read, profile=profile.source
        )
    if owned:
        for sink in chosen_sinks:
            sink.close(SINK_CLOSE_SECONDS)
    return MonitorRound(
        version.id, profile.source, tuple(written), tuple(refreshed), _merged(outcomes), read
    )


def _refresh(
    ws: Workspace,
    version: ModelVersion,
    profile: ReferenceProfile,
    spec: WindowSpec,
    config: MonitorConfig,
    inputs: Any,
    outputs: Any,
    act: Any,
) -> list[WindowResult]:
    """Recompute stored complete windows whose rows got labels after they were written."""
    stored = ws.metadata.monitoring.list_windows(version.id, spec.name, complete=True)
    if not stored:
        return []
    oldest = min(w.updated_at for w in stored)
    labels = ws.metadata.predictions.list_labels(since=oldest)
    if not labels:
        return []
    requests = ws.metadata.predictions.list_requests(
        version.id, request_ids={lb.request_id for lb in labels}
    )
    newest: dict[int, int] = {}
    label_time: dict[str, int] = {}
    for lb in labels:
        label_time[lb.request_id] = max(label_time.get(lb.request_id, 0), lb.time)
    for r in requests:
        if r.position is not None:
            newest[r.position] = label_time[r.request_id]
    out: list[WindowResult] = []
    for window in stored:
        touched = [
            t for p, t in newest.items() if window.first_position <= p <= window.last_position
        ]
        if not touched or max(touched) <= window.updated_at:
            continue
        chunks = [
            c
            for c in iter_log(ws, version.id, after_position=window.first_position - 1)
            if c.positions[0] <= window.last_position
        ]
        rows = concat_chunks(chunks)
        if rows is None:
            continue
        rows = rows.take(0, int((rows.positions <= window.last_position).sum()))
        raw = RawWindow(
            spec, window.start, window.end, rows, window.n_rows, window.n_requests, True, 1.0
        )
        summary = summarize(ws, version, profile, raw, config, inputs, outputs)
        out.append(WindowResult(_store(ws, version, raw, summary, act), summary))
    return out


def _alerting(config: MonitorConfig, sinks: Sequence[Any] | None) -> tuple[list[Any], list[Any]]:
    from closedloop.monitoring._alert_rules import default_rules, rules_from_config
    from closedloop.monitoring._sinks import sinks_from_config

    rules = default_rules() if config.alerts is None else rules_from_config(list(config.alerts))
    chosen = (
        list(sinks)
        if sinks is not None
        else sinks_from_config(None if config.sinks is None else list(config.sinks))
    )
    return rules, chosen


def _alert(
    ws: Workspace,
    version: ModelVersion,
    window: MonitorWindow,
    summary: WindowSummary,
    rules: list[Any],
    sinks: list[Any],
) -> Any:
    from closedloop.monitoring._alerts import evaluate_rules

    drifted = [f["name"] for f in summary.drift.get("features", []) if f.get("drifted")]
    return evaluate_rules(
        ws,
        version.id,
        summary.values,
        window_id=window.id,
        window_end=window.end,
        rules=rules,
        evidence={"window": window.id, "monitor": window.monitor, "drifted": drifted},
        sinks=sinks,
        monitor=window.monitor,
    )


def _merged(outcomes: list[Any]) -> Any:
    if not outcomes:
        return None
    merged = outcomes[0]
    for o in outcomes[1:]:
        merged = merged.merge(o)
    return merged


def follow(
    ws: Workspace,
    model_ref: str | ModelVersion,
    *,
    config: MonitorConfig | None = None,
    interval: float | None = None,
    rounds: int | None = None,
    stop: threading.Event | None = None,
    on_round: Callable[[MonitorRound], None] | None = None,
    on_error: Callable[[ClosedLoopError], None] | None = None,
    **options: Any,
) -> int:
    """Run :func:`monitor_run` every ``interval`` seconds until ``stop`` is set.

    Args:
        ws: The workspace.
        model_ref: The model version (an alias is resolved again every round, so a moved
            alias is followed).
        config: The monitor's settings (default: ``closedloop.yaml``).
        interval: Seconds between round starts (default: the config's ``interval``).
        rounds: Stop after this many rounds (``None``: until stopped).
        stop: Set it to stop after the current round.
        on_round: Called with each round's result.
        on_error: Called with the error of a round that failed after the first one (e.g.
            the database busy, a profile being rebuilt); the next round comes at its
            interval. Without it, or when the first round fails (a wrong reference, a bad
            setting), the error is raised.
        options: More :func:`monitor_run` arguments.

    Returns:
        The number of rounds run (failed ones included).
    """
    config = config or MonitorConfig.from_settings(ws.settings.monitoring)
    wait = interval if interval is not None else config.interval_ms / 1000
    stop = stop or threading.Event()
    given = options.pop("sinks", None)
    _, sinks = _alerting(config, given)
    done = 0
    try:
        while not stop.is_set() and (rounds is None or done < rounds):
            started = time.monotonic()
            try:
                result = monitor_run(ws, model_ref, config=config, sinks=sinks, **options)
            except ClosedLoopError as e:
                if on_error is None or done == 0:
                    raise
                done += 1
                on_error(e)
            else:
                done += 1
                if on_round is not None:
                    on_round(result)
            if rounds is not None and done >= rounds:
                break
            stop.wait(max(0.0, wait - (time.monotonic() - started)))
    finally:
        if given is None:
            for sink in sinks:
                sink.close(SINK_CLOSE_SECONDS)
    return done
