"""``create_app``: a FastAPI application serving one registered model version.

Endpoints: ``POST /predict`` (records in, labels and probabilities out, every row written
to the prediction log with the request's audit event in one transaction), ``GET /health``,
``GET /metadata`` and ``GET /openapi.json``. The interactive docs pages are off: FastAPI
builds them from CDN assets.

What a request may carry is bounded: its body (``max_body_bytes``, else 413), its records
(``max_records``) and each text value (``max_string_length``, else 422). Rows outside the
numeric ranges or categories seen in training are served with a warning or refused, by
policy (:mod:`closedloop.serving._checks`).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, Header, Request
from pydantic import BaseModel, ConfigDict, Field, create_model

from closedloop.core import ModelVersion, Prediction, TableSchema, now_ms
from closedloop.errors import AlreadyExistsError, InvalidArgumentError
from closedloop.registry import LoadedModel, load_model
from closedloop.serving._checks import (
    OutOfRange,
    Policy,
    UnseenCategories,
    check_policy,
    find_out_of_range,
    find_unseen_categories,
)
from closedloop.serving._middleware import (
    REQUEST_ID_HEADER,
    REQUEST_ID_PATTERN,
    STATE_ID,
    STATE_STARTED,
    RequestContext,
)
from closedloop.serving._schema_model import frame_from_rows, request_row_model
from closedloop.serving.errors import install_error_handlers
from closedloop.workspace import Action, Actions, Workspace

__all__ = [
    "MAX_RECORDS",
    "REQUEST_ID_HEADER",
    "HealthResponse",
    "MetadataResponse",
    "PredictResponse",
    "create_app",
]

#: Default bound on the rows of one request (it is also one database transaction).
MAX_RECORDS = 10_000


class PredictResponse(BaseModel):
    """The answer of ``POST /predict``."""

    request_id: str = Field(description="The X-Request-ID sent, or a generated one.")
    model_version: str = Field(description="``<name>/<version>`` that answered.")
    predictions: list[Any] = Field(description="One label (or value) per record, in order.")
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="Classifiers: class → probability, one mapping per record."
    )
    latency_ms: float = Field(description="Validation and model time of the request.")
    warnings: list[str] = Field(
        default_factory=list,
        description="E.g. category values or numbers outside the range not seen in training.",
    )


class HealthResponse(BaseModel):
    """The answer of ``GET /health``."""

    status: str
    model_version: str


class MetadataResponse(BaseModel):
    """The answer of ``GET /metadata``: the served version as registered."""

    id: str
    name: str
    version: int
    ref: str = Field(description="The reference the server was started with.")
    aliases: list[str] = Field(description="Aliases pointing at it when it was loaded.")
    target: str
    classes: list[str]
    signature: dict[str, Any] = Field(description="The input schema (TableSchema.to_dict).")
    metrics: dict[str, float]
    run_id: str | None
    dataset_version_id: str | None
    created_at: int


def _jsonable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _Predictor:
    """Scores validated rows and logs them; runs in FastAPI's threadpool."""

    def __init__(
        self,
        ws: Workspace,
        loaded: LoadedModel,
        *,
        log_predictions: bool,
        out_of_range: Policy,
        unseen_categories: Policy,
    ) -> None:
        self.ws = ws
        self.out_of_range = out_of_range
        self.unseen_categories = unseen_categories
        self.version: ModelVersion = loaded.version
        self.model = loaded.model
        self.signature: TableSchema = loaded.version.signature
        self.log_predictions = log_predictions
        self.has_proba = callable(getattr(self.model, "predict_proba", None))
        model_classes = [str(c) for c in getattr(self.model, "classes_", [])]
        self.classes = list(self.version.classes) or model_classes
        if self.has_proba and model_classes and self.classes != model_classes:
            raise InvalidArgumentError(
                f"{self.version.id} was registered with classes {self.classes} but the model "
                f"predicts {model_classes}",
                hint="re-register the model with classes=list(model.classes_)",
            )

    def _score(self, frame: pd.DataFrame) -> tuple[list[Any], list[dict[str, float]]]:
        try:
            proba = self.model.predict_proba(frame) if self.has_proba else None
            labels = self.model.predict(frame)
        except (ValueError, TypeError) as e:  # e.g. a missing value the model cannot impute
            raise InvalidArgumentError(
                f"the model could not score the records: {e}",
                hint="check the records against the signature at /metadata",
            ) from e
        probabilities = (
            []
            if proba is None
            else [
                {c: float(p) for c, p in zip(self.classes, row, strict=True)}
                for row in np.asarray(proba, dtype=float)
            ]
        )
        return [_jsonable(v) for v in np.asarray(labels).tolist()], probabilities

    def __call__(
        self,
        records: Sequence[BaseModel],
        request_id: str,
        started: float,
        source: str | None = None,
    ) -> PredictResponse:
        """Score ``records`` for the caller at ``source`` (its address, for the audit log)."""
        inputs = [r.model_dump(mode="json", by_alias=True, exclude_unset=True) for r in records]
        frame = frame_from_rows(self.signature, [r.model_dump(by_alias=True) for r in records])
        unseen = find_unseen_categories(self.signature, frame)
        outside = find_out_of_range(self.signature, frame)
        warnings = [f.warning() for f in unseen] + [f.warning() for f in outside]
        version = self.version
        caller = self.ws.as_principal(self.ws.principal.from_source(source))
        with caller.action(
            Actions.MODEL_PREDICT, f"model:{version.id}", request_id=request_id, rows=len(records)
        ) as act:
            if unseen:
                act.update(unseen_categories={f.column: f.rows for f in unseen})
            if outside:
                act.update(out_of_range={f.column: f.rows for f in outside})
            self._refuse(
                unseen if self.unseen_categories == "refuse" else [],
                outside if self.out_of_range == "refuse" else [],
            )
            labels, probabilities = self._score(frame)
            latency_ms = (time.perf_counter() - started) * 1000.0
            act.update(latency_ms=round(latency_ms, 3))
            if self.log_predictions:
                self._log(act, request_id, inputs, labels, probabilities, latency_ms)
        return PredictResponse(
            request_id=request_id,
            model_version=version.id,
            predictions=labels,
            probabilities=probabilities if self.has_proba else None,
            latency_ms=latency_ms,
            warnings=warnings,
        )

    def _refuse(self, unseen: Sequence[UnseenCategories], outside: Sequence[OutOfRange]) -> None:
        """Refuse the request if there are rows off the training data under a refusing policy.

        Raises:
            InvalidArgumentError: Naming the first such field of each column, its value
                and what training saw.
        """
        parts = [f.refusal() for f in unseen] + [f.refusal() for f in outside]
        if not parts:
            return
        settings = []
        if unseen:
            settings.append("unseen_categories='warn' (setting serving_unseen_categories)")
        if outside:
            settings.append("out_of_range='warn' (setting serving_out_of_range)")
        raise InvalidArgumentError(
            "records off the training data: " + "; ".join(parts),
            hint="send values seen in training (see /metadata), or serve with "
            + " and ".join(settings),
        )

    def _log(
        self,
        act: Action,
        request_id: str,
        inputs: list[dict[str, Any]],
        labels: list[Any],
        probabilities: list[dict[str, float]],
        latency_ms: float,
    ) -> None:
        at = now_ms()
        items = [
            Prediction(
                request_id=request_id,
                row=i,
                time=at,
                model_version_id=self.version.id,
                inputs=row,
                output={
                    "label": labels[i],
                    "probabilities": probabilities[i] if probabilities else None,
                },
                latency_ms=latency_ms,
            )
            for i, row in enumerate(inputs)
        ]
        try:
            # A prediction that is not logged is not served: a failure here fails the request.
            self.ws.metadata.predictions.append(items, audit=act)
        except AlreadyExistsError as e:
            raise AlreadyExistsError(
                f"request id {request_id!r} is already in the prediction log",
                hint=f"send a new {REQUEST_ID_HEADER} per request, or none to get one",
            ) from e


