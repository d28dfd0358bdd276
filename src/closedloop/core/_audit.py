"""What a store write accepts as its audit event: a finished event or one built at commit."""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias, runtime_checkable

from closedloop.core._entities import AuditEvent

__all__ = ["Audit", "PendingAudit", "commit_audit"]


@runtime_checkable
class PendingAudit(Protocol):
    """An action's success event, built by the store inside the transaction it commits with.

    The action gate passes its in-progress action (``closedloop.workspace.Action``) to the
    action's last store write. The store calls :meth:`commit_event` once its rows are
    written, inside the same transaction, with what only it knows (e.g. the version
    number it assigned); the event is then built from the action's final detail.
    """

    def commit_event(self, **facts: Any) -> AuditEvent:
        """Add ``facts`` to the detail and return the success event to insert now."""
        ...


#: The ``audit`` argument of a store write.
Audit: TypeAlias = AuditEvent | PendingAudit


def commit_audit(audit: Audit | None, **facts: Any) -> AuditEvent | None:
    """The event to insert for ``audit`` inside the caller's transaction.

    A finished ``AuditEvent`` is taken as it is (``facts`` are then not added); a
    ``PendingAudit`` is built now, with ``facts``.

    Args:
        audit: The write's ``audit`` argument.
        **facts: What the write assigned, for the event's detail.
    """
    if audit is None or isinstance(audit, AuditEvent):
        return audit
    return audit.commit_event(**facts)
