"""Endpoints: named, validated traffic splits over model versions, and their resolution.

An endpoint keeps its references as written (``adult@champion``); :func:`resolve_endpoint`
turns them into the versions they point at now, so a server that resolves again sees an
alias move at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from closedloop.core import Endpoint, ModelVersion, Route
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.registry._registry import _check_name
from closedloop.workspace import Actions, Workspace

__all__ = [
    "ResolvedEndpoint",
    "ResolvedRoute",
    "ResolvedShadow",
    "RoutesArg",
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_endpoints",
    "resolve_endpoint",
    "update_endpoint",
]

#: Routes as a caller gives them: ``{"adult@champion": 90, …}`` or ``[("adult/3", 1.0), …]``.
RoutesArg = Mapping[str, float] | Sequence[tuple[str, float]]

_REF_HINT = "write <model>/<version>, <model>@<alias> or <model>@latest (e.g. adult@champion)"


@dataclass(frozen=True, slots=True)
class ResolvedRoute:
    """A route and the version it points at now.

    Attributes:
        ref: The reference as the endpoint holds it.
        weight: Its weight.
        share: Its fraction of the traffic (weight over the sum of weights).
        version: The model version ``ref`` resolves to now.
    """

    ref: str
    weight: float
    share: float
    version: ModelVersion


@dataclass(frozen=True, slots=True)
class ResolvedShadow:
    """A shadow and the version it points at now."""

    ref: str
    version: ModelVersion


@dataclass(frozen=True, slots=True)
class ResolvedEndpoint:
    """An endpoint with every route and shadow resolved to a concrete version.

    Attributes:
        endpoint: The stored endpoint.
        routes: Its routes, in order, with their shares and versions.
        shadows: Its shadows, in order, with their versions.
    """

    endpoint: Endpoint
    routes: tuple[ResolvedRoute, ...]
    shadows: tuple[ResolvedShadow, ...]

    def shadows_for(self, route: ResolvedRoute) -> tuple[ResolvedShadow, ...]:
        """The shadows to run beside ``route``: each version once, never ``route``'s own.

        After an alias move a shadow may point at the version a route serves, or two
        shadows at one version; that version then answers (or shadows) once per request.
        """
        seen = {route.version.id}
        out = []
        for shadow in self.shadows:
            if shadow.version.id not in seen:
                seen.add(shadow.version.id)
                out.append(shadow)
        return tuple(out)


def _check_ref(ref: str, role: str) -> None:
    name, sep, selector = ref.partition("/") if "/" in ref else ref.partition("@")
    ok = bool(name and sep and selector) and not any(c in name for c in "@/ ")
    if sep == "/":
        ok = ok and selector.isdigit()
    elif ok:
        ok = not any(c in selector for c in "@/ ")
    if not ok:
        raise InvalidArgumentError(f"{role} {ref!r} does not name a model version", hint=_REF_HINT)


def _routes(routes: RoutesArg) -> tuple[Route, ...]:
    pairs = list(routes.items()) if isinstance(routes, Mapping) else list(routes)
    if not pairs:
        raise InvalidArgumentError(
            "an endpoint needs at least one route",
            hint="give a route such as adult@champion=100 (REF=WEIGHT)",
        )
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise InvalidArgumentError(
                f"route {pair!r} is not a (reference, weight) pair",
                hint="give routes as {ref: weight} or [(ref, weight), …]",
            )
        ref, weight = pair
        _check_ref(str(ref), "route")
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidArgumentError(
                f"route {ref!r} has weight {weight!r}, which is not a number",
                hint="give a positive number (weights are relative: 90 and 10 split 90/10)",
            )
        if not math.isfinite(weight) or weight <= 0:
            raise InvalidArgumentError(
                f"route {ref!r} has weight {weight!r}; a weight must be finite and above 0",
                hint="give a positive number, or leave the route out",
            )
        out.append(Route(str(ref), float(weight)))
    return tuple(out)


def _validate(ws: Workspace, routes: tuple[Route, ...], shadows: tuple[str, ...]) -> None:
    """Refuse duplicates, a shadow that is a route, unresolvable refs, differing inputs."""
    for shadow in shadows:
        _check_ref(shadow, "shadow")
    refs = [r.ref for r in routes]
    for label, items in (("route", refs), ("shadow", list(shadows))):
        dupes = sorted({x for x in items if items.count(x) > 1})
        if dupes:
            raise InvalidArgumentError(
                f"{label} {dupes[0]!r} is given twice", hint=f"give each {label} once"
            )
    both = sorted(set(refs) & set(shadows))
    if both:
        raise InvalidArgumentError(
            f"{both[0]!r} is both a route and a shadow",
            hint="a shadow only sees copies of the traffic: make it a route or a shadow",
        )
    _resolve_all(ws, [*refs, *shadows], len(refs))


def _resolve_all(ws: Workspace, refs: Sequence[str], n_routes: int) -> list[ModelVersion]:
    """The version each ref points at now, all with the first one's input signature."""
    versions = []
    for i, ref in enumerate(refs):
        role = "route" if i < n_routes else "shadow"
        try:
            versions.append(ws.metadata.models.get_version(ref))
        except NotFoundError as e:
            raise NotFoundError(
                f"{role} {ref!r} resolves to no model version: {e.message}",
                hint=e.hint or "list the versions with `closedloop models list`",
            ) from e
    first = versions[0].signature.to_dict()
    for i, (ref, version) in enumerate(zip(refs, versions, strict=True)):
        if version.signature.to_dict() != first:
            role = "route" if i < n_routes else "shadow"
            raise InvalidArgumentError(
                f"{role} {ref!r} ({version.id}) takes a different input than {refs[0]!r} "
                f"({versions[0].id}): {_difference(versions[0], version)}",
                hint="every route and shadow of an endpoint must have the same input "
                "signature: use versions trained on the same columns",
            )
    return versions


