"""The hot path shared by every protocol: check, route, score once, log, answer.

A protocol decodes the request into a :class:`Batch`; :meth:`Predictor.predict` then

1. checks the rows against the training data (numbers outside the seen range, categories
   not seen), warning or refusing by policy;
2. picks the route (canary weights by request id, or the version the URL names);
3. scores the batch once — inline for small batches, in a worker thread for large ones so
   the event loop keeps answering others;
4. hands the rows and the request's ``model.predict`` audit action to the log writer and
   waits for the commit (a prediction that is not logged is not answered);
5. gives the shadow versions a copy to score in the background (logged, never answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from closedloop.errors import AlreadyExistsError, InvalidArgumentError
from closedloop.serving._batch import Batch, Scored
from closedloop.serving._checks import (
    OutOfRange,
    Policy,
    UnseenCategories,
    find_out_of_range,
    find_unseen_categories,
)
from closedloop.serving._logwriter import LogItem, LogWriter
from closedloop.serving._malloc import trim
from closedloop.serving._metrics import ServerMetrics
from closedloop.serving._middleware import REQUEST_ID_HEADER
from closedloop.serving._protocols.oip import release_parser
from closedloop.serving._routing import RouteTable, Target
from closedloop.workspace import Actions, Workspace

__all__ = ["INLINE_ROWS", "Outcome", "Predictor"]

_log = logging.getLogger("closedloop.serving")
T = TypeVar("T")

#: Batches up to this many rows are scored on the event loop; larger ones in a thread.
INLINE_ROWS = 64
#: Seconds without a large request after which free heap memory is given back.
TRIM_AFTER = 0.25
#: Client addresses whose workspace views are kept (then the cache starts again).
_MAX_CALLERS = 4096
#: Shadow jobs waiting at most; more are dropped (and counted) rather than queued.
_MAX_SHADOW_BACKLOG = 256


def _shadow_pool() -> ThreadPoolExecutor:
    # One thread: shadows use at most one core's worth of the server's time.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="closedloop-shadow")


def _large_pool() -> ThreadPoolExecutor:
    # One thread decodes and scores large requests, off the event loop. One, not the default
    # pool's six: the GIL lets one run at a time anyway, and each extra thread would keep its
    # own allocator arena and JSON parser buffers sized for the largest request it saw.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="closedloop-large")


def _release_memory() -> None:
    # In the large-request thread: its parser's buffers, then every free heap page.
    release_parser()
    trim()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a request was answered with."""

    scored: Scored
    target: Target
    latency_ms: float
    warnings: list[str]


