"""The model registry: versions with signatures, aliases and lineage."""

from closedloop.registry._catalog import (
    alias_history,
    delete_tag,
    get_model,
    list_models,
    set_description,
    set_tag,
)
from closedloop.registry._endpoints import (
    ResolvedEndpoint,
    ResolvedRoute,
    ResolvedShadow,
    RoutesArg,
    create_endpoint,
    delete_endpoint,
    get_endpoint,
    list_endpoints,
    resolve_endpoint,
    update_endpoint,
)
from closedloop.registry._onnx import convert_to_onnx, load_onnx
from closedloop.registry._registry import (
    RUN_MODEL_ARTIFACT,
    LoadedModel,
    delete_alias,
    get_model_version,
    list_model_versions,
    load_model,
    register_model,
    register_model_from_run,
    set_alias,
)

__all__ = [
    "ResolvedEndpoint",
    "ResolvedRoute",
    "ResolvedShadow",
    "RoutesArg",
    "alias_history",
    "create_endpoint",
    "delete_endpoint",
    "delete_tag",
    "get_endpoint",
    "get_model",
    "list_endpoints",
    "list_models",
    "resolve_endpoint",
    "set_description",
    "set_tag",
    "update_endpoint",
    "RUN_MODEL_ARTIFACT",
    "LoadedModel",
    "delete_alias",
    "get_model_version",
    "list_model_versions",
    "load_model",
    "register_model",
    "register_model_from_run",
    "set_alias",
    "convert_to_onnx",
    "load_onnx",
]
