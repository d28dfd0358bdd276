"""``ActiveRun``: the handle a training script logs through."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from closedloop.core import ArtifactRef, Metric, Run, RunInput, RunStatus, now_ms
from closedloop.errors import ClosedLoopError, InvalidArgumentError, RunStateError
from closedloop.tracking import _flusher
from closedloop.workspace import Actions, Workspace

__all__ = ["ActiveRun"]

#: A caller writes itself only when this many buffers' worth of points are pending.
_BACK_PRESSURE = 4


class ActiveRun:
    """A running run. Use it as a (sync or async) context manager, or call :meth:`end`.

    Params, tags and metrics are buffered and written in batches: when the buffer fills,
    every ``metric_flush_interval`` seconds from a background thread, when the run ends and
    at interpreter exit. With ``synchronous=True`` every call is durable before it returns.
    All methods are safe to call from several threads; the ``log_*`` methods never block on
    the database in buffered mode (unless the buffer is far behind), so they are also fine
    inside an asyncio event loop.

    Leaving the ``with`` block normally ends the run ``FINISHED``; an exception ends it
    ``FAILED`` (``KILLED`` for ``KeyboardInterrupt``) and propagates.
    """

    def __init__(
        self, workspace: Workspace, run: Run, *, synchronous: bool, owns_workspace: bool = False
    ) -> None:
        self._ws = workspace
        self._run = run
        self.synchronous = synchronous
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._metrics: list[Metric] = []
        self._params: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._known_params: dict[str, str] = dict(run.params)
        self._ended = False
        self._steps: dict[str, int] = {}
        self._buffer_size = workspace.settings.metric_buffer_size
        self._owns_workspace = owns_workspace
        if not synchronous:
            _flusher.register(self)

    # identity ----------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The run id."""
        return self._run.id

    @property
    def flush_interval(self) -> float:
        """Seconds between background flushes."""
        return self._ws.settings.metric_flush_interval

    @property
    def workspace(self) -> Workspace:
        """The workspace the run records into."""
        return self._ws

    def info(self) -> Run:
        """A fresh snapshot of the run from the store (flushes first while running)."""
        if not self._ended:
            self.flush()
        with self._ws.action(Actions.RUN_READ, f"run:{self.id}"):
            return self._ws.metadata.get_run(self.id)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} {self._run.name!r}>"

    # logging -----------------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record a hyper-parameter. A param, once set, cannot change value."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several hyper-parameters."""
        with self._lock:
            clean = self._accept_params(params)
            self._params.update(clean)
        self._after_log(len(clean))

    def _accept_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        clean = {_key("param", k): _text(v) for k, v in params.items()}
        with self._lock:
            self._check_open()
            for k, v in clean.items():
                old = self._known_params.get(k)
                if old is not None and old != v:
                    raise InvalidArgumentError(
                        f"param {k!r} of run {self.id} is already {old!r}; it cannot change "
                        f"to {v!r}",
                        hint="params are immutable: log the new value as a tag or a metric",
                    )
            self._known_params.update(clean)
        return clean

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (tags may change)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        clean = {_key("tag", k): _text(v) for k, v in tags.items()}
        with self._lock:
            self._check_open()
            self._tags.update(clean)
        self._after_log(len(clean))

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Append one point to a metric series.

        Args:
            key: Metric name.
            value: A finite or infinite float (NaN is allowed and kept).
            step: Position in the series; by default one past the last step of ``key``.
        """
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Append one point to each of several series, all at the same step and time."""
        ts = now_ms()
        points = []
        with self._lock:
            self._check_open()
            for k, v in metrics.items():
                _key("metric", k)
                value = _number(k, v)
                s = self._steps.get(k, -1) + 1 if step is None else int(step)
                self._steps[k] = max(s, self._steps.get(k, -1))
                points.append(Metric(k, value, s, ts))
            self._metrics.extend(points)
        self._after_log(len(points))

    def log_batch(
        self,
        metrics: Sequence[Metric | tuple[str, float, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Write many points, params and tags now, in one transaction (bypasses the buffer).

        Args:
            metrics: ``Metric`` objects or ``(key, value, step)`` tuples; tuples are stamped
                with the current time.
            params: Params to set (immutable once set).
            tags: Tags to set.
        """
        ts = now_ms()
        points = [
            m
            if isinstance(m, Metric)
            else Metric(_key("metric", m[0]), _number(m[0], m[1]), int(m[2]), ts)
            for m in metrics
        ]
        clean_params = self._accept_params(params or {})
        clean_tags = {_key("tag", k): _text(v) for k, v in (tags or {}).items()}
        self.flush()  # keep order: what was buffered before goes first
        with self._ws.action(
            Actions.RUN_LOG, f"run:{self.id}", metrics=len(points), params=len(clean_params)
        ) as act:
            self._ws.metadata.log_batch(
                self.id,
                metrics=points,
                params=clean_params,
                tags=clean_tags,
                audit=act,
            )
        with self._lock:
            for m in points:
                self._steps[m.key] = max(m.step, self._steps.get(m.key, -1))

    def log_input(self, kind: str, ref: str, name: str = "") -> None:
        """Record something the run consumed, e.g. ``log_input("dataset", "adult@3f2a")``."""
        self._check_open()
        with self._ws.action(Actions.RUN_LOG_INPUT, f"run:{self.id}", kind=kind, ref=ref):
            self._ws.metadata.add_run_input(self.id, RunInput(kind, ref, name))

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> ArtifactRef:
        """Store a file (streamed, encrypted, deduplicated) and attach it under ``name``."""
        path = Path(path)
        if not path.is_file():
            raise InvalidArgumentError(
                f"cannot log artifact {str(path)!r}: no such file",
                hint="pass the path of an existing file",
            )
        target = name or path.name
        return self._attach(target, lambda: self._ws.artifacts.put_file(path))

    def log_bytes(self, data: bytes, name: str) -> ArtifactRef:
        """Store ``data`` as an artifact called ``name``."""
        return self._attach(name, lambda: self._ws.artifacts.put_bytes(data))

    def log_text(self, text: str, name: str) -> ArtifactRef:
        """Store UTF-8 text as an artifact."""
        return self.log_bytes(text.encode("utf-8"), name)

    def log_dict(self, obj: Mapping[str, Any] | list[Any], name: str) -> ArtifactRef:
        """Store a JSON document as an artifact."""
        return self.log_text(json.dumps(obj, indent=2, sort_keys=True, default=str), name)

    def _attach(self, name: str, put: Any) -> ArtifactRef:
        self._check_open()
        with self._ws.action(Actions.ARTIFACT_PUT, f"run:{self.id}/{name}") as facts:
            blob = put()
            ref = self._ws.metadata.add_artifact(self.id, name, blob.digest, blob.size)
            if not self._ws.artifacts.exists(blob.digest):  # a concurrent delete freed it
                blob = put()
            facts.update(digest=blob.digest, size=blob.size)
        return ref

    # buffering ---------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._ended:
            raise RunStateError(
                f"run {self.id} has ended; it accepts no more data",
                hint="start a new run to record more",
            )

    def _after_log(self, n: int) -> None:
        pending = len(self._metrics)
        if self.synchronous or pending >= _BACK_PRESSURE * self._buffer_size:
            self.flush()  # durable now, or the background thread has fallen far behind
        elif pending >= self._buffer_size:
            _flusher.wake()  # a full buffer is written by the flusher thread, not the caller

    def flush(self) -> None:
        """Write everything buffered so far (one transaction)."""
        with self._flush_lock:
            with self._lock:
                metrics, params, tags = self._metrics, self._params, self._tags
                if not (metrics or params or tags):
                    return
                self._metrics, self._params, self._tags = [], {}, {}
            try:
                with self._ws.action(
                    Actions.RUN_LOG, f"run:{self.id}", metrics=len(metrics), params=len(params)
                ) as act:
                    self._ws.metadata.log_batch(
                        self.id, metrics=metrics, params=params, tags=tags, audit=act
                    )
            except ClosedLoopError:
                with self._lock:  # keep the data so a later flush can retry it
                    self._metrics[:0] = metrics
                    self._params = {**params, **self._params}
                    self._tags = {**tags, **self._tags}
                raise

    # ending --------------------------------------------------------------------------------------
    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Write what is buffered and end the run, in one transaction.

        Ending twice is a no-op; :meth:`info` shows the result. If the buffered data cannot
        be written, the run ends ``FAILED`` and the error propagates.
        """
        status = RunStatus(status)
        if not status.is_terminal:
            raise InvalidArgumentError("a run ends FINISHED, FAILED or KILLED, not RUNNING")
        with self._flush_lock:
            with self._lock:
                if self._ended:
                    return
                self._ended = True
                metrics, params, tags = self._metrics, self._params, self._tags
                self._metrics, self._params, self._tags = [], {}, {}
            _flusher.unregister(self)
            try:
                self._write_end(status, metrics, params, tags)
            finally:
                if self._owns_workspace:
                    self._ws.close()

    def _write_end(
        self,
        status: RunStatus,
        metrics: list[Metric],
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        resource = f"run:{self.id}"
        try:
            with self._ws.action(
                Actions.RUN_END,
                resource,
                status=status.value,
                metrics=len(metrics),
                params=len(params),
            ) as act:
                self._ws.metadata.log_batch(
                    self.id,
                    metrics=metrics,
                    params=params,
                    tags=tags,
                    status=status,
                    end_time=now_ms(),
                    audit=act,
                )
        except ClosedLoopError:
            # The last data could not be written (e.g. another process changed a param):
            # the run still ends, FAILED, and the caller sees why.
            with self._ws.action(Actions.RUN_END, resource, status=RunStatus.FAILED.value) as act:
                self._ws.metadata.set_run_status(self.id, RunStatus.FAILED, now_ms(), audit=act)
            raise

    def _finish_at_exit(self) -> None:
        if not self._ended:
            failed = getattr(sys, "last_type", None) is not None
            self.end(RunStatus.FAILED if failed else RunStatus.FINISHED)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end(RunStatus.FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt | asyncio.CancelledError):
            self.end(RunStatus.KILLED)
        else:
            self.end(RunStatus.FAILED)

    async def __aenter__(self) -> ActiveRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.__exit__, exc_type, exc, tb)


def _key(what: str, key: object) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidArgumentError(f"{what} key must be a non-empty string, got {key!r}")
    if len(key) > 255:
        raise InvalidArgumentError(f"{what} key {key[:40]!r}… is longer than 255 characters")
    return key


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _number(key: str, value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"metric {key!r} must be a number, got {value!r}",
            hint="log strings as tags or params",
        ) from None
    return f
