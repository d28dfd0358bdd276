"""The server's control plane: health, readiness, metadata, metrics and feedback (FastAPI).

Everything but the three scoring routes goes through this FastAPI application (scoring
takes the fast path in :mod:`closedloop.serving._app`):

- ``GET /health`` (the default endpoint's version), ``GET /healthz`` (live), ``GET /readyz``
  (ready: models loaded, log writer running; 503 otherwise);
- ``GET /metadata`` (the default endpoint's first version as registered),
  ``GET /v1/models`` (every endpoint with its routes, weights, shadows and versions now),
  ``GET /v1/models/{name}``;
- ``GET /metrics`` (Prometheus text format);
- ``POST /v1/feedback`` (labels for logged predictions);
- MLflow's ``GET /ping``, ``GET /version``;
- Open Inference Protocol v2 ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
  ``/v2/models/{name}[/versions/{v}]`` and their ``/ready``; v2 errors are
  ``{"error": "<message>"}`` as the protocol says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from closedloop.core import ModelVersion
from closedloop.errors import NotFoundError
from closedloop.serving._feedback import feedback_router
from closedloop.serving._metrics import CONTENT_TYPE, ServerMetrics
from closedloop.serving._middleware import RequestContext
from closedloop.serving._responses import SERVER_VERSION, HealthResponse, MetadataResponse
from closedloop.serving._routing import Router, RouteTable, Target
from closedloop.serving.errors import install_error_handlers
from closedloop.workspace import Workspace

__all__ = ["control_app"]


def _metadata(target: Target) -> MetadataResponse:
    version = target.version
    return MetadataResponse(
        id=version.id,
        name=version.model,
        version=version.version,
        ref=target.ref,
        aliases=list(version.aliases),
        target=version.target,
        classes=list(version.classes),
        signature=version.signature.to_dict(),
        metrics=dict(version.metrics),
        run_id=version.run_id,
        dataset_version_id=version.dataset_version_id,
        created_at=version.created_at,
        scorer=target.scorer.kind,
    )


def _endpoint(table: RouteTable) -> dict[str, Any]:
    total = sum(t.weight for t in table.routes)
    return {
        "name": table.endpoint,
        "routes": [
            {
                "ref": t.ref,
                "version": t.version.id,
                "weight": t.weight,
                "share": t.weight / total,
                "scorer": t.scorer.kind,
            }
            for t in table.routes
        ],
        "shadows": [
            {"ref": t.ref, "version": t.version.id, "scorer": t.scorer.kind} for t in table.shadows
        ],
        "signature": table.signature.to_dict(),
    }


def _v2_error(message: str, status: int = 404) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def control_app(
    ws: Workspace,
    router: Router,
    metrics: ServerMetrics,
    *,
    ready: Callable[[], bool],
    queue_depth: Callable[[], int],
    max_body_bytes: int,
    openapi: Callable[[FastAPI], dict[str, Any]],
) -> FastAPI:
    """The FastAPI application of the control routes (see the module docstring)."""
    app = FastAPI(
        title=f"closedloop: {', '.join(router.tables)}",
        description="closedloop model server",
        version=SERVER_VERSION,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(RequestContext, max_body_bytes=max_body_bytes)
    install_error_handlers(app)
    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]

    @app.get("/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        return HealthResponse(status="ok", model_version=router.default.routes[0].version.id)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        ok = ready()
        body = {"ready": ok, "endpoints": list(router.tables)}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metadata", response_model=MetadataResponse)
    def metadata() -> MetadataResponse:
        return _metadata(router.default.routes[0])

    @app.get("/v1/models")
    def list_endpoints() -> dict[str, Any]:
        return {"models": [_endpoint(t) for t in router.tables.values()]}

    @app.get("/v1/models/{name}")
    def endpoint(name: str) -> dict[str, Any]:
        return _endpoint(router.get(name))

    @app.get("/metrics")
    def metrics_text() -> Response:
        return Response(metrics.render(queue_depth), media_type=CONTENT_TYPE)

    # MLflow scoring server ---------------------------------------------------------------
    @app.get("/ping")
    def ping() -> Response:
        return Response("\n", media_type="application/json", status_code=200 if ready() else 404)

    @app.get("/version")
    def version() -> Response:
        return Response(SERVER_VERSION, media_type="text/plain")

    # Open Inference Protocol v2 ----------------------------------------------------------
    @app.get("/v2")
    def v2_server() -> dict[str, Any]:
        return {"name": "closedloop", "version": SERVER_VERSION, "extensions": []}

    @app.get("/v2/health/live")
    def v2_live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    def v2_ready() -> JSONResponse:
        ok = ready()
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    def _v2_target(name: str, number: str | None) -> tuple[RouteTable, ModelVersion] | None:
        table = router.tables.get(name)
        if table is None:
            return None
        if number is None:
            return table, table.routes[0].version
        try:
            return table, table.version(number).version
        except NotFoundError:
            return None

    def _v2_metadata(name: str, number: str | None) -> JSONResponse:
        from closedloop.serving._protocols import model_metadata_v2

        found = _v2_target(name, number)
        if found is None:
            what = f"model {name!r}" + (f" version {number!r}" if number else "")
            return _v2_error(f"{what} is not served here; served: {', '.join(router.tables)}")
        table, version = found
        served = [str(t.version.version) for t in (*table.routes, *table.shadows)]
        body = model_metadata_v2(
            table.signature,
            name=name,
            versions=served,
            platform="sklearn",
            classes=list(version.classes),
        )
        return JSONResponse(body)

    def _v2_model_ready(name: str, number: str | None) -> JSONResponse:
        found = _v2_target(name, number)
        if found is None:
            return _v2_error(f"model {name!r} is not served here")
        return JSONResponse({"name": name, "ready": ready()})

    @app.get("/v2/models/{name}")
    def v2_model(name: str) -> JSONResponse:
        return _v2_metadata(name, None)

    @app.get("/v2/models/{name}/versions/{number}")
    def v2_model_version(name: str, number: str) -> JSONResponse:
        return _v2_metadata(name, number)

    @app.get("/v2/models/{name}/ready")
    def v2_model_ready(name: str) -> JSONResponse:
        return _v2_model_ready(name, None)

    @app.get("/v2/models/{name}/versions/{number}/ready")
    def v2_model_version_ready(name: str, number: str) -> JSONResponse:
        return _v2_model_ready(name, number)

    app.include_router(feedback_router(ws))
    return app
