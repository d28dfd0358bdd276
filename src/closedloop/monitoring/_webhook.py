"""``WebhookSink``: alerts POSTed as signed JSON, off the caller's thread.

The POST body is JSON (the alert's id, event, times, model version, rule, subject,
severity, value, threshold, status, count, message, window id, ``reference``, the CLI
command that shows it, and ``timestamp``). ``X-Closedloop-Signature`` is ``sha256=`` and the
hex HMAC-SHA256 of the exact body bytes under the secret; ``X-Closedloop-Timestamp``
repeats the body's ``timestamp`` (epoch seconds); ``X-Closedloop-Delivery`` is the same on
every attempt of one delivery. A receiver verifies it so::

    import hashlib, hmac, json, time
    def verify(body: bytes, signature: str, secret: bytes) -> dict:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature): raise ValueError("bad signature")
        event = json.loads(body)
        if abs(time.time() - event["timestamp"]) > 300: raise ValueError("stale, or a replay")
        return event
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import logging
import math
import queue
import random
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from closedloop.core import Alert, ms_to_datetime
from closedloop.errors import ConfigurationError
from closedloop.monitoring._alert_rules import check_severity

if TYPE_CHECKING:
    from closedloop.monitoring._sinks import Notice

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "EXIT_FLUSH_SECONDS",
    "TIMESTAMP_HEADER",
    "WebhookSink",
    "encode_body",
    "sign",
    "webhook_body",
]

SIGNATURE_HEADER = "X-Closedloop-Signature"
TIMESTAMP_HEADER = "X-Closedloop-Timestamp"
DELIVERY_HEADER = "X-Closedloop-Delivery"

_LOG = logging.getLogger("closedloop.monitoring.alerts")


class WebhookSink:
    """Alerts POSTed as signed JSON by one background daemon thread.

    Args:
        url: ``http(s)://`` address of the receiver.
        secret: The HMAC key (from the environment; never stored).
        timeout: Seconds per attempt.
        retries: Attempts after the first on connection errors, 429 and 5xx answers
            (other 4xx answers are not retried).
        backoff: Seconds before the first retry; doubled per retry (up to ``max_backoff``,
            or a 429's ``Retry-After``), plus up to 25 % random jitter.
        name: The sink's name.
        min_severity: The least severe alert it sends.
        queue_size: Notices it holds before it drops new ones.
        max_backoff: Longest wait between two attempts.
        idle: Seconds without notices after which the thread ends (the next notice starts
            another), so a sink nobody closes holds no thread.

    At interpreter exit, sinks with queued notices get :data:`EXIT_FLUSH_SECONDS` in all to
    deliver them (a one-shot ``closedloop monitor run`` thus still sends its alerts); what
    is left is recorded ``failed: sink closed …``. Close a sink yourself to choose the wait.

    Raises:
        ConfigurationError: A bad URL, an empty secret or a value out of range.
    """

    deferred = True

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 1.0,
        *,
        name: str = "webhook",
        min_severity: str = "info",
        queue_size: int = 1000,
        max_backoff: float = 60.0,
        idle: float = 30.0,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"sink {name!r}: url {url!r} is not an http(s) address",
                hint="write url: https://host/path",
            )
        if not secret:
            raise ConfigurationError(
                f"sink {name!r}: the webhook has no secret to sign its deliveries",
                hint="set secret_env to an environment variable that holds the secret",
            )
        check_severity(min_severity, name)
        numbers = {"timeout": timeout, "backoff": backoff, "max_backoff": max_backoff, "idle": idle}
        for key, number in numbers.items():
            if not 0 <= number < math.inf or (key in ("timeout", "idle") and number == 0):
                raise ConfigurationError(
                    f"sink {name!r}: {key} is {number!r}, not a duration",
                    hint=f"write {key}: 5s",
                )
        for key, count in {"retries": retries, "queue_size": queue_size}.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ConfigurationError(
                    f"sink {name!r}: {key} is {count!r}, not a whole number",
                    hint=f"write {key}: 3",
                )
        self.url, self.name, self.min_severity = url, name, min_severity
        self.timeout, self.retries, self.backoff, self.max_backoff = (
            float(timeout),
            retries,
            float(backoff),
            float(max_backoff),
        )
        self.idle = float(idle)
        self._secret = secret.encode() if isinstance(secret, str) else bytes(secret)
        self._queue: queue.Queue[Notice | None] = queue.Queue(maxsize=max(queue_size, 1))
        self._state = threading.Condition()
        self._pending = 0  # queued or in flight
        self._thread: threading.Thread | None = None
        self._closed = False
        self._abort = threading.Event()

    # the caller's side -------------------------------------------------------------------
    def deliver(self, notice: Notice) -> None:
        """Queue the notice for the delivery thread; returns at once, never raises."""
        try:
            with self._state:
                if self._closed:
                    refused = "failed: sink closed"
                else:
                    refused = ""
                    if self._thread is None:
                        self._thread = threading.Thread(
                            target=self._run, name=f"closedloop-sink-{self.name}", daemon=True
                        )
                        self._thread.start()
                        _flush_at_exit(self)
                    try:
                        self._queue.put_nowait(notice)
                        self._pending += 1
                    except queue.Full:
                        refused = "failed: queue full"
            if refused:
                _LOG.warning(
                    "sink %s: alert %d not delivered: %s", self.name, notice.alert.id, refused
                )
                self._record(notice, refused)
        except Exception:  # pragma: no cover - never let alerting break the caller
            _LOG.exception("sink %s: alert %d could not be queued", self.name, notice.alert.id)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` seconds until every queued notice is handled."""
        deadline = time.monotonic() + timeout
        with self._state:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Stop taking notices, wait up to ``timeout`` seconds for the queued ones, stop.

        Notices still waiting after that are recorded ``failed: sink closed …`` (one
        request in flight may finish later on its daemon thread).

        Returns:
            Whether every queued notice was handled in time.
        """
        with self._state:
            self._closed = True
            thread = self._thread
        if thread is None:
            return True
        drained = self.flush(timeout)
        if not drained:
            self._abort.set()  # remaining notices fail fast instead of waiting out back-off
        with contextlib.suppress(queue.Full):  # the aborting thread drains it
            self._queue.put(None, timeout=1.0)
        thread.join(timeout=1.0 if drained else min(timeout, 1.0) + self.timeout)
        return drained

    def __repr__(self) -> str:
        return f"WebhookSink(name={self.name!r}, url={self.url!r})"  # never the secret

    # the delivery thread -----------------------------------------------------------------
    def _run(self) -> None:
        client: Any = None
        try:
            import httpx

            client = httpx.Client(timeout=self.timeout, follow_redirects=False)
            while True:
                try:
                    notice = self._queue.get(timeout=self.idle)
                except queue.Empty:
                    with self._state:  # deliver() starts a new thread once this one is gone
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                if notice is None:
                    return
                try:
                    if self._abort.is_set():
                        state = "failed: sink closed before delivery"
                    else:
                        state = self._send(client, notice)
                    if state != "sent":
                        _LOG.warning(
                            "sink %s: alert %d not delivered: %s",
                            self.name,
                            notice.alert.id,
                            state,
                        )
                    self._record(notice, state)
                except Exception:  # pragma: no cover - the thread must keep serving
                    _LOG.exception("sink %s: delivering alert %d", self.name, notice.alert.id)
                finally:
                    with self._state:
                        self._pending -= 1
                        self._state.notify_all()
        except Exception:  # pragma: no cover - e.g. httpx cannot be imported
            _LOG.exception("sink %s: the delivery thread stopped", self.name)
        finally:
            with self._state:
                if self._thread is threading.current_thread():
                    self._thread = None
            if client is not None:
                client.close()

    def _send(self, client: Any, notice: Notice) -> str:
        import httpx

        delivery = uuid.uuid4().hex
        last, wait = "", self.backoff
        for attempt in range(self.retries + 1):
            if attempt:
                delay = min(wait, self.max_backoff) * (1 + random.uniform(0, 0.25))
                if self._abort.wait(delay):
                    return f"failed: sink closed after {attempt} attempts ({last})"
                wait *= 2
            now = time.time()
            body = encode_body(webhook_body(notice.alert, notice.event, now))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "closedloop-alerts",
                SIGNATURE_HEADER: sign(self._secret, body),
                TIMESTAMP_HEADER: str(int(now)),
                DELIVERY_HEADER: delivery,
            }
            try:
                answer = client.post(self.url, content=body, headers=headers)
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"[:200]
                continue
            except Exception as e:  # an error no retry can fix (a bad URL, say)
                return f"failed: {type(e).__name__}: {e}"[:200]
            status = answer.status_code
            if 200 <= status < 300:
                return "sent"
            last = f"HTTP {status}"
            if status != 429 and status < 500:
                return f"failed: {last}"
            after = _retry_after(answer.headers.get("Retry-After"))
            if after is not None:
                wait = max(wait, after)
        return f"failed: {last} after {self.retries + 1} attempts"

    def _record(self, notice: Notice, state: str) -> None:
        if notice.record is None:
            return
        try:
            notice.record(self.name, state)
        except Exception:  # the workspace may be closed or busy; the log still says it
            _LOG.warning(
                "sink %s: could not record %r on alert %d",
                self.name,
                state,
                notice.alert.id,
                exc_info=True,
            )


#: Seconds the interpreter's exit waits, in all, for webhook sinks' queued notices.
EXIT_FLUSH_SECONDS = 5.0

_LIVE: weakref.WeakSet[WebhookSink] = weakref.WeakSet()
_EXIT_HOOK = threading.Lock()
_exit_hook_registered = False


def _flush_at_exit(sink: WebhookSink) -> None:
    """Remember ``sink`` for the exit flush (registered with ``atexit`` on first use)."""
    global _exit_hook_registered
    with _EXIT_HOOK:
        _LIVE.add(sink)
        if not _exit_hook_registered:
            atexit.register(_close_live_sinks)
            _exit_hook_registered = True


def _close_live_sinks() -> None:
    deadline = time.monotonic() + EXIT_FLUSH_SECONDS
    for sink in list(_LIVE):
        with contextlib.suppress(Exception):
            sink.close(max(deadline - time.monotonic(), 0.0))


def webhook_body(alert: Alert, event: str, now: float) -> dict[str, Any]:
    """The JSON document a webhook receives for ``alert`` (``now``: epoch seconds)."""
    return {
        "id": alert.id,
        "event": event,
        "time": _iso(alert.time),
        "last_seen": _iso(alert.last_seen),
        "model_version": alert.model_version_id,
        "rule": alert.rule,
        "subject": alert.subject,
        "severity": alert.severity,
        "value": alert.value if math.isfinite(alert.value) else None,
        "threshold": alert.threshold,
        "status": alert.status,
        "count": alert.count,
        "message": alert.message,
        "window_id": alert.window_id,
        "reference": f"closedloop monitor alerts --id {alert.id}",
        "timestamp": int(now),
    }


def encode_body(document: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Closedloop-Signature`` value of ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _retry_after(text: str | None) -> float | None:
    try:
        return max(float(text), 0.0) if text is not None else None
    except ValueError:
        return None


def _iso(ms: int) -> str:
    moment = ms_to_datetime(ms)
    assert moment is not None
    return moment.isoformat().replace("+00:00", "Z")
