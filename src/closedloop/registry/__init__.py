"""The model registry: versions with signatures, aliases and lineage."""

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
    "RUN_MODEL_ARTIFACT",
    "LoadedModel",
    "delete_alias",
    "get_model_version",
    "list_model_versions",
    "load_model",
    "register_model",
    "register_model_from_run",
    "set_alias",
]
