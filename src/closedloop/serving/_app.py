"""``create_app``: one ASGI application serving models and endpoints over three protocols.

Scoring takes a fast path that is plain ASGI — no routing framework, no pydantic, no
per-column pandas Series: the request bytes are decoded and validated straight into a
typed columnar batch (:mod:`closedloop.serving._protocols`), scored once, logged by the
group-committing writer, and answered with bytes encoded in one step:

- ``POST /v1/models/{name}/predict`` and ``POST /predict`` (the default endpoint): native
  records or columns;
- ``POST /invocations``: MLflow's scoring protocol (the default endpoint);
- ``POST /v2/models/{name}[/versions/{version}]/infer``: Open Inference Protocol v2.

Every other route (health, readiness, metadata, metrics, feedback, the protocols' metadata
routes) goes to a FastAPI application (:mod:`closedloop.serving._control`). Each answer
carries ``X-Request-ID``; each error has its protocol's shape (native
``{"error": {"code", "message", "hint"}}``, MLflow ``{"error_code", "message"}``, v2
``{"error": "<message>"}``); an unexpected failure is a JSON 500 naming nothing internal.

A scoring request refused for its input (400 malformed, 413 too large, 415 wrong content
type, 422 invalid or off the training data under a ``refuse`` policy; also a bad
``X-Request-ID``) to an endpoint this server serves is recorded as one
:class:`~closedloop.core.Refusal` — endpoint, protocol, status, the error's code in lower
case, and the version the request would have reached (the one its URL names, else the
route its id picks; ``None`` when the URL names a version the endpoint does not serve).
The record goes through the log writer's queue (never a write on the request path) and is
kept whatever ``log_predictions`` says: it holds no input, only counts monitoring needs
for ``quality.refused_rate``. A request to an unknown endpoint (404) is not a refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from closedloop.core import Refusal, now_ms
from closedloop.errors import ClosedLoopError, InvalidArgumentError, NotFoundError
from closedloop.serving._answers import (
    BadRequestIdError,
    bad_request_id,
    error_answer,
    headers,
    respond,
    scoring_route,
    too_large_answer,
)
from closedloop.serving._batch import Batch
from closedloop.serving._checks import check_policy
from closedloop.serving._logwriter import LogWriter
from closedloop.serving._metrics import ServerMetrics
from closedloop.serving._middleware import (
    REQUEST_ID_HEADER,
    ClientGoneError,
    read_body,
)
from closedloop.serving._predictor import Outcome, Predictor
from closedloop.serving._protocols import (
    Limits,
    decode_mlflow,
    decode_native,
    decode_v2,
    encode_mlflow,
    encode_native,
    encode_v2,
)
from closedloop.serving._routing import EndpointSource, Router, RouteTable
from closedloop.serving._scorer import load_scorer
from closedloop.serving.errors import (
    PAYLOAD_TOO_LARGE,
    internal_error_body,
)
from closedloop.workspace import Workspace

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["MAX_RECORDS", "REFUSED_STATUSES", "REQUEST_ID_HEADER", "ServingApp", "create_app"]

_log = logging.getLogger("closedloop.serving")

#: Default bound on the rows of one request.
MAX_RECORDS = 10_000
#: Bodies larger than this are decoded in a worker thread, off the event loop.
_THREAD_DECODE_BYTES = 256 * 1024
_JSON = msgspec.json.Encoder()
#: Statuses of requests refused for their input (counted as refusals for monitoring).
REFUSED_STATUSES = frozenset({400, 413, 415, 422})
#: Seconds after start at which the control plane is built in the background.
CONTROL_PREBUILD_SECONDS = 1.0


class ServingApp:
    """The ASGI application :func:`create_app` returns (see the module docstring).

    Attributes:
        router: The served endpoints and their current route tables.
        writer: The prediction log writer.
        metrics: The server's Prometheus metrics.
        control: The FastAPI application of the control routes.
        state: Starlette-style state; ``state.model_version`` is the default version.
    """

    def __init__(
        self,
        ws: Workspace,
        router: Router,
        *,
        log_predictions: bool,
        limits: Limits,
        max_body_bytes: int,
        out_of_range: str,
        unseen_categories: str,
        reload_interval: float,
    ) -> None:
        self.ws = ws
        self.router = router
        self.limits = limits
        self.max_body_bytes = max_body_bytes
        self.reload_interval = reload_interval
        self.metrics = ServerMetrics()
        self.writer = LogWriter(
            ws, on_commit=self.metrics.committed, on_refusals=self.metrics.refusals
        )
        self.predictor = Predictor(
            ws,
            self.writer,
            self.metrics,
            log_predictions=log_predictions,
            out_of_range=check_policy("out_of_range", out_of_range),
            unseen_categories=check_policy("unseen_categories", unseen_categories),
        )
        #: Starlette-style state, shared with the control plane once it is built.
        self.state = State()
        self.state.model_version = router.default.routes[0].version
        self._control: FastAPI | None = None
        self._control_lock = threading.Lock()
        self._prebuild: asyncio.TimerHandle | None = None
        self._reloader: asyncio.Task[None] | None = None
        self._stopping = False
        #: Close the workspace at shutdown (a worker process opened it for the app).
        self.owns_workspace = False

    @property
    def control(self) -> FastAPI:
        """The FastAPI application of the control routes, built on first use.

        Building it imports FastAPI (a fifth of a server's start), so a server takes its
        first prediction before that; :meth:`startup` also builds it off the event loop
        :data:`CONTROL_PREBUILD_SECONDS` after start, so a probe rarely waits for it.
        """
        control = self._control
        if control is None:
            with self._control_lock:
                if self._control is None:
                    self._control = self._build_control()
                control = self._control
        return control

    def _build_control(self) -> FastAPI:
        from closedloop.serving._control import control_app
        from closedloop.serving._openapi import openapi_builder

        default = self.router.default
        app = control_app(
            self.ws,
            self.router,
            self.metrics,
            ready=self.ready,
            queue_depth=lambda: self.writer.depth,
            max_body_bytes=self.max_body_bytes,
            openapi=openapi_builder(
                default.signature, self.limits.max_string_length, self.limits.max_records
            ),
        )
        app.state = self.state
        return app

    def _prebuild_control(self) -> None:
        def build() -> None:
            try:
                self.control  # noqa: B018 - the property builds it
            except Exception:  # the first control request builds it (and reports) again
                _log.exception("building the control plane failed")

        asyncio.get_running_loop().run_in_executor(None, build)

    # lifecycle -------------------------------------------------------------------------------
    def ready(self) -> bool:
        """Whether the server takes traffic: models loaded, log writer up, not stopping."""
        return not self._stopping and bool(self.router.tables)

    async def startup(self) -> None:
        """Start the log writer and the registry follower."""
        self.writer.start()
        self.predictor.open()
        self._stopping = False
        if self._control is None:
            self._prebuild = asyncio.get_running_loop().call_later(
                CONTROL_PREBUILD_SECONDS, self._prebuild_control
            )
        if self.reload_interval > 0:
            self._reloader = asyncio.get_running_loop().create_task(self._follow_registry())

    async def shutdown(self) -> None:
        """Stop following the registry, finish shadow jobs, flush the log."""
        self._stopping = True
        if self._prebuild is not None:
            self._prebuild.cancel()
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.predictor.close)
        await loop.run_in_executor(None, self.writer.close)
        if self.owns_workspace:
            self.ws.close()

    async def _follow_registry(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.reload_interval)
            try:
                swapped = await loop.run_in_executor(None, self.router.refresh)
            except Exception:  # keep serving on the tables we have
                _log.exception("following the registry failed")
                continue
            if swapped:
                self.metrics.swaps.inc(swapped)
                self.state.model_version = self.router.default.routes[0].version

    # ASGI ------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI event."""
        kind = scope["type"]
        if kind == "http":
            route = scoring_route(scope["method"], scope["path"])
            if route is not None:
                await self._score(scope, receive, send, *route)
                return
            await self.control(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.control(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _score(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        protocol: str,
        name: str | None,
        version: str | None,
    ) -> None:
        started = time.perf_counter()
        try:
            request_id, content_type, declared = headers(scope)
        except BadRequestIdError as e:
            request_id = uuid.uuid4().hex
            refused = bad_request_id(str(e))
            status, payload, extra = error_answer(protocol, refused)
            self._refused(name, version, request_id, protocol, status, refused.code)
            await respond(send, status, payload, request_id, extra)
            return
        self.metrics.in_flight.inc()
        endpoint, version_id = name or self.router.sources[0].name, "-"
        try:
            try:
                body = await read_body(receive, self.max_body_bytes, declared)
            except ClientGoneError:
                return
            if body is None:
                status, payload, extra = too_large_answer(protocol, self.max_body_bytes)
                self._refused(name, version, request_id, protocol, status, PAYLOAD_TOO_LARGE)
            else:
                try:
                    table = self.router.get(name) if name is not None else self.router.default
                    endpoint = table.endpoint
                    status, payload, version_id = (
                        200,
                        *await self._answer(
                            protocol, table, version, body, content_type, request_id, started, scope
                        ),
                    )
                    extra = []
                except ClosedLoopError as e:
                    status, payload, extra = error_answer(protocol, e)
                    if status in REFUSED_STATUSES and not isinstance(e, NotFoundError):
                        self._refused(name, version, request_id, protocol, status, e.code)
                except Exception:
                    _log.exception("%s %s failed (request %s)", protocol, scope["path"], request_id)
                    status, payload, extra = 500, _JSON.encode(internal_error_body()), []
            await respond(send, status, payload, request_id, extra)
        finally:
            self.metrics.in_flight.dec()
        self.metrics.observe(endpoint, version_id, protocol, status, time.perf_counter() - started)

    def _refused(
        self,
        name: str | None,
        version: str | None,
        request_id: str,
        protocol: str,
        status: int,
        code: str,
    ) -> None:
        """Queue the record of a request refused for its input (see the module docstring).

        Never raises: counting refusals must not change the answer.
        """
        try:
            table = self.router.tables.get(name) if name is not None else self.router.default
            if table is None:  # not an endpoint of this server: a 404's business, not ours
                return
            version_id: str | None = None
            if version is None:
                version_id = table.pick(request_id).version.id
            else:
                for target in (*table.routes, *table.shadows):
                    if str(target.version.version) == version:
                        version_id = target.version.id
                        break
            self.writer.refuse(
                Refusal(now_ms(), table.endpoint, version_id, protocol, status, code.lower())
            )
        except Exception:
            _log.exception("could not record a refused request (request %s)", request_id)

    async def _answer(
        self,
        protocol: str,
        table: RouteTable,
        version: str | None,
        body: bytes,
        content_type: str | None,
        request_id: str,
        started: float,
        scope: Scope,
    ) -> tuple[bytes, str]:
        if len(body) > _THREAD_DECODE_BYTES:
            batch, extra = await self.predictor.in_thread(
                self._decode, protocol, table, body, content_type
            )
        else:
            batch, extra = self._decode(protocol, table, body, content_type)
        client = scope.get("client")
        outcome = await self.predictor.predict(
            table,
            batch,
            request_id=request_id,
            started=started,
            source=client[0] if client else None,
            protocol=protocol,
            version=version,
        )
        return self._encode(protocol, table, outcome, request_id, extra), outcome.target.version.id

    def _decode(
        self, protocol: str, table: RouteTable, body: bytes, content_type: str | None
    ) -> tuple[Batch, dict[str, Any]]:
        signature = table.signature
        if protocol == "native":
            request = decode_native(body, signature, self.limits)
            return request.batch, {"explain": request.explain}
        if protocol == "mlflow":
            return decode_mlflow(body, content_type, signature, self.limits), {}
        v2 = decode_v2(body, signature, self.limits)
        return v2.batch, {"id": v2.id, "outputs": v2.outputs}

    def _encode(
        self,
        protocol: str,
        table: RouteTable,
        outcome: Outcome,
        request_id: str,
        extra: dict[str, Any],
    ) -> bytes:
        if protocol == "native":
            warnings = list(outcome.warnings)
            if extra.get("explain"):
                warnings.append(
                    f"explain: per-row explanations are not available for "
                    f"{outcome.target.version.id}"
                )
            return encode_native(
                outcome.scored,
                request_id=request_id,
                latency_ms=outcome.latency_ms,
                warnings=warnings,
            )
        if protocol == "mlflow":
            return encode_mlflow(outcome.scored)
        return encode_v2(
            outcome.scored,
            model_name=table.endpoint,
            model_version=str(outcome.target.version.version),
            request_id=extra.get("id") or request_id,
            outputs=extra.get("outputs"),
        )


# construction -------------------------------------------------------------------------------------
def _loader(ws: Workspace, use_onnx: bool) -> Any:
    return lambda version: load_scorer(ws, version, use_onnx)


def create_app(
    ws: Workspace,
    model_ref: str | Sequence[str] | None = None,
    *,
    endpoints: Sequence[str] = (),
    log_predictions: bool = True,
    max_records: int = MAX_RECORDS,
    max_body_bytes: int | None = None,
    max_string_length: int | None = None,
    out_of_range: str | None = None,
    unseen_categories: str | None = None,
    use_onnx: bool = True,
    reload_interval: float | None = None,
) -> ServingApp:
    """Build the application serving model references and registry endpoints from ``ws``.

    Every served version is loaded (and its bytes verified) here, through the gate. Each
    scoring request is one ``model.predict`` action: its rows are validated against the
    signature, scored, and committed to the prediction log with the action's audit event
    before the answer is sent; if the commit fails, the request fails (503 for a storage
    error): a prediction that is not logged is not served.

    Options left ``None`` take the workspace's settings (``ws.settings.serving_*``, from
    ``closedloop.yaml`` or ``CLOSEDLOOP_SERVING_*``).

    Args:
        ws: An open workspace; it must stay open while the app serves.
        model_ref: One or more of ``name@alias``, ``name@latest``, ``name/<version>``;
            each is served as the endpoint named after its model.
        endpoints: Names of registry endpoints to serve (canary routes and shadows).
        log_predictions: Write each served row to the prediction log.
        max_records: Most records one request may carry.
        max_body_bytes: Most bytes of a request body; a larger one gets 413.
        max_string_length: Most characters of one text value; a longer one gets 422.
        out_of_range: ``"warn"`` or ``"refuse"`` numbers outside the training range.
        unseen_categories: ``"warn"`` or ``"refuse"`` categories not seen in training.
        use_onnx: Score with a version's verified ONNX conversion when it has one.
        reload_interval: Seconds between looks at the registry for moved aliases and
            changed endpoints (0: never; ``None``: the ``serving_reload_seconds`` setting).

    Returns:
        The ASGI application; ``app.state.model_version`` is the default endpoint's first
        version.

    Raises:
        NotFoundError: No such model version or endpoint.
        InvalidArgumentError: Nothing to serve, an option out of its range, or registered
            classes that contradict the model's.
    """
    settings = ws.settings
    body_limit = settings.serving_max_body_bytes if max_body_bytes is None else max_body_bytes
    text_limit = (
        settings.serving_max_string_length if max_string_length is None else max_string_length
    )
    if body_limit < 1:
        raise InvalidArgumentError(f"max_body_bytes must be at least 1, got {body_limit}")
    limits = Limits(max_records=max_records, max_string_length=text_limit)
    refs = [model_ref] if isinstance(model_ref, str) else list(model_ref or [])
    sources = [EndpointSource.for_model(ref) for ref in refs]
    sources += [EndpointSource(name=name, from_registry=True) for name in endpoints]
    if not sources:
        raise InvalidArgumentError(
            "nothing to serve", hint="give a model reference (name@alias) or an endpoint name"
        )
    for source in sources:
        if source.from_registry:
            ws.metadata.endpoints.get(source.name)  # NotFoundError names it
    router = Router(ws, sources, _loader(ws, use_onnx))
    interval = settings.serving_reload_seconds if reload_interval is None else reload_interval
    return ServingApp(
        ws,
        router,
        log_predictions=log_predictions,
        limits=limits,
        max_body_bytes=body_limit,
        out_of_range=settings.serving_out_of_range if out_of_range is None else out_of_range,
        unseen_categories=(
            settings.serving_unseen_categories if unseen_categories is None else unseen_categories
        ),
        reload_interval=interval,
    )
