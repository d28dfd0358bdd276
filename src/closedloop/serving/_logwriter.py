"""``LogWriter``: the prediction log's group commit, one writer thread per server process.

Request handlers never write to the database. They hand the writer a :class:`LogItem` (the
scored rows and the request's audit action) and wait for its commit; the writer takes
everything queued, seals each request's payload, and commits them all — rows and audit
events — in one transaction, then wakes the waiting handlers at once. While it commits,
new requests queue up, so the busier the server, the bigger the groups: one commit costs
about the same for one request as for a hundred, and no handler waits on the database
lock behind another (the cause of the second-long tail of the per-request transactions).

Durability rule: **a response is sent only after its rows are committed.** A SIGTERM or a
SIGKILL of a worker therefore never loses an acknowledged row: what was answered is in the
database (SQLite in WAL mode with ``synchronous=NORMAL`` survives a process crash; a power
cut may lose the last commits, as it may for any SQLite writer in that mode). A request
whose commit fails is answered with an error (503 for a storage error), never with a
prediction that was not logged. Shadow scores (:meth:`LogWriter.submit_nowait`) ride the
same commits but nobody waits for them.

Refused requests (bad input: 400, 413, 415, 422) are counted too, one
:class:`~closedloop.core.Refusal` each (:meth:`LogWriter.refuse`): they ride the same
queue, nobody waits for them, and the writer stores each group's refusals in one
``append_refusals`` call after the group's commit. A refusal that cannot be stored (the
queue full, the writer closed, the write failing) is logged and counted
(``on_refusals``), never raised: the refused request is answered with its 4xx either way.

Back pressure: the queue is bounded (``max_queue`` requests); a request that finds it full
is refused with :class:`LogBehindError` (503, retry) rather than piling up memory. Each
request's ``latency_ms`` is taken by the writer just before it seals the request, so it
includes the wait for the log; only the commit itself and sending the answer come after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from closedloop.core import LoggedRequest, Refusal, now_ms
from closedloop.errors import AlreadyExistsError, ClosedLoopError, StorageError
from closedloop.metadata import RequestAppender
from closedloop.predictions import LOG_PURPOSE, logged_request
from closedloop.workspace import Action, Workspace

__all__ = ["LogBehindError", "LogItem", "LogWriter"]

_log = logging.getLogger("closedloop.serving.log")

#: Most requests one transaction carries.
DEFAULT_MAX_GROUP = 256
#: Most requests waiting for the writer before new ones are refused (503).
DEFAULT_MAX_QUEUE = 4096


class LogBehindError(StorageError):
    """The prediction log's queue is full: the request is refused, to be retried."""

    code = "LOG_BEHIND"


@dataclass(slots=True)
class LogItem:
    """One request as one model version scored it, waiting to be logged.

    Attributes:
        request_id: The request.
        model_version_id: The version that scored it.
        endpoint: The endpoint it came through.
        role: ``primary`` or ``shadow``.
        columns: The validated input columns.
        labels: One label per row.
        probabilities: ``n_rows x len(classes)`` or ``None``.
        classes: The probability columns' classes.
        started: ``time.perf_counter()`` when the request's first byte arrived.
        audit: The request's ``model.predict`` action (``None`` for a shadow).
        log_rows: Log the rows; ``False`` commits only the audit event (a server started
            with ``log_predictions=False``).
        matrix: The inputs as one float64 matrix, when every column is numeric.
    """

    request_id: str
    model_version_id: str
    endpoint: str | None
    role: str
    columns: Mapping[str, np.ndarray]
    labels: np.ndarray
    probabilities: np.ndarray | None
    classes: Sequence[str]
    started: float
    audit: Action | None = None
    log_rows: bool = True
    matrix: np.ndarray | None = None
    latency_ms: float = 0.0
    future: asyncio.Future[float] | None = field(default=None, repr=False)
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)


