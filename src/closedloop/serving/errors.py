"""HTTP rendering of closedloop errors: one status table and the handlers that use it.

Every error leaves the server as ``{"error": {"code", "message", "hint"}}`` with the status
of its code in :data:`HTTP_STATUS`:

======================================================  ======  ==============================
code                                                    status  why
======================================================  ======  ==============================
``INVALID_ARGUMENT``, ``FILTER_SYNTAX``,                422     the request is well-formed but
``DATA_VALIDATION``                                             its content is refused, as for
                                                                FastAPI's own request
                                                                validation (one status for
                                                                every "your data is wrong")
``NOT_FOUND``, ``WORKSPACE_NOT_FOUND``                  404
``ALREADY_EXISTS``                                      409     e.g. a reused ``X-Request-ID``
``RUN_STATE``                                           409     conflicts with current state
``PERMISSION_DENIED``                                   403
``PAYLOAD_TOO_LARGE``                                   413     the body passes the
                                                                ``serving_max_body_bytes``
                                                                limit (sent by the serving
                                                                middleware, no exception)
``STORAGE``, ``SCHEMA_VERSION``                         503     the stores are unavailable or
                                                                need an upgrade; retry later
``ARTIFACT_INTEGRITY``, ``ARTIFACT_UNAUTHENTICATED``,  500     server-side faults a retry
``CONFIGURATION``, ``UNSUPPORTED_BACKEND``,                     does not fix
``CRYPTO``, ``KEY_NOT_FOUND``
anything else                                           500
======================================================  ======  ==============================

A code missing from the table takes the status of its nearest parent class that has one,
so a new subclass of ``NotFoundError`` is a 404 without touching this table.

Request validation failures (FastAPI's ``RequestValidationError``) gain the same ``error``
object with code ``INVALID_ARGUMENT`` and a ``detail`` list of at most
:data:`MAX_LISTED_ERRORS` entries, each with ``loc`` (naming the field), ``msg``, ``type``
and ``input``, a short truncated ``repr`` of the offending value; ``omitted_errors`` counts
the entries left out. Inputs are never echoed whole: a bad request of 10,000 records gets
an answer of a few kilobytes, and a NaN or infinity sent in the body cannot break the
rendering of its own error.
"""

from __future__ import annotations

import logging
import reprlib
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from closedloop.errors import ClosedLoopError, InvalidArgumentError

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "DEFAULT_STATUS",
    "HTTP_STATUS",
    "MAX_LISTED_ERRORS",
    "PAYLOAD_TOO_LARGE",
    "error_body",
    "install_error_handlers",
    "internal_error_body",
    "status_for",
]

_log = logging.getLogger(__name__)

#: Error code → HTTP status. Codes not listed take their nearest parent's status.
HTTP_STATUS: dict[str, int] = {
    "INVALID_ARGUMENT": 422,
    "FILTER_SYNTAX": 422,
    "DATA_VALIDATION": 422,
    "NOT_FITTED": 500,
    "NOT_FOUND": 404,
    "WORKSPACE_NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "RUN_STATE": 409,
    "PERMISSION_DENIED": 403,
    "PAYLOAD_TOO_LARGE": 413,
    "STORAGE": 503,
    "SCHEMA_VERSION": 503,
    "ARTIFACT_INTEGRITY": 500,
    "ARTIFACT_UNAUTHENTICATED": 500,
    "CONFIGURATION": 500,
    "UNSUPPORTED_BACKEND": 500,
    "CRYPTO": 500,
    "KEY_NOT_FOUND": 500,
}

#: Status of errors whose code (and every parent's) is not in :data:`HTTP_STATUS`.
DEFAULT_STATUS = 500
#: Code of the 413 answer to a body over the size limit.
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
#: Most validation errors one 422 answer lists; the rest are counted.
MAX_LISTED_ERRORS = 20

_MAX_LOC_PART = 64  # characters of one field name shown in a location
_MAX_MESSAGE = 200  # characters of one validation message
_MAX_INPUT = 80  # characters of the repr of an offending value
# Bounded on the way in: repr of a 50 MB string or of 10,000 records never gets built.
_REPR = reprlib.Repr()  # keyword arguments need Python 3.12
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 2, 4, 4, 4
_REPR.maxstring = _REPR.maxother = 60


def status_for(error: ClosedLoopError) -> int:
    """The HTTP status of ``error``: its code's, else its nearest parent's, else 500."""
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in HTTP_STATUS:
            return HTTP_STATUS[code]
    return DEFAULT_STATUS


def error_body(code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"error": {"code": code, "message": message, "hint": hint}}


async def _closedloop_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClosedLoopError)  # registered for ClosedLoopError only
    status = status_for(exc)
    if status >= 500:
        _log.error("%s %s failed: [%s] %s", request.method, request.url.path, exc.code, exc)
    return JSONResponse(error_body(exc.code, exc.message, exc.hint), status_code=status)


def internal_error_body() -> dict[str, Any]:
    """The body of a 500 for an unexpected error: generic, so nothing internal leaks."""
    return error_body("INTERNAL", "internal server error", "see the server log")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: Any) -> str:
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails still gets an answer
        text = f"<{type(value).__name__}>"
    return _clip(text, _MAX_INPUT)


def _entry(error: Any) -> dict[str, Any]:
    """One validation error as a small JSON-safe dict (never the whole input)."""
    if not isinstance(error, dict):
        return {"loc": [], "msg": _clip(str(error), _MAX_MESSAGE), "type": "value_error"}
    loc = [p if isinstance(p, int) else _clip(str(p), _MAX_LOC_PART) for p in error.get("loc", ())]
    entry: dict[str, Any] = {
        "loc": loc,
        "msg": _clip(str(error.get("msg", "invalid")), _MAX_MESSAGE),
        "type": str(error.get("type", "value_error")),
    }
    if "input" in error:
        entry["input"] = _short_repr(error["input"])
    return entry


def _describe(entries: list[dict[str, Any]], total: int, limit: int = 5) -> str:
    parts = []
    for e in entries[:limit]:
        loc = [str(p) for p in e["loc"] if p != "body"]
        parts.append(f"{'.'.join(loc) or 'body'}: {e['msg']}")
    more = f" (and {total - limit} more)" if total > limit else ""
    return "invalid request: " + "; ".join(parts) + more


def _hint(entries: list[dict[str, Any]]) -> str:
    hint = "see 'detail': each entry's 'loc' names the field; the schema is at /metadata"
    if any(e["type"] == "string_too_long" for e in entries):
        hint += (
            "; to accept longer text, raise the serving_max_string_length setting "
            "(or 'closedloop serve --max-string-length')"
        )
    return hint


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.exceptions import RequestValidationError

    assert isinstance(exc, RequestValidationError)  # registered for it only
    errors = exc.errors()
    entries = [_entry(e) for e in list(errors[:MAX_LISTED_ERRORS])]
    body = error_body(InvalidArgumentError.code, _describe(entries, len(errors)), _hint(entries))
    body["detail"] = entries
    body["omitted_errors"] = max(0, len(errors) - len(entries))
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)  # registered for it only
    code = "NOT_FOUND" if exc.status_code == 404 else f"HTTP_{exc.status_code}"
    body = error_body(code, str(exc.detail))
    body["detail"] = exc.detail
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs and re-raises the exception after this response is sent; the message
    # stays generic so nothing internal (paths, SQL, data) leaks to the client.
    return JSONResponse(internal_error_body(), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Render closedloop, validation, HTTP and unexpected errors as ``{"error": {...}}``.

    Args:
        app: The application to install the handlers on.
    """
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(ClosedLoopError, _closedloop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
