"""The workspace: stores, keyring and actor bound together, and the audited action gate."""

from closedloop.workspace._location import WorkspaceLocation, resolve_location
from closedloop.workspace._permissions import LoosePath, loose_permissions
from closedloop.workspace._verify import BlobProblem, VerifyReport
from closedloop.workspace._workspace import (
    Action,
    GcReport,
    InitReport,
    Workspace,
    current_actor,
)

__all__ = [
    "Action",
    "BlobProblem",
    "GcReport",
    "InitReport",
    "LoosePath",
    "VerifyReport",
    "Workspace",
    "WorkspaceLocation",
    "current_actor",
    "loose_permissions",
    "resolve_location",
]
