"""Who acts is per call: ``Principal`` and ``Workspace.as_principal`` views."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from closedloop import tracking
from closedloop.core import Principal
from closedloop.errors import InvalidArgumentError
from closedloop.workspace import Actions, Workspace, current_actor


def test_the_default_principal_is_the_os_user_and_adds_no_detail(ws: Workspace) -> None:
    assert ws.principal == Principal("os", current_actor())
    assert ws.actor == current_actor()
    with ws.action(Actions.DATASET_INGEST, "dataset:x", given=1):
        pass
    (event,) = ws.metadata.list_audit_events()
    assert (event.actor, event.detail) == (current_actor(), {"given": 1})


def test_a_view_acts_for_its_principal_and_the_workspace_is_unchanged(ws: Workspace) -> None:
    alice = Principal("user", "alice", roles=("admin", "viewer"), source="10.0.0.7")
    view = ws.as_principal(alice)
    assert view.metadata is ws.metadata
    assert view.artifacts is ws.artifacts
    assert view.settings is ws.settings
    with tracking.start_run(view, "exp") as run:
        pass
    assert ws.principal == Principal("os", current_actor())  # not mutated
    assert tracking.get_run(ws, run.id).user == "alice"  # the run's user is the principal
    events = ws.metadata.list_audit_events(actor="alice")
    assert {e.action for e in events} == {"run.create", "run.end"}
    for e in events:
        assert e.detail["principal"] == {
            "kind": "user",
            "roles": ["admin", "viewer"],
            "source": "10.0.0.7",
        }
    assert ws.metadata.list_audit_events(actor=current_actor()) == []


def test_a_token_is_audited_as_token_and_its_id(ws: Workspace) -> None:
    view = ws.as_principal(Principal("token", "tk_81f2", roles=("predict",)))
    assert view.actor == "token:tk_81f2"
    with view.action(Actions.MODEL_ALIAS, "model:m@x"):
        pass
    (event,) = ws.metadata.list_audit_events(actor="token:tk_81f2")
    assert event.detail["principal"] == {"kind": "token", "roles": ["predict"], "source": None}


def test_closing_a_view_leaves_the_stores_open(ws: Workspace) -> None:
    with ws.as_principal(Principal("user", "bob")) as view:
        pass
    view.close()
    assert ws.metadata.list_audit_events() == []  # the store still answers


def test_concurrent_callers_are_each_audited_as_themselves(ws: Workspace) -> None:
    names = [f"user{i}" for i in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(names))

    def work(name: str) -> None:
        view = ws.as_principal(Principal("user", name, source=f"host-{name}"))
        try:
            start.wait()
            for i in range(5):
                with view.action(Actions.DATASET_INGEST, f"dataset:{name}", i=i):
                    pass
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = ws.metadata.list_audit_events(limit=1000)
    assert len(events) == 5 * len(names)
    for e in events:
        name = e.resource.removeprefix("dataset:")
        assert e.actor == name
        assert e.detail["principal"]["source"] == f"host-{name}"
    assert ws.actor == current_actor()


def test_from_source_keeps_who_and_adds_where() -> None:
    p = Principal("os", "svc").from_source("192.0.2.1")
    assert (p.kind, p.name, p.roles, p.source) == ("os", "svc", (), "192.0.2.1")
    assert p.audit_detail() == {"kind": "os", "roles": [], "source": "192.0.2.1"}
    assert Principal("os", "svc").audit_detail() is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "robot", "name": "r"}, "not 'robot'"),
        ({"kind": "user", "name": ""}, "non-empty name"),
        ({"kind": "user", "name": "  "}, "non-empty name"),
        ({"kind": "user", "name": "x" * 256}, "at most 255"),
        ({"kind": "token", "name": "t" * 250}, "at most 255"),  # token:<id> must fit too
        ({"kind": "user", "name": "u", "roles": ["admin"]}, "tuple"),
        ({"kind": "user", "name": "u", "roles": ("",)}, "tuple"),
    ],
)
def test_bad_principals_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        Principal(**kwargs)  # type: ignore[arg-type]


def test_the_cli_and_sdk_act_as_the_os_user(root: Path) -> None:
    with Workspace.open(root) as ws:
        assert ws.principal.kind == "os"
        assert ws.principal.source is None
        assert ws.principal.roles == ()
