"""closedloop: the whole machine-learning lifecycle, with its loop closed.

The top level holds a few verbs and loads everything lazily, so ``import closedloop`` is
cheap::

    import closedloop

    with closedloop.start_run("churn", params={"model": "rf"}) as run:
        run.log_metric("auc", 0.91)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "Client",
    "Settings",
    "Workspace",
    "__version__",
    "errors",
    "init",
    "load_settings",
    "search_runs",
    "start_run",
]

_LAZY = {
    "ActiveRun": "closedloop.tracking",
    "Client": "closedloop._client",
    "Settings": "closedloop.config",
    "Workspace": "closedloop.workspace",
    "init": "closedloop._client",
    "load_settings": "closedloop.config",
    "search_runs": "closedloop._client",
    "start_run": "closedloop._client",
}

if TYPE_CHECKING:
    from closedloop import errors
    from closedloop._client import Client, init, search_runs, start_run
    from closedloop.config import Settings, load_settings
    from closedloop.tracking import ActiveRun
    from closedloop.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name == "errors":
        return importlib.import_module("closedloop.errors")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'closedloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
