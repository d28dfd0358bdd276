"""Run a model server: in the foreground (``serve``) or in a background thread.

``serve`` runs one or several worker processes; ``BackgroundServer`` a thread, for demos
and tests.

With ``workers > 1`` the calling process becomes a supervisor: it binds the port once and
starts that many worker processes (uvicorn's multiprocess supervisor), each opening the
workspace, loading the models and running its own log writer; they share the port and the
prediction log. A worker that dies is replaced. SIGTERM (or Ctrl-C) stops the supervisor's
workers gracefully: each stops accepting, finishes its open requests — every answered row
already committed — flushes the shadow scores, and exits; then the supervisor exits 0.

With ``monitor=True`` the server also runs monitoring rounds for every served version in a
background thread (:class:`~closedloop.serving._monitor.ServingMonitor`) of exactly one
process: the server process with one worker, the supervisor with several (the workers
never monitor). It starts once the server is set up and stops (after its round in
progress) when the server stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn

from closedloop.config import Settings
from closedloop.errors import ConfigurationError, InvalidArgumentError
from closedloop.serving._app import ServingApp, create_app
from closedloop.serving._malloc import tune_malloc
from closedloop.serving._metrics import MULTIPROC_ENV
from closedloop.serving._monitor import ServingMonitor
from closedloop.serving._threads import limit_native_threads
from closedloop.serving._transport import CoalescingHttpToolsProtocol
from closedloop.workspace import Workspace

__all__ = ["BackgroundServer", "serve"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Seconds a stopping server waits for open requests before closing them.
GRACEFUL_SECONDS = 30


class _Server(uvicorn.Server):
    """A uvicorn server that reports its URL (with the bound port) once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self.on_ready = on_ready
        self.url: str | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Turn SIGINT/SIGTERM into a graceful stop, then exit normally (status 0).

        uvicorn re-raises the signal after its graceful shutdown, so the process would die
        of it (status -15); a server that drained and flushed everything stopped cleanly.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        port = self.config.port
        for server in self.servers:
            for sock in server.sockets:
                port = int(sock.getsockname()[1])
                break
        self.url = _url(self.config.host, port)
        if self.on_ready is not None:
            self.on_ready(self.url)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _config(app: Any, host: str, port: int, log_level: str, **extra: Any) -> uvicorn.Config:
    # No websockets: the app has none. httptools and uvloop when installed (the fast path).
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        access_log=False,
        http=CoalescingHttpToolsProtocol,
        **extra,
    )


@dataclass(frozen=True)
class WorkerApp:
    """A picklable factory of a worker's application (uvicorn calls it in each worker).

    Attributes:
        settings: The workspace settings the supervisor was started with.
        refs: Model references to serve.
        endpoints: Registry endpoints to serve.
        options: The other :func:`create_app` options.
    """

    settings: dict[str, Any]
    refs: tuple[str, ...]
    endpoints: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> ServingApp:
        """Open the workspace and build the app (in the worker process)."""
        tune_malloc()
        ws = Workspace.open(settings=Settings(**self.settings))
        app = create_app(ws, list(self.refs), endpoints=list(self.endpoints), **self.options)
        app.owns_workspace = True
        limit_native_threads()  # the models are loaded: their pools exist (see _threads)
        return app


def serve(
    ws: Workspace,
    model_ref: str | Sequence[str] | None = None,
    *,
    endpoints: Sequence[str] = (),
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
    monitor: bool = False,
    monitor_interval: float | None = None,
    **options: Any,
) -> None:
    """Serve model references and registry endpoints over HTTP until SIGTERM or Ctrl-C.

    Args:
        ws: An open workspace.
        model_ref: One or more of ``name@alias``, ``name@latest``, ``name/<version>``.
        endpoints: Registry endpoints to serve.
        host: Interface to bind (``0.0.0.0`` for every interface).
        port: TCP port; 0 picks a free one.
        workers: Worker processes sharing the port and the log (``None``: the
            ``serving_workers`` setting).
        log_level: uvicorn's log level (``critical`` … ``trace``); also the level of the
            monitor's round lines.
        on_ready: Called with the base URL once the server listens.
        monitor: Run monitoring rounds for every served version in the background (one
            process: this one; with several workers, the supervisor).
        monitor_interval: Seconds between monitoring rounds (``None``: the ``interval``
            of the ``monitoring:`` settings).
        **options: :func:`~closedloop.serving.create_app` options (``log_predictions``,
            ``max_body_bytes``, ``max_string_length``, ``out_of_range``,
            ``unseen_categories``, ``use_onnx``, ``reload_interval``, ``max_records``).

    Raises:
        NotFoundError: No such model version or endpoint.
        InvalidArgumentError: An option is out of its range.
        ConfigurationError: ``monitor`` with invalid monitoring settings.
    """
    count = ws.settings.serving_workers if workers is None else workers
    if count < 1:
        raise InvalidArgumentError(f"workers must be at least 1, got {count}")
    refs = [model_ref] if isinstance(model_ref, str) else list(model_ref or [])
    tune_malloc()  # this process is a server from here on (see _malloc)
    if count == 1:
        app = create_app(ws, refs, endpoints=endpoints, **options)
        limit_native_threads()  # the models are loaded: their pools exist (see _threads)
        with _monitoring(ws, refs, endpoints, monitor, monitor_interval, log_level):
            _Server(_config(app, host, port, log_level), on_ready).run()
        return
    # Check everything loads before starting workers: a bad reference fails here, once.
    create_app(ws, refs, endpoints=endpoints, **{**options, "reload_interval": 0})
    with _monitoring(ws, refs, endpoints, monitor, monitor_interval, log_level):
        _supervise(ws, refs, endpoints, host, port, count, log_level, on_ready, options)


