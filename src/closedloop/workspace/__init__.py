"""The workspace: stores, keyring and principal bound together; the action gate and catalog."""

from closedloop.workspace._actions import Access, Actions, AuditReads, ResourceKind
from closedloop.workspace._audit import list_audit_events
from closedloop.workspace._gate import Action
from closedloop.workspace._location import WorkspaceLocation, resolve_location
from closedloop.workspace._permissions import LoosePath, loose_permissions
from closedloop.workspace._verify import BlobProblem, VerifyReport
from closedloop.workspace._workspace import GcReport, InitReport, Workspace, current_actor

__all__ = [
    "Access",
    "Action",
    "Actions",
    "AuditReads",
    "BlobProblem",
    "GcReport",
    "InitReport",
    "LoosePath",
    "ResourceKind",
    "VerifyReport",
    "Workspace",
    "WorkspaceLocation",
    "current_actor",
    "list_audit_events",
    "loose_permissions",
    "resolve_location",
]
