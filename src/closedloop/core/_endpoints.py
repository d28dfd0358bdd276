"""Endpoints: named traffic splits over model versions, as frozen snapshots with no I/O."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Endpoint", "Route"]


@dataclass(frozen=True, slots=True)
class Route:
    """One route of an endpoint: a model reference and its share of the traffic.

    Attributes:
        ref: ``name/<version>``, ``name@<alias>`` or ``name@latest``, kept as written (an
            alias is resolved when the endpoint is resolved, so a move is seen then).
        weight: Its relative weight (finite, > 0); a route's share is its weight over the
            sum of the endpoint's weights.
    """

    ref: str
    weight: float


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A named endpoint: weighted routes that answer, shadows that only see the traffic.

    Attributes:
        name: Endpoint name.
        routes: The weighted routes (at least one).
        shadows: References that receive a copy of each request; their answers are logged,
            never returned.
        description: Free text about the endpoint.
        created_at: Epoch milliseconds.
        updated_at: Epoch milliseconds of the last change.
        updated_by: Who made the last change (the acting principal's name).
    """

    name: str
    routes: tuple[Route, ...]
    shadows: tuple[str, ...]
    description: str | None
    created_at: int
    updated_at: int
    updated_by: str
