"""The bodies of the control plane's typed answers, and the server's version.

Apart from :mod:`closedloop.serving._control` (FastAPI) so that importing
``closedloop.serving`` for these names does not import FastAPI.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["SERVER_VERSION", "HealthResponse", "MetadataResponse"]

try:
    #: The installed closedloop's version (``/version``, ``/v2``, the OpenAPI document).
    SERVER_VERSION = _package_version("closedloop")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    SERVER_VERSION = "0+unknown"


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
    scorer: str = Field(description="How it is scored: 'onnx' or 'pipeline'.")
