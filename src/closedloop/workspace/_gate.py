"""``Action``: one call in progress through the gate, and the audit event it ends with.

The success event is built when the data commits, not before: the gate hands the ``Action``
to the action's last store write (as its ``audit`` argument, a
:class:`~closedloop.core.PendingAudit`), and the store calls :meth:`Action.commit_event`
inside its transaction, with what it assigned (a version number, say). From then on the
detail is frozen: a fact added later could never reach the log, so adding one is an error.
"""

from __future__ import annotations

from typing import Any

from closedloop.core import AuditEvent, Principal, now_ms
from closedloop.errors import InvalidArgumentError
from closedloop.workspace._actions import Actions

__all__ = ["PRINCIPAL_DETAIL", "Action"]

#: The detail key that records a principal other than the plain OS user.
PRINCIPAL_DETAIL = "principal"


class Action(dict[str, Any]):
    """The action in progress inside ``Workspace.action``: a dict of detail for its event.

    Args:
        principal: Who acts.
        action: The catalog entry.
        resource: What is acted on, such as ``run:<id>``.
        detail: The initial detail.
    """

    def __init__(
        self, principal: Principal, action: Actions, resource: str, detail: dict[str, Any]
    ) -> None:
        super().__init__(detail)
        self.principal, self.action, self.resource = principal, action, resource
        self.committed = False

    @property
    def actor(self) -> str:
        """The audit log's actor: the principal's."""
        return self.principal.actor

    def event(self, outcome: str) -> AuditEvent:
        """The audit event of this action, as it stands, with ``outcome``.

        A principal other than the plain OS user is recorded in the detail under
        ``principal`` (kind, roles, source) until the audit table has columns for it.
        """
        detail = dict(self)
        extra = self.principal.audit_detail()
        if extra is not None:
            detail[PRINCIPAL_DETAIL] = extra
        return AuditEvent(now_ms(), self.actor, self.action.value, self.resource, outcome, detail)

    def commit_event(self, **facts: Any) -> AuditEvent:
        """The success event, built now by the store that commits it with the data.

        ``facts`` (what the store assigned) join the detail first. The gate then writes no
        event of its own; if the transaction fails, it records the error instead.

        Raises:
            InvalidArgumentError: The event was already committed (one action, one event).
        """
        self._check_open()
        super().update(facts)
        event = self.event("ok")
        self.committed = True
        return event

    # facts cannot be added once the event is committed ------------------------------------------
    def _check_open(self) -> None:
        if self.committed:
            raise InvalidArgumentError(
                f"the {self.action.value} event of {self.resource} is already committed",
                hint="add facts to the action before the store write that carries its event",
            )

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_open()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._check_open()
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add facts, as ``dict.update``; refused once the event is committed."""
        self._check_open()
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """As ``dict.setdefault``; refused once the event is committed."""
        self._check_open()
        return super().setdefault(key, default)
