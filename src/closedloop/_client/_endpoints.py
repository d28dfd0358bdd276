"""The endpoints area of the SDK: named traffic splits over model versions.

Each method is the verb it names in :mod:`closedloop.registry`, bound to the client's
workspace (imported on first use, so ``import closedloop`` stays light).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING

from closedloop._client._tracking import Area
from closedloop.core import Endpoint

if TYPE_CHECKING:
    from closedloop.registry import ResolvedEndpoint, RoutesArg

__all__ = ["EndpointsClient"]


class EndpointsClient(Area):
    """Endpoints: weighted routes (canary splits) and shadows over model references.

    Example:
        >>> client.endpoints.create("churn", {"churn@champion": 90, "churn@challenger": 10})
        >>> client.endpoints.resolve("churn").routes[0].version.id
        'churn/3'
    """

    def create(
        self,
        name: str,
        routes: RoutesArg,
        *,
        shadows: Sequence[str] = (),
        description: str | None = None,
    ) -> Endpoint:
        """Create an endpoint; see :func:`closedloop.registry.create_endpoint`."""
        from closedloop import registry

        return registry.create_endpoint(
            self.workspace, name, routes, shadows=shadows, description=description
        )

    def update(
        self,
        name: str,
        *,
        routes: RoutesArg | None = None,
        shadows: Sequence[str] | None = None,
        description: str | None = None,
    ) -> Endpoint:
        """Replace what is given; see :func:`closedloop.registry.update_endpoint`."""
        from closedloop import registry

        return registry.update_endpoint(
            self.workspace, name, routes=routes, shadows=shadows, description=description
        )

    def get(self, name: str) -> Endpoint:
        """An endpoint, its references as written."""
        from closedloop import registry

        return registry.get_endpoint(self.workspace, name)

    def list(self) -> builtins.list[Endpoint]:
        """Every endpoint, by name."""
        from closedloop import registry

        return registry.list_endpoints(self.workspace)

    def delete(self, name: str) -> None:
        """Remove an endpoint (its model versions stay)."""
        from closedloop import registry

        registry.delete_endpoint(self.workspace, name)

    def resolve(self, name: str | Endpoint) -> ResolvedEndpoint:
        """The versions the endpoint's routes and shadows point at now."""
        from closedloop import registry

        return registry.resolve_endpoint(self.workspace, name)
