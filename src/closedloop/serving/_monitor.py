"""``ServingMonitor``: monitoring rounds in a background thread of a model server.

``closedloop serve --monitor`` (``serve(..., monitor=True)``) runs
:func:`closedloop.monitoring.monitor_run` every ``interval`` seconds for every version the
server serves: each model reference's version (an alias resolved again every round, so a
moved alias is followed) and each registry endpoint's routed and shadow versions (the
endpoint re-read every round). Rounds run in one daemon thread of one process: the server
process itself with one worker, the supervisor with ``--workers N`` (the workers never
monitor), so no window is summarised twice.

A round of one version that fails is logged (a known error once, as a warning, until it
changes; anything else with its traceback) and tried again next interval; it never stops
the server nor the other versions' rounds. Each round logs one line at info level: the
versions monitored, the windows completed and the alerts fired. :meth:`ServingMonitor.stop`
sets the stop event and joins the thread (a round in progress finishes first, up to the
timeout; the thread is a daemon, so it never keeps the process alive).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from closedloop.core import ModelVersion
from closedloop.errors import ClosedLoopError, InvalidArgumentError
from closedloop.serving._routing import EndpointSource
from closedloop.workspace import Workspace

if TYPE_CHECKING:
    from closedloop.monitoring import MonitorConfig, MonitorRound

__all__ = ["MonitorPass", "ServingMonitor"]

_log = logging.getLogger("closedloop.serving.monitor")

#: Seconds :meth:`ServingMonitor.stop` waits for a round in progress by default.
STOP_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class MonitorPass:
    """One pass of the background monitor over the served versions.

    Attributes:
        rounds: Each monitored version's round.
        failed: Versions (or references) whose round failed, with the error's message.
        seconds: How long the pass took.
    """

    rounds: tuple[MonitorRound, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def completed(self) -> int:
        """Windows completed in this pass, over every version."""
        return sum(len(r.completed) for r in self.rounds)

    @property
    def fired(self) -> int:
        """Alerts fired in this pass, over every version."""
        return sum(len(r.alerts.fired) for r in self.rounds if r.alerts is not None)

    def summary(self) -> str:
        """The pass in one line (what the server logs)."""
        parts = []
        for r in self.rounds:
            filling = len(r.windows) - len(r.completed)
            parts.append(f"{r.model_version_id}: {len(r.completed)} complete, {filling} filling")
        text = (
            f"monitor round: {len(self.rounds)} version(s), {self.completed} window(s) "
            f"completed, {self.fired} alert(s) fired in {self.seconds:.2f}s"
        )
        if parts:
            text += " (" + "; ".join(parts) + ")"
        if self.failed:
            text += f"; {len(self.failed)} failed: " + ", ".join(sorted(self.failed))
        return text


class ServingMonitor:
    """Monitoring rounds for a server's versions in a background thread (module docstring).

    Args:
        ws: The workspace (its ``monitoring:`` settings configure the rounds).
        sources: The served endpoints (model references and registry endpoints).
        interval: Seconds between the starts of two passes (``None``: the monitoring
            settings' ``interval``, 60 s by default).
        config: The monitor's settings (``None``: read from ``ws.settings.monitoring``).
        on_pass: Called with each pass (from the monitor thread).

    Raises:
        InvalidArgumentError: ``interval`` is not a positive number.
        ConfigurationError: The monitoring settings are invalid (named).
    """

    def __init__(
        self,
        ws: Workspace,
        sources: Sequence[EndpointSource],
        *,
        interval: float | None = None,
        config: MonitorConfig | None = None,
        on_pass: Callable[[MonitorPass], None] | None = None,
    ) -> None:
        from closedloop.monitoring import MonitorConfig, sinks_from_config

        self.ws = ws
        self.sources = list(sources)
        self.config = config or MonitorConfig.from_settings(ws.settings.monitoring)
        wait = self.config.interval_ms / 1000 if interval is None else interval
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait > 0:
            raise InvalidArgumentError(
                f"the monitor interval must be a positive number of seconds, got {interval!r}",
                hint="e.g. --monitor-interval 60, or leave it to the monitoring interval setting",
            )
        self.interval = float(wait)
        self.on_pass = on_pass
        self._sinks: list[Any] = sinks_from_config(
            None if self.config.sinks is None else list(self.config.sinks)
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_errors: dict[str, str] = {}
        #: Passes run so far.
        self.passes = 0
        #: Passes (or versions' rounds) that failed so far.
        self.failures = 0

    @classmethod
    def for_served(
        cls,
        ws: Workspace,
        model_refs: Sequence[str] = (),
        endpoints: Sequence[str] = (),
        **options: Any,
    ) -> ServingMonitor:
        """The monitor of a server of ``model_refs`` and registry ``endpoints``."""
        sources = [EndpointSource.for_model(ref) for ref in model_refs]
        sources += [EndpointSource(name=name, from_registry=True) for name in endpoints]
        return cls(ws, sources, **options)

    @property
    def running(self) -> bool:
        """Whether the monitor thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> ServingMonitor:
        """Start the monitor thread (a no-op while it runs); the first pass starts at once."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="closedloop-serving-monitor", daemon=True
        )
        self._thread.start()
        _log.info("monitoring %s every %gs", ", ".join(s.name for s in self.sources), self.interval)
        return self

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop after the round in progress; ``False`` if the thread is still running."""
        self._stop.set()
        thread, self._thread = self._thread, None
        stopped = True
        if thread is not None:
            thread.join(timeout)
            stopped = not thread.is_alive()
            if not stopped:
                _log.warning("the monitor thread did not stop within %gs", timeout)
        for sink in self._sinks:
            try:
                sink.close(min(timeout, 5.0))
            except Exception:  # a sink that fails to close must not fail the shutdown
                _log.exception("closing alert sink %r failed", sink)
        return stopped

    # rounds ------------------------------------------------------------------------------------
    def versions(self) -> tuple[list[ModelVersion], dict[str, str]]:
        """The versions served now (aliases and endpoints resolved again), and failures."""
        models = self.ws.metadata.models
        found: dict[str, ModelVersion] = {}
        failed: dict[str, str] = {}
        for source in self.sources:
            refs: list[str]
            if source.from_registry:
                try:
                    endpoint = self.ws.metadata.endpoints.get(source.name)
                except ClosedLoopError as e:
                    failed[f"endpoint {source.name}"] = e.message
                    continue
                refs = [r.ref for r in endpoint.routes] + list(endpoint.shadows)
            else:
                refs = [r.ref for r in source.routes]
            for ref in refs:
                try:
                    version = models.get_version(ref)
                except ClosedLoopError as e:
                    failed[ref] = e.message
                    continue
                found.setdefault(version.id, version)
        return list(found.values()), failed

    def run_once(self) -> MonitorPass:
        """One pass: a monitoring round for each served version (errors logged, kept)."""
        from closedloop.monitoring import monitor_run

        started = time.monotonic()
        versions, failed = self.versions()
        for ref, message in failed.items():
            self._failed(ref, message, None)
        rounds: list[MonitorRound] = []
        for version in versions:
            if self._stop.is_set():
                break
            try:
                rounds.append(monitor_run(self.ws, version, config=self.config, sinks=self._sinks))
                self._last_errors.pop(version.id, None)
            except ClosedLoopError as e:
                failed[version.id] = e.message
                self._failed(version.id, e.message, e.hint)
            except Exception as e:
                failed[version.id] = str(e) or type(e).__name__
                self.failures += 1
                _log.exception("monitoring %s failed; it is tried again next round", version.id)
        done = MonitorPass(tuple(rounds), failed, time.monotonic() - started)
        self.passes += 1
        _log.info("%s", done.summary())
        return done

    def _failed(self, what: str, message: str, hint: str | None) -> None:
        """Log a known failure once until it changes (every round would flood the log)."""
        self.failures += 1
        if self._last_errors.get(what) == message:
            _log.debug("monitoring %s still fails: %s", what, message)
            return
        self._last_errors[what] = message
        _log.warning(
            "monitoring %s failed: %s%s (tried again every round)",
            what,
            message,
            f" ({hint})" if hint else "",
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                done = self.run_once()
                if self.on_pass is not None:
                    self.on_pass(done)
            except Exception:  # never let the thread die: the next interval tries again
                self.failures += 1
                _log.exception("a monitoring round failed; it is tried again next interval")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
