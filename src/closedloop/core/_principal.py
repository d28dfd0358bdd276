"""``Principal``: who acts in one call (an OS user today; users and tokens later)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from closedloop.errors import InvalidArgumentError

__all__ = ["PRINCIPAL_KINDS", "Principal", "PrincipalKind"]

PrincipalKind = Literal["user", "token", "os"]

#: The kinds a principal may have.
PRINCIPAL_KINDS: tuple[PrincipalKind, ...] = ("user", "token", "os")

_MAX_NAME = 255  # the width of ``audit_events.actor``


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts: the subject of one call through the action gate.

    The command line and the SDK act as the operating-system user (kind ``os``); a server
    acts for each caller with the principal it authenticated, and adds the caller's address
    as ``source``. A principal is immutable, so it can be handed to any thread.

    Attributes:
        kind: ``os`` (the process's user), ``user`` (a workspace user) or ``token`` (an
            API token, named by its id).
        name: The user name or token id.
        roles: Roles granted to it (checked by permissions later; recorded now).
        source: Where the call came from, e.g. a client's IP address; ``None`` locally.

    Raises:
        InvalidArgumentError: An unknown kind, an empty or over-long name, or a role that
            is not a non-empty string.
    """

    kind: PrincipalKind
    name: str
    roles: tuple[str, ...] = ()
    source: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in PRINCIPAL_KINDS:
            raise InvalidArgumentError(
                f"a principal is one of {', '.join(PRINCIPAL_KINDS)}, not {self.kind!r}"
            )
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidArgumentError("a principal needs a non-empty name")
        if len(self.actor) > _MAX_NAME:
            raise InvalidArgumentError(
                f"a principal's name has at most {_MAX_NAME} characters, not {len(self.name)}"
            )
        if not isinstance(self.roles, tuple) or not all(
            isinstance(r, str) and r for r in self.roles
        ):
            raise InvalidArgumentError("a principal's roles are a tuple of non-empty names")

    @property
    def actor(self) -> str:
        """The audit log's ``actor``: the name, ``token:<id>`` for a token."""
        return f"token:{self.name}" if self.kind == "token" else self.name

    def from_source(self, source: str | None) -> Principal:
        """The same principal calling from ``source`` (e.g. a request's client address)."""
        return replace(self, source=source)

    def audit_detail(self) -> dict[str, object] | None:
        """What the audit event's detail records beyond the actor (``None``: nothing).

        The plain OS user (no roles, no source) adds nothing, so local events keep the
        detail their verb gave them.
        """
        if self.kind == "os" and not self.roles and self.source is None:
            return None
        return {"kind": self.kind, "roles": list(self.roles), "source": self.source}