def _difference(a: ModelVersion, b: ModelVersion) -> str:
    cols_a = {c.name: c for c in a.signature.columns}
    cols_b = {c.name: c for c in b.signature.columns}
    if missing := sorted(set(cols_a) - set(cols_b)):
        return f"it has no column {missing[0]!r}"
    if extra := sorted(set(cols_b) - set(cols_a)):
        return f"it has a column {extra[0]!r} the other has not"
    for name, col in cols_a.items():
        if col.to_dict() != cols_b[name].to_dict():
            return f"column {name!r} differs in type, nullability, range or categories"
    return "its columns are in another order"


def create_endpoint(
    ws: Workspace,
    name: str,
    routes: RoutesArg,
    *,
    shadows: Sequence[str] = (),
    description: str | None = None,
) -> Endpoint:
    """Create endpoint ``name``: weighted routes that answer, shadows that only listen.

    Args:
        ws: The workspace.
        name: Endpoint name (letters, digits, '-', '_', '.'; no '@', '/' or spaces).
        routes: ``{ref: weight}`` or ``[(ref, weight), …]``; weights are relative (finite,
            above 0). A ref is ``name/<version>``, ``name@<alias>`` or ``name@latest``,
            stored as written.
        shadows: Refs that receive a copy of each request (their answers are logged only).
        description: Free text.

    Raises:
        InvalidArgumentError: A bad name, no route, a bad weight or ref, a duplicate, a
            shadow that is also a route, or inputs that differ between the versions.
        NotFoundError: A ref resolves to no version now.
        AlreadyExistsError: An endpoint of that name exists.
    """
    _check_name(name, "endpoint")
    parsed, shadow_refs = _routes(routes), tuple(shadows)
    with ws.action(Actions.ENDPOINT_CREATE, f"endpoint:{name}") as act:
        _validate(ws, parsed, shadow_refs)
        act.update(routes={r.ref: r.weight for r in parsed}, shadows=list(shadow_refs))
        return ws.metadata.endpoints.create(
            name,
            routes=parsed,
            shadows=shadow_refs,
            description=description or None,
            actor=ws.actor,
            audit=act,
        )


def update_endpoint(
    ws: Workspace,
    name: str,
    *,
    routes: RoutesArg | None = None,
    shadows: Sequence[str] | None = None,
    description: str | None = None,
) -> Endpoint:
    """Replace what is given of endpoint ``name``: its routes, shadows or description.

    ``None`` keeps the current value; an empty ``description`` clears it, an empty
    ``shadows`` removes them. The result is validated as a whole, as on creation.

    Raises:
        NotFoundError: No endpoint of that name, or a ref resolves to no version.
        InvalidArgumentError: As for :func:`create_endpoint`.
    """
    parsed = None if routes is None else _routes(routes)
    with ws.action(Actions.ENDPOINT_UPDATE, f"endpoint:{name}") as act:
        current = ws.metadata.endpoints.get(name)
        new_routes = current.routes if parsed is None else parsed
        new_shadows = current.shadows if shadows is None else tuple(shadows)
        text = current.description if description is None else (description or None)
        _validate(ws, new_routes, new_shadows)
        act.update(routes={r.ref: r.weight for r in new_routes}, shadows=list(new_shadows))
        return ws.metadata.endpoints.update(
            name,
            routes=new_routes,
            shadows=new_shadows,
            description=text,
            actor=ws.actor,
            audit=act,
        )


def get_endpoint(ws: Workspace, name: str) -> Endpoint:
    """Endpoint ``name``, its refs as written; NotFoundError."""
    with ws.action(Actions.ENDPOINT_READ, f"endpoint:{name}"):
        return ws.metadata.endpoints.get(name)


def list_endpoints(ws: Workspace) -> list[Endpoint]:
    """Every endpoint, by name."""
    with ws.action(Actions.ENDPOINT_LIST, "endpoint:*"):
        return ws.metadata.endpoints.list()


def delete_endpoint(ws: Workspace, name: str) -> None:
    """Remove endpoint ``name`` (the model versions it routed to stay); NotFoundError."""
    with ws.action(Actions.ENDPOINT_DELETE, f"endpoint:{name}") as act:
        ws.metadata.endpoints.delete(name, audit=act)


def resolve_endpoint(ws: Workspace, endpoint: str | Endpoint) -> ResolvedEndpoint:
    """The versions an endpoint's routes and shadows point at now.

    Aliases are looked up on every call, so a server that resolves again (per request, or
    when its cache expires) follows an alias move at once.

    Args:
        ws: The workspace.
        endpoint: The endpoint, or its name (read first).

    Raises:
        NotFoundError: No such endpoint, or a ref no longer resolves (its alias was
            deleted): the message names the ref.
        InvalidArgumentError: An alias moved to a version whose input differs from the
            other routes' (the message names it).
    """
    name = endpoint if isinstance(endpoint, str) else endpoint.name
    with ws.action(Actions.ENDPOINT_READ, f"endpoint:{name}", resolve=True):
        ep = ws.metadata.endpoints.get(endpoint) if isinstance(endpoint, str) else endpoint
        refs = [r.ref for r in ep.routes]
        versions = _resolve_all(ws, [*refs, *ep.shadows], len(refs))
    total = sum(r.weight for r in ep.routes)
    routes = tuple(
        ResolvedRoute(r.ref, r.weight, r.weight / total, v)
        for r, v in zip(ep.routes, versions, strict=False)
    )
    shadows = tuple(
        ResolvedShadow(s, v) for s, v in zip(ep.shadows, versions[len(refs) :], strict=True)
    )
    return ResolvedEndpoint(ep, routes, shadows)
