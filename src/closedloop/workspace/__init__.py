"""The workspace: stores, keyring and actor bound together, and the audited action gate."""

from closedloop.workspace._location import WorkspaceLocation, resolve_location
from closedloop.workspace._workspace import (
    Action,
    GcReport,
    InitReport,
    Workspace,
    current_actor,
)

__all__ = [
    "Action",
    "GcReport",
    "InitReport",
    "Workspace",
    "WorkspaceLocation",
    "current_actor",
    "resolve_location",
]
