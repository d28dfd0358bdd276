"""Run a model server: in the foreground (``serve``) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import httpx
import uvicorn
from fastapi import FastAPI

from closedloop.errors import ConfigurationError, InvalidArgumentError
from closedloop.serving._app import create_app
from closedloop.serving._checks import Policy
from closedloop.workspace import Workspace

__all__ = ["BackgroundServer", "serve"]


class _Server(uvicorn.Server):
    """A uvicorn server that reports its URL (with the bound port) once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self.on_ready = on_ready
        self.url: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        port = self.config.port
        for server in self.servers:
            for sock in server.sockets:
                port = int(sock.getsockname()[1])
                break
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        if self.on_ready is not None:
            self.on_ready(self.url)


def _config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    # No websockets: the app has none, and loading a websockets library is wasted work.
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, ws="none")


def serve(
    ws: Workspace,
    model_ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    log_predictions: bool = True,
    on_ready: Callable[[str], None] | None = None,
    max_body_bytes: int | None = None,
    max_string_length: int | None = None,
    out_of_range: Policy | None = None,
    unseen_categories: Policy | None = None,
) -> None:
    """Serve ``model_ref`` over HTTP until interrupted (Ctrl-C or SIGTERM).

    Args:
        ws: An open workspace.
        model_ref: ``name@alias``, ``name@latest`` or ``name/<version>``.
        host: Interface to bind (``0.0.0.0`` for every interface).
        port: TCP port; 0 picks a free one.
        log_level: uvicorn's log level (``critical`` … ``trace``).
        log_predictions: Write each served row to the prediction log.
        on_ready: Called with the base URL once the server listens.
        max_body_bytes: Most bytes of a request body (``None``: the workspace setting).
        max_string_length: Most characters of a text value (``None``: the setting).
        out_of_range: ``"warn"`` or ``"refuse"`` numbers outside the training range
            (``None``: the setting).
        unseen_categories: ``"warn"`` or ``"refuse"`` categories not seen in training
            (``None``: the setting).

    Raises:
        NotFoundError: No such model version.
        InvalidArgumentError: An option is out of its range.
    """
    app = create_app(
        ws,
        model_ref,
        log_predictions=log_predictions,
        max_body_bytes=max_body_bytes,
        max_string_length=max_string_length,
        out_of_range=out_of_range,
        unseen_categories=unseen_categories,
    )
    _Server(_config(app, host, port, log_level), on_ready).run()


class BackgroundServer:
    """Serve a model from a thread of this process, for demos and tests over real HTTP.

    Example::

        with BackgroundServer(ws, "churn@champion") as server:
            httpx.post(f"{server.url}/predict", json={"records": [...]})

    Args:
        source: A workspace to serve ``model_ref`` from, or a ready application (from
            :func:`create_app`, perhaps with other options).
        model_ref: ``name@alias``, ``name@latest`` or ``name/<version>``; required with a
            workspace, refused with an application.
        host: Interface to bind.
        port: TCP port; ``None`` or 0 lets the system pick a free one.
        timeout: Seconds to wait for ``/health`` to answer, and for the stop.
        log_level: uvicorn's log level.
        log_predictions: With a workspace: write each served row to the prediction log.

    Raises:
        InvalidArgumentError: ``model_ref`` is missing with a workspace, or given with an app.
        NotFoundError: No such model version.
    """

    def __init__(
        self,
        source: Workspace | FastAPI,
        model_ref: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        timeout: float = 10.0,
        log_level: str = "warning",
        log_predictions: bool = True,
    ) -> None:
        if isinstance(source, FastAPI):
            if model_ref is not None:
                raise InvalidArgumentError(
                    "give a model reference with a workspace, not with an application"
                )
            app = source
        elif model_ref is None:
            raise InvalidArgumentError("serving from a workspace needs a model reference")
        else:
            app = create_app(source, model_ref, log_predictions=log_predictions)
        self.app = app
        self.timeout = timeout
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
        return self

    def _wait_healthy(self, deadline: float) -> None:
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

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
