"""The contract of the endpoint store (``MetadataStore.endpoints``)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Protocol

from closedloop.core import Audit, Endpoint, Route
from closedloop.metadata._domain import DomainStore

__all__ = ["EndpointStore"]


class EndpointStore(DomainStore, Protocol):
    """Named endpoints: weighted routes and shadows over model references.

    The store keeps what it is given (references as written, weights as given); the
    registry's verbs validate an endpoint before they store it.
    """

    def create(
        self,
        name: str,
        *,
        routes: Sequence[Route],
        shadows: Sequence[str] = (),
        description: str | None = None,
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> Endpoint:
        """Store a new endpoint.

        ``actor`` (default: the audit event's actor) is recorded as ``updated_by``.

        Raises:
            AlreadyExistsError: An endpoint of that name exists.
        """
        ...

    def update(
        self,
        name: str,
        *,
        routes: Sequence[Route],
        shadows: Sequence[str],
        description: str | None,
        actor: str | None = None,
        audit: Audit | None = None,
    ) -> Endpoint:
        """Replace an endpoint's routes, shadows and description.

        Raises:
            NotFoundError: No endpoint of that name.
        """
        ...

    def get(self, name: str) -> Endpoint:
        """An endpoint by name; NotFoundError."""
        ...

    def list(self) -> builtins.list[Endpoint]:
        """Every endpoint, by name."""
        ...

    def delete(self, name: str, *, audit: Audit | None = None) -> None:
        """Remove an endpoint; NotFoundError if absent."""
        ...
