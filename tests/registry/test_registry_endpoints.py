"""Endpoints: validated on every write, stored as written, resolved live."""

from __future__ import annotations

import math

import pytest
from registry_support import OTHER_SIGNATURE, add_version

from closedloop import Client, registry
from closedloop.core import Route
from closedloop.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from closedloop.workspace import Workspace


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    for _ in range(3):
        add_version(workspace)
    registry.set_alias(workspace, "adult", "champion", 1)
    registry.set_alias(workspace, "adult", "challenger", 2)
    return workspace


def test_create_stores_refs_as_written_and_resolves_them_now(ws: Workspace) -> None:
    ep = registry.create_endpoint(
        ws,
        "census",
        {"adult@champion": 90, "adult@challenger": 10},
        shadows=["adult/3"],
        description="income model",
    )
    assert ep.routes == (Route("adult@champion", 90.0), Route("adult@challenger", 10.0))
    assert (ep.shadows, ep.description, ep.updated_by) == (("adult/3",), "income model", ws.actor)
    assert registry.get_endpoint(ws, "census") == ep
    resolved = registry.resolve_endpoint(ws, "census")
    assert [(r.ref, r.share, r.version.id) for r in resolved.routes] == [
        ("adult@champion", 0.9, "adult/1"),
        ("adult@challenger", 0.1, "adult/2"),
    ]
    assert [(s.ref, s.version.id) for s in resolved.shadows] == [("adult/3", "adult/3")]
    # an alias move is seen on the next resolve; the stored endpoint is unchanged
    registry.set_alias(ws, "adult", "champion", 3, reason="promote")
    again = registry.resolve_endpoint(ws, ep)
    assert again.routes[0].version.id == "adult/3"
    assert registry.get_endpoint(ws, "census") == ep
    # the shadow now points at the version the champion route serves: not run twice
    assert again.shadows_for(again.routes[0]) == ()
    assert again.shadows_for(again.routes[1]) == again.shadows
    created = ws.metadata.list_audit_events(action="endpoint.create")[0]
    assert created.detail["routes"] == {"adult@champion": 90, "adult@challenger": 10}


def test_update_replaces_what_is_given(ws: Workspace) -> None:
    registry.create_endpoint(ws, "e", [("adult@champion", 1.0)], shadows=["adult/3"])
    ep = registry.update_endpoint(ws, "e", routes={"adult/1": 3, "adult/2": 1})
    assert (ep.routes, ep.shadows) == ((Route("adult/1", 3.0), Route("adult/2", 1.0)), ("adult/3",))
    ep = registry.update_endpoint(ws, "e", shadows=[], description="canary")
    assert (ep.shadows, ep.description, len(ep.routes)) == ((), "canary", 2)
    assert registry.update_endpoint(ws, "e", description="").description is None
    assert [e.name for e in registry.list_endpoints(ws)] == ["e"]
    registry.delete_endpoint(ws, "e")
    assert registry.list_endpoints(ws) == []
    with pytest.raises(NotFoundError, match="no endpoint 'e'"):
        registry.update_endpoint(ws, "e", description="x")
    with pytest.raises(NotFoundError):
        registry.delete_endpoint(ws, "e")


@pytest.mark.parametrize(
    ("name", "routes", "shadows", "message"),
    [
        ("bad name", {"adult/1": 1}, (), "not a valid endpoint name"),
        ("e@x", {"adult/1": 1}, (), "not a valid endpoint name"),
        ("e", {}, (), "at least one route"),
        ("e", {"adult/1": 0}, (), "finite and above 0"),
        ("e", {"adult/1": -5}, (), "finite and above 0"),
        ("e", {"adult/1": math.inf}, (), "finite and above 0"),
        ("e", {"adult/1": math.nan}, (), "finite and above 0"),
        ("e", {"adult/1": "ten"}, (), "not a number"),
        ("e", {"adult": 1}, (), "does not name a model version"),
        ("e", {"adult/x": 1}, (), "does not name a model version"),
        ("e", {"adult/1": 1}, ("adult",), "shadow 'adult' does not name"),
        ("e", [("adult/1", 1), ("adult/1", 2)], (), "route 'adult/1' is given twice"),
        ("e", {"adult/1": 1}, ("adult/2", "adult/2"), "shadow 'adult/2' is given twice"),
        ("e", {"adult/1": 1}, ("adult/1",), "both a route and a shadow"),
    ],
)
def test_bad_endpoints_are_refused(
    ws: Workspace, name: str, routes: object, shadows: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as refused:
        registry.create_endpoint(ws, name, routes, shadows=shadows)  # type: ignore[arg-type]
    assert refused.value.hint
    assert registry.list_endpoints(ws) == []


def test_every_ref_must_resolve_now(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="route 'adult/9' resolves to no model version"):
        registry.create_endpoint(ws, "e", {"adult/1": 1, "adult/9": 1})
    with pytest.raises(NotFoundError, match="shadow 'adult@staging'"):
        registry.create_endpoint(ws, "e", {"adult/1": 1}, shadows=["adult@staging"])
    with pytest.raises(NotFoundError, match="'nobody@latest'"):
        registry.create_endpoint(ws, "e", {"nobody@latest": 1})
    registry.create_endpoint(ws, "e", {"adult@challenger": 1})
    with pytest.raises(AlreadyExistsError):
        registry.create_endpoint(ws, "e", {"adult@champion": 1})
    registry.delete_alias(ws, "adult", "challenger", reason="retired")
    with pytest.raises(NotFoundError, match="route 'adult@challenger'"):
        registry.resolve_endpoint(ws, "e")


def test_routes_and_shadows_must_take_the_same_input(ws: Workspace) -> None:
    other = add_version(ws, "small", signature=OTHER_SIGNATURE)
    with pytest.raises(InvalidArgumentError, match="shadow 'small/1'") as refused:
        registry.create_endpoint(ws, "e", {"adult/1": 1}, shadows=[other.id])
    assert "no column 'job'" in refused.value.message
    with pytest.raises(InvalidArgumentError, match="route 'small@latest'"):
        registry.create_endpoint(ws, "e", {"adult/1": 1, "small@latest": 1})
    # an alias moved to a version with another input is caught on resolve
    registry.create_endpoint(ws, "e", {"adult/1": 1, "adult@champion": 1})
    add_version(ws, signature=OTHER_SIGNATURE)
    registry.set_alias(ws, "adult", "champion", 4)
    with pytest.raises(InvalidArgumentError, match="route 'adult@champion' \\(adult/4\\)"):
        registry.resolve_endpoint(ws, "e")


def test_the_client_endpoints_area(ws: Workspace) -> None:
    client = Client(ws)
    client.endpoints.create("e", {"adult@champion": 1}, description="d")
    assert client.endpoints.get("e").description == "d"
    client.endpoints.update("e", routes=[("adult/2", 1)])
    assert client.endpoints.resolve("e").routes[0].version.id == "adult/2"
    assert [e.name for e in client.endpoints.list()] == ["e"]
    client.endpoints.delete("e")
    assert client.endpoints.list() == []
