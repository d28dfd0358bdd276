"""The workspace: stores, keyring and actor bound together, and the audited action gate."""

from closedloop.workspace._location import WorkspaceLocation, resolve_location
from closedloop.workspace._workspace import GcReport, InitReport, Workspace

__all__ = ["GcReport", "InitReport", "Workspace", "WorkspaceLocation", "resolve_location"]