class LogWriter:
    """The group-committing writer of one server process.

    Args:
        ws: The workspace whose prediction log it writes.
        max_group: Most requests per transaction.
        max_queue: Most requests waiting; more are refused with :class:`LogBehindError`.
        max_delay: Seconds the writer may wait to fill a group once it has a request
            (0: commit what is queued at once; under load groups form by themselves).
        on_commit: Called from the writer thread after each commit with the requests and
            rows committed (for metrics).
        on_refusals: Called with the refusals stored and those lost (for metrics), from
            the writer thread or from :meth:`refuse`.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        max_group: int = DEFAULT_MAX_GROUP,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_delay: float = 0.0,
        on_commit: Callable[[int, int], None] | None = None,
        on_refusals: Callable[[int, int], None] | None = None,
    ) -> None:
        self.ws = ws
        self.max_group = max_group
        self.max_queue = max_queue
        self.max_delay = max_delay
        self.on_commit = on_commit
        self.on_refusals = on_refusals
        self._sealer = ws.record_sealer(LOG_PURPOSE)
        self._queue: queue.SimpleQueue[LogItem | Refusal | None] = queue.SimpleQueue()
        self._depth = 0
        self._depth_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.committed_requests = 0
        self.committed_rows = 0
        self.dropped_shadows = 0
        self.refusals_recorded = 0
        self.refusals_lost = 0

    @property
    def depth(self) -> int:
        """Requests waiting for the writer now."""
        return self._depth

    def start(self) -> LogWriter:
        """Start the writer thread (again after :meth:`close`; a no-op while running)."""
        with self._depth_lock:
            self._closed = False
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="closedloop-log-writer", daemon=True
            )
            self._thread.start()
        return self

    def _put(self, item: LogItem | Refusal) -> None:
        with self._depth_lock:
            if self._closed:
                raise LogBehindError(
                    "the server is shutting down", hint="retry against another server"
                )
            if self._depth >= self.max_queue:
                raise LogBehindError(
                    f"the prediction log is {self._depth:,} requests behind",
                    hint="retry in a moment; if it persists, add workers or a faster database",
                )
            self._depth += 1
        self._queue.put(item)

    async def submit(self, item: LogItem) -> float:
        """Queue ``item`` and wait until it is committed.

        Returns:
            The request's latency as logged (milliseconds).

        Raises:
            LogBehindError: The queue is full or the writer is closed.
            AlreadyExistsError: The request id is already logged for this version.
            StorageError: The commit failed.
        """
        loop = asyncio.get_running_loop()
        item.loop, item.future = loop, loop.create_future()
        self._put(item)
        return await item.future

    def submit_nowait(self, item: LogItem) -> bool:
        """Queue ``item`` without waiting (shadow scores); ``False`` if it was dropped."""
        try:
            self._put(item)
        except LogBehindError:
            self.dropped_shadows += 1
            return False
        return True

    def refuse(self, refusal: Refusal) -> bool:
        """Queue a refused request's record without waiting; ``False`` if it was lost.

        Never raises: a full queue or a closed writer loses the record (logged, counted).
        """
        try:
            self._put(refusal)
        except LogBehindError as e:
            self._refusals_done(0, 1)
            _log.warning("a refused request to %s was not recorded: %s", refusal.endpoint, e)
            return False
        return True

    def _refusals_done(self, recorded: int, lost: int) -> None:
        self.refusals_recorded += recorded
        self.refusals_lost += lost
        if self.on_refusals is not None:
            try:
                self.on_refusals(recorded, lost)
            except Exception:  # metrics must never fail the log
                _log.exception("refusal callback failed")

    def close(self, timeout: float = 30.0) -> None:
        """Commit everything queued, then stop the thread (new submissions are refused)."""
        with self._depth_lock:
            self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    # the writer thread ---------------------------------------------------------------------
    def _take(self) -> tuple[list[LogItem | Refusal], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        group: list[LogItem | Refusal] = [first]
        stop = False
        deadline = time.perf_counter() + self.max_delay
        while len(group) < self.max_group:
            remaining = deadline - time.perf_counter()
            try:
                nxt = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            group.append(nxt)
        with self._depth_lock:
            self._depth -= len(group)
        return group, stop

    def _run(self) -> None:
        try:
            self._appender: RequestAppender | None = self.ws.metadata.predictions.appender()
        except ClosedLoopError:
            _log.exception("the prediction log writer has no connection; it retries per group")
            self._appender = None
        try:
            self._loop()
        finally:
            if self._appender is not None:
                self._appender.close()

    def _loop(self) -> None:
        while True:
            group, stop = self._take()
            if group:
                self._commit(group)
            if stop:
                # Drain what arrived before close(): nothing queued is left behind.
                rest: list[LogItem | Refusal] = []
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        rest.append(item)
                for i in range(0, len(rest), self.max_group):
                    self._commit(rest[i : i + self.max_group])
                return

    def _record(self, item: LogItem, at: int) -> LoggedRequest | None:
        item.latency_ms = (time.perf_counter() - item.started) * 1000.0
        if item.audit is not None:
            item.audit["latency_ms"] = round(item.latency_ms, 3)
        if not item.log_rows:
            return None
        return logged_request(
            self._sealer,
            request_id=item.request_id,
            time=at,
            model_version_id=item.model_version_id,
            endpoint=item.endpoint,
            role=item.role,
            columns=item.columns,
            labels=item.labels,
            probabilities=item.probabilities,
            classes=item.classes,
            latency_ms=item.latency_ms,
            matrix=item.matrix,
        )

    def _commit(self, taken: list[LogItem | Refusal]) -> None:
        group = [item for item in taken if isinstance(item, LogItem)]
        if len(group) < len(taken):
            try:
                self._commit_requests(group)
            finally:
                self._store_refusals([r for r in taken if isinstance(r, Refusal)])
        else:
            self._commit_requests(group)

    def _store_refusals(self, refusals: list[Refusal]) -> None:
        """Store refused requests' records in one write; a failure is logged and counted."""
        try:
            self.ws.metadata.predictions.append_refusals(refusals)
        except Exception as e:  # never a 5xx, never a stuck writer: the records are lost
            _log.error("%d refused request(s) were not recorded: %s", len(refusals), e)
            self._refusals_done(0, len(refusals))
            return
        self._refusals_done(len(refusals), 0)

    def _commit_requests(self, group: list[LogItem]) -> None:
        if not group:
            return
        at = now_ms()
        try:
            records = [self._record(item, at) for item in group]
        except Exception as e:  # a payload that cannot be encoded fails its group only
            _log.exception("could not encode %d prediction log request(s)", len(group))
            self._settle(group, [e] * len(group))
            return
        try:
            self._append(group, records)
            outcomes: list[BaseException | None] = [None] * len(group)
        except AlreadyExistsError:
            outcomes = self._one_by_one(group, records)  # one reused id must not fail all
        except ClosedLoopError as e:
            _log.error("prediction log commit of %d request(s) failed: %s", len(group), e)
            outcomes = [e] * len(group)
        except Exception as e:
            _log.exception("prediction log commit of %d request(s) failed", len(group))
            failure = StorageError(f"the prediction log could not be written: {e}")
            outcomes = [failure] * len(group)
        self._settle(group, outcomes)

    def _append(self, group: Sequence[LogItem], records: Sequence[LoggedRequest | None]) -> None:
        rows = [r for r in records if r is not None]
        audits = [item.audit for item in group if item.audit is not None]
        if self._appender is not None:
            self._appender.append(rows, audits)
        else:
            self.ws.metadata.predictions.append_requests(rows, audits=audits)

    def _one_by_one(
        self, group: list[LogItem], records: list[LoggedRequest | None]
    ) -> list[BaseException | None]:
        outcomes: list[BaseException | None] = []
        for item, record in zip(group, records, strict=True):
            try:
                self._append([item], [record])
                outcomes.append(None)
            except ClosedLoopError as e:
                outcomes.append(e)
        return outcomes

    def _settle(self, group: list[LogItem], outcomes: Sequence[BaseException | None]) -> None:
        done = [
            (item, err)
            for item, err in zip(group, outcomes, strict=True)
            if err is None and item.log_rows
        ]
        self.committed_requests += len(done)
        rows = sum(len(item.labels) for item, _ in done)
        self.committed_rows += rows
        if self.on_commit is not None and done:
            try:
                self.on_commit(len(done), rows)
            except Exception:  # metrics must never fail the log
                _log.exception("log commit callback failed")
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[LogItem, BaseException | None]]] = {}
        for item, err in zip(group, outcomes, strict=True):
            if item.future is not None and item.loop is not None:
                by_loop.setdefault(item.loop, []).append((item, err))
            elif err is not None:
                _log.warning("a shadow score of %s was not logged: %s", item.request_id, err)
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_wake, settled)


def _wake(settled: list[tuple[LogItem, BaseException | None]]) -> None:
    for item, err in settled:
        future = item.future
        if future is None or future.done():
            continue
        if err is None:
            future.set_result(item.latency_ms)
        else:
            future.set_exception(err)
