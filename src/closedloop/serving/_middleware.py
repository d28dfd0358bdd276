"""The outermost layer of every request: its id, its clock, its body limit, its last resort.

:class:`RequestContext` is an ASGI middleware. For each HTTP request it

- starts the request's clock before the body is read (the latency covers validation);
- fixes the request id (the client's ``X-Request-ID`` when well-formed, else a new one) and
  puts it on every response, error responses included;
- bounds the body: a ``Content-Length`` over the limit is answered 413 before a byte of the
  body is read, and a body sent without one (chunked) is counted as it streams in and
  refused with 413 as soon as it passes the limit, so no more than the limit is ever held;
- turns any exception that escapes the application into a JSON 500 carrying the request id.
  Starlette's own last-resort handler (``ServerErrorMiddleware``) sits outside user
  middleware, so the response it makes could not carry the id.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from closedloop.serving.errors import PAYLOAD_TOO_LARGE, error_body, internal_error_body

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "REQUEST_ID_RE",
    "ClientGoneError",
    "declared_length",
    "read_body",
    "too_large",
    "REQUEST_ID_HEADER",
    "REQUEST_ID_PATTERN",
    "STATE_ID",
    "STATE_STARTED",
    "RequestContext",
]

_log = logging.getLogger("closedloop.serving")

#: Header carrying the client's request id; echoed on every response.
REQUEST_ID_HEADER = "X-Request-ID"
#: The prediction log keeps request ids in a 64-character column.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"
#: Default bound on the bytes of one request body (16 MiB).
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Keys of the request state (``request.state``) set here.
STATE_ID = "closedloop_request_id"
STATE_STARTED = "closedloop_started"

#: The request ids accepted from clients.
REQUEST_ID_RE = re.compile(REQUEST_ID_PATTERN)


class ClientGoneError(Exception):
    """The client disconnected before its body was complete: there is no one to answer."""


def too_large(limit: int) -> tuple[str, str]:
    """The message and hint of the 413 answer to a body over ``limit`` bytes."""
    return (
        f"the request body is larger than the limit of {limit:,} bytes",
        "send fewer records per request, or raise the limit: the serving_max_body_bytes "
        "setting (closedloop.yaml or CLOSEDLOOP_SERVING_MAX_BODY_BYTES), "
        "'closedloop serve --max-body-bytes' or create_app(max_body_bytes=...)",
    )


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(error_body(PAYLOAD_TOO_LARGE, *too_large(limit)), status_code=413)


def declared_length(headers: Headers) -> int | None:
    """The ``Content-Length`` a request declares, if it is a number."""
    declared = headers.get("content-length")
    return int(declared) if declared is not None and declared.isdigit() else None


async def read_body(receive: Receive, limit: int, declared: int | None) -> bytes | None:
    """A request's whole body, or ``None`` once it is known to pass ``limit`` bytes.

    Raises:
        ClientGoneError: The client left before the body was complete.
    """
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class RequestContext:
    """ASGI middleware: request id, clock, body limit and the JSON 500 of last resort.

    Args:
        app: The application it wraps.
        max_body_bytes: Most bytes a request body may have.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection event (HTTP requests get the treatment, others pass)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER)
        request_id = sent if sent and REQUEST_ID_RE.fullmatch(sent) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state[STATE_ID], state[STATE_STARTED] = request_id, started
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            try:
                body = await read_body(
                    receive, self.max_body_bytes, declared_length(Headers(scope=scope))
                )
            except ClientGoneError:
                return
            if body is None:
                await _too_large(self.max_body_bytes)(scope, receive, send_with_id)
                return
            await self.app(scope, _replay(body, receive), send_with_id)
        except Exception:
            if response_started:  # too late for another response: let the server close it
                raise
            _log.exception(
                "%s %s failed (request %s)", scope.get("method"), scope.get("path"), request_id
            )
            response = JSONResponse(internal_error_body(), status_code=500)
            await response(scope, receive, send_with_id)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` in one message, then defers to ``receive``."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
