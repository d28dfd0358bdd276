"""The OpenAPI document of a model server: the control routes plus the scoring routes.

The scoring routes take a fast path outside FastAPI, so FastAPI does not see them; their
request and response schemas are added here, derived from the default endpoint's signature
(one ``Record`` schema with a property per column), so ``/openapi.json`` still describes
everything a client can send.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from closedloop.core import TableSchema
from closedloop.serving._schema_model import request_row_model

__all__ = ["openapi_builder"]


def _op(summary: str, request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [
                {
                    "name": "X-Request-ID",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:\-]{1,64}$"},
                    "description": "Your id for the request (else one is generated).",
                }
            ],
            "requestBody": {"required": True, "content": {"application/json": request}},
            "responses": {
                "200": {"description": "Scored", "content": {"application/json": response}},
                "422": {"description": "Invalid records (each problem names its field)"},
                "413": {"description": "The body is over the size limit"},
                "503": {"description": "The prediction log is unavailable or behind"},
            },
        }
    }


def openapi_builder(signature: TableSchema, max_string_length: int, max_records: int) -> Any:
    """A function building (once) the OpenAPI document of an app serving ``signature``."""
    record = request_row_model(signature, name="Record", max_string_length=max_string_length)
    record_schema = record.model_json_schema(by_alias=True)
    cache: dict[str, Any] = {}

    def build(app: FastAPI) -> dict[str, Any]:
        if "doc" in cache:
            return dict(cache["doc"])
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Record"] = record_schema
        schemas["PredictRequest"] = {
            "type": "object",
            "description": "Exactly one of 'records' or 'columns'.",
            "properties": {
                "records": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Record"},
                    "minItems": 1,
                    "maxItems": max_records,
                },
                "columns": {
                    "type": "object",
                    "description": "Column name → list of values, all of one length.",
                    "additionalProperties": {"type": "array"},
                },
                "explain": {"type": "boolean", "default": False},
            },
            "additionalProperties": False,
        }
        schemas["PredictResponse"] = {
            "type": "object",
            "properties": {
                "request_id": {"type": "string"},
                "model_version": {"type": "string"},
                "predictions": {"type": "array", "items": {}},
                "probabilities": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": {"type": "number"}},
                },
                "latency_ms": {"type": "number"},
                "warnings": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["request_id", "model_version", "predictions", "latency_ms"],
        }
        native_req = {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
        native_resp = {"schema": {"$ref": "#/components/schemas/PredictResponse"}}
        paths = doc.setdefault("paths", {})
        paths["/predict"] = _op("Score records with the default model", native_req, native_resp)
        paths["/v1/models/{name}/predict"] = _op(
            "Score records with a served model or endpoint", native_req, native_resp
        )
        paths["/v1/models/{name}/predict"]["post"]["parameters"].append(
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        )
        any_json: dict[str, Any] = {"schema": {"type": "object"}}
        paths["/invocations"] = _op(
            "MLflow scoring: dataframe_split, dataframe_records, instances, inputs, or CSV",
            any_json,
            any_json,
        )
        for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
            paths[path] = _op("Open Inference Protocol v2 inference", any_json, any_json)
        cache["doc"] = doc
        return dict(doc)

    return build