def _metadata(version: ModelVersion, ref: str) -> MetadataResponse:
    return MetadataResponse(
        id=version.id,
        name=version.model,
        version=version.version,
        ref=ref,
        aliases=list(version.aliases),
        target=version.target,
        classes=list(version.classes),
        signature=version.signature.to_dict(),
        metrics=dict(version.metrics),
        run_id=version.run_id,
        dataset_version_id=version.dataset_version_id,
        created_at=version.created_at,
    )


def create_app(
    ws: Workspace,
    model_ref: str,
    *,
    log_predictions: bool = True,
    max_records: int = MAX_RECORDS,
    max_body_bytes: int | None = None,
    max_string_length: int | None = None,
    out_of_range: Policy | None = None,
    unseen_categories: Policy | None = None,
) -> FastAPI:
    """Build the application serving ``model_ref`` from ``ws``.

    The model is loaded (and its bytes verified) once, here. Each ``POST /predict`` is one
    ``model.predict`` action: the rows are validated against the signature, scored, and
    logged with the action's audit event in one transaction. If the log write fails, the
    request fails (503 for a storage error): a prediction that is not logged is not served.

    Options left ``None`` take the workspace's settings (``ws.settings.serving_*``, from
    ``closedloop.yaml`` or ``CLOSEDLOOP_SERVING_*``).

    Args:
        ws: An open workspace; it must stay open while the app serves.
        model_ref: ``name@alias``, ``name@latest`` or ``name/<version>``.
        log_predictions: Write each served row to the prediction log.
        max_records: Most records one request may carry.
        max_body_bytes: Most bytes of a request body; a larger one gets 413.
        max_string_length: Most characters of one category or string value; a longer one
            gets 422 naming the field.
        out_of_range: A number outside the range seen in training: ``"warn"`` (served, with
            a warning and a count in the audit detail ``out_of_range``) or ``"refuse"``
            (422 naming the field, the value and the range).
        unseen_categories: A category not seen in training: ``"warn"`` (served, with a
            warning and a count in the audit detail ``unseen_categories``) or ``"refuse"``.

    Returns:
        The application; ``app.state.model_version`` is the served ``ModelVersion``.

    Raises:
        NotFoundError: No such model version.
        InvalidArgumentError: The registered classes contradict the model's, or an option
            is out of its range.
    """
    settings = ws.settings
    body_limit = settings.serving_max_body_bytes if max_body_bytes is None else max_body_bytes
    text_limit = (
        settings.serving_max_string_length if max_string_length is None else max_string_length
    )
    for name, value in (
        ("max_records", max_records),
        ("max_body_bytes", body_limit),
        ("max_string_length", text_limit),
    ):
        if value < 1:
            raise InvalidArgumentError(f"{name} must be at least 1, got {value}")
    range_policy = check_policy(
        "out_of_range", settings.serving_out_of_range if out_of_range is None else out_of_range
    )
    category_policy = check_policy(
        "unseen_categories",
        settings.serving_unseen_categories if unseen_categories is None else unseen_categories,
    )
    loaded = load_model(ws, model_ref)
    version = loaded.version
    predictor = _Predictor(
        ws,
        loaded,
        log_predictions=log_predictions,
        out_of_range=range_policy,
        unseen_categories=category_policy,
    )
    row_model = request_row_model(version.signature, name="Record", max_string_length=text_limit)
    request_model: type[BaseModel] = create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        records=(
            list[row_model],  # type: ignore[valid-type]
            Field(min_length=1, max_length=max_records, description="Rows to score."),
        ),
    )

    app = FastAPI(
        title=f"closedloop: {version.id}",
        description=f"Serves model version {version.id} (started as {model_ref!r}).",
        version=version.id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.model_version = version
    app.add_middleware(RequestContext, max_body_bytes=body_limit)
    install_error_handlers(app)

    def predict(
        request: Request, body: BaseModel, x_request_id: str | None = None
    ) -> PredictResponse:
        records: list[BaseModel] = body.records  # type: ignore[attr-defined]
        state = request.state
        source = request.client.host if request.client is not None else None
        return predictor(records, getattr(state, STATE_ID), getattr(state, STATE_STARTED), source)

    # The body type is built at runtime from the signature; FastAPI reads it from here.
    predict.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=request_model),
            inspect.Parameter(
                "x_request_id",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    str | None,
                    Header(
                        alias=REQUEST_ID_HEADER,
                        pattern=REQUEST_ID_PATTERN,
                        description="Your id for the request (else one is generated).",
                    ),
                ],
            ),
        ],
        return_annotation=PredictResponse,
    )
    app.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=PredictResponse,
        response_model_exclude_none=True,
        summary=f"Score records with {version.id}",
    )

    def health() -> HealthResponse:
        return HealthResponse(status="ok", model_version=version.id)

    def metadata() -> MetadataResponse:
        return _metadata(version, model_ref)

    app.add_api_route("/health", health, methods=["GET"], response_model=HealthResponse)
    app.add_api_route("/metadata", metadata, methods=["GET"], response_model=MetadataResponse)
    return app
