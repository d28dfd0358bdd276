"""Serving: one fast server for models and endpoints over three protocols.

Scoring routes (native ``/v1/models/{name}/predict`` and ``/predict``, MLflow's
``/invocations``, Open Inference Protocol v2 ``/v2/models/{name}/infer``) validate the
request bytes straight into a columnar batch, score once and commit every answered row to
the prediction log (group commit) before answering. Endpoints route canary traffic by
weight and copy it to shadow versions; the server follows alias moves without restart.
Errors leave in each protocol's shape (see :mod:`closedloop.serving.errors` for the
native one).
"""

from closedloop.serving._app import MAX_RECORDS, REQUEST_ID_HEADER, ServingApp, create_app
from closedloop.serving._batch import Batch, Scored
from closedloop.serving._checks import POLICIES, Policy, unseen_categories
from closedloop.serving._log import count_predictions, list_predictions
from closedloop.serving._logwriter import LogBehindError, LogWriter
from closedloop.serving._middleware import DEFAULT_MAX_BODY_BYTES
from closedloop.serving._responses import HealthResponse, MetadataResponse
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
    "Batch",
    "HealthResponse",
    "LogBehindError",
    "LogWriter",
    "MetadataResponse",
    "Policy",
    "Scored",
    "ServingApp",
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
