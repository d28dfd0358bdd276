"""The scoring fast path's plain-ASGI pieces: which route, which headers, which answer.

:func:`scoring_route` tells a scoring request from the control plane's; :func:`headers`
reads the three headers the fast path needs without building a ``Headers``;
:func:`respond` sends a JSON answer in two ASGI messages; :func:`error_answer` and
:func:`too_large_answer` give each protocol's error shape (native
``{"error": {"code", "message", "hint"}}``, MLflow ``{"error_code", "message"}``, v2
``{"error": "<message>"}``).
"""

from __future__ import annotations

import logging
import uuid

import msgspec
from starlette.types import Scope, Send

from closedloop.errors import ClosedLoopError, InvalidArgumentError, NotFoundError
from closedloop.serving._logwriter import LogBehindError
from closedloop.serving._middleware import (
    REQUEST_ID_HEADER,
    REQUEST_ID_PATTERN,
    REQUEST_ID_RE,
    too_large,
)
from closedloop.serving._protocols import ProtocolError, mlflow_error_body, v2_error_body
from closedloop.serving.errors import PAYLOAD_TOO_LARGE, error_body, status_for

__all__ = [
    "BadRequestIdError",
    "bad_request_id",
    "error_answer",
    "headers",
    "respond",
    "scoring_route",
    "too_large_answer",
]

_log = logging.getLogger("closedloop.serving")
_JSON = msgspec.json.Encoder()

Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


def scoring_route(method: str, path: str) -> tuple[str, str | None, str | None] | None:
    """``(protocol, endpoint name, version)`` of a scoring request, else ``None``."""
    if method != "POST":
        return None
    if path == "/predict":
        return "native", None, None
    if path == "/invocations":
        return "mlflow", None, None
    parts = path.split("/")
    # ['', 'v1', 'models', name, 'predict'] / ['', 'v2', 'models', name, ('versions', v,) 'infer']
    if len(parts) == 5 and parts[1] == "v1" and parts[2] == "models" and parts[4] == "predict":
        return ("native", parts[3], None) if parts[3] else None
    if len(parts) >= 5 and parts[1] == "v2" and parts[2] == "models" and parts[-1] == "infer":
        if len(parts) == 5 and parts[3]:
            return "v2", parts[3], None
        if len(parts) == 7 and parts[4] == "versions" and parts[3] and parts[5]:
            return "v2", parts[3], parts[5]
    return None


class BadRequestIdError(Exception):
    """The client's ``X-Request-ID`` is not a valid id."""


def headers(scope: Scope) -> tuple[str, str | None, int | None]:
    request_id: str | None = None
    content_type: str | None = None
    declared: int | None = None
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if not REQUEST_ID_RE.fullmatch(text):
                raise BadRequestIdError(text)
            request_id = text
        elif key == b"content-type":
            content_type = value.decode("latin-1")
        elif key == b"content-length" and value.isdigit():
            declared = int(value)  # as declared_length(), without building Headers
    return request_id or uuid.uuid4().hex, content_type, declared


async def respond(
    send: Send, status: int, payload: bytes, request_id: str, extra: list[tuple[bytes, bytes]]
) -> None:
    fields = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", request_id.encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": payload})


def bad_request_id(sent: str) -> ProtocolError:
    return ProtocolError(
        f"header {REQUEST_ID_HEADER}: {sent[:80]!r} is not a valid request id",
        hint="use 1 to 64 letters, digits or . _ : - (or send none to get one)",
        status=422,
        detail=[
            {
                "loc": ["header", REQUEST_ID_HEADER],
                "msg": "String should match pattern " + repr(REQUEST_ID_PATTERN),
                "type": "string_pattern_mismatch",
                "input": repr(sent[:60]),
            }
        ],
    )


def too_large_answer(protocol: str, limit: int) -> Answer:
    message, hint = too_large(limit)
    if protocol == "v2":
        return 413, _JSON.encode({"error": message}), []
    if protocol == "mlflow":
        return 413, _JSON.encode({"error_code": "BAD_REQUEST", "message": message}), []
    return 413, _JSON.encode(error_body(PAYLOAD_TOO_LARGE, message, hint)), []


def _status(error: ClosedLoopError) -> int:
    if isinstance(error, ProtocolError):
        return error.status
    return status_for(error)


def error_answer(protocol: str, error: ClosedLoopError) -> Answer:
    status = _status(error)
    extra: list[tuple[bytes, bytes]] = []
    if isinstance(error, LogBehindError):
        status, extra = 503, [(b"retry-after", b"1")]
    if status >= 500:
        _log.error("scoring failed: [%s] %s", error.code, error.message)
    if protocol == "v2":
        text = error.message if not error.hint else f"{error.message} ({error.hint})"
        return (400 if status == 422 else status), v2_error_body(text), extra
    if protocol == "mlflow":
        if isinstance(error, ProtocolError):
            return status, mlflow_error_body(error), extra
        code = (
            "RESOURCE_DOES_NOT_EXIST"
            if isinstance(error, NotFoundError)
            else ("BAD_REQUEST" if isinstance(error, InvalidArgumentError) else "INTERNAL_ERROR")
        )
        status = 400 if status == 422 else status
        return status, _JSON.encode({"error_code": code, "message": error.message}), extra
    body = error_body(error.code, error.message, error.hint)
    if isinstance(error, ProtocolError):
        body["detail"] = error.detail
        body["omitted_errors"] = error.omitted
        # The native protocol answers every refused body 422 (as its FastAPI version did);
        # 415 stays: the body was not even read as JSON.
        status = 422 if status == 400 else status
    return status, _JSON.encode(body), extra
