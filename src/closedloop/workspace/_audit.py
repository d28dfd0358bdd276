"""Reading the audit log: who did what, to what, with which outcome, newest first.

Every action of the gate leaves an :class:`~closedloop.core.AuditEvent`; this verb reads
them back through the gate itself (``audit.read``), so reading the log is an action that
permissions can later refuse, and the CLI, the SDK and a later REST API share one path.
Under the default read-audit policy the read is not itself recorded (it is metadata
browsed, not content); under ``audit_reads="all"`` it is.
"""

from __future__ import annotations

from closedloop.core import AuditEvent
from closedloop.workspace._actions import Actions
from closedloop.workspace._workspace import Workspace

__all__ = ["list_audit_events"]


def list_audit_events(
    ws: Workspace,
    *,
    actor: str | None = None,
    action: Actions | str | None = None,
    since: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Recent audit events, newest first, optionally filtered.

    Args:
        ws: The workspace.
        actor: Only the events of this actor (a principal's name).
        action: Only the events of this action (an :class:`Actions` entry or its dotted
            name, e.g. ``"run.delete"``).
        since: Only events at or after this time (epoch milliseconds).
        limit: At most this many events.

    Returns:
        The events, the most recent first.
    """
    with ws.action(Actions.AUDIT_READ, f"audit:{actor or '*'}"):
        return ws.metadata.list_audit_events(
            actor=actor, action=None if action is None else str(action), since=since, limit=limit
        )
