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
``STORAGE``, ``SCHEMA_VERSION``                         503     the stores are unavailable or
                                                                need an upgrade; retry later
``ARTIFACT_INTEGRITY``, ``CONFIGURATION``,              500     server-side faults a retry
``UNSUPPORTED_BACKEND``, ``CRYPTO``, ``KEY_NOT_FOUND``          does not fix
anything else                                           500
======================================================  ======  ==============================

A code missing from the table takes the status of its nearest parent class that has one,
so a new subclass of ``NotFoundError`` is a 404 without touching this table.

Request validation failures (FastAPI's ``RequestValidationError``) keep FastAPI's
``detail`` list (each entry's ``loc`` names the field) and gain the same ``error`` object
with code ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from closedloop.errors import ClosedLoopError, InvalidArgumentError

__all__ = ["DEFAULT_STATUS", "HTTP_STATUS", "error_body", "install_error_handlers", "status_for"]

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
    "STORAGE": 503,
    "SCHEMA_VERSION": 503,
    "ARTIFACT_INTEGRITY": 500,
    "CONFIGURATION": 500,
    "UNSUPPORTED_BACKEND": 500,
    "CRYPTO": 500,
    "KEY_NOT_FOUND": 500,
}

#: Status of errors whose code (and every parent's) is not in :data:`HTTP_STATUS`.
DEFAULT_STATUS = 500


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


def _describe(errors: list[dict[str, Any]], limit: int = 5) -> str:
    parts = []
    for e in errors[:limit]:
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "invalid request: " + "; ".join(parts) + more


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # registered for it only
    errors = list(exc.errors())
    body = error_body(
        InvalidArgumentError.code,
        _describe(errors),
        "see 'detail': each entry's 'loc' names the field; the schema is at /metadata",
    )
    body["detail"] = jsonable_encoder(errors)
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
    return JSONResponse(
        error_body("INTERNAL", "internal server error", "see the server log"), status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render closedloop, validation, HTTP and unexpected errors as ``{"error": {...}}``.

    Args:
        app: The application to install the handlers on.
    """
    app.add_exception_handler(ClosedLoopError, _closedloop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
