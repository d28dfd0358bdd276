"""The model registry: versions with signatures, aliases and lineage."""

from closedloop.registry._registry import (
    LoadedModel,
    delete_alias,
    get_model_version,
    list_model_versions,
    load_model,
    register_model,
    set_alias,
)

__all__ = [
    "LoadedModel",
    "delete_alias",
    "get_model_version",
    "list_model_versions",
    "load_model",
    "register_model",
    "set_alias",
]
