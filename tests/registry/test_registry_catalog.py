"""Alias history with who and why; descriptions and tags of models and versions."""

from __future__ import annotations

import pytest
from registry_support import add_version

from closedloop import Client, registry
from closedloop.core import Principal
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.workspace import Workspace


def test_alias_moves_are_kept_with_who_and_why(workspace: Workspace) -> None:
    add_version(workspace)
    add_version(workspace)
    alice = workspace.as_principal(Principal("user", "alice"))
    registry.set_alias(alice, "adult", "champion", 1, reason="first model")
    registry.set_alias(workspace, "adult", "champion", 2, reason="auc 0.84 vs 0.81")
    registry.set_alias(alice, "adult", "challenger", 1)
    registry.delete_alias(alice, "adult", "champion", reason="rolled back: drift")

    history = registry.alias_history(workspace, "adult")
    assert [(c.alias, c.from_version, c.to_version, c.actor, c.reason) for c in history] == [
        ("champion", 2, None, "alice", "rolled back: drift"),
        ("challenger", None, 1, "alice", ""),
        ("champion", 1, 2, workspace.actor, "auc 0.84 vs 0.81"),
        ("champion", None, 1, "alice", "first model"),
    ]
    only = registry.alias_history(workspace, "adult", alias="challenger")
    assert [c.to_version for c in only] == [1]
    # the audit event of the move carries the reason and where the alias came from
    moved = workspace.metadata.list_audit_events(action="model.alias", actor=workspace.actor)
    assert moved[0].detail["reason"] == "auc 0.84 vs 0.81"
    assert (moved[0].detail["from_version"], moved[0].detail["to_version"]) == (1, 2)


def test_registration_aliases_are_in_the_history(workspace: Workspace) -> None:
    from registry_support import SIGNATURE
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit([[0, 0], [1, 1]], [0, 1])
    registry.register_model(
        workspace, "m", model, signature=SIGNATURE, target="y", aliases=["champion"]
    )
    [change] = registry.alias_history(workspace, "m")
    assert (change.from_version, change.to_version, change.reason) == (
        None,
        1,
        "set at registration",
    )


def test_a_refused_move_is_not_in_the_history(workspace: Workspace) -> None:
    add_version(workspace)
    with pytest.raises(NotFoundError):
        registry.set_alias(workspace, "adult", "champion", 7, reason="typo")
    with pytest.raises(NotFoundError):
        registry.delete_alias(workspace, "adult", "champion")
    assert registry.alias_history(workspace, "adult") == []
    failed = workspace.metadata.list_audit_events(action="model.alias")
    assert failed[0].outcome == "error:NOT_FOUND"


def test_descriptions_and_tags_of_models_and_versions(workspace: Workspace) -> None:
    add_version(workspace)
    add_version(workspace)
    registry.set_alias(workspace, "adult", "champion", 2)
    registry.set_description(workspace, "adult", "income over 50k, census 1994")
    registry.set_description(workspace, "adult@champion", "retrained after the age drift")
    registry.set_tag(workspace, "adult", "owner", "risk-team")
    registry.set_tag(workspace, "adult/1", "approved", "no")
    registry.set_tag(workspace, "adult/1", "approved", "yes")

    model = registry.get_model(workspace, "adult")
    assert model.description == "income over 50k, census 1994"
    assert dict(model.tags) == {"owner": "risk-team"}
    assert (model.latest_version, dict(model.aliases)) == (2, {"champion": 2})
    v1, v2 = registry.list_model_versions(workspace, "adult")
    assert (v1.description, dict(v1.tags)) == (None, {"approved": "yes"})
    assert (v2.description, dict(v2.tags)) == ("retrained after the age drift", {})
    # the alias was resolved when described: the text stays with version 2 when it moves
    registry.set_alias(workspace, "adult", "champion", 1)
    assert registry.get_model_version(workspace, "adult/2").description is not None

    registry.delete_tag(workspace, "adult/1", "approved")
    registry.set_description(workspace, "adult", "")
    assert registry.get_model_version(workspace, "adult/1").tags == {}
    assert registry.get_model(workspace, "adult").description is None
    assert [m.name for m in registry.list_models(workspace)] == ["adult"]
    events = workspace.metadata.list_audit_events(action="model.tag")
    assert events[0].detail["key"] == "approved"
    assert events[0].detail["version"] == 1


def test_bad_tags_and_unknown_targets(workspace: Workspace) -> None:
    add_version(workspace)
    with pytest.raises(InvalidArgumentError, match="empty") as empty:
        registry.set_tag(workspace, "adult", "", "x")
    assert "KEY=VALUE" in (empty.value.hint or "")
    with pytest.raises(InvalidArgumentError, match="300 characters") as long:
        registry.set_tag(workspace, "adult", "k" * 300, "x")
    assert "at most 255" in (long.value.hint or "")
    with pytest.raises(NotFoundError, match="no model 'nobody'"):
        registry.set_tag(workspace, "nobody", "k", "v")
    with pytest.raises(NotFoundError, match="adult/4"):
        registry.set_description(workspace, "adult/4", "x")
    with pytest.raises(NotFoundError, match="no tag 'k'"):
        registry.delete_tag(workspace, "adult", "k")
    with pytest.raises(InvalidArgumentError, match="names no model"):
        registry.set_description(workspace, "two words", "x")


def test_the_client_models_area(workspace: Workspace) -> None:
    add_version(workspace)
    client = Client(workspace)
    client.models.set_alias("adult", "champion", 1, reason="go")
    client.models.set_description("adult/1", "v1")
    client.models.set_tag("adult", "k", "v")
    assert client.models.get_model("adult").tags == {"k": "v"}
    assert client.models.get("adult/1").description == "v1"
    client.models.delete_tag("adult", "k")
    client.models.delete_alias("adult", "champion", reason="stop")
    assert [c.reason for c in client.models.alias_history("adult")] == ["stop", "go"]
    assert [m.latest_version for m in client.models.list_models()] == [1]