@contextlib.contextmanager
def _monitoring(
    ws: Workspace,
    refs: Sequence[str],
    endpoints: Sequence[str],
    enabled: bool,
    interval: float | None,
    log_level: str,
) -> Iterator[ServingMonitor | None]:
    """Run a :class:`ServingMonitor` while the body serves (nothing when not ``enabled``)."""
    if not enabled:
        yield None
        return
    monitor = ServingMonitor.for_served(ws, refs, endpoints, interval=interval)
    _show_monitor_log(log_level)
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop()


def _show_monitor_log(log_level: str) -> None:
    """Print the monitor's lines like uvicorn's, unless the application configured logging."""
    logger = logging.getLogger("closedloop.serving.monitor")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logger.addHandler(handler)
    level = logging.getLevelName(log_level.upper())
    logger.setLevel(level if isinstance(level, int) else logging.INFO)


def _supervise(
    ws: Workspace,
    refs: Sequence[str],
    endpoints: Sequence[str],
    host: str,
    port: int,
    workers: int,
    log_level: str,
    on_ready: Callable[[str], None] | None,
    options: dict[str, Any],
) -> None:
    from uvicorn.supervisors import Multiprocess

    factory = WorkerApp(
        ws.settings.model_dump(mode="json"), tuple(refs), tuple(endpoints), dict(options)
    )
    metrics_dir = tempfile.mkdtemp(prefix="closedloop-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = metrics_dir  # the workers inherit it
    try:
        # A worker loads its models before it answers the supervisor's health pings: give
        # it time (a worker that misses them is killed and replaced).
        config = _config(
            factory,
            host,
            port,
            log_level,
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=60,
        )
        sock = config.bind_socket()
        if on_ready is not None:
            on_ready(_url(host, int(sock.getsockname()[1])))
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(metrics_dir, ignore_errors=True)


class BackgroundServer:
    """Serve models from a thread of this process, for demos and tests over real HTTP.

    Example::

        with BackgroundServer(ws, "churn@champion") as server:
            httpx.post(f"{server.url}/predict", json={"records": [...]})

    Args:
        source: A workspace to serve ``model_ref`` from, or a ready application (from
            :func:`create_app`, perhaps with other options).
        model_ref: Model reference(s); required with a workspace (unless ``endpoints``),
            refused with an application.
        endpoints: Registry endpoints to serve (with a workspace).
        host: Interface to bind.
        port: TCP port; ``None`` or 0 lets the system pick a free one.
        timeout: Seconds to wait for ``/health`` to answer, and for the stop.
        log_level: uvicorn's log level.
        monitor: Run monitoring rounds for the served versions in a background thread
            while the server runs (see :func:`serve`).
        monitor_interval: Seconds between monitoring rounds (``None``: the settings').
        **options: :func:`create_app` options, with a workspace.

    Attributes:
        monitor: The background monitor (``None`` without ``monitor``).

    Raises:
        InvalidArgumentError: Nothing to serve with a workspace, or a reference with an app.
        NotFoundError: No such model version.
        ConfigurationError: ``monitor`` with invalid monitoring settings.
    """

    def __init__(
        self,
        source: Workspace | ServingApp,
        model_ref: str | Sequence[str] | None = None,
        *,
        endpoints: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int | None = None,
        timeout: float = 10.0,
        log_level: str = "warning",
        monitor: bool = False,
        monitor_interval: float | None = None,
        **options: Any,
    ) -> None:
        if isinstance(source, ServingApp):
            if model_ref is not None or endpoints or options:
                raise InvalidArgumentError(
                    "give model references and options with a workspace, not with an application"
                )
            app = source
        elif model_ref is None and not endpoints:
            raise InvalidArgumentError("serving from a workspace needs a model reference")
        else:
            app = create_app(source, model_ref, endpoints=endpoints, **options)
        self.app = app
        self.timeout = timeout
        self.monitor = (
            ServingMonitor(app.ws, app.router.sources, interval=monitor_interval)
            if monitor
            else None
        )
        self._server = _Server(_config(app, host, port or 0, log_level), None)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321`` (once started)."""
        if self._server.url is None:
            raise ConfigurationError("the background server is not running")
        return self._server.url

    def start(self) -> BackgroundServer:
        """Start the server and wait until ``/health`` answers.

        Raises:
            ConfigurationError: It did not come up in time (e.g. the port is taken).
        """
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run, name="closedloop-serving", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while self._server.url is None:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigurationError(
                    f"the model server did not start on {self._server.config.host}:"
                    f"{self._server.config.port}",
                    hint="the port may be taken: choose another or leave it to the system",
                )
            time.sleep(0.01)
        self._wait_healthy(deadline)
        if self.monitor is not None:
            self.monitor.start()
        return self

    def _wait_healthy(self, deadline: float) -> None:
        import httpx  # a client for tests and notebooks; a server never needs it

        with httpx.Client(base_url=self.url, timeout=1.0) as client:
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise ConfigurationError(f"the model server at {self.url} is not healthy")
                time.sleep(0.02)

    def stop(self) -> None:
        """Ask the server to finish open requests and stop; wait for its thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.timeout)
            if self._thread.is_alive():  # open keep-alive connections: stop harder
                self._server.force_exit = True
                self._thread.join(self.timeout)
            self._thread = None
        if self.monitor is not None:
            self.monitor.stop(self.timeout)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
