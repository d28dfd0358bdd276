"""Endpoints as a server holds them: route tables swapped whole when the registry moves.

An endpoint the server serves is either one model reference given on the command line
(``adult@champion`` is served as endpoint ``adult``) or an endpoint stored in the registry
(weighted routes — a canary — and shadows). Its :class:`RouteTable` is an immutable
snapshot: the loaded scorer of every version it routes to, the cumulative weights, the
shadows. A request takes the table once and uses it to the end, so a swap never changes
a request half-way.

:class:`Router` keeps the tables. Its ``refresh`` (run in the background every few
seconds) re-reads the endpoints and re-resolves their aliases; when a reference points at
another version now, the new version is loaded off the request path and the endpoint's
table is replaced in one assignment. Requests in flight finish on the old table; no
request fails during a swap. Polling reads the stores directly (it is the server's own
bookkeeping, not a user's read); loading a new version goes through the gate
(``model.load``), so each swap is in the audit log.

A request goes to a route chosen by a hash of its request id against the cumulative
weights, so a retry with the same id reaches the same version, and a 90/10 split sends
90 % of distinct requests to the first route.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from closedloop.core import Endpoint, ModelVersion, Route, TableSchema
from closedloop.errors import ClosedLoopError, InvalidArgumentError, NotFoundError
from closedloop.serving._scorer import Scorer
from closedloop.workspace import Workspace

__all__ = ["EndpointSource", "RouteTable", "Router", "Target"]

_log = logging.getLogger("closedloop.serving.routing")

_BUCKETS = 1 << 32


@dataclass(frozen=True, slots=True)
class Target:
    """A version an endpoint routes to (or shadows), loaded."""

    ref: str
    weight: float
    scorer: Scorer

    @property
    def version(self) -> ModelVersion:
        """The loaded version."""
        return self.scorer.version


@dataclass(frozen=True, slots=True)
class EndpointSource:
    """Where an endpoint's routes come from.

    Attributes:
        name: The endpoint's name (the ``{name}`` of the URLs).
        routes: The routes when given directly (a model reference on the command line).
        from_registry: The routes are the registry endpoint ``name``'s, re-read on refresh.
    """

    name: str
    routes: tuple[Route, ...] = ()
    from_registry: bool = False

    @classmethod
    def for_model(cls, ref: str) -> EndpointSource:
        """The endpoint serving one model reference, named after the model."""
        name = ref.split("@", 1)[0].split("/", 1)[0]
        return cls(name=name, routes=(Route(ref, 1.0),))


@dataclass(frozen=True, slots=True)
class RouteTable:
    """An endpoint's routes and shadows as loaded at one moment (immutable)."""

    endpoint: str
    routes: tuple[Target, ...]
    shadows: tuple[Target, ...]
    signature: TableSchema
    _bounds: tuple[int, ...] = field(default=(), repr=False)

    @classmethod
    def build(
        cls, endpoint: str, routes: Sequence[Target], shadows: Sequence[Target]
    ) -> RouteTable:
        """A table with cumulative bucket bounds from the routes' weights."""
        total = sum(t.weight for t in routes)
        bounds, running = [], 0.0
        for t in routes:
            running += t.weight
            bounds.append(min(_BUCKETS, round(running / total * _BUCKETS)))
        bounds[-1] = _BUCKETS
        return cls(
            endpoint, tuple(routes), tuple(shadows), routes[0].version.signature, tuple(bounds)
        )

    @property
    def version_ids(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The ids of the routed and the shadow versions (what a refresh compares)."""
        return (
            tuple(t.version.id for t in self.routes),
            tuple(t.version.id for t in self.shadows),
        )

    def pick(self, request_id: str) -> Target:
        """The route for ``request_id`` (by a hash of it against the weights)."""
        if len(self.routes) == 1:
            return self.routes[0]
        bucket = zlib.crc32(request_id.encode()) & 0xFFFFFFFF
        for target, bound in zip(self.routes, self._bounds, strict=True):
            if bucket < bound:
                return target
        return self.routes[-1]

    def version(self, number: str) -> Target:
        """The routed or shadow target of version ``number`` (``"3"``).

        Raises:
            NotFoundError: The endpoint does not serve that version.
        """
        for target in (*self.routes, *self.shadows):
            if str(target.version.version) == number:
                return target
        served = ", ".join(t.version.id for t in (*self.routes, *self.shadows))
        raise NotFoundError(
            f"endpoint {self.endpoint!r} does not serve version {number!r}",
            hint=f"it serves {served}",
        )


Loader = Callable[[ModelVersion], Scorer]


class Router:
    """The endpoints of one server and their current route tables.

    Args:
        ws: The workspace.
        sources: The endpoints to serve, in order (the first is the default one, which
            ``POST /predict`` and ``POST /invocations`` reach).
        loader: Loads a scorer for a version (through the gate).
    """

    def __init__(self, ws: Workspace, sources: Sequence[EndpointSource], loader: Loader) -> None:
        if not sources:
            raise InvalidArgumentError("serve at least one model or endpoint")
        names = [s.name for s in sources]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise InvalidArgumentError(
                f"two served endpoints are named {duplicated[0]!r}",
                hint="serve each model once, or name registry endpoints differently",
            )
        self.ws = ws
        self.sources = list(sources)
        self._loader = loader
        self._scorers: dict[str, Scorer] = {}
        self._lock = threading.Lock()  # one refresh at a time
        self.tables: dict[str, RouteTable] = {}
        self.swaps = 0
        for source in self.sources:
            self.tables[source.name] = self._build(source)

    @property
    def default(self) -> RouteTable:
        """The first endpoint's table."""
        return self.tables[self.sources[0].name]

    def get(self, name: str) -> RouteTable:
        """The table of endpoint ``name``.

        Raises:
            NotFoundError: This server does not serve it.
        """
        table = self.tables.get(name)
        if table is None:
            raise NotFoundError(
                f"this server does not serve a model or endpoint named {name!r}",
                hint="it serves " + ", ".join(repr(n) for n in self.tables),
            )
        return table

    def _routes(self, source: EndpointSource) -> tuple[tuple[Route, ...], tuple[str, ...]]:
        if not source.from_registry:
            return source.routes, ()
        endpoint: Endpoint = self.ws.metadata.endpoints.get(source.name)
        return endpoint.routes, endpoint.shadows

    def _scorer(self, version: ModelVersion) -> Scorer:
        scorer = self._scorers.get(version.id)
        if scorer is None:
            scorer = self._loader(version)
            self._scorers[version.id] = scorer
        return scorer

    def _build(self, source: EndpointSource) -> RouteTable:
        routes, shadows = self._routes(source)
        models = self.ws.metadata.models
        routed = [Target(r.ref, r.weight, self._scorer(models.get_version(r.ref))) for r in routes]
        shadowed = [Target(ref, 0.0, self._scorer(models.get_version(ref))) for ref in shadows]
        table = RouteTable.build(source.name, routed, shadowed)
        wanted = table.signature.to_dict()
        for target in (*routed, *shadowed):
            if target.version.signature.to_dict() != wanted:
                raise InvalidArgumentError(
                    f"endpoint {source.name!r}: {target.ref} ({target.version.id}) takes "
                    f"other inputs than {routed[0].ref} ({routed[0].version.id})",
                    hint="route one endpoint only to versions with the same signature",
                )
        return table

    def refresh(self) -> int:
        """Re-resolve every endpoint; swap the tables whose versions changed.

        Returns:
            How many tables were swapped. A table that cannot be rebuilt (a version that
            fails to load, a signature that changed) is kept as it is and the problem logged.
        """
        swapped = 0
        with self._lock:
            for source in self.sources:
                current = self.tables[source.name]
                try:
                    if not self._changed(source, current):
                        continue
                    table = self._build(source)
                except ClosedLoopError as e:
                    _log.error("endpoint %s keeps its routes: %s", source.name, e)
                    continue
                if table.signature.to_dict() != current.signature.to_dict():
                    _log.error(
                        "endpoint %s keeps its routes: the new versions take other inputs",
                        source.name,
                    )
                    continue
                self.tables[source.name] = table  # one assignment: requests see old or new
                swapped += 1
                _log.info(
                    "endpoint %s now routes to %s", source.name, ", ".join(table.version_ids[0])
                )
            live = {t.version.id for tb in self.tables.values() for t in (*tb.routes, *tb.shadows)}
            for version_id in list(self._scorers):
                if version_id not in live:
                    del self._scorers[version_id]
        self.swaps += swapped
        return swapped

    def _changed(self, source: EndpointSource, current: RouteTable) -> bool:
        routes, shadows = self._routes(source)
        models = self.ws.metadata.models
        now = (
            tuple(models.get_version(r.ref).id for r in routes),
            tuple(models.get_version(ref).id for ref in shadows),
        )
        weights = tuple(r.weight for r in routes)
        return now != current.version_ids or weights != tuple(t.weight for t in current.routes)
