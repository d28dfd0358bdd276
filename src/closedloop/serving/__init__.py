"""Serving: a FastAPI app answering predictions of one registered model version.

Every served row is written to the prediction log together with the request's audit
event; errors leave as ``{"error": {"code", "message", "hint"}}`` (see
:mod:`closedloop.serving.errors`).
"""

from closedloop.serving._app import (
    MAX_RECORDS,
    REQUEST_ID_HEADER,
    HealthResponse,
    MetadataResponse,
    PredictResponse,
    create_app,
)
from closedloop.serving._checks import POLICIES, Policy, unseen_categories
from closedloop.serving._log import count_predictions, list_predictions
from closedloop.serving._middleware import DEFAULT_MAX_BODY_BYTES
from closedloop.serving._schema_model import (
    MAX_STRING_LENGTH,
    frame_from_rows,
    request_row_model,
)
from closedloop.serving._server import BackgroundServer, serve
from closedloop.serving.errors import HTTP_STATUS, install_error_handlers, status_for

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "HTTP_STATUS",
    "MAX_RECORDS",
    "MAX_STRING_LENGTH",
    "POLICIES",
    "REQUEST_ID_HEADER",
    "BackgroundServer",
    "HealthResponse",
    "MetadataResponse",
    "Policy",
    "PredictResponse",
    "count_predictions",
    "create_app",
    "frame_from_rows",
    "install_error_handlers",
    "list_predictions",
    "request_row_model",
    "serve",
    "status_for",
    "unseen_categories",
]