class Predictor:
    """Checks, routes, scores and logs requests for one server process.

    Args:
        ws: The workspace (the acting principal is set per request).
        writer: The prediction log writer.
        metrics: The server's metrics.
        log_predictions: Log the rows (the audit event is committed either way).
        out_of_range: ``warn`` or ``refuse`` numbers outside the training range.
        unseen_categories: ``warn`` or ``refuse`` categories not seen in training.
    """

    def __init__(
        self,
        ws: Workspace,
        writer: LogWriter,
        metrics: ServerMetrics,
        *,
        log_predictions: bool,
        out_of_range: Policy,
        unseen_categories: Policy,
    ) -> None:
        self.ws = ws
        self.writer = writer
        self.metrics = metrics
        self.log_predictions = log_predictions
        self.out_of_range = out_of_range
        self.unseen_categories = unseen_categories
        self._shadows = _shadow_pool()
        self._large = _large_pool()
        self._large_at = 0.0
        #: Workspace views by client address (a view per request would cost a copy each).
        self._callers: dict[str | None, Workspace] = {}
        self._trim_pending = False
        self._shadow_backlog = 0
        self._backlog_lock = threading.Lock()
        self.dropped_shadows = 0

    def open(self) -> None:
        """Take shadow jobs again after :meth:`close` (a server restarted in-process)."""
        if self._closed:
            self._shadows = _shadow_pool()
            self._large = _large_pool()

    @property
    def _closed(self) -> bool:
        return bool(getattr(self._shadows, "_shutdown", False))

    def close(self) -> None:
        """Finish the shadow jobs queued (their rows then reach the writer)."""
        self._shadows.shutdown(wait=True)
        self._large.shutdown(wait=True)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the large-request thread (decoding and scoring big batches).

        Once large requests stop for :data:`TRIM_AFTER` seconds, the allocator gives the
        free heap pages back (see ``closedloop.serving._malloc``).
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._large, fn, *args)
        finally:
            self._large_at = loop.time()
            if not self._trim_pending:
                self._trim_pending = True
                loop.call_later(TRIM_AFTER, self._trim_when_idle, loop)

    def _trim_when_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        quiet = loop.time() - self._large_at
        if quiet < TRIM_AFTER:
            loop.call_later(TRIM_AFTER - quiet, self._trim_when_idle, loop)
            return
        self._trim_pending = False
        with contextlib.suppress(RuntimeError):  # shutting down
            self._large.submit(_release_memory)

    async def predict(
        self,
        table: RouteTable,
        batch: Batch,
        *,
        request_id: str,
        started: float,
        source: str | None,
        protocol: str,
        version: str | None = None,
    ) -> Outcome:
        """Answer one decoded request (see the module docstring).

        Args:
            table: The endpoint's routes, taken once for this request.
            batch: The validated rows.
            request_id: The request's id.
            started: ``time.perf_counter()`` at its first byte.
            source: The caller's address (for the audit log).
            protocol: ``native``, ``mlflow`` or ``v2`` (for the audit detail).
            version: A version number the URL names (``None``: route by weight).

        Raises:
            InvalidArgumentError: Rows refused by policy, or the model could not score them.
            NotFoundError: The endpoint does not serve ``version``.
            LogBehindError: The log's queue is full.
            AlreadyExistsError: The request id is already logged.
            StorageError: The log commit failed.
        """
        target = table.version(version) if version is not None else table.pick(request_id)
        signature = table.signature
        unseen = find_unseen_categories(signature, batch.columns)
        outside = find_out_of_range(signature, batch.columns, batch.matrix())
        warnings = [f.warning() for f in unseen] + [f.warning() for f in outside]
        model_version = target.version
        caller = self._caller(source)
        with caller.action(
            Actions.MODEL_PREDICT,
            f"model:{model_version.id}",
            request_id=request_id,
            rows=batch.n_rows,
            endpoint=table.endpoint,
            protocol=protocol,
        ) as act:
            if unseen:
                act["unseen_categories"] = {f.column: f.rows for f in unseen}
            if outside:
                act["out_of_range"] = {f.column: f.rows for f in outside}
            if table.shadows:
                act["shadows"] = [t.version.id for t in table.shadows]
            self._refuse(
                unseen if self.unseen_categories == "refuse" else [],
                outside if self.out_of_range == "refuse" else [],
            )
            if batch.n_rows <= INLINE_ROWS:
                scored = target.scorer.score(batch)
            else:
                scored = await self.in_thread(target.scorer.score, batch)
            item = LogItem(
                request_id=request_id,
                model_version_id=model_version.id,
                endpoint=table.endpoint,
                role="primary",
                columns=batch.columns,
                labels=scored.labels,
                probabilities=scored.probabilities,
                classes=scored.classes,
                started=started,
                audit=act,
                log_rows=self.log_predictions,
                matrix=batch.numeric_matrix,
            )
            try:
                latency_ms = await self.writer.submit(item)
            except AlreadyExistsError as e:
                raise AlreadyExistsError(
                    f"request id {request_id!r} is already in the prediction log",
                    hint=f"send a new {REQUEST_ID_HEADER} per request, or none to get one",
                ) from e
        self.metrics.scored(table.endpoint, model_version.id, "primary", batch.n_rows)
        for shadow in table.shadows:
            self._shadow(table.endpoint, shadow, batch, request_id, started)
        return Outcome(scored, target, latency_ms, warnings)

    def _caller(self, source: str | None) -> Workspace:
        """The workspace acting for this server's principal calling from ``source``."""
        caller = self._callers.get(source)
        if caller is None:
            if len(self._callers) >= _MAX_CALLERS:
                self._callers.clear()
            caller = self._callers[source] = self.ws.as_principal(
                self.ws.principal.from_source(source)
            )
        return caller

    def _shadow(
        self, endpoint: str, target: Target, batch: Batch, request_id: str, started: float
    ) -> None:
        if not self.log_predictions:
            return
        with self._backlog_lock:
            if self._shadow_backlog >= _MAX_SHADOW_BACKLOG:
                self.dropped_shadows += 1
                return
            self._shadow_backlog += 1

        def job() -> None:
            try:
                scored = target.scorer.score(batch)
                self.writer.submit_nowait(
                    LogItem(
                        request_id=request_id,
                        model_version_id=target.version.id,
                        endpoint=endpoint,
                        role="shadow",
                        columns=batch.columns,
                        labels=scored.labels,
                        probabilities=scored.probabilities,
                        classes=scored.classes,
                        started=started,
                    )
                )
                self.metrics.scored(endpoint, target.version.id, "shadow", batch.n_rows)
            except Exception:  # a shadow never affects the answer; its failure is logged
                _log.exception("shadow %s failed on request %s", target.version.id, request_id)
            finally:
                with self._backlog_lock:
                    self._shadow_backlog -= 1

        try:
            self._shadows.submit(job)
        except RuntimeError:  # shutting down
            with self._backlog_lock:
                self._shadow_backlog -= 1

    @staticmethod
    def _refuse(unseen: Sequence[UnseenCategories], outside: Sequence[OutOfRange]) -> None:
        """Refuse the request if rows lie off the training data under a refusing policy.

        Raises:
            InvalidArgumentError: Naming the first such field of each column, its value
                and what training saw.
        """
        parts = [f.refusal() for f in unseen] + [f.refusal() for f in outside]
        if not parts:
            return
        settings = []
        if unseen:
            settings.append("unseen_categories='warn' (setting serving_unseen_categories)")
        if outside:
            settings.append("out_of_range='warn' (setting serving_out_of_range)")
        raise InvalidArgumentError(
            "records off the training data: " + "; ".join(parts),
            hint="send values seen in training (see /metadata), or serve with "
            + " and ".join(settings),
        )
